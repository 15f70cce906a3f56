package dev.fathom.server;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.openai.client.OpenAIClient;
import com.openai.models.chat.completions.ChatCompletion;
import com.openai.models.chat.completions.ChatCompletionCreateParams;
import com.openai.models.completions.CompletionUsage;
import dev.fathom.engine.Engine;
import dev.fathom.kv.KvBlockPool;
import dev.fathom.kv.PrefixCache;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.RandomAccessFile;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

import static dev.fathom.server.TestServers.*;
import static org.junit.jupiter.api.Assertions.*;

/** The context cache through a real server: hits reported exactly, the same answers, restarts, bad files, per-key usage. */
class ServerContextCacheTest {
    private static final int T = KvBlockPool.BLOCK_TOKENS;
    private static final int THREADS = Runtime.getRuntime().availableProcessors();

    @TempDir
    Path dir;

    /** A server whose model keeps a context cache: 64 MiB in memory and, when diskBytes > 0, files in cacheDir. */
    private static FathomServer start(ServerConfig config, Path cacheDir, long diskBytes) {
        FathomServer s = new FathomServer(config.withPort(0)).start();
        s.loadAsync(() -> ServedModel.load(tinyModel(), new Engine.Options(2, 1024, 8), THREADS,
                m -> m.usePrefixCache(64L << 20, cacheDir, diskBytes))).join();
        return s;
    }

    private static FathomServer startUncached() {
        FathomServer s = new FathomServer(ServerConfig.defaults().withPort(0)).start();
        s.loadAsync(() -> ServedModel.load(tinyModel(), new Engine.Options(2, 1024, 8), THREADS)).join();
        return s;
    }

    private static String longText(String seed, int words) {
        StringBuilder sb = new StringBuilder(seed);
        for (int i = 0; i < words; i++) sb.append(' ').append("word").append(i % 13).append(i % 4 == 0 ? "," : "");
        return sb.toString();
    }

    private static String completion(String prompt, boolean seeded, boolean stream) {
        ObjectNode b = JSON.createObjectNode().put("model", "v3-tiny").put("prompt", prompt).put("max_tokens", 12).put("logprobs", 2);
        if (seeded) b.put("temperature", 1.0).put("seed", 7);
        else b.put("temperature", 0.0);
        if (stream) {
            b.put("stream", true);
            b.putObject("stream_options").put("include_usage", true);
        }
        return b.toString();
    }

    /** What must be identical with and without a hit: the text and every token's log-probabilities. */
    private static String answer(JsonNode r) {
        JsonNode c = r.get("choices").get(0);
        return c.get("text").asText() + " " + c.get("logprobs").get("token_logprobs") + " " + c.get("logprobs").get("top_logprobs");
    }

    private static JsonNode complete(FathomServer s, String prompt, boolean seeded) throws Exception {
        Reply r = post(s, "/v1/completions", completion(prompt, seeded, false));
        assertEquals(200, r.status(), r.body());
        return r.json();
    }

    private static long hit(JsonNode r) {
        JsonNode u = r.get("usage");
        assertEquals(u.get("prompt_tokens").asLong(), u.get("prompt_cache_hit_tokens").asLong() + u.get("prompt_cache_miss_tokens").asLong());
        assertEquals(u.get("prompt_cache_hit_tokens").asLong(), u.get("prompt_tokens_details").get("cached_tokens").asLong());
        return u.get("prompt_cache_hit_tokens").asLong();
    }

    /** The whole blocks before the prompt's last token: what a repeated prompt must hit. */
    private static long wholeBlocks(JsonNode r) {
        return (r.get("usage").get("prompt_tokens").asLong() - 1) / T * T;
    }

    private static double metric(FathomServer s, String name) throws Exception {
        return ServerBehaviourTest.metricValue(get(s, "/metrics").body(), name);
    }

    /** Every pool block is held by a running sequence or by the cache: none leaked once the engine is idle. */
    private static void assertNoLeakedBlocks(FathomServer s) throws InterruptedException {
        ServedModel m = s.model();
        for (int i = 0; i < 200 && m.engine().activeCount() > 0; i++) Thread.sleep(25);
        assertEquals(0, m.engine().activeCount());
        PrefixCache c = m.prefixCache();
        assertEquals(c.stats().blocks(), c.pool().blocksInUse(), "pool blocks in use = blocks the cache holds: " + c.stats());
    }

