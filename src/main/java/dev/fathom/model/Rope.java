package dev.fathom.model;

/**
 * Rotary position embedding of DeepSeek's rope slices, with YaRN. The frequency of pair i is
 * {@code theta^(-2i/d)} (d = qk_rope_head_dim); YaRN mixes the interpolated frequency (divided by factor) and the
 * original one with a linear ramp between the correction dims of beta_fast and beta_slow (DeepSeek's
 * {@code yarn_find_correction_range} / ggml's {@code ggml_rope_yarn_corr_dims}; ramp = ggml's
 * {@code rope_yarn_ramp}). The attention logits get {@code mscale(factor, mscale_all_dim)^2}, with
 * {@code mscale(s, m) = 0.1 * m * ln(s) + 1}; cos / sin get {@code mscale(factor, mscale) / mscale(factor,
 * mscale_all_dim)} (HF; 1 for every released DeepSeek config and whenever the config came from GGUF, where
 * llama.cpp's attn_factor cancels ggml's own YaRN magnitude scaling).
 *
 * <p>Pairs are adjacent elements (2i, 2i+1) as llama.cpp's NORM rope on GGUF weights; that equals HF's
 * de-interleave + rotate_half on the same weights.
 */
final class Rope {
    final double[] freq;
    final double cosSinScale;
    final float softmaxScale;

    Rope(DeepSeekConfig c) {
        int d = c.qkRopeHeadDim();
        int pairs = d / 2;
        double base = c.ropeTheta();
        freq = new double[pairs];
        for (int i = 0; i < pairs; i++) freq[i] = Math.pow(base, -2.0 * i / d);
        double scale = 1.0 / Math.sqrt(c.qkHeadDim());
        double cs = 1.0;
        DeepSeekConfig.RopeScaling y = c.ropeScaling();
        if (y != null) {
            double factor = y.factor();
            double low = Math.floor(correctionDim(y.betaFast(), d, base, y.originalMaxPositionEmbeddings()));
            double high = Math.ceil(correctionDim(y.betaSlow(), d, base, y.originalMaxPositionEmbeddings()));
            low = Math.max(low, 0);
            high = Math.min(high, d - 1);
            for (int i = 0; i < pairs; i++) {
                double ramp = Math.min(1, Math.max(0, (i - low) / Math.max(0.001, high - low)));
                double extrapolation = 1 - ramp; // weight of the original frequency
                freq[i] = freq[i] / factor * (1 - extrapolation) + freq[i] * extrapolation;
            }
            double all = mscale(factor, y.mscaleAllDim());
            scale *= all * all;
            cs = mscale(factor, y.mscale()) / all;
        }
        cosSinScale = cs;
        softmaxScale = (float) scale;
    }

    /** The dimension index at which the rotation count over the original context is {@code rotations}. */
    static double correctionDim(double rotations, int dims, double base, int originalContext) {
        return dims * Math.log(originalContext / (rotations * 2 * Math.PI)) / (2 * Math.log(base));
    }

    static double mscale(double factor, double m) {
        return factor <= 1 ? 1.0 : 0.1 * m * Math.log(factor) + 1.0;
    }

    /** cos / sin of every pair's angle at {@code pos}. */
    void angles(int pos, float[] cos, float[] sin) {
        for (int i = 0; i < freq.length; i++) {
            double theta = pos * freq[i];
            cos[i] = (float) (Math.cos(theta) * cosSinScale);
            sin[i] = (float) (Math.sin(theta) * cosSinScale);
        }
    }
}
