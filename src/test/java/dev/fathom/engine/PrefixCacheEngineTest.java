package dev.fathom.engine;

import dev.fathom.Fixtures;
import dev.fathom.checkpoint.Checkpoint;
import dev.fathom.checkpoint.Fingerprint;
import dev.fathom.kv.BlockHash;
import dev.fathom.kv.KvBlockPool;
import dev.fathom.kv.PrefixCache;
import dev.fathom.model.Transformer;
import dev.fathom.tokenizer.Tokenizer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;

import static org.junit.jupiter.api.Assertions.*;

/** The engine with a prefix cache and chunked prefill gives what it gives without them, token for token. */
class PrefixCacheEngineTest {
    private static final int T = KvBlockPool.BLOCK_TOKENS;
    static Checkpoint file;
    static Transformer plain, cached;
    static PrefixCache cache;
    static Tokenizer tokenizer;

    @BeforeAll
    static void load() throws Exception {
        file = Checkpoint.open(Fixtures.golden("v3-tiny/model.gguf"));
        int threads = Runtime.getRuntime().availableProcessors();
        plain = Transformer.load(file, threads);
        cached = Transformer.load(file, threads);
        cache = new PrefixCache(cached.kvPool(), BlockHash.root(Fingerprint.of(file), cached.kvFormat()), 64L << 20, null);
        cached.usePrefixCache(cache);
        tokenizer = file.tokenizer();
    }

    @AfterAll
    static void close() {
        cache.close();
        plain.close();
        cached.close();
        file.close();
    }

    private static int[] prompt(int words, String seed) {
        StringBuilder sb = new StringBuilder(seed);
        for (int i = 0; i < words; i++) sb.append(' ').append("word").append(i % 17).append(i % 3 == 0 ? "," : "");
        return tokenizer.encode(sb.toString());
    }

    private static GenerationRequest request(int[] prompt) {
        return GenerationRequest.greedy(prompt, 24).withTopLogprobs(2);
    }

    /** Each token's id and log-probability, and its alternatives', exactly (floats compared by bits). */
    private static List<String> tokens(GenerationResult r) {
        assertEquals(FinishReason.LENGTH, r.finishReason(), "" + r.error());
        List<String> out = new ArrayList<>();
        for (TokenInfo t : r.tokens()) {
            StringBuilder sb = new StringBuilder(t.id() + ":" + Float.floatToRawIntBits(t.logprob()));
            for (TokenInfo.Alternative a : t.top()) sb.append(' ').append(a.id()).append(':').append(Float.floatToRawIntBits(a.logprob()));
            out.add(sb.toString());
        }
        return out;
    }

    @Test
    void aRepeatedPromptHitsInWholeBlocksAndGivesTheSameTokensAndLogprobs() {
        int[] prompt = prompt(150, "A repeated prompt");
        assertTrue(prompt.length > 2 * T, "the prompt spans blocks: " + prompt.length);
        GenerationResult reference;
        try (Engine e = new Engine(plain, tokenizer, new Engine.Options(2, 512, 4))) {
            reference = e.generate(request(prompt));
        }
        try (Engine e = new Engine(cached, tokenizer, new Engine.Options(2, 512, 4))) {
            GenerationResult first = e.generate(request(prompt));
            GenerationResult second = e.generate(request(prompt));
            assertEquals(0, first.cachedTokens());
            assertEquals((prompt.length - 1) / T * T, second.cachedTokens(), "every whole block but one that holds the last token");
            assertEquals(tokens(reference), tokens(first));
            assertEquals(tokens(reference), tokens(second), "tokens and log-probabilities bit for bit");

            // the next turn of a conversation: the first prompt and its answer, then more
            int[] answer = first.tokens().stream().mapToInt(TokenInfo::id).toArray();
            int[] next = concat(prompt, answer, prompt(20, " and then"));
            GenerationResult third = e.generate(request(next));
            assertEquals((prompt.length + answer.length - 1) / T * T, third.cachedTokens(),
                    "hits up to the last full block the first turn left (its answer's KV included)");
            try (Engine p = new Engine(plain, tokenizer, new Engine.Options(2, 512, 4))) {
                assertEquals(tokens(p.generate(request(next))), tokens(third));
            }
        }
    }

    @Test
    void chunkedPrefillGivesTheSameTokensAndLetsRunningStreamsGoOn() {
        int[] longPrompt = prompt(300, "A long prompt");
        int[] other = prompt(5, "Running stream");
        GenerationResult whole;
        try (Engine e = new Engine(plain, tokenizer, new Engine.Options(2, 1024, 4, 1024))) {
            whole = e.generate(request(longPrompt));
        }
        try (Engine e = new Engine(plain, tokenizer, new Engine.Options(2, 1024, 4, 64))) {
            AtomicInteger streamed = new AtomicInteger();
            AtomicInteger duringPrefill = new AtomicInteger(-1);
            List<Integer> atStart = new ArrayList<>();
            Generation running = e.submit(GenerationRequest.greedy(other, 200), ev -> {
                if (ev instanceof GenerationEvent.Output o && !o.tokens().isEmpty()) streamed.incrementAndGet();
            });
            while (streamed.get() < 1) Thread.onSpinWait();
            int before = streamed.get();
            GenerationResult chunked = e.submit(request(longPrompt), ev -> {
                if (ev instanceof GenerationEvent.Started) atStart.add(streamed.get());
            }).result().join();
            duringPrefill.set(atStart.getFirst() - before);
            running.cancel();
            assertEquals(tokens(whole), tokens(chunked), "chunks of 64 give what one piece gives");
            int chunks = (longPrompt.length + 63) / 64;
            assertTrue(duringPrefill.get() >= Math.min(chunks - 1, 200 - before) - 1,
                    "the running stream got a token between chunks: " + duringPrefill.get() + " tokens during " + chunks + " chunks");
        }
    }

    private static int[] concat(int[]... parts) {
        int[] out = new int[0];
        for (int[] p : parts) {
            int n = out.length;
            out = Arrays.copyOf(out, n + p.length);
            System.arraycopy(p, 0, out, n, p.length);
        }
        return out;
    }
}
