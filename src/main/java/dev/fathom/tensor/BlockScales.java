package dev.fathom.tensor;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * The scale grid of a block-quantised weight (DeepSeek-V3's FP8 checkpoints: {@code weight_scale_inv}, float32
 * [ceil(rows / block)][ceil(cols / block)]): {@code W[r][c] = value(q[r][c]) * scale[r / block][c / block]}, edge
 * blocks partial.
 */
public record BlockScales(MemorySegment data, int rowBlocks, int colBlocks, int block) {
    private static final ValueLayout.OfFloat LE = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(java.nio.ByteOrder.LITTLE_ENDIAN);

    public float get(long row, int col) {
        return data.getAtIndex(LE, (row / block) * colBlocks + col / block);
    }

    /** Multiplies a decoded row {@code dst[0 .. n)} of row {@code row} by its blocks' scales. */
    public void apply(long row, float[] dst, int n) {
        for (int c = 0; c < n; c++) dst[c] *= get(row, c);
    }
}
