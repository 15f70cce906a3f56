package dev.fathom.engine;

import dev.fathom.Fixtures;
import dev.fathom.checkpoint.Checkpoint;
import dev.fathom.model.Transformer;
import dev.fathom.model.LanguageModel;
import dev.fathom.tokenizer.Tokenizer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.*;

class EngineTest {
    static Checkpoint file;
    static Transformer model;
    static Tokenizer tokenizer;

    @BeforeAll
    static void load() throws Exception {
        file = Checkpoint.open(Fixtures.golden("v3-tiny/model.gguf"));
        model = Transformer.load(file, Runtime.getRuntime().availableProcessors());
        tokenizer = file.tokenizer();
    }

    @AfterAll
    static void close() throws Exception {
        model.close();
        file.close();
    }

    /** The reference: a plain greedy loop on the model (prefill, then argmax and decode one token at a time). */
    private static String textOf(int[] prompt, int n) {
        var seq = model.newSequence(256);
        float[] logits = model.forward(seq, prompt, 0, false)[0];
        int[] out = new int[n];
        for (int i = 0; i < n; i++) {
            out[i] = Sampler.argmax(logits);
            if (i + 1 < n) model.decode(seq, out[i], prompt.length + i, logits);
        }
        return tokenizer.decode(out);
    }

    @Test
    void greedyMatchesTheSingleSequenceGeneratorAndStreamsTheSameText() {
        int[] prompt = tokenizer.encode("The sea at night");
        try (Engine engine = new Engine(model, tokenizer, new Engine.Options(4, 256, 8))) {
            StringBuilder streamed = new StringBuilder();
            List<GenerationEvent> events = new ArrayList<>();
            GenerationResult r = engine.submit(GenerationRequest.greedy(prompt, 24), e -> {
                events.add(e);
                if (e instanceof GenerationEvent.Output o) streamed.append(o.text());
            }).result().join();
            assertEquals(textOf(prompt, 24), r.text());
            assertEquals(r.text(), streamed.toString());
            assertEquals(FinishReason.LENGTH, r.finishReason());
            assertEquals(24, r.completionTokens());
            assertEquals(prompt.length, r.promptTokens());
            assertInstanceOf(GenerationEvent.Started.class, events.getFirst());
            assertInstanceOf(GenerationEvent.Finished.class, events.getLast());
        }
    }

    /** The same greedy request gives the same text alone or beside seven others with other prompts and sampling. */
    @Test
    void outputDoesNotDependOnTheBatch() {
        int[] prompt = tokenizer.encode("Once upon a time");
        try (Engine engine = new Engine(model, tokenizer, new Engine.Options(8, 256, 16))) {
            String alone = engine.generate(GenerationRequest.greedy(prompt, 40)).text();
            long stepsBefore = engine.steps();
            List<Generation> others = new ArrayList<>();
            for (int i = 0; i < 7; i++) {
                GenerationRequest other = GenerationRequest.greedy(tokenizer.encode("Other prompt number " + i), 30 + i * 3)
                        .withSampling(new SamplingParams(1.2f, 0, 1f, 0f, i));
                others.add(engine.submit(other, null));
            }
            Generation mine = engine.submit(GenerationRequest.greedy(prompt, 40), null);
            assertEquals(alone, mine.result().join().text());
            for (Generation g : others) assertEquals(FinishReason.LENGTH, g.result().join().finishReason());
            long steps = engine.steps() - stepsBefore;
            // 8 requests of at most 52 tokens: batched, far fewer steps than the 40 + sum(30 + 3i) tokens one at a time.
            assertTrue(steps < 40 + 7 * 30, "decode steps " + steps);
        }
    }

    @Test
    void stopStringsCutTheTextAndAreNeverStreamed() {
        int[] prompt = tokenizer.encode("Stop here");
        String full = textOf(prompt, 40);
        String stop = full.substring(full.length() / 2, full.length() / 2 + 3);
        int cut = full.indexOf(stop);
        try (Engine engine = new Engine(model, tokenizer, new Engine.Options(2, 256, 4))) {
            StringBuilder streamed = new StringBuilder();
            GenerationResult r = engine.submit(GenerationRequest.greedy(prompt, 40).withStop(List.of("never-there", stop)), e -> {
                if (e instanceof GenerationEvent.Output o) streamed.append(o.text());
            }).result().join();
            assertEquals(FinishReason.STOP, r.finishReason());
            assertEquals(full.substring(0, cut), r.text());
            assertEquals(r.text(), streamed.toString());
        }
    }

