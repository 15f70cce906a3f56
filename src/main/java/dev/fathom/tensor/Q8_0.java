package dev.fathom.tensor;

import java.lang.foreign.MemorySegment;

/**
 * Q8_0: blocks of 32 values in 34 bytes, {@code { fp16 d; int8 qs[32]; }}; value = qs[j] * d.
 * Encoding is quantize_row_q8_0_ref: d = amax / 127, qs = roundf(x / d) (halves away from zero).
 */
public final class Q8_0 implements BlockFormat {
    private static final int QK = 32;
    private static final int BYTES = 34;

    @Override
    public TensorType type() {
        return TensorType.Q8_0;
    }

    @Override
    public void dequantize(MemorySegment src, long offset, float[] dst, int dstOffset, int n) {
        int nb = Blocks.count(TensorType.Q8_0, n);
        for (int i = 0; i < nb; i++) {
            long b = offset + (long) i * BYTES;
            float d = Blocks.f16(src, b);
            int y = dstOffset + i * QK;
            for (int j = 0; j < QK; j++) {
                dst[y + j] = Blocks.i8(src, b + 2 + j) * d;
            }
        }
    }

    @Override
    public boolean canQuantize() {
        return true;
    }

    @Override
    public void quantize(float[] src, int srcOffset, int n, MemorySegment dst, long offset) {
        int nb = Blocks.count(TensorType.Q8_0, n);
        for (int i = 0; i < nb; i++) {
            int x = srcOffset + i * QK;
            long b = offset + (long) i * BYTES;
            float amax = 0f;
            for (int j = 0; j < QK; j++) {
                float a = Math.abs(src[x + j]);
                amax = amax > a ? amax : a; // ggml's MAX macro
            }
            float d = amax / 127;
            float id = d != 0f ? 1.0f / d : 0.0f;
            Blocks.putF16(dst, b, d);
            for (int j = 0; j < QK; j++) {
                Blocks.put8(dst, b + 2 + j, (int) Blocks.roundf(src[x + j] * id));
            }
        }
    }
}
