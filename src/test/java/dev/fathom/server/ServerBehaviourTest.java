package dev.fathom.server;

import com.fasterxml.jackson.databind.JsonNode;
import com.openai.client.OpenAIClient;
import com.openai.errors.UnauthorizedException;
import com.openai.models.chat.completions.ChatCompletionCreateParams;
import dev.fathom.engine.Engine;
import org.junit.jupiter.api.Test;

import java.io.BufferedReader;
import java.io.ByteArrayOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.net.Socket;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static dev.fathom.server.TestServers.*;
import static org.junit.jupiter.api.Assertions.*;

/** HTTP behaviour of a running server, through java.net.http and the OpenAI SDK. */
class ServerBehaviourTest {

    static void assertError(Reply r, int status, String type, String messagePart) {
        assertEquals(status, r.status(), r.body());
        JsonNode e = r.json().get("error");
        assertNotNull(e, r.body());
        assertEquals(type, e.get("type").asText(), r.body());
        assertTrue(e.get("message").asText().contains(messagePart), r.body());
        assertFalse(r.body().contains("at dev.fathom") || r.body().contains("Exception"), "no stack trace: " + r.body());
    }

    @Test
    void healthIs503WhileLoadingThen200() throws Exception {
        CountDownLatch release = new CountDownLatch(1);
        try (FathomServer s = new FathomServer(ServerConfig.defaults().withPort(0)).start()) {
            var loaded = s.loadAsync(() -> {
                release.await();
                return ServedModel.load(tinyModel(), new Engine.Options(2, 256, 4));
            });
            Reply h = get(s, "/health");
            assertEquals(503, h.status());
            assertEquals("loading", h.json().get("status").asText());
            assertError(post(s, "/v1/completions", "{\"prompt\":\"x\"}"), 503, "server_error", "loading");
            release.countDown();
            loaded.join();
            assertEquals(200, get(s, "/health").status());
            assertEquals(200, get(s, "/v1/health").status());
            assertEquals(FathomServer.IDLE_TIMEOUT_MILLIS, s.idleTimeoutMillis(), "long non-streaming generations are not cut by Jetty's idle timeout");
        }
    }

    @Test
    void apiKeyIsRequiredExceptOnHealth() throws Exception {
        try (FathomServer s = start(ServerConfig.defaults().withApiKey("sekret"), new Engine.Options(2, 256, 4), tinyModel())) {
            assertEquals(200, get(s, "/health").status());
            assertError(get(s, "/metrics"), 401, "authentication_error", "missing API key");
            assertError(post(s, "/v1/completions", "{\"prompt\":\"x\",\"max_tokens\":2}"), 401, "authentication_error", "missing API key");
            assertError(post(s, "/v1/completions", "{\"prompt\":\"x\",\"max_tokens\":2}", "wrong"), 401, "authentication_error", "invalid API key");
            assertEquals(200, post(s, "/v1/completions", "{\"prompt\":\"x\",\"max_tokens\":2}", "sekret").status());
            OpenAIClient bad = client(s, "nope");
            assertThrows(UnauthorizedException.class, () -> bad.chat().completions().create(ChatCompletionCreateParams.builder()
                    .model("m").addUserMessage("hi").maxCompletionTokens(2).build()));
            assertEquals(2, client(s, "sekret").chat().completions().create(ChatCompletionCreateParams.builder()
                    .model("m").addUserMessage("hi").maxCompletionTokens(2).build()).usage().orElseThrow().completionTokens());
        }
    }