    @Test
    void aRepeatedPromptHitsInWholeBlocksAndAnswersExactlyAsWithoutTheCache() throws Exception {
        String prompt = longText("A repeated prompt", 120);
        List<String> reference = new ArrayList<>();
        try (FathomServer plain = startUncached()) {
            for (boolean seeded : new boolean[] {false, true}) reference.add(answer(complete(plain, prompt, seeded)));
        }
        try (FathomServer s = start(ServerConfig.defaults(), null, 0)) {
            JsonNode cold = complete(s, prompt, false);
            assertTrue(cold.get("usage").get("prompt_tokens").asInt() > 2 * T, "the prompt spans blocks");
            assertEquals(0, hit(cold));
            assertEquals(reference.get(0), answer(cold));
            JsonNode warm = complete(s, prompt, false);
            assertEquals(wholeBlocks(warm), hit(warm), "every whole block but the one holding the last token");
            assertEquals(reference.get(0), answer(warm), "greedy: the same tokens and log-probabilities with a hit");
            JsonNode seeded = complete(s, prompt, true);
            assertEquals(wholeBlocks(seeded), hit(seeded));
            assertEquals(reference.get(1), answer(seeded), "seeded sampling: the same tokens with a hit");

            // streaming: the usage chunk reports the hit too
            String sse = post(s, "/v1/completions", completion(prompt, false, true)).body();
            JsonNode usageChunk = null;
            for (String line : sse.split("\n")) {
                if (line.startsWith("data: {") && line.contains("\"usage\":{")) usageChunk = JSON.readTree(line.substring(6));
            }
            assertNotNull(usageChunk, sse);
            assertEquals(wholeBlocks(usageChunk), hit(usageChunk));

            long hits = 3 * wholeBlocks(warm);
            assertEquals(hits, metric(s, "fathom_prompt_cache_hit_tokens_total"));
            assertEquals(4L * warm.get("usage").get("prompt_tokens").asLong() - hits, metric(s, "fathom_prompt_cache_miss_tokens_total"));
            assertTrue(metric(s, "fathom_kv_cache_blocks") >= wholeBlocks(warm) / T);
            assertEquals(metric(s, "fathom_kv_cache_blocks") * s.model().prefixCache().pool().blockBytes(), metric(s, "fathom_kv_cache_bytes"));
            assertNoLeakedBlocks(s);
        }
    }

    @Test
    void theSecondTurnOfAChatHitsOnTheFirstTurnThroughTheOpenAiSdk() throws Exception {
        String system = longText("You are a careful assistant. Rules:", 100);
        try (FathomServer s = start(ServerConfig.defaults(), null, 0)) {
            OpenAIClient client = TestServers.client(s, null);
            ChatCompletion first = client.chat().completions().create(ChatCompletionCreateParams.builder().model("v3-tiny")
                    .addSystemMessage(system).addUserMessage("Tell me about the sea.").temperature(0.0).maxCompletionTokens(40).build());
            String answer = first.choices().getFirst().message().content().orElseThrow();
            CompletionUsage u1 = first.usage().orElseThrow();
            assertEquals(0L, u1._additionalProperties().get("prompt_cache_hit_tokens").convert(Long.class));

            ChatCompletion second = client.chat().completions().create(ChatCompletionCreateParams.builder().model("v3-tiny")
                    .addSystemMessage(system).addUserMessage("Tell me about the sea.").addAssistantMessage(answer)
                    .addUserMessage("And the mountains?").temperature(0.0).maxCompletionTokens(8).build());
            CompletionUsage u2 = second.usage().orElseThrow();
            long hit = u2._additionalProperties().get("prompt_cache_hit_tokens").convert(Long.class);
            assertEquals(hit, u2.promptTokensDetails().orElseThrow().cachedTokens().orElseThrow());
            assertEquals(u2.promptTokens() - hit, u2._additionalProperties().get("prompt_cache_miss_tokens").convert(Long.class));
            assertEquals(0, hit % T);
            assertTrue(hit >= u1.promptTokens() / T * T, "the first turn's prompt hits: " + hit + " of " + u1.promptTokens());
            assertNoLeakedBlocks(s);
        }
    }

