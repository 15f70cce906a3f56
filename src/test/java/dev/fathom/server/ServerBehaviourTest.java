package dev.fathom.server;

import com.fasterxml.jackson.databind.JsonNode;
import com.openai.client.OpenAIClient;
import com.openai.errors.UnauthorizedException;
import com.openai.models.chat.completions.ChatCompletionCreateParams;
import dev.fathom.engine.Engine;
import org.junit.jupiter.api.Test;

import java.io.BufferedReader;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

import static dev.fathom.server.TestServers.*;
import static org.junit.jupiter.api.Assertions.*;

/** HTTP behaviour of a running server, through java.net.http and the OpenAI SDK. */
class ServerBehaviourTest {

    private static void assertError(Reply r, int status, String type, String messagePart) {
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
        try (FathomServer s = start(ServerConfig.defaults().withApiKey("sekret").withBatching(2, 256, 4), tinyModel())) {
            assertEquals(200, get(s, "/health").status());
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
        try (FathomServer s = start(ServerConfig.defaults().withBatching(2, 128, 4), tinyModel())) {
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
        try (FathomServer s = start(ServerConfig.defaults().withBatching(1, 128, 1), tinyModel())) {
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
        ServerConfig cfg = ServerConfig.defaults().withBatching(1, 4096, 1).withKeepAliveMillis(50);
        try (FathomServer s = start(cfg, tinyModel())) {
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

    private static void waitIdle(FathomServer s) throws InterruptedException {
        for (int i = 0; i < 200 && (s.model().engine().activeCount() > 0 || s.model().engine().queueLength() > 0); i++) Thread.sleep(50);
        assertEquals(0, s.model().engine().activeCount(), "no sequence left running");
        assertEquals(0, s.model().engine().queueLength());
    }

    /** The same greedy request gives the same text alone or beside seven other streams. */
    @Test
    void outputIsIndependentOfTheBatch() throws Exception {
        try (FathomServer s = start(ServerConfig.defaults().withBatching(8, 512, 16), tinyModel())) {
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
        try (FathomServer s = start(ServerConfig.defaults().withBatching(6, 512, 64), tinyModel())) {
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