    @Test
    void malformedAndInvalidRequestsGetClearErrors() throws Exception {
        try (FathomServer s = start(ServerConfig.defaults(), new Engine.Options(2, 128, 4), tinyModel())) {
            assertError(post(s, "/v1/chat/completions", "{\"messages\": [}"), 400, "invalid_request_error", "not valid JSON");
            assertError(post(s, "/v1/chat/completions", "[1,2]"), 400, "invalid_request_error", "JSON object");
            assertError(post(s, "/v1/chat/completions", "{}"), 422, "invalid_request_error", "messages: is required");
            assertError(post(s, "/v1/chat/completions", "{\"messages\":[{\"role\":\"robot\",\"content\":\"x\"}]}"), 422, "invalid_request_error", "messages[0].role");
            assertError(post(s, "/v1/chat/completions", "{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"max_tokens\":0}"), 422, "invalid_request_error", "max_tokens");
            assertError(post(s, "/v1/chat/completions", "{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"stop\":[1]}"), 422, "invalid_request_error", "stop");
            assertError(post(s, "/v1/chat/completions", "{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"response_format\":{\"type\":\"xml\"}}"), 422, "invalid_request_error", "response_format.type");
            assertError(post(s, "/v1/chat/completions", "{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"top_logprobs\":3}"), 422, "invalid_request_error", "top_logprobs");
            assertError(post(s, "/v1/chat/completions", "{\"messages\":[{\"role\":\"user\",\"content\":\"x\",\"prefix\":true}]}"), 422, "invalid_request_error", "messages[0].prefix");
            assertError(post(s, "/v1/completions", "{\"prompt\":\"x\",\"frequency_penalty\":3}"), 422, "invalid_request_error", "frequency_penalty");
            Reply tooLong = post(s, "/v1/completions", "{\"prompt\":\"" + "word ".repeat(200) + "\"}");
            assertError(tooLong, 400, "invalid_request_error", "but the context holds 128");
            // accepted: unknown fields, json_object, a stop list, min_p/top_k
            Reply ok = post(s, "/v1/chat/completions", "{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"max_tokens\":3,\"whatever\":{\"a\":1},"
                    + "\"response_format\":{\"type\":\"json_object\"},\"stop\":[\"zzzz\"],\"top_k\":5,\"min_p\":0.1,\"temperature\":0.5,\"seed\":3}");
            assertEquals(200, ok.status(), ok.body());
            assertError(get(s, "/v1/nothing"), 404, "invalid_request_error", "no such endpoint");
            assertEquals(200, get(s, "/health").status());
        }
    }

    @Test
    void tokenizeAndDetokenizeRoundTrip() throws Exception {
        try (FathomServer s = start(ServerConfig.defaults(), new Engine.Options(1, 128, 1), tinyModel())) {
            JsonNode t = post(s, "/tokenize", "{\"content\":\"Hello world\"}").json();
            int[] expected = s.model().tokenizer().encode("Hello world");
            assertEquals(expected.length, t.get("tokens").size());
            for (int i = 0; i < expected.length; i++) assertEquals(expected[i], t.get("tokens").get(i).asInt());
            JsonNode d = post(s, "/v1/detokenize", "{\"tokens\":" + t.get("tokens") + "}").json();
            assertTrue(d.get("content").asText().endsWith("Hello world"), d.toString());
            assertError(post(s, "/detokenize", "{\"tokens\":[1,-5]}"), 422, "invalid_request_error", "tokens[1]");
        }
    }

    @Test
    void queueFullIs429AndQueuedStreamsGetKeepAlives() throws Exception {
        ServerConfig cfg = ServerConfig.defaults().withKeepAliveMillis(50);
        try (FathomServer s = start(cfg, new Engine.Options(1, 4096, 1), tinyModel())) {
            HttpResponse<InputStream> busy = postStream(s, "/v1/completions", "{\"prompt\":\"a\",\"max_tokens\":4000,\"stream\":true}");
            BufferedReader busyLines = new BufferedReader(new InputStreamReader(busy.body(), StandardCharsets.UTF_8));
            assertTrue(busyLines.readLine().startsWith("data: "), "the first request runs");
            HttpResponse<InputStream> queued = postStream(s, "/v1/completions", "{\"prompt\":\"b\",\"max_tokens\":3,\"stream\":true}");
            assertEquals(200, queued.statusCode());
            BufferedReader q = new BufferedReader(new InputStreamReader(queued.body(), StandardCharsets.UTF_8));
            assertEquals(": keep-alive", q.readLine(), "a queued stream gets keep-alive comments");
            assertError(post(s, "/v1/completions", "{\"prompt\":\"c\",\"max_tokens\":3}"), 429, "rate_limit_error", "queue is full");
            busy.body().close(); // disconnect: the running request is cancelled, the queued one runs
            List<String> data = new ArrayList<>();
            for (String line; (line = q.readLine()) != null; ) if (line.startsWith("data: ")) data.add(line);
            assertEquals("data: [DONE]", data.getLast());
            JsonNode fin = JSON.readTree(data.get(data.size() - 2).substring(6));
            assertEquals("length", fin.at("/choices/0/finish_reason").asText());
            waitIdle(s);
            String metrics = get(s, "/metrics").body();
            assertTrue(metrics.contains("fathom_requests_cancelled_total 1.0"), metrics);
        }
    }