    @Test
    void aRestartHitsFromDiskAndBadFilesAreIgnoredAndCounted() throws Exception {
        String prompt = longText("Kept across restarts", 120);
        Path cache = dir.resolve("kv");
        String reference;
        long expected;
        try (FathomServer s = start(ServerConfig.defaults(), cache, 1L << 30)) {
            JsonNode cold = complete(s, prompt, false);
            reference = answer(cold);
            expected = wholeBlocks(cold);
            assertEquals(0, hit(cold));
        }
        List<Path> files;
        try (Stream<Path> l = Files.list(cache)) {
            files = l.filter(p -> p.toString().endsWith(".kvb")).sorted().toList();
        }
        assertTrue(files.size() >= expected / T, "the blocks were written at the end of the request: " + files);

        try (FathomServer s = start(ServerConfig.defaults(), cache, 1L << 30)) {
            JsonNode warm = complete(s, prompt, false);
            assertEquals(expected, hit(warm), "a new process hits on what the last one cached");
            assertEquals(reference, answer(warm));
            assertEquals(expected / T, metric(s, "fathom_kv_disk_reads_total"));
            assertTrue(metric(s, "fathom_kv_disk_files") >= expected / T);
        }

        // every file damaged, three ways: the request is computed normally, the bad file counted and removed
        for (int i = 0; i < files.size(); i++) {
            Path f = files.get(i);
            switch (i % 3) {
                case 0 -> flipByte(f, Files.size(f) / 2);
                case 1 -> {
                    try (RandomAccessFile r = new RandomAccessFile(f.toFile(), "rw")) {
                        r.setLength(r.length() / 3);
                    }
                }
                default -> Files.write(f, "not a block".getBytes(StandardCharsets.UTF_8));
            }
        }
        try (FathomServer s = start(ServerConfig.defaults(), cache, 1L << 30)) {
            JsonNode again = complete(s, prompt, false);
            assertEquals(0, hit(again), "the first block's file is bad: nothing can hit");
            assertEquals(reference, answer(again), "never a wrong answer");
            assertEquals(1.0, metric(s, "fathom_kv_disk_rejected_files_total"), "the chain stops at the first bad file");
            assertEquals(0.0, metric(s, "fathom_kv_disk_reads_total"));
            JsonNode rewritten = complete(s, prompt, false);
            assertEquals(expected, hit(rewritten));
            assertNoLeakedBlocks(s);
        }
    }

    @Test
    void aFullDiskBudgetEvictsWholeFiles() throws Exception {
        Path cache = dir.resolve("small");
        long budget;
        try (FathomServer s = start(ServerConfig.defaults(), cache, 1)) {
            budget = 3 * s.model().prefixCache().disk().fileBytes();
        }
        try (FathomServer s = start(ServerConfig.defaults(), cache, budget)) {
            for (int i = 0; i < 3; i++) complete(s, longText("Prompt number " + i, 90), false);
            s.model().prefixCache().disk().awaitWrites(30_000);
            assertTrue(metric(s, "fathom_kv_disk_files") <= 3, "within the budget");
            assertTrue(metric(s, "fathom_kv_disk_evictions_total") > 0, "older files were evicted");
            assertTrue(metric(s, "fathom_kv_disk_bytes") <= budget);
        }
        try (Stream<Path> l = Files.list(cache)) {
            assertTrue(l.filter(p -> p.toString().endsWith(".kvb")).count() <= 3);
        }
    }

