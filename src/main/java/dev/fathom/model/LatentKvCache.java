package dev.fathom.model;

import dev.fathom.FathomException;

/**
 * The MLA key/value cache of one sequence: per token and layer only the normalised KV latent ({@code kvLoraRank}
 * floats) and the rotated rope key shared by all heads ({@code qkRopeHeadDim} floats) - the per-head keys and
 * values are never stored (DeepSeek-V3's "absorb" cache).
 *
 * <p>Storage is a list of fixed-size blocks of {@link #blockTokens()} consecutive positions; block b holds
 * positions {@code [b * blockTokens, (b + 1) * blockTokens)} for every layer, laid out
 * {@code [layer][token in block][latent | ropeKey]}. A block is therefore a self-contained slice of a prefix
 * (all layers), the unit that later work can share between sequences or write to disk. Blocks are allocated on
 * first use (one allocation per {@code blockTokens} positions, none per token).
 */
public final class LatentKvCache {
    public static final int DEFAULT_BLOCK_TOKENS = 64;

    private final int layers;
    private final int latentDim;
    private final int ropeDim;
    private final int entry;
    private final int blockTokens;
    private final int capacity;
    private final float[][] blocks;
    private int length;

    public LatentKvCache(int layers, int latentDim, int ropeDim, int capacity, int blockTokens) {
        if (capacity <= 0) throw new FathomException("context length must be positive, got " + capacity);
        if (blockTokens <= 0) throw new IllegalArgumentException("blockTokens must be positive");
        this.layers = layers;
        this.latentDim = latentDim;
        this.ropeDim = ropeDim;
        this.entry = latentDim + ropeDim;
        this.blockTokens = blockTokens;
        this.capacity = capacity;
        this.blocks = new float[(capacity + blockTokens - 1) / blockTokens][];
    }

    public int blockTokens() {
        return blockTokens;
    }

    /** The most positions this cache can hold (the sequence's context length). */
    public int capacity() {
        return capacity;
    }

    /** Number of valid positions: {@code 0 .. length-1} are filled for every layer. */
    public int length() {
        return length;
    }

    /** Checks that positions {@code [start, start + n)} may be written next and allocates their blocks. */
    void reserve(int start, int n) {
        if (start < 0 || start > length) {
            throw new FathomException("position " + start + " does not continue the sequence, which has " + length + " cached positions");
        }
        if (n < 0 || (long) start + n > capacity) {
            throw new FathomException("context length exceeded: positions " + start + ".." + ((long) start + n - 1)
                    + " do not fit a context of " + capacity + " tokens");
        }
        int last = start + n - 1;
        for (int b = start / blockTokens; n > 0 && b <= last / blockTokens; b++) {
            if (blocks[b] == null) blocks[b] = new float[layers * blockTokens * entry];
        }
    }

    /** Marks positions {@code < n} valid (after every layer of them was written). */
    void commit(int n) {
        length = n;
    }

    /** The block array that holds {@code pos}. */
    public float[] block(int pos) {
        float[] b = blocks[pos / blockTokens];
        if (b == null) throw new IllegalStateException("position " + pos + " is not allocated");
        return b;
    }

    /** Offset of the latent of (layer, pos) within {@link #block(int)}; the rope key follows it. */
    public int offset(int layer, int pos) {
        return (layer * blockTokens + pos % blockTokens) * entry;
    }

    /** Stores the normalised latent and the rotated rope key of (layer, pos). */
    void write(int layer, int pos, float[] latent, int latentOff, float[] ropeKey, int ropeOff) {
        float[] b = block(pos);
        int o = offset(layer, pos);
        System.arraycopy(latent, latentOff, b, o, latentDim);
        System.arraycopy(ropeKey, ropeOff, b, o + latentDim, ropeDim);
    }
}
