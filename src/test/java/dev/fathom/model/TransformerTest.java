package dev.fathom.model;

import dev.fathom.FathomException;
import dev.fathom.Fixtures;
import dev.fathom.engine.Sampler;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import static org.junit.jupiter.api.Assertions.*;

class TransformerTest {
    private static final int THREADS = Runtime.getRuntime().availableProcessors();

    private static double maxDiff(float[] a, float[] b) {
        double m = 0;
        for (int i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
        return m;
    }

    /** A prompt run as one batch of rows (prefill) and token by token through the decode path give the same logits. */
    @ParameterizedTest
    @ValueSource(strings = {"v3-tiny", "v2lite-tiny", "v3-tiny-q4_0", "qwen2-tiny", "llama-tiny"})
    void prefillAndDecodeAgree(String name) throws Exception {
        try (LoadedModel m = LoadedModel.open(Fixtures.golden(name + "/model.gguf"), THREADS)) {
            Transformer model = m.model();
            int[] tokens = Fixtures.readI32(Fixtures.golden(name + "/p4/tokens.i32")); // 159 tokens: 3 cache blocks
            float[][] prefill = model.forward(model.newSequence(tokens.length), tokens, 0, true);
            Transformer.State s = model.newSequence(tokens.length);
            float[] row = new float[model.config().vocabSize()];
            double max = 0;
            for (int i = 0; i < tokens.length; i++) {
                model.decode(s, tokens[i], i, row);
                max = Math.max(max, maxDiff(prefill[i], row));
            }
            assertEquals(tokens.length, s.length());
            assertTrue(max <= 1e-4, name + ": prefill vs absorbed decode max diff " + max);
            System.out.println("[paths] " + name + ": prefill vs absorbed decode max |logit diff| " + max);
        }
    }

    /**
     * Continuous batching: several sequences at different positions decoded in one batch give, bit for bit, the
     * logits each gets alone; whatever else is in the batch.
     */
    @ParameterizedTest
    @ValueSource(strings = {"v3-tiny-q8_0", "qwen2-tiny", "llama-tiny"})
    void batchedDecodeEqualsDecodeAloneBitForBit(String name) throws Exception {
        try (LoadedModel m = LoadedModel.open(Fixtures.golden(name + "/model.gguf"), THREADS)) {
            Transformer model = m.model();
            int vocab = model.config().vocabSize();
            int n = 7;
            Transformer.State[] alone = new Transformer.State[n], batched = new Transformer.State[n];
            int[] tokens = new int[n], positions = new int[n];
            for (int i = 0; i < n; i++) {
                int[] prompt = new int[3 + 5 * i];
                for (int j = 0; j < prompt.length; j++) prompt[j] = (17 * j + 31 * i) % vocab;
                alone[i] = model.newSequence(64);
                batched[i] = model.newSequence(64);
                model.forward(alone[i], prompt, 0, false);
                model.forward(batched[i], prompt, 0, false);
                tokens[i] = 100 + i;
                positions[i] = prompt.length;
            }
            float[][] out = new float[n][vocab];
            for (int step = 0; step < 3; step++) {
                model.decodeBatch(batched, tokens, positions, n, out);
                for (int i = 0; i < n; i++) {
                    float[] one = new float[vocab];
                    model.decode(alone[i], tokens[i], positions[i], one);
                    assertArrayEquals(one, out[i], "sequence " + i + " step " + step);
                    tokens[i] = Sampler.argmax(one);
                    positions[i]++;
                }
                // A smaller batch (a different mix) must not change anyone's bits either.
                if (step == 1) {
                    Transformer.State[] two = {batched[5], batched[2]};
                    float[][] o2 = new float[2][vocab];
                    model.decodeBatch(two, new int[] {tokens[5], tokens[2]}, new int[] {positions[5], positions[2]}, 2, o2);
                    float[] a5 = new float[vocab], a2 = new float[vocab];
                    model.decode(alone[5], tokens[5], positions[5], a5);
                    model.decode(alone[2], tokens[2], positions[2], a2);
                    assertArrayEquals(a5, o2[0]);
                    assertArrayEquals(a2, o2[1]);
                    tokens[5] = Sampler.argmax(a5);
                    tokens[2] = Sampler.argmax(a2);
                    positions[5]++;
                    positions[2]++;
                }
            }
        }
    }

    /** Prefill in chunks (continuing from the cache) equals one prefill; a rewind recomputes the same. */
    @Test
    void chunkedPrefillAndRewind() throws Exception {
        try (LoadedModel m = LoadedModel.open(Fixtures.golden("v3-tiny/model.gguf"), THREADS)) {
            Transformer model = m.model();
            int[] tokens = Fixtures.readI32(Fixtures.golden("v3-tiny/p2/tokens.i32"));
            float[][] whole = model.forward(model.newSequence(100), tokens, 0, true);
            Transformer.State s = model.newSequence(100);
            int cut = 37;
            model.forward(s, java.util.Arrays.copyOf(tokens, cut), 0, false);
            float[][] rest = model.forward(s, java.util.Arrays.copyOfRange(tokens, cut, tokens.length), cut, true);
            for (int i = cut; i < tokens.length; i++) assertTrue(maxDiff(whole[i], rest[i - cut]) <= 1e-4, "position " + i);
            float[][] again = model.forward(s, new int[] {tokens[10]}, 10, false); // rewind to position 10
            assertEquals(11, s.length());
            assertTrue(maxDiff(whole[10], again[0]) <= 1e-4);
        }
    }

    /** The decode loop allocates nothing (within one cache block). */
    @Test
    void decodeDoesNotAllocate() throws Exception {
        var mx = (com.sun.management.ThreadMXBean) java.lang.management.ManagementFactory.getThreadMXBean();
        try (LoadedModel m = LoadedModel.open(Fixtures.golden("v3-tiny/model.gguf"), THREADS)) {
            Transformer model = m.model();
            Transformer.State s = model.newSequence(64);
            float[] row = new float[model.config().vocabSize()];
            for (int i = 0; i < 10; i++) model.decode(s, i + 5, i, row); // warm up (JIT, lazy class init)
            long before = mx.getCurrentThreadAllocatedBytes();
            for (int i = 10; i < 60; i++) model.decode(s, i + 5, i, row);
            long allocated = mx.getCurrentThreadAllocatedBytes() - before;
            assertTrue(allocated < 4096, "50 decode steps allocated " + allocated + " bytes");
        }
    }

    @Test
    void clearErrors() throws Exception {
        try (LoadedModel m = LoadedModel.open(Fixtures.golden("v3-tiny/model.gguf"), THREADS)) {
            Transformer model = m.model();
            Transformer.State s = model.newSequence(4);
            float[] row = new float[model.config().vocabSize()];
            FathomException e = assertThrows(FathomException.class, () -> model.forward(s, new int[] {0, 1, 2, 3, 4}, 0, false));
            assertTrue(e.getMessage().contains("context length"), e.getMessage());
            model.forward(s, new int[] {0, 1, 2, 3}, 0, false);
            e = assertThrows(FathomException.class, () -> model.decode(s, 5, 4, row));
            assertTrue(e.getMessage().contains("context length"), e.getMessage());
            e = assertThrows(FathomException.class, () -> model.decode(model.newSequence(8), 5, 3, row));
            assertTrue(e.getMessage().contains("does not continue"), e.getMessage());
            e = assertThrows(FathomException.class, () -> model.decode(model.newSequence(8), 99999, 0, row));
            assertTrue(e.getMessage().contains("outside the vocabulary"), e.getMessage());
        }
    }

    /**
     * Block KV caches: a fork shares the prefix's blocks (no copy, reference counts), writes into a shared block copy it
     * first, and gives the logits the original would; truncating and decoding again recomputes the same; closing returns
     * every block to the pool.
     */
    @ParameterizedTest
    @ValueSource(strings = {"v3-tiny", "qwen2-tiny"})
    void forkAndTruncateShareAndRollBackBlocks(String name) throws Exception {
        try (LoadedModel m = LoadedModel.open(Fixtures.golden(name + "/model.gguf"), THREADS)) {
            Transformer model = m.model();
            int vocab = model.config().vocabSize();
            int[] tokens = Fixtures.readI32(Fixtures.golden(name + "/p4/tokens.i32")); // > 2 blocks
            int cut = 100; // inside the second block
            Transformer.State a = model.newSequence(256);
            model.forward(a, java.util.Arrays.copyOf(tokens, cut), 0, false);
            int used = model.kvPool().blocksInUse();
            assertEquals(2, used);
            Transformer.State b = a.fork();
            assertEquals(cut, b.length());
            assertEquals(used, model.kvPool().blocksInUse(), "a fork copies nothing");
            assertEquals(2, model.kvPool().refCount(a.cache().blockId(1)));
            // Both continue differently; each equals a sequence that computed its whole prompt alone.
            float[] la = new float[vocab], lb = new float[vocab];
            model.decode(a, tokens[cut], cut, la);
            model.decode(b, 7, cut, lb);
            assertNotEquals(a.cache().blockId(1), b.cache().blockId(1), "the shared partial block was copied before the write");
            assertEquals(a.cache().blockId(0), b.cache().blockId(0), "full prefix blocks stay shared");
            float[][] refA = model.forward(model.newSequence(256), java.util.Arrays.copyOf(tokens, cut + 1), 0, false);
            int[] bTokens = java.util.Arrays.copyOf(tokens, cut + 1);
            bTokens[cut] = 7;
            try (Transformer.State alone = model.newSequence(256)) {
                float[][] refB = model.forward(alone, bTokens, 0, false);
                assertTrue(maxDiff(refA[0], la) <= 1e-4);
                assertTrue(maxDiff(refB[0], lb) <= 1e-4);
            }
            // Roll a back into its first block and recompute the same tokens (rows do not depend on their batch): same bits.
            float[] before = la.clone();
            a.truncate(30);
            assertEquals(30, a.length());
            assertEquals(1, a.cache().blockCount(), "blocks past the new length went back to the pool");
            model.forward(a, java.util.Arrays.copyOfRange(tokens, 30, cut), 30, false);
            float[] again = new float[vocab];
            model.decode(a, tokens[cut], cut, again);
            assertArrayEquals(before, again, "truncate + recompute gives the same bits");
            a.close();
            b.close();
            a.close(); // twice is fine
            assertThrows(IllegalStateException.class, () -> model.decode(a, 1, 0, new float[vocab]));
        }
    }

    /** The KV cache holds per token and layer what the architecture caches: MLA latent + rope key, or 2 x KV heads x head_dim. */
    @Test
    void kvEntrySizes() throws Exception {
        try (LoadedModel v3 = LoadedModel.open(Fixtures.golden("v3-tiny/model.gguf"), 1);
             LoadedModel qwen = LoadedModel.open(Fixtures.golden("qwen2-tiny/model.gguf"), 1)) {
            assertEquals(32 + 16, v3.model().kvPool().entry());
            assertEquals(2 * 2 * 16, qwen.model().kvPool().entry());
            assertEquals(3L * 64 * 4, qwen.model().config().kvBytesPerToken());
        }
    }
}