    @Test
    void concurrentRequestsSharingAPrefixShareBlocksAndACancelledOneLeaksNone() throws Exception {
        String prompt = longText("Shared by two requests", 120);
        try (FathomServer s = start(ServerConfig.defaults(), null, 0)) {
            // a stream that keeps running while a second request with the same prompt arrives
            try (Socket socket = new Socket("127.0.0.1", s.port())) {
                byte[] body = JSON.createObjectNode().put("model", "v3-tiny").put("prompt", prompt).put("max_tokens", 400)
                        .put("temperature", 0.0).put("stream", true).toString().getBytes(StandardCharsets.UTF_8);
                OutputStream out = socket.getOutputStream();
                out.write(("POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: "
                        + body.length + "\r\n\r\n").getBytes(StandardCharsets.UTF_8));
                out.write(body);
                out.flush();
                InputStream in = socket.getInputStream();
                String seen = "";
                byte[] buf = new byte[4096];
                while (!seen.contains("\"text\"")) {
                    int n = in.read(buf);
                    assertTrue(n > 0, "the stream started: " + seen);
                    seen += new String(buf, 0, n, StandardCharsets.UTF_8);
                }
                assertEquals(1, s.model().engine().activeCount(), "the first request is still generating");
                JsonNode second = complete(s, prompt, false);
                assertEquals(wholeBlocks(second), hit(second), "the running request's blocks are shared");
                assertEquals(1, s.model().engine().activeCount(), "the first request is still generating");
            } // the client goes away mid-stream: its request is cancelled
            assertNoLeakedBlocks(s);
            assertTrue(metric(s, "fathom_requests_cancelled_total") >= 1);
        }
    }

    @Test
    void usageIsCountedPerKeyShownAtUsageAndPriced() throws Exception {
        Path keyFile = dir.resolve("keys.txt");
        Files.writeString(keyFile, "# team keys\nsk-alice alice\n\nsk-bob bob\n");
        ApiKeys keys = ApiKeys.of(List.of(), List.of("sk-admin")).withFile(keyFile);
        String prompt = longText("Billed prompt", 100);
        try (FathomServer s = start(ServerConfig.defaults().withApiKeys(keys), null, 0)) {
            List<JsonNode> alice = new ArrayList<>();
            for (int i = 0; i < 2; i++) {
                Reply r = post(s, "/v1/completions", completion(prompt, false, false), "sk-alice");
                assertEquals(200, r.status(), r.body());
                alice.add(r.json());
            }
            Reply bobReply = post(s, "/v1/completions", completion("Hello there", false, false), "sk-bob");
            assertEquals(200, bobReply.status(), bobReply.body());
            JsonNode bob = bobReply.json();

            long aliceHit = 0, aliceMiss = 0, aliceOut = 0;
            for (JsonNode r : alice) {
                JsonNode u = r.get("usage");
                aliceHit += u.get("prompt_cache_hit_tokens").asLong();
                aliceMiss += u.get("prompt_cache_miss_tokens").asLong();
                aliceOut += u.get("completion_tokens").asLong();
            }
            assertTrue(aliceHit > 0);

            JsonNode own = usage(s, "sk-alice");
            assertEquals(1, own.get("keys").size(), "a key sees only its own figures: " + own);
            JsonNode a = own.get("keys").get(0);
            assertEquals("alice", a.get("name").asText());
            assertEquals(2, a.get("requests").asLong());
            assertEquals(aliceHit, a.get("prompt_cache_hit_tokens").asLong());
            assertEquals(aliceMiss, a.get("prompt_cache_miss_tokens").asLong());
            assertEquals(aliceOut, a.get("completion_tokens").asLong());
            JsonNode prices = own.get("prices_per_million_tokens");
            assertEquals("CNY", prices.get("currency").asText());
            assertEquals(0.5, prices.get("prompt_cache_hit").asDouble(), "DeepSeek-V3's launch prices for a chat model");
            assertEquals(2.0, prices.get("prompt_cache_miss").asDouble());
            assertEquals(8.0, prices.get("output").asDouble());
            assertEquals((aliceHit * 0.5 + aliceMiss * 2 + aliceOut * 8) / 1e6, a.get("cost").asDouble(), 1e-12);

            JsonNode all = usage(s, "sk-admin");
            List<String> names = new ArrayList<>();
            all.get("keys").forEach(k -> names.add(k.get("name").asText()));
            assertEquals(List.of("admin-1", "alice", "bob"), names, "an admin key sees every key");
            JsonNode b = all.get("keys").get(2);
            assertEquals(bob.get("usage").get("completion_tokens").asLong(), b.get("completion_tokens").asLong());
            assertEquals(0, all.get("keys").get(0).get("requests").asLong());

            assertEquals(401, get(s, "/v1/usage").status(), "usage needs a key");
            String metrics = getWithKey(s, "/metrics", "sk-admin");
            assertEquals(aliceHit, ServerBehaviourTest.metricValue(metrics, "fathom_key_prompt_cache_hit_tokens_total\\{key=\"alice\"\\}"));
            assertEquals(aliceOut, ServerBehaviourTest.metricValue(metrics, "fathom_key_completion_tokens_total\\{key=\"alice\"\\}"));
            assertEquals(1, ServerBehaviourTest.metricValue(metrics, "fathom_key_requests_total\\{key=\"bob\"\\}"));
        }
        try (FathomServer s = start(ServerConfig.defaults().withPrices(Prices.parse("1,2,3", "USD")), null, 0)) {
            assertEquals(200, post(s, "/v1/completions", completion("Hello there", false, false)).status());
            JsonNode all = usage(s, null);
            assertEquals("USD", all.get("prices_per_million_tokens").get("currency").asText());
            assertEquals(List.of("anonymous"), List.of(all.get("keys").get(0).get("name").asText()), "an open server counts one account");
            JsonNode k = all.get("keys").get(0);
            assertEquals((k.get("prompt_cache_hit_tokens").asLong() + 2 * k.get("prompt_cache_miss_tokens").asLong()
                    + 3 * k.get("completion_tokens").asLong()) / 1e6, k.get("cost").asDouble(), 1e-12);
        }
    }

