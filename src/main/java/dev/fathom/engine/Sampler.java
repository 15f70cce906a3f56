package dev.fathom.engine;

import java.util.Arrays;
import java.util.SplittableRandom;

/**
 * Chooses tokens from logits by {@link SamplingParams}. One sampler per sequence (it owns the random stream and
 * scratch arrays, so sampling allocates nothing per token).
 */
public final class Sampler {
    /** Logit distance below the best beyond which a token is left out when there is no top-k limit. */
    private static final float NEGLIGIBLE = 25f;

    private final SamplingParams params;
    private final SplittableRandom random;
    private final int[] candidates;
    private final float[] weights;
    /** Sort keys: the logit's order-preserving bits above, the inverted id below (ties: lower id first). */
    private final long[] keys;

    public Sampler(SamplingParams params, int vocabSize) {
        this.params = params;
        this.random = new SplittableRandom(params.seed());
        int k = params.topK() > 0 ? Math.min(params.topK(), vocabSize) : vocabSize;
        this.candidates = new int[k];
        this.weights = new float[k];
        this.keys = params.isGreedy() ? new long[0] : new long[params.topK() > 0 ? k : vocabSize];
    }

    public SamplingParams params() {
        return params;
    }

    /** The index of the largest logit, the lowest on ties (as llama.cpp's greedy sampler). */
    public static int argmax(float[] logits) {
        int best = 0;
        for (int i = 1; i < logits.length; i++) if (logits[i] > logits[best]) best = i;
        return best;
    }

    public int sample(float[] logits) {
        if (params.isGreedy()) return argmax(logits);
        int n = topK(logits);
        // Top-p on the untempered distribution: keep the smallest prefix whose mass reaches topP.
        float max = logits[candidates[0]];
        double sum = 0;
        for (int i = 0; i < n; i++) {
            weights[i] = (float) Math.exp(logits[candidates[i]] - max);
            sum += weights[i];
        }
        if (params.topP() < 1f) {
            double mass = 0;
            for (int i = 0; i < n; i++) {
                mass += weights[i] / sum;
                if (mass >= params.topP()) {
                    n = i + 1;
                    break;
                }
            }
        }
        // Min-p: p_i >= minP * p_max, i.e. weight_i >= minP (the best candidate has weight 1).
        if (params.minP() > 0f) {
            int kept = 1;
            while (kept < n && weights[kept] >= params.minP()) kept++;
            n = kept;
        }
        double total = 0;
        float invT = 1f / params.temperature();
        for (int i = 0; i < n; i++) {
            weights[i] = (float) Math.exp((logits[candidates[i]] - max) * invT);
            total += weights[i];
        }
        double r = random.nextDouble() * total;
        for (int i = 0; i < n; i++) {
            r -= weights[i];
            if (r < 0) return candidates[i];
        }
        return candidates[n - 1];
    }

    /**
     * Fills candidates[0..k) with the k best ids in descending logit order (ties: lower id first); returns k.
     * Without a top-k limit only ids within {@code NEGLIGIBLE * max(1, temperature)} of the best logit are ranked
     * (the rest carry less than e^-25 of the best one's probability each at any stage, under 2e-6 together for a
     * 129k vocabulary), so a token does not cost a sort of the whole vocabulary.
     */
    private int topK(float[] logits) {
        int k = candidates.length;
        int v = logits.length;
        if (keys.length == v && k == v) {
            float floor = logits[argmax(logits)] - NEGLIGIBLE * Math.max(1f, params.temperature());
            int m = 0;
            for (int i = 0; i < v; i++) {
                if (logits[i] >= floor) keys[m++] = key(logits[i], i);
            }
            Arrays.sort(keys, 0, m);
            for (int i = 0; i < m; i++) candidates[i] = id(keys[m - 1 - i]);
            return m;
        }
        // A min-heap of the best k keys seen so far, then sorted.
        int size = 0;
        for (int i = 0; i < v; i++) {
            long key = key(logits[i], i);
            if (size < k) {
                keys[size] = key;
                siftUp(size++);
            } else if (key > keys[0]) {
                keys[0] = key;
                siftDown(k);
            }
        }
        Arrays.sort(keys, 0, k);
        for (int i = 0; i < k; i++) candidates[i] = id(keys[k - 1 - i]);
        return k;
    }

    private void siftUp(int i) {
        while (i > 0) {
            int parent = (i - 1) >>> 1;
            if (keys[parent] <= keys[i]) return;
            long t = keys[parent];
            keys[parent] = keys[i];
            keys[i] = t;
            i = parent;
        }
    }

    private void siftDown(int size) {
        int i = 0;
        while (true) {
            int l = 2 * i + 1, r = l + 1, m = i;
            if (l < size && keys[l] < keys[m]) m = l;
            if (r < size && keys[r] < keys[m]) m = r;
            if (m == i) return;
            long t = keys[m];
            keys[m] = keys[i];
            keys[i] = t;
            i = m;
        }
    }

    private static long key(float logit, int id) {
        int bits = Float.floatToIntBits(logit);
        bits ^= (bits >> 31) & 0x7fffffff; // order-preserving: negative floats reversed
        return ((long) bits << 32) | (~id & 0xffffffffL);
    }

    private static int id(long key) {
        return ~(int) key;
    }
}
