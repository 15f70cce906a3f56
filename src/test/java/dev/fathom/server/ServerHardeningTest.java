package dev.fathom.server;

import dev.fathom.engine.Engine;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.Locale;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.logging.Handler;
import java.util.logging.Level;
import java.util.logging.LogRecord;
import java.util.logging.Logger;
import java.net.Socket;
import java.util.ArrayList;
import java.util.List;

import static dev.fathom.server.ServerBehaviourTest.*;
import static dev.fathom.server.TestServers.*;
import static org.junit.jupiter.api.Assertions.*;

/** Requests from clients that behave oddly but legally, or badly: each gets a clear answer and nothing worse. */
class ServerHardeningTest {
    static FathomServer server;

    @BeforeAll
    static void start() {
        server = TestServers.start(ServerConfig.defaults(), new Engine.Options(4, 512, 16), tinyModel());
    }

    @AfterAll
    static void stop() {
        server.close();
    }

    /** A client that shuts down its write side after its request (legal in HTTP/1.1) still gets the whole answer. */
    @Test
    void halfClosedClientGetsTheWholeAnswer() throws Exception {
        try (Socket c = rawPost(server, "/v1/completions", "{\"prompt\":\"a\",\"max_tokens\":20,\"temperature\":0}")) {
            c.setSoTimeout(120_000);
            c.shutdownOutput();
            JsonNode r = JSON.readTree(readResponse(c.getInputStream()));
            assertEquals(20, r.at("/usage/completion_tokens").asInt(), r.toString());
            assertEquals("length", r.at("/choices/0/finish_reason").asText(), r.toString());
        }
        try (Socket c = rawPost(server, "/v1/chat/completions", "{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"max_tokens\":20,"
                + "\"temperature\":0,\"stream\":true,\"stream_options\":{\"include_usage\":true}}")) {
            c.setSoTimeout(120_000);
            c.shutdownOutput();
            List<String> data = dataLines(readResponse(c.getInputStream()));
            assertEquals("data: [DONE]", data.getLast());
            assertEquals(20, JSON.readTree(data.get(data.size() - 2).substring(6)).at("/usage/completion_tokens").asInt(), data.toString());
            assertEquals("length", JSON.readTree(data.get(data.size() - 3).substring(6)).at("/choices/0/finish_reason").asText(), data.toString());
        }
    }

    /** Deeply nested JSON is a 400 invalid_json, not an internal error. */
    @Test
    void deeplyNestedJsonIs400() throws Exception {
        int n = 100_000;
        assertJsonError(post(server, "/v1/chat/completions", "[".repeat(n) + "]".repeat(n)), "nested");
        assertJsonError(post(server, "/v1/completions", "{\"a\":".repeat(50_000) + "1" + "}".repeat(50_000)), "nested");
    }

    /** Malformed JSON is described plainly, with its line and column and without the parser's internals. */
    @Test
    void malformedJsonMessagesArePlain() throws Exception {
        for (String body : List.of("{\"prompt\": NaN}", "{\"messages\": [", "{\"a\":\n 1 2}", "{\"prompt\": \"x\", }")) {
            Reply r = post(server, "/v1/completions", body);
            assertJsonError(r, "line ");
            String m = r.json().at("/error/message").asText();
            assertTrue(m.matches(".*\\(line \\d+, column \\d+\\)$"), m);
            for (String internal : List.of("`", "Feature", "REDACTED", "Source", "code 1")) assertFalse(m.contains(internal), m);
        }
    }

    private static void assertJsonError(Reply r, String messagePart) {
        assertError(r, 400, "invalid_request_error", messagePart);
        assertEquals("invalid_json", r.json().at("/error/code").asText(), r.body());
    }

    /** A body over the limit is a 413 in the API's JSON error shape. */
    @Test
    void oversizedBodyIs413Json() throws Exception {
        try (Socket c = new Socket("127.0.0.1", server.port())) {
            c.setSoTimeout(60_000);
            String head = "POST /v1/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 50000000\r\n\r\n";
            c.getOutputStream().write(head.getBytes(StandardCharsets.US_ASCII));
            c.getOutputStream().write(("{\"prompt\": \"" + "x".repeat(100_000)).getBytes(StandardCharsets.US_ASCII));
            InputStream in = c.getInputStream();
            String status = line(in);
            assertTrue(status.startsWith("HTTP/1.1 413"), status);
            int length = -1;
            String type = null;
            for (String h; !(h = line(in)).isEmpty(); ) {
                String k = h.toLowerCase(Locale.ROOT);
                if (k.startsWith("content-length:")) length = Integer.parseInt(k.substring(15).trim());
                if (k.startsWith("content-type:")) type = k.substring(13).trim();
            }
            assertEquals("application/json", type);
            Reply r = new Reply(413, new String(in.readNBytes(length), StandardCharsets.UTF_8));
            assertError(r, 413, "invalid_request_error", "16 MiB");
        }
    }

    /** Clients that send half a body and close are not server errors: no 500 counted, nothing severe logged. */
    @Test
    void clientsThatCloseMidBodyAreNotServerErrors() throws Exception {
        List<LogRecord> severe = new CopyOnWriteArrayList<>();
        Handler h = new Handler() {
            @Override
            public void publish(LogRecord r) {
                if (r.getLevel().intValue() >= Level.WARNING.intValue()) severe.add(r);
            }

            @Override
            public void flush() {}

            @Override
            public void close() {}
        };
        Logger log = Logger.getLogger(FathomServer.class.getName());
        log.addHandler(h);
        try {
            for (int i = 0; i < 20; i++) {
                try (Socket c = new Socket("127.0.0.1", server.port())) {
                    String head = "POST /v1/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n";
                    c.getOutputStream().write((head + "{\"prompt\": \"hal").getBytes(StandardCharsets.US_ASCII));
                }
            }
            await("all 20 counted", () -> {
                try {
                    return metricValue(get(server, "/metrics").body(), "fathom_requests_total\\{endpoint=\"/completions\",status=\"499\"\\}") >= 20;
                } catch (Exception | AssertionError e) {
                    return false;
                }
            });
            String metrics = get(server, "/metrics").body();
            assertFalse(metrics.contains("status=\"500\""), metrics);
            assertEquals(List.of(), severe.stream().map(LogRecord::getMessage).toList());
        } finally {
            log.removeHandler(h);
        }
    }

    static List<String> dataLines(String body) {
        List<String> out = new ArrayList<>();
        for (String line : body.split("\n")) if (line.startsWith("data: ")) out.add(line);
        return out;
    }
}