    @Test
    void badKeyFilesAndPricesGetClearErrors() throws IOException {
        Path f = dir.resolve("keys.txt");
        Files.writeString(f, "sk-1 same\nsk-2 same\n");
        assertTrue(assertThrows(dev.fathom.FathomException.class, () -> ApiKeys.open().withFile(f)).getMessage().contains("two API keys are named same"));
        Files.writeString(f, "sk-1 a\nsk-1 b\n");
        assertTrue(assertThrows(dev.fathom.FathomException.class, () -> ApiKeys.open().withFile(f)).getMessage().contains("given twice"));
        Files.writeString(f, "sk-1\nsk-2 named\nsk-3\n");
        assertEquals(List.of("admin-1", "key-1", "named", "key-3"), ApiKeys.of(List.of(), List.of("sk-0")).withFile(f).keys().stream()
                .map(ApiKeys.Key::name).toList(), "an unnamed key is named by its place among the keys that are not admin keys");
        Files.writeString(f, "sk-1 bad/name\n");
        assertTrue(assertThrows(dev.fathom.FathomException.class, () -> ApiKeys.open().withFile(f)).getMessage().contains(f + " line 1"));
        assertTrue(assertThrows(dev.fathom.FathomException.class, () -> ApiKeys.open().withFile(dir.resolve("missing"))).getMessage()
                .contains("cannot read the API key file"));
        assertTrue(assertThrows(dev.fathom.FathomException.class, () -> Prices.parse("1,2", "CNY")).getMessage().contains("HIT,MISS,OUTPUT"));
        assertTrue(assertThrows(dev.fathom.FathomException.class, () -> Prices.parse("1,-2,3", "CNY")).getMessage().contains(">= 0"));
    }

    private static JsonNode usage(FathomServer s, String key) throws Exception {
        String body = key == null ? get(s, "/v1/usage").body() : getWithKey(s, "/v1/usage", key);
        return JSON.readTree(body);
    }

    private static String getWithKey(FathomServer s, String path, String key) throws Exception {
        var r = HTTP.send(java.net.http.HttpRequest.newBuilder(java.net.URI.create("http://127.0.0.1:" + s.port() + path))
                .header("Authorization", "Bearer " + key).GET().build(), java.net.http.HttpResponse.BodyHandlers.ofString());
        assertEquals(200, r.statusCode(), r.body());
        return r.body();
    }

    private static void flipByte(Path f, long at) throws IOException {
        try (RandomAccessFile r = new RandomAccessFile(f.toFile(), "rw")) {
            r.seek(at);
            int b = r.read();
            r.seek(at);
            r.write(b ^ 0x40);
        }
    }
}
