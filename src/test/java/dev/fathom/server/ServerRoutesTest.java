package dev.fathom.server;

import com.fasterxml.jackson.databind.JsonNode;
import com.openai.client.OpenAIClient;
import com.openai.errors.NotFoundException;
import com.openai.models.models.Model;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.io.BufferedReader;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

import static dev.fathom.server.ServerBehaviourTest.assertError;
import static dev.fathom.server.TestServers.*;
import static org.junit.jupiter.api.Assertions.*;

/** The routes, fields and headers that OpenAI and DeepSeek clients (and browsers) use beyond the basics. */
class ServerRoutesTest {
    static final String KEY = "k";
    static final String ORIGIN = "http://app.example";
    static final List<String> accessLog = new CopyOnWriteArrayList<>();
    static FathomServer server;

    @BeforeAll
    static void start() {
        ServerConfig cfg = ServerConfig.defaults().withApiKey(KEY).withCors(List.of(ORIGIN))
                .withAccessLog(ServerConfig.AccessLog.JSON).withPort(0);
        server = new FathomServer(cfg).accessLog(accessLog::add).start();
        server.loadAsync(() -> ServedModel.load(tinyModel(), new dev.fathom.engine.Engine.Options(4, 512, 16))).join();
    }

    @AfterAll
    static void stop() {
        server.close();
    }

    private static Reply send(HttpRequest.Builder b) throws Exception {
        HttpResponse<String> r = HTTP.send(b.timeout(Duration.ofSeconds(120)).build(), HttpResponse.BodyHandlers.ofString());
        return new Reply(r.statusCode(), r.body());
    }

    private static Reply post(String path, String body) throws Exception {
        return TestServers.post(server, path, body, KEY);
    }