    /** A greedy request whose answer takes long on v3-tiny: thousands of tokens, without an end-of-text on the way. */
    private static final String LONG = "{\"messages\":[{\"role\":\"user\",\"content\":\"Tell me everything\"}],\"max_tokens\":16000,\"temperature\":0}";

    /** A client that sends a non-streaming request and closes its connection while it runs is cancelled at once. */
    @Test
    void nonStreamingClientThatDisconnectsIsCancelled() throws Exception {
        try (FathomServer s = start(ServerConfig.defaults(), new Engine.Options(1, 16384, 2), tinyModel())) {
            Engine engine = s.model().engine();
            try (Socket client = rawPost(s, "/v1/chat/completions", LONG)) {
                await("the request runs", () -> engine.activeCount() == 1);
            } // gone without reading the answer
            await("the request is cancelled", () -> engine.activeCount() == 0 && engine.queueLength() == 0);
            String metrics = get(s, "/metrics").body();
            assertTrue(metrics.contains("fathom_requests_cancelled_total 1.0"), metrics);
            assertTrue(metricValue(metrics, "fathom_completion_tokens_total") < 16000, metrics);
            Reply after = post(s, "/v1/chat/completions", "{\"messages\":[{\"role\":\"user\",\"content\":\"next\"}],\"max_tokens\":4}");
            assertEquals(200, after.status(), after.body());
            assertEquals(4, after.json().at("/usage/completion_tokens").asInt());
        }
    }

    /**
     * Queued clients, streaming or not, that close their connections leave the queue at once, while the request
     * ahead of them still runs; keep-alive comments are too rare here to be what notices.
     */
    @Test
    void queuedClientsThatDisconnectAreCancelled() throws Exception {
        ServerConfig cfg = ServerConfig.defaults().withKeepAliveMillis(600_000);
        try (FathomServer s = start(cfg, new Engine.Options(1, 16384, 2), tinyModel())) {
            Engine engine = s.model().engine();
            try (Socket running = rawPost(s, "/v1/chat/completions", LONG)) {
                await("the first request runs", () -> engine.activeCount() == 1);
                try (Socket stream = rawPost(s, "/v1/completions", "{\"prompt\":\"b\",\"max_tokens\":8,\"stream\":true}");
                     Socket plain = rawPost(s, "/v1/completions", "{\"prompt\":\"c\",\"max_tokens\":8}")) {
                    await("both wait in the queue", () -> engine.queueLength() == 2);
                }
                await("the queued requests are cancelled", () -> engine.queueLength() == 0);
                assertEquals(1, engine.activeCount(), "the first request still runs: the queue was not emptied by it finishing");
                assertTrue(get(s, "/metrics").body().contains("fathom_requests_cancelled_total 2.0"));
            }
            await("the running request is cancelled", () -> engine.activeCount() == 0);
            assertTrue(get(s, "/metrics").body().contains("fathom_requests_cancelled_total 3.0"));
            assertEquals(200, post(s, "/v1/completions", "{\"prompt\":\"after\",\"max_tokens\":3}").status());
        }
    }

    /** Watching a connection for its close must not swallow a request pipelined behind the one being answered. */
    @Test
    void pipelinedRequestIsServedAfterALongOne() throws Exception {
        try (FathomServer s = start(ServerConfig.defaults(), new Engine.Options(2, 1024, 2), tinyModel());
             Socket c = rawPost(s, "/v1/completions", "{\"prompt\":\"a\",\"max_tokens\":600,\"temperature\":0}")) {
            c.setSoTimeout(120_000);
            Engine engine = s.model().engine();
            await("the first request runs", () -> engine.activeCount() == 1);
            c.getOutputStream().write(request("/v1/completions", "{\"prompt\":\"b\",\"max_tokens\":3}"));
            InputStream in = c.getInputStream();
            JsonNode first = JSON.readTree(readResponse(in));
            JsonNode second = JSON.readTree(readResponse(in));
            assertEquals("length", first.at("/choices/0/finish_reason").asText(), first.toString());
            assertEquals(600, first.at("/usage/completion_tokens").asInt());
            assertEquals(3, second.at("/usage/completion_tokens").asInt(), second.toString());
            assertTrue(get(s, "/metrics").body().contains("fathom_requests_cancelled_total 0.0"));
        }
    }

