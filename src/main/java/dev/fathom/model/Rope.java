package dev.fathom.model;

import dev.fathom.kernel.Kernels;

/**
 * Rotary position embedding, described by its pairing and one frequency per rotated pair. The frequency of pair i
 * is {@code theta^(-2i/d)}, then scaled as the config says:
 * <ul>
 * <li>YaRN (DeepSeek; Qwen2 when configured): the interpolated frequency (divided by factor) and the original one
 * mixed with a linear ramp between the correction dims of beta_fast and beta_slow (DeepSeek's
 * {@code yarn_find_correction_range} / ggml's {@code ggml_rope_yarn_corr_dims}). DeepSeek's attention logits get
 * {@code mscale(factor, mscale_all_dim)^2}, with {@code mscale(s, m) = 0.1 * m * ln(s) + 1}, and cos / sin
 * {@code mscale(factor, mscale) / mscale(factor, mscale_all_dim)} (1 for every released config); a dense model's
 * cos / sin get {@code mscale(factor, 1)} (HF's attention_factor).</li>
 * <li>llama3 (Llama 3.1): per-pair divisors ({@link DenseConfig#llama3Divisors}); a GGUF stores the same as
 * {@code rope_freqs}, which then replaces the config.</li>
 * <li>linear: every frequency divided by factor.</li>
 * </ul>
 * Pairs are adjacent elements (2i, 2i+1) (ggml's NORM rope: DeepSeek's rope slice, and Llama weights permuted by
 * llama.cpp's converter) or the halves (i, i + d/2) (NEOX, HF's rotate_half: Qwen2, Llama weights as HF stores them).
 */
final class Rope {
    final boolean neox;
    final double[] freq;
    final double cosSinScale;
    /** Multiplies the attention logits (1/sqrt(head size), times YaRN's mscale^2 for DeepSeek). */
    final float attentionScale;

    private Rope(boolean neox, double[] freq, double cosSinScale, double attentionScale) {
        this.neox = neox;
        this.freq = freq;
        this.cosSinScale = cosSinScale;
        this.attentionScale = (float) attentionScale;
    }

    private static double[] plain(int d, double base) {
        double[] f = new double[d / 2];
        for (int i = 0; i < f.length; i++) f[i] = Math.pow(base, -2.0 * i / d);
        return f;
    }

    /** DeepSeek's rope slice (qk_rope_head_dim, adjacent pairs) with its YaRN. */
    static Rope deepSeek(DeepSeekConfig c) {
        int d = c.qkRopeHeadDim();
        double base = c.ropeTheta();
        double[] freq = plain(d, base);
        double scale = 1.0 / Math.sqrt(c.qkHeadDim());
        double cs = 1.0;
        DeepSeekConfig.RopeScaling y = c.ropeScaling();
        if (y != null) {
            yarnRamp(freq, d, base, y.factor(), y.betaFast(), y.betaSlow(), y.originalMaxPositionEmbeddings());
            double all = mscale(y.factor(), y.mscaleAllDim());
            scale *= all * all;
            cs = mscale(y.factor(), y.mscale()) / all;
        }
        return new Rope(false, freq, cs, scale);
    }

    /**
     * A dense model's rope over the whole head. {@code freqDivisors} (a GGUF's {@code rope_freqs}, may be null) replace
     * the config's scaling; {@code adjacent} is true for weights stored with llama.cpp's q/k permutation.
     */
    static Rope dense(DenseConfig c, float[] freqDivisors, boolean adjacent) {
        int d = c.headDim();
        double[] freq = plain(d, c.ropeTheta());
        double cs = 1.0;
        DenseConfig.RopeScaling s = c.ropeScaling();
        if (freqDivisors != null) {
            for (int i = 0; i < freq.length; i++) freq[i] /= freqDivisors[i];
        } else if (s != null) {
            switch (s.type()) {
                case "linear" -> {
                    for (int i = 0; i < freq.length; i++) freq[i] /= s.factor();
                }
                case "llama3" -> {
                    float[] div = c.llama3Divisors();
                    for (int i = 0; i < freq.length; i++) freq[i] /= div[i];
                }
                case "yarn" -> {
                    yarnRamp(freq, d, c.ropeTheta(), s.factor(), s.betaFast(), s.betaSlow(), s.originalMaxPositionEmbeddings());
                    cs = mscale(s.factor(), 1);
                }
                default -> throw new IllegalStateException(s.type());
            }
        }
        return new Rope(!adjacent, freq, cs, 1.0 / Math.sqrt(d));
    }

    private static void yarnRamp(double[] freq, int d, double base, double factor, double betaFast, double betaSlow, int origCtx) {
        double low = Math.max(Math.floor(correctionDim(betaFast, d, base, origCtx)), 0);
        double high = Math.min(Math.ceil(correctionDim(betaSlow, d, base, origCtx)), d - 1);
        for (int i = 0; i < freq.length; i++) {
            double ramp = Math.min(1, Math.max(0, (i - low) / Math.max(0.001, high - low)));
            double extrapolation = 1 - ramp; // weight of the original frequency
            freq[i] = freq[i] / factor * (1 - extrapolation) + freq[i] * extrapolation;
        }
    }

    /** The dimension index at which the rotation count over the original context is {@code rotations}. */
    static double correctionDim(double rotations, int dims, double base, int originalContext) {
        return dims * Math.log(originalContext / (rotations * 2 * Math.PI)) / (2 * Math.log(base));
    }

    static double mscale(double factor, double m) {
        return factor <= 1 ? 1.0 : 0.1 * m * Math.log(factor) + 1.0;
    }

    int pairs() {
        return freq.length;
    }

    /** cos / sin of every pair's angle at {@code pos}. */
    void angles(int pos, float[] cos, float[] sin) {
        for (int i = 0; i < freq.length; i++) {
            double theta = pos * freq[i];
            cos[i] = (float) (Math.cos(theta) * cosSinScale);
            sin[i] = (float) (Math.sin(theta) * cosSinScale);
        }
    }

    /** Rotates one head's slice {@code x[off .. off + 2 * pairs)} in place. */
    void rotate(Kernels k, float[] x, int off, float[] cos, float[] sin) {
        if (neox) k.ropeHalves(x, off, cos, sin, freq.length);
        else k.ropePairs(x, off, cos, sin, freq.length);
    }
}
