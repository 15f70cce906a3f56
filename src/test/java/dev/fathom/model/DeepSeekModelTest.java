package dev.fathom.model;

import dev.fathom.FathomException;
import dev.fathom.Fixtures;
import dev.fathom.engine.Sampler;
import dev.fathom.gguf.GgufFile;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import static org.junit.jupiter.api.Assertions.*;

class DeepSeekModelTest {

    private static double maxDiff(float[] a, float[] b) {
        double m = 0;
        for (int i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
        return m;
    }

    /** A prompt run as one batch of rows (prefill) and token by token through the decode path give the same logits. */
    @ParameterizedTest
    @ValueSource(strings = {"v3-tiny", "v2lite-tiny", "v3-tiny-q4_0"})
    void prefillAndDecodeAgree(String name) throws Exception {
        try (GgufFile f = GgufFile.open(Fixtures.golden(name + "/model.gguf"))) {
            DeepSeekModel model = DeepSeekModel.load(f);
            int[] tokens = Fixtures.readI32(Fixtures.golden(name + "/p4/tokens.i32")); // 159 tokens: 3 cache blocks
            float[][] prefill = model.forward(model.newSequence(tokens.length), tokens, 0, true);
            DeepSeekModel.State s = model.newSequence(tokens.length);
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
    @Test
    void batchedDecodeEqualsDecodeAloneBitForBit() throws Exception {
        try (GgufFile f = GgufFile.open(Fixtures.golden("v3-tiny-q8_0/model.gguf"))) {
            DeepSeekModel model = DeepSeekModel.load(f);
            int vocab = model.config().vocabSize();
            int n = 7;
            DeepSeekModel.State[] alone = new DeepSeekModel.State[n], batched = new DeepSeekModel.State[n];
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
                    DeepSeekModel.State[] two = {batched[5], batched[2]};
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
        try (GgufFile f = GgufFile.open(Fixtures.golden("v3-tiny/model.gguf"))) {
            DeepSeekModel model = DeepSeekModel.load(f);
            int[] tokens = Fixtures.readI32(Fixtures.golden("v3-tiny/p2/tokens.i32"));
            float[][] whole = model.forward(model.newSequence(100), tokens, 0, true);
            DeepSeekModel.State s = model.newSequence(100);
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
        try (GgufFile f = GgufFile.open(Fixtures.golden("v3-tiny/model.gguf"))) {
            DeepSeekModel model = DeepSeekModel.load(f);
            DeepSeekModel.State s = model.newSequence(64);
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
        try (GgufFile f = GgufFile.open(Fixtures.golden("v3-tiny/model.gguf"))) {
            DeepSeekModel model = DeepSeekModel.load(f);
            DeepSeekModel.State s = model.newSequence(4);
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
}