    /** A raw HTTP/1.1 connection that has sent one request and reads nothing, as a client that may go away. */
    static Socket rawPost(FathomServer s, String path, String body) throws IOException {
        Socket c = new Socket("127.0.0.1", s.port());
        c.getOutputStream().write(request(path, body));
        return c;
    }

    static byte[] request(String path, String body) {
        byte[] b = body.getBytes(StandardCharsets.UTF_8);
        String head = "POST " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: " + b.length + "\r\n\r\n";
        byte[] h = head.getBytes(StandardCharsets.US_ASCII);
        byte[] all = java.util.Arrays.copyOf(h, h.length + b.length);
        System.arraycopy(b, 0, all, h.length, b.length);
        return all;
    }

    /** Reads one 200 response (Content-Length or chunked) off a raw connection, past any interim 1xx, and returns its body. */
    static String readResponse(InputStream in) throws IOException {
        String status = line(in);
        while (status.startsWith("HTTP/1.1 1")) {
            while (!line(in).isEmpty()) { } // an interim response's headers
            status = line(in);
        }
        assertTrue(status.startsWith("HTTP/1.1 200"), status);
        int length = -1;
        boolean chunked = false;
        for (String h; !(h = line(in)).isEmpty(); ) {
            String k = h.toLowerCase(Locale.ROOT);
            if (k.startsWith("content-length:")) length = Integer.parseInt(k.substring(15).trim());
            if (k.startsWith("transfer-encoding:") && k.contains("chunked")) chunked = true;
        }
        ByteArrayOutputStream body = new ByteArrayOutputStream();
        if (chunked) {
            for (int n; (n = Integer.parseInt(line(in).trim(), 16)) > 0; line(in)) body.write(in.readNBytes(n));
            while (!line(in).isEmpty()) { } // trailers
        } else {
            body.write(in.readNBytes(length));
        }
        return body.toString(StandardCharsets.UTF_8);
    }

    static String line(InputStream in) throws IOException {
        StringBuilder sb = new StringBuilder();
        for (int ch; (ch = in.read()) != '\n'; ) {
            if (ch < 0) throw new EOFException("the connection closed mid-response");
            if (ch != '\r') sb.append((char) ch);
        }
        return sb.toString();
    }

