package dev.fathom.cli;

import dev.fathom.FathomException;
import dev.fathom.engine.Engine;
import dev.fathom.server.ApiKeys;
import dev.fathom.server.FathomServer;
import dev.fathom.server.Prices;
import dev.fathom.server.ServedModel;
import dev.fathom.server.ServerConfig;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Callable;

@Command(name = "serve", mixinStandardHelpOptions = true,
        header = "Serves a model over an OpenAI/DeepSeek-compatible HTTP API.",
        description = "Serves a model over an OpenAI/DeepSeek-compatible HTTP API (each endpoint also under /v1):"
                + " POST /chat/completions, /completions, /tokenize, /detokenize; GET /models, /health, /metrics, /usage."
                + " Concurrent requests are decoded together (continuous batching). /health answers 503 while loading.")
final class ServeCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Mixin
    ModelOption model;

    @Mixin
    CacheOptions cache;

    @Option(names = "--host", paramLabel = "HOST", defaultValue = "127.0.0.1", description = "Address to listen on (default: ${DEFAULT-VALUE}).")
    String host;

    @Option(names = "--port", paramLabel = "PORT", defaultValue = "8080", description = "Port to listen on, 0 = any free port (default: ${DEFAULT-VALUE}).")
    int port;

    @Option(names = "--api-key", paramLabel = "KEY", description = "Require 'Authorization: Bearer KEY' on every endpoint but /health; may be given several times, each key's usage counted apart (default: open; also $FATHOM_API_KEY).")
    List<String> apiKeys = List.of();

    @Option(names = "--api-key-file", paramLabel = "FILE", description = "More API keys, one per line as 'KEY [NAME]' (the name shown in /usage and /metrics); # starts a comment.")
    Path apiKeyFile;

    @Option(names = "--admin-key", paramLabel = "KEY", description = "An API key that sees every key's usage at GET /usage; may be given several times.")
    List<String> adminKeys = List.of();

    @Option(names = "--price", paramLabel = "HIT,MISS,OUTPUT", description = "What GET /usage charges per million tokens: prompt tokens from the context cache, prompt tokens computed, generated tokens (default: DeepSeek's launch prices, 0.5,2,8 for V3 and 1,4,16 for a reasoning model).")
    String price;

    @Option(names = "--currency", paramLabel = "CODE", defaultValue = "CNY", description = "The currency of --price (default: ${DEFAULT-VALUE}).")
    String currency;

    @Option(names = "--parallel", paramLabel = "N", defaultValue = "4", description = "Sequences decoded together at most; more requests queue (default: ${DEFAULT-VALUE}).")
    int parallel;

    @Option(names = "--queue", paramLabel = "N", defaultValue = "64", description = "Requests that may wait for a slot; more get 429 (default: ${DEFAULT-VALUE}).")
    int queue;

    @Option(names = "--ctx", paramLabel = "N", defaultValue = "4096", description = "Context length per sequence: prompt plus output (default: ${DEFAULT-VALUE}).")
    int ctx;

    @Option(names = "--cors", paramLabel = "ORIGINS", split = ",", description = "Let browsers call from these origins (comma-separated scheme://host[:port], or *): CORS headers, preflights answered without the API key (default: off).")
    List<String> cors = List.of();

    @Option(names = "--log-format", paramLabel = "FORMAT", defaultValue = "text", description = "Access log on standard error, one line per request: text, json or off (default: ${DEFAULT-VALUE}).")
    String logFormat;

    @Option(names = "--shutdown-grace", paramLabel = "SECONDS", defaultValue = "10", description = "On SIGTERM/Ctrl-C: refuse new requests (503), give running ones this long to finish, then cancel them cleanly (default: ${DEFAULT-VALUE}).")
    int shutdownGrace;

    @Override
    public Integer call() throws Exception {
        if (shutdownGrace < 0) throw new FathomException("--shutdown-grace must be >= 0, got " + shutdownGrace);
        if (parallel < 1) throw new FathomException("--parallel must be >= 1, got " + parallel);
        if (ctx < 1) throw new FathomException("--ctx must be >= 1, got " + ctx);
        if (queue < 0) throw new FathomException("--queue must be >= 0, got " + queue);
        Engine.Options batching = new Engine.Options(parallel, ctx, queue);
        PrintWriter err = spec.commandLine().getErr();
        List<String> plain = apiKeys;
        String envKey = System.getenv("FATHOM_API_KEY");
        if (plain.isEmpty() && envKey != null && !envKey.isEmpty()) plain = List.of(envKey);
        ApiKeys keys = ApiKeys.of(plain, adminKeys);
        if (apiKeyFile != null) keys = keys.withFile(apiKeyFile);
        Prices prices = price == null ? null : Prices.parse(price, currency);
        ServerConfig.AccessLog access = switch (logFormat.toLowerCase(java.util.Locale.ROOT)) {
            case "text" -> ServerConfig.AccessLog.TEXT;
            case "json" -> ServerConfig.AccessLog.JSON;
            case "off" -> ServerConfig.AccessLog.OFF;
            default -> throw new FathomException("--log-format must be text, json or off, got \"" + logFormat + "\"");
        };
        ServerConfig config = new ServerConfig(host, port, keys, 5000, cors, access, prices);
        Path path = model.resolve(err);
        FathomServer server;
        try {
            server = new FathomServer(config).accessLog(line -> {
                synchronized (err) {
                    err.println(line);
                    err.flush();
                }
            }).start();
        } catch (RuntimeException e) {
            for (Throwable t = e; t != null; t = t.getCause()) {
                if (t instanceof java.io.IOException || t instanceof java.nio.channels.UnresolvedAddressException
                        || t instanceof IllegalArgumentException) {
                    throw new FathomException("cannot listen on " + host + ":" + port + ": " + t);
                }
            }
            throw e;
        }
        err.println("fathom: listening on http://" + host + ":" + server.port() + " (loading " + path + ")");
        err.flush();
        CountDownLatch stopped = new CountDownLatch(1);
        AtomicBoolean serving = new AtomicBoolean();
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            if (!serving.get()) {
                server.close(); // a failed load: its own exit status stands
                return;
            }
            err.println("fathom: shutting down (up to " + shutdownGrace + " s for running requests)");
            err.flush();
            server.shutdown(Duration.ofSeconds(shutdownGrace));
            err.println("fathom: stopped");
            err.flush();
            stopped.countDown();
            Runtime.getRuntime().halt(0); // a requested stop that went cleanly is a success, not the signal's 143
        }));
        try {
            ServedModel m = server.loadAsync(() -> ServedModel.load(path, batching, model.threads(),
                    loaded -> cache.apply(loaded, parallel, ctx, CacheOptions.DEFAULT_DISK, err))).join();
            ModelOption.warnContext(err, ctx, m.engine().contextLength());
            err.println("fathom: serving " + m.id() + " (context " + m.engine().contextLength() + ", parallel " + parallel
                    + (m.template() == null ? ", no chat template: /chat/completions disabled" : "")
                    + (keys.isOpen() ? ", open: no API key" : ", API keys: " + String.join(" ", keys.keys().stream().map(k -> k.name() + (k.admin() ? " (admin)" : "")).toList()))
                    + ")");
            err.flush();
            serving.set(true);
        } catch (java.util.concurrent.CompletionException e) {
            server.close();
            throw e.getCause() instanceof Exception ex ? ex : e;
        }
        stopped.await();
        return 0;
    }
}