    @Test
    void cancelStopsARunningAndAQueuedRequest() throws Exception {
        try (Engine engine = new Engine(model, tokenizer, new Engine.Options(1, 4096, 4))) {
            CountDownLatch outputs = new CountDownLatch(3);
            Generation running = engine.submit(GenerationRequest.greedy(tokenizer.encode("long"), 3000), e -> {
                if (e instanceof GenerationEvent.Output) outputs.countDown();
            });
            assertTrue(outputs.await(30, TimeUnit.SECONDS));
            Generation queued = engine.submit(GenerationRequest.greedy(tokenizer.encode("queued"), 10), null);
            assertEquals(1, engine.queueLength());
            queued.cancel();
            assertEquals(FinishReason.CANCELLED, queued.result().get(5, TimeUnit.SECONDS).finishReason());
            assertEquals(0, engine.queueLength());
            running.cancel();
            GenerationResult r = running.result().get(30, TimeUnit.SECONDS);
            assertEquals(FinishReason.CANCELLED, r.finishReason());
            assertTrue(r.completionTokens() < 3000);
            // the engine goes on serving
            assertEquals(FinishReason.LENGTH, engine.generate(GenerationRequest.greedy(tokenizer.encode("after"), 5)).finishReason());
            assertEquals(0, engine.activeCount());
        }
    }

    @Test
    void fullQueueAndLongPromptsAreRefused() throws Exception {
        try (Engine engine = new Engine(model, tokenizer, new Engine.Options(1, 64, 1))) {
            CountDownLatch started = new CountDownLatch(1);
            Generation running = engine.submit(GenerationRequest.greedy(tokenizer.encode("a"), 60), e -> {
                if (e instanceof GenerationEvent.Started) started.countDown();
            });
            assertTrue(started.await(30, TimeUnit.SECONDS));
            Generation waiting = engine.submit(GenerationRequest.greedy(tokenizer.encode("b"), 5), null);
            QueueFullException full = assertThrows(QueueFullException.class, () -> engine.submit(GenerationRequest.greedy(tokenizer.encode("c"), 5), null));
            assertTrue(full.getMessage().contains("queue is full"), full.getMessage());
            running.cancel();
            waiting.cancel();
            int[] longPrompt = new int[65];
            PromptTooLongException e = assertThrows(PromptTooLongException.class, () -> engine.submit(GenerationRequest.greedy(longPrompt, 1), null));
            assertEquals(65, e.promptTokens());
            assertEquals(64, e.contextLength());
            assertTrue(e.getMessage().contains("65") && e.getMessage().contains("64"), e.getMessage());
        }
    }

    @Test
    void contextEndGivesLength() {
        try (Engine engine = new Engine(model, tokenizer, new Engine.Options(1, 16, 1))) {
            int[] prompt = tokenizer.encode("ten tokens or so");
            GenerationResult r = engine.generate(GenerationRequest.greedy(prompt, 1000));
            assertEquals(FinishReason.LENGTH, r.finishReason());
            assertEquals(16 - prompt.length + 1, r.completionTokens(), "the last token is sampled from the last position's logits");
        }
    }

    @Test
    void logprobsAreANormalisedRankedDistribution() {
        try (Engine engine = new Engine(model, tokenizer, new Engine.Options(1, 256, 1))) {
            GenerationResult r = engine.generate(GenerationRequest.greedy(tokenizer.encode("Hello"), 6).withTopLogprobs(5));
            for (TokenInfo t : r.tokens()) {
                assertEquals(5, t.top().size());
                assertEquals(t.id(), t.top().getFirst().id(), "greedy picks the most likely token");
                assertEquals(t.logprob(), t.top().getFirst().logprob(), 0f);
                double mass = 0;
                for (int i = 0; i < 5; i++) {
                    TokenInfo.Alternative a = t.top().get(i);
                    assertTrue(a.logprob() <= 0);
                    if (i > 0) assertTrue(a.logprob() <= t.top().get(i - 1).logprob());
                    mass += Math.exp(a.logprob());
                }
                assertTrue(mass <= 1.0001, "mass " + mass);
                assertEquals(tokenizer.decode(new int[] {t.id()}), t.text());
            }
        }
    }

    @Test
    void penaltiesChangeHowOftenTokensRepeat() {
        int[] prompt = tokenizer.encode("Repeat");
        try (Engine engine = new Engine(model, tokenizer, new Engine.Options(2, 256, 2))) {
            GenerationResult plain = engine.generate(GenerationRequest.greedy(prompt, 30));
            Set<Integer> distinct = new HashSet<>();
            for (TokenInfo t : plain.tokens()) distinct.add(t.id());
            // A negative penalty rewards tokens already generated: the text collapses onto a few tokens.
            for (GenerationRequest r : List.of(GenerationRequest.greedy(prompt, 30).withPenalties(0, -2),
                    GenerationRequest.greedy(prompt, 30).withPenalties(-2, 0))) {
                Set<Integer> rewarded = new HashSet<>();
                for (TokenInfo t : engine.generate(r).tokens()) rewarded.add(t.id());
                assertTrue(rewarded.size() < distinct.size() / 2, rewarded.size() + " distinct tokens vs " + distinct.size());
            }
        }
    }

