package dev.fathom.model;

/** A transformer's feed-forward part: a dense SwiGLU MLP ({@link SwiGluMlp}) or DeepSeekMoE ({@link DeepSeekMoe}). */
interface FeedForward {
    /** Layer {@code layer} for rows 0..n: input {@code xn} (normalised, stride hidden), output {@code out} (stride hidden). */
    void forward(int layer, Rows rows, float[] xn, float[] out);
}