    /** Polls until the condition holds; the 60 s bound only stops a broken build from hanging, it is no speed check. */
    static void await(String what, BooleanSupplier condition) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) fail("still waiting: " + what);
            Thread.sleep(10);
        }
    }

    static double metricValue(String metrics, String name) {
        Matcher m = Pattern.compile("(?m)^" + name + " (\\S+)$").matcher(metrics);
        assertTrue(m.find(), name + " in " + metrics);
        return Double.parseDouble(m.group(1));
    }

    private static void waitIdle(FathomServer s) throws InterruptedException {
        for (int i = 0; i < 200 && (s.model().engine().activeCount() > 0 || s.model().engine().queueLength() > 0); i++) Thread.sleep(50);
        assertEquals(0, s.model().engine().activeCount(), "no sequence left running");
        assertEquals(0, s.model().engine().queueLength());
    }

    /** The same greedy request gives the same text alone or beside seven other streams. */
    @Test
    void outputIsIndependentOfTheBatch() throws Exception {
        try (FathomServer s = start(ServerConfig.defaults(), new Engine.Options(8, 512, 16), tinyModel())) {
            String req = "{\"messages\":[{\"role\":\"user\",\"content\":\"Tell me about whales\"}],\"max_tokens\":32,\"temperature\":0}";
            String alone = post(s, "/v1/chat/completions", req).json().at("/choices/0/message/content").asText();
            ExecutorService pool = Executors.newVirtualThreadPerTaskExecutor();
            List<Future<Reply>> others = new ArrayList<>();
            for (int i = 0; i < 7; i++) {
                String other = "{\"messages\":[{\"role\":\"user\",\"content\":\"Other " + i + "\"}],\"max_tokens\":" + (20 + 5 * i)
                        + ",\"temperature\":1.3,\"seed\":" + i + ",\"stream\":true}";
                others.add(pool.submit(() -> post(s, "/v1/chat/completions", other)));
            }
            Future<Reply> mine = pool.submit(() -> post(s, "/v1/chat/completions", req));
            assertEquals(alone, mine.get().json().at("/choices/0/message/content").asText());
            for (Future<Reply> f : others) assertTrue(f.get().body().endsWith("data: [DONE]\n\n"));
            pool.shutdown();
        }
    }

    /** 50 concurrent mixed requests: plain, streaming, cancelled midway, malformed, invalid; all answered correctly. */
    @Test
    void fiftyConcurrentMixedRequests() throws Exception {
        try (FathomServer s = start(ServerConfig.defaults(), new Engine.Options(6, 512, 64), tinyModel())) {
            ExecutorService pool = Executors.newVirtualThreadPerTaskExecutor();
            List<Future<String>> results = new ArrayList<>();
            for (int i = 0; i < 50; i++) {
                int kind = i % 5;
                int n = i;
                results.add(pool.submit(() -> {
                    switch (kind) {
                        case 0 -> {
                            Reply r = post(s, "/v1/chat/completions", "{\"messages\":[{\"role\":\"user\",\"content\":\"Q" + n + "\"}],\"max_tokens\":" + (5 + n % 7) + "}");
                            assertEquals(200, r.status(), r.body());
                            assertEquals(5 + n % 7, r.json().at("/usage/completion_tokens").asInt());
                            return "ok";
                        }
                        case 1 -> {
                            HttpResponse<InputStream> st = postStream(s, "/v1/completions", "{\"prompt\":\"S" + n + "\",\"max_tokens\":12,\"stream\":true,\"stream_options\":{\"include_usage\":true}}");
                            String body = new String(st.body().readAllBytes(), StandardCharsets.UTF_8);
                            assertTrue(body.endsWith("data: [DONE]\n\n"), body);
                            assertTrue(body.contains("\"completion_tokens\":12"), body);
                            return "stream";
                        }
                        case 2 -> {
                            HttpResponse<InputStream> st = postStream(s, "/v1/chat/completions", "{\"messages\":[{\"role\":\"user\",\"content\":\"C" + n + "\"}],\"max_tokens\":3000,\"stream\":true}");
                            BufferedReader r = new BufferedReader(new InputStreamReader(st.body(), StandardCharsets.UTF_8));
                            int data = 0;
                            for (String line; data < 3 && (line = r.readLine()) != null; ) if (line.startsWith("data: ")) data++;
                            assertEquals(3, data);
                            st.body().close();
                            return "cancelled";
                        }
                        case 3 -> {
                            Reply r = post(s, "/v1/chat/completions", "{\"messages\": [{\"role\": \"user\", \"content\": ");
                            assertEquals(400, r.status(), r.body());
                            return "malformed";
                        }
                        default -> {
                            Reply r = post(s, "/v1/completions", "{\"prompt\":\"x\",\"temperature\":\"warm\"}");
                            assertEquals(422, r.status(), r.body());
                            assertTrue(r.json().at("/error/message").asText().startsWith("temperature"), r.body());
                            return "invalid";
                        }
                    }
                }));
            }
            for (Future<String> f : results) assertNotNull(f.get(300, TimeUnit.SECONDS));
            pool.shutdown();
            waitIdle(s);
            assertEquals(200, get(s, "/health").status());
            Reply after = post(s, "/v1/completions", "{\"prompt\":\"after\",\"max_tokens\":4}");
            assertEquals(200, after.status());
            String metrics = get(s, "/metrics").body();
            assertTrue(metrics.contains("fathom_requests_total{endpoint=\"/chat/completions\",status=\"400\"} 10.0"), metrics);
            assertTrue(metrics.contains("fathom_requests_total{endpoint=\"/completions\",status=\"422\"} 10.0"), metrics);
            assertTrue(metrics.contains("fathom_time_to_first_token_seconds_bucket"), metrics);
            assertTrue(metrics.contains("fathom_inter_token_latency_seconds_count"), metrics);
            assertTrue(metrics.contains("fathom_queue_length 0.0"), metrics);
            assertTrue(metrics.contains("fathom_prompt_cache_hit_tokens_total 0.0"), metrics);
            assertTrue(metrics.matches("(?s).*fathom_completion_tokens_total \\d+\\.0.*"), metrics);
        }
    }
}