    @Test
    void sampledRequestsAreReproducibleBySeed() {
        int[] prompt = tokenizer.encode("Seeds");
        try (Engine engine = new Engine(model, tokenizer, new Engine.Options(4, 256, 4))) {
            GenerationRequest r = GenerationRequest.greedy(prompt, 20).withSampling(new SamplingParams(1f, 0, 1f, 0f, 5));
            Generation a = engine.submit(r, null);
            Generation b = engine.submit(r, null);
            Generation c = engine.submit(r.withSampling(new SamplingParams(1f, 0, 1f, 0f, 6)), null);
            assertEquals(a.result().join().text(), b.result().join().text());
            assertNotEquals(a.result().join().text(), c.result().join().text());
        }
    }

    /** A failure while sampling one request ends that request with an error; the engine keeps serving others. */
    @Test
    void aFailingRequestEndsWithAnErrorAndTheEngineKeepsServing() {
        int extra = 8, bad = model.vocabSize() + 3; // an id the tokenizer does not have
        LanguageModel padded = new LanguageModel() {
            @Override public int vocabSize() { return model.vocabSize() + extra; }
            @Override public int maxContextLength() { return model.maxContextLength(); }
            @Override public long activeWeightBytesPerToken() { return model.activeWeightBytesPerToken(); }
            @Override public Sequence newSequence(int n) { return model.newSequence(n); }
            @Override public float[][] forward(Sequence s, int[] tokens, int start, boolean all) {
                float[][] rows = model.forward(s, tokens, start, all);
                for (int i = 0; i < rows.length; i++) rows[i] = pad(rows[i], tokens.length > 3);
                return rows;
            }
            @Override public void decode(Sequence s, int token, int pos, float[] logits) {
                float[] inner = new float[model.vocabSize()];
                model.decode(s, token, pos, inner);
                System.arraycopy(pad(inner, false), 0, logits, 0, logits.length);
            }
            private float[] pad(float[] row, boolean poison) {
                float[] out = java.util.Arrays.copyOf(row, row.length + extra);
                java.util.Arrays.fill(out, row.length, out.length, -1e9f);
                if (poison) out[bad] = 1e9f; // prompts longer than 3 tokens pick the unknown id first
                return out;
            }
        };
        try (Engine engine = new Engine(padded, tokenizer, new Engine.Options(2, 128, 4))) {
            GenerationResult failed = engine.generate(GenerationRequest.greedy(tokenizer.encode("a longer prompt here"), 4));
            assertEquals(FinishReason.ERROR, failed.finishReason());
            assertNotNull(failed.error());
            GenerationResult ok = engine.generate(GenerationRequest.greedy(tokenizer.encode("Hi"), 4));
            assertEquals(FinishReason.LENGTH, ok.finishReason());
            assertEquals(4, ok.completionTokens());
        }
    }

    /** -n may stop inside a multi-byte character: its bytes are dropped, the text never ends in U+FFFD. */
    @Test
    void aCharacterCutByTheLastTokenIsDropped() {
        int[] prompt = tokenizer.encode("中文 😀");
        int full = 64;
        var seq = model.newSequence(256);
        float[] logits = model.forward(seq, prompt, 0, false)[0];
        int[] out = new int[full];
        for (int i = 0; i < full; i++) {
            out[i] = Sampler.argmax(logits);
            if (i + 1 < full) model.decode(seq, out[i], prompt.length + i, logits);
        }
        var decoder = tokenizer.newDecoder();
        StringBuilder complete = new StringBuilder();
        int cuts = 0;
        try (Engine engine = new Engine(model, tokenizer, new Engine.Options(1, 256, 1))) {
            for (int n = 1; n <= full; n++) {
                complete.append(decoder.next(out[n - 1]));
                if (decoder.pendingBytes() == 0) continue;
                cuts++;
                assertEquals(complete.toString(), engine.generate(GenerationRequest.greedy(prompt, n)).text(), "cut after " + n + " tokens");
            }
        }
        assertTrue(cuts > 0, "some n should cut a character (else this test shows nothing)");
    }

    /** A listener that throws, even an Error and even on the first token (before the request joins the batch), ends that request only. */
    @Test
    void aThrowingListenerEndsItsRequestAndTheEngineGoesOn() {
        int[] prompt = tokenizer.encode("The sea at night");
        try (Engine engine = new Engine(model, tokenizer, new Engine.Options(2, 256, 8))) {
            GenerationResult bad = engine.submit(GenerationRequest.greedy(prompt, 8), e -> {
                if (e instanceof GenerationEvent.Output) throw new AssertionError("listener failure");
            }).result().orTimeout(60, java.util.concurrent.TimeUnit.SECONDS).join();
            assertEquals(FinishReason.CANCELLED, bad.finishReason());
            GenerationResult good = engine.submit(GenerationRequest.greedy(prompt, 8), e -> {}).result().join();
            assertEquals(textOf(prompt, 8), good.text());
        }
    }
}
