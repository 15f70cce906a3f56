package dev.fathom.tensor;

import java.lang.foreign.MemorySegment;

/**
 * IQ4_NL: blocks of 32 values in 18 bytes, {@code { fp16 d; uint8 qs[16]; }}; nibbles ordered as in Q4_0, each
 * indexing the fixed non-linear table kvalues_iq4nl; value = d * table[nibble] (ggml dequantize_row_iq4_nl).
 */
public final class IQ4_NL implements BlockFormat {
    private static final int QK = 32;
    private static final int BYTES = 18;
    /** ggml-common.h kvalues_iq4nl, ascending; IQ4_XS indexes the same table. Never modified. */
    static final byte[] VALUES = {-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113};

    @Override
    public TensorType type() {
        return TensorType.IQ4_NL;
    }

    @Override
    public void dequantize(MemorySegment src, long offset, float[] dst, int dstOffset, int n) {
        int nb = Blocks.count(TensorType.IQ4_NL, n);
        for (int i = 0; i < nb; i++) {
            long b = offset + (long) i * BYTES;
            float d = Blocks.f16(src, b);
            int y = dstOffset + i * QK;
            for (int j = 0; j < QK / 2; j++) {
                int q = Blocks.u8(src, b + 2 + j);
                dst[y + j] = d * VALUES[q & 0xF];
                dst[y + j + QK / 2] = d * VALUES[q >> 4];
            }
        }
    }
}
