package dev.fathom.server;

import com.fasterxml.jackson.databind.JsonNode;
import dev.fathom.engine.Engine;
import org.junit.jupiter.api.Test;

import java.io.InputStream;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

import static dev.fathom.server.ServerBehaviourTest.assertError;
import static dev.fathom.server.ServerBehaviourTest.await;
import static dev.fathom.server.ServerHardeningTest.dataLines;
import static dev.fathom.server.TestServers.*;
import static org.junit.jupiter.api.Assertions.*;

/** {@link FathomServer#shutdown}: no new requests, running ones finish or end cleanly within the grace period. */
class ServerShutdownTest {

    private static final String LONG_STREAM = "{\"messages\":[{\"role\":\"user\",\"content\":\"Tell me everything\"}],\"max_tokens\":16000,\"temperature\":0,\"stream\":true}";
    private static final String LONG_PLAIN = "{\"prompt\":\"Once\",\"max_tokens\":16000,\"temperature\":0}";

    @Test
    void requestsThatFinishWithinTheGracePeriodAreAnsweredWhole() throws Exception {
        FathomServer s = start(ServerConfig.defaults(), new Engine.Options(2, 1024, 4), tinyModel());
        Engine engine = s.model().engine();
        ExecutorService pool = Executors.newVirtualThreadPerTaskExecutor();
        Future<String> stream = pool.submit(() -> new String(postStream(s, "/v1/completions",
                "{\"prompt\":\"a\",\"max_tokens\":300,\"temperature\":0,\"stream\":true}").body().readAllBytes(), StandardCharsets.UTF_8));
        Future<Reply> plain = pool.submit(() -> post(s, "/v1/completions", "{\"prompt\":\"b\",\"max_tokens\":300,\"temperature\":0}"));
        await("both run", () -> engine.activeCount() == 2);
        s.shutdown(Duration.ofSeconds(600));
        List<String> data = dataLines(stream.get(60, TimeUnit.SECONDS));
        assertEquals("data: [DONE]", data.getLast());
        assertEquals("length", JSON.readTree(data.get(data.size() - 2).substring(6)).at("/choices/0/finish_reason").asText());
        Reply r = plain.get(60, TimeUnit.SECONDS);
        assertEquals(200, r.status(), r.body());
        assertEquals(300, r.json().at("/usage/completion_tokens").asInt());
        pool.shutdown();
    }

    @Test
    void newRequestsGet503AndRequestsPastTheGracePeriodEndCleanly() throws Exception {
        FathomServer s = start(ServerConfig.defaults(), new Engine.Options(2, 16384, 4), tinyModel());
        Engine engine = s.model().engine();
        ExecutorService pool = Executors.newVirtualThreadPerTaskExecutor();
        Future<String> stream = pool.submit(() -> {
            HttpResponse<InputStream> r = postStream(s, "/v1/chat/completions", LONG_STREAM);
            return new String(r.body().readAllBytes(), StandardCharsets.UTF_8);
        });
        Future<Reply> plain = pool.submit(() -> post(s, "/v1/completions", LONG_PLAIN));
        await("both run", () -> engine.activeCount() == 2);
        CompletableFuture<Void> down = CompletableFuture.runAsync(() -> s.shutdown(Duration.ofSeconds(3)), pool);
        await("stopping", s::isStopping);
        assertError(post(s, "/v1/completions", "{\"prompt\":\"new\",\"max_tokens\":2}"), 503, "server_error", "shutting down");
        down.get(120, TimeUnit.SECONDS);
        List<String> data = dataLines(stream.get(60, TimeUnit.SECONDS));
        assertEquals("data: [DONE]", data.getLast());
        JsonNode last = JSON.readTree(data.get(data.size() - 2).substring(6));
        assertEquals("cancelled", last.at("/error/code").asText(), last.toString());
        assertTrue(last.at("/error/message").asText().contains("shutting down"), last.toString());
        assertError(plain.get(60, TimeUnit.SECONDS), 503, "server_error", "shutting down");
        pool.shutdown();
    }
}
