package dev.fathom.server;

import dev.fathom.FathomException;

import java.util.List;

/**
 * How the server listens, whom it lets in, and how it logs and prices requests (batching is the engine's:
 * {@link dev.fathom.engine.Engine.Options}).
 *
 * @param port            0 = any free port
 * @param apiKeys         one of them required as {@code Authorization: Bearer KEY} on every endpoint but /health; none = open
 * @param keepAliveMillis how often a streaming request waiting in the queue gets a {@code : keep-alive} comment
 * @param corsOrigins     origins browsers may call from ({@code *} = any); empty = no CORS headers
 * @param accessLog       how each request is logged, one line
 * @param prices          what {@code GET /usage} charges per million tokens; null = {@link Prices#defaultFor} the model
 */
public record ServerConfig(String host, int port, ApiKeys apiKeys, long keepAliveMillis, List<String> corsOrigins,
                           AccessLog accessLog, Prices prices) {
    /** The access log's format. */
    public enum AccessLog { OFF, TEXT, JSON }

    public ServerConfig {
        if (port < 0 || port > 65535) throw new FathomException("--port must be in 0..65535, got " + port);
        if (keepAliveMillis < 1) throw new FathomException("the keep-alive interval must be >= 1 ms, got " + keepAliveMillis);
        if (apiKeys == null) throw new FathomException("the API keys must be given (ApiKeys.open() for none)");
        corsOrigins = List.copyOf(corsOrigins);
        for (String o : corsOrigins) {
            if (!o.equals("*") && !o.matches("https?://[^/\\s]+")) {
                throw new FathomException("--cors: each origin must be * or scheme://host[:port], got \"" + o + "\"");
            }
        }
        if (accessLog == null) throw new FathomException("the access log format must be given");
    }

    public static ServerConfig defaults() {
        return new ServerConfig("127.0.0.1", 8080, ApiKeys.open(), 5000, List.of(), AccessLog.OFF, null);
    }

    public ServerConfig withPort(int p) {
        return new ServerConfig(host, p, apiKeys, keepAliveMillis, corsOrigins, accessLog, prices);
    }

    public ServerConfig withApiKey(String k) {
        return withApiKeys(ApiKeys.of(List.of(k), List.of()));
    }

    public ServerConfig withApiKeys(ApiKeys k) {
        return new ServerConfig(host, port, k, keepAliveMillis, corsOrigins, accessLog, prices);
    }

    public ServerConfig withKeepAliveMillis(long ms) {
        return new ServerConfig(host, port, apiKeys, ms, corsOrigins, accessLog, prices);
    }

    public ServerConfig withCors(List<String> origins) {
        return new ServerConfig(host, port, apiKeys, keepAliveMillis, origins, accessLog, prices);
    }

    public ServerConfig withAccessLog(AccessLog format) {
        return new ServerConfig(host, port, apiKeys, keepAliveMillis, corsOrigins, format, prices);
    }

    public ServerConfig withPrices(Prices p) {
        return new ServerConfig(host, port, apiKeys, keepAliveMillis, corsOrigins, accessLog, p);
    }
}