    @Test
    void betaRoutesAreServedLikeV1() throws Exception {
        Reply fim = post("/beta/completions", "{\"prompt\":\"def f(\",\"suffix\":\"\\n\",\"max_tokens\":3,\"temperature\":0}");
        assertEquals(200, fim.status(), fim.body());
        assertEquals(3, fim.json().at("/usage/completion_tokens").asInt());
        Reply chat = post("/beta/chat/completions", "{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"},"
                + "{\"role\":\"assistant\",\"content\":\"Well\",\"prefix\":true}],\"max_tokens\":3}");
        assertEquals(200, chat.status(), chat.body());
        assertEquals(3, chat.json().at("/usage/completion_tokens").asInt());
    }

    @Test
    void modelsRetrieveGivesTheServedModel() throws Exception {
        String id = server.model().id();
        OpenAIClient client = client(server, KEY);
        Model m = client.models().retrieve(id);
        assertEquals(id, m.id());
        assertThrows(NotFoundException.class, () -> client.models().retrieve("no-such-model"));
        Reply missing = send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + server.port() + "/v1/models/other")).header("Authorization", "Bearer " + KEY));
        assertError(missing, 404, "invalid_request_error", "no such model");
    }

    @Test
    void developerRoleIsASystemMessage() throws Exception {
        String dev = "{\"messages\":[{\"role\":\"developer\",\"content\":\"Be brief.\"},{\"role\":\"user\",\"content\":\"hi\"}],\"max_tokens\":6,\"temperature\":0}";
        Reply r = post("/v1/chat/completions", dev);
        assertEquals(200, r.status(), r.body());
        Reply sys = post("/v1/chat/completions", dev.replace("developer", "system"));
        assertEquals(sys.json().at("/choices/0/message/content"), r.json().at("/choices/0/message/content"));
    }

    @Test
    void echoPrependsThePrompt() throws Exception {
        String req = "{\"prompt\":\"Once upon a time\",\"max_tokens\":8,\"temperature\":0";
        String plain = post("/v1/completions", req + "}").json().at("/choices/0/text").asText();
        Reply echoed = post("/v1/completions", req + ",\"echo\":true}");
        assertEquals(200, echoed.status(), echoed.body());
        assertEquals("Once upon a time" + plain, echoed.json().at("/choices/0/text").asText());
        HttpResponse<InputStream> st = HTTP.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + server.port() + "/v1/completions"))
                .header("Authorization", "Bearer " + KEY).POST(HttpRequest.BodyPublishers.ofString(req + ",\"echo\":true,\"stream\":true}")).build(),
                HttpResponse.BodyHandlers.ofInputStream());
        StringBuilder text = new StringBuilder();
        BufferedReader lines = new BufferedReader(new InputStreamReader(st.body(), StandardCharsets.UTF_8));
        for (String line; (line = lines.readLine()) != null && !line.equals("data: [DONE]"); ) {
            if (line.startsWith("data: ")) text.append(JSON.readTree(line.substring(6)).at("/choices/0/text").asText());
        }
        assertEquals("Once upon a time" + plain, text.toString());
        assertError(post("/v1/completions", req + ",\"echo\":true,\"logprobs\":1}"), 422, "invalid_request_error", "echo");
    }

    @Test
    void promptListsOfStrings() throws Exception {
        Reply one = post("/v1/completions", "{\"prompt\":[\"Hello\"],\"max_tokens\":4,\"temperature\":0}");
        Reply same = post("/v1/completions", "{\"prompt\":\"Hello\",\"max_tokens\":4,\"temperature\":0}");
        assertEquals(200, one.status(), one.body());
        assertEquals(same.json().at("/choices/0/text"), one.json().at("/choices/0/text"));
        Reply several = post("/v1/completions", "{\"prompt\":[\"Hello\",\"Bye\"],\"max_tokens\":4}");
        assertError(several, 422, "invalid_request_error", "prompt: only one prompt per request");
    }

    @Test
    void corsPreflightNeedsNoKeyAndResponsesCarryTheHeaders() throws Exception {
        HttpResponse<String> pre = HTTP.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + server.port() + "/v1/chat/completions"))
                .method("OPTIONS", HttpRequest.BodyPublishers.noBody()).header("Origin", ORIGIN).header("Access-Control-Request-Method", "POST")
                .header("Access-Control-Request-Headers", "authorization, content-type").build(), HttpResponse.BodyHandlers.ofString());
        assertTrue(pre.statusCode() / 100 == 2, pre.statusCode() + " " + pre.body());
        assertEquals(ORIGIN, pre.headers().firstValue("Access-Control-Allow-Origin").orElse(null), pre.headers().toString());
        assertTrue(pre.headers().firstValue("Access-Control-Allow-Headers").orElse("").toLowerCase().contains("authorization"), pre.headers().toString());
        HttpResponse<String> r = HTTP.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + server.port() + "/v1/models"))
                .header("Origin", ORIGIN).header("Authorization", "Bearer " + KEY).build(), HttpResponse.BodyHandlers.ofString());
        assertEquals(200, r.statusCode());
        assertEquals(ORIGIN, r.headers().firstValue("Access-Control-Allow-Origin").orElse(null), r.headers().toString());
        HttpResponse<String> other = HTTP.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + server.port() + "/v1/models"))
                .header("Origin", "http://evil.example").header("Authorization", "Bearer " + KEY).build(), HttpResponse.BodyHandlers.ofString());
        assertTrue(other.headers().firstValue("Access-Control-Allow-Origin").isEmpty(), other.headers().toString());
    }

    @Test
    void everyRequestIsOneAccessLogLine() throws Exception {
        post("/v1/completions", "{\"prompt\":\"log me\",\"max_tokens\":5}");
        JsonNode line = accessLog.stream().map(l -> {
            try {
                return JSON.readTree(l);
            } catch (Exception e) {
                throw new AssertionError(l, e);
            }
        }).filter(n -> n.at("/path").asText().equals("/v1/completions") && n.at("/completion_tokens").asInt() == 5).findFirst().orElseThrow(() -> new AssertionError(accessLog.toString()));
        assertEquals("POST", line.get("method").asText());
        assertEquals(200, line.get("status").asInt());
        assertTrue(line.get("prompt_tokens").asInt() > 0 && line.get("ms").asLong() >= 0, line.toString());
    }

    @Test
    void queueFullCarriesRetryAfter() throws Exception {
        try (FathomServer s = TestServers.start(ServerConfig.defaults(), new dev.fathom.engine.Engine.Options(1, 4096, 0), tinyModel())) {
            HttpResponse<InputStream> busy = postStream(s, "/v1/completions", "{\"prompt\":\"a\",\"max_tokens\":4000,\"stream\":true}");
            assertTrue(new BufferedReader(new InputStreamReader(busy.body(), StandardCharsets.UTF_8)).readLine().startsWith("data: "));
            HttpResponse<String> r = HTTP.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + s.port() + "/v1/completions"))
                    .POST(HttpRequest.BodyPublishers.ofString("{\"prompt\":\"b\",\"max_tokens\":2}")).build(), HttpResponse.BodyHandlers.ofString());
            assertEquals(429, r.statusCode(), r.body());
            assertEquals("1", r.headers().firstValue("Retry-After").orElse(null), r.headers().toString());
            busy.body().close();
        }
    }
}
