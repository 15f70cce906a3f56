package dev.fathom.model;

/**
 * A transformer's attention part over all its layers: multi-head latent attention ({@link LatentAttention}) or
 * grouped-query attention ({@link GroupedQueryAttention}). It writes each row's keys and values (in whatever form
 * it caches them) into the row's sequence's block table and reads the earlier positions from there.
 */
interface Attention {
    /** The rope this attention rotates with (the model computes each row's angles once per pass). */
    Rope rope();

    /** KV floats per token and layer. */
    int kvEntry();

    /** Attention of layer {@code layer} for rows 0..n: input {@code xn} (normalised, stride hidden), output {@code out} (stride hidden). */
    void forward(int layer, Rows rows, float[] xn, float[] out);
}
