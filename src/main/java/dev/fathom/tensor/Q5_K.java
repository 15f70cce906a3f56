package dev.fathom.tensor;

import java.lang.foreign.MemorySegment;

/**
 * Q5_K: super-blocks of 256 values in 176 bytes,
 * {@code { fp16 d; fp16 dmin; uint8 scales[12]; uint8 qh[32]; uint8 qs[128]; }}. Scales, mins and the low
 * 4 bits as in Q4_K; the fifth bit of value 32k + l (k = 0..7, l < 32) is bit k of qh[l].
 * value = (d * scale) * (q + 16 * hbit) - (dmin * min) (ggml dequantize_row_q5_K).
 */
public final class Q5_K implements BlockFormat {
    private static final int QK = 256;
    private static final int BYTES = 176;
    private static final int SCALES = 4;
    private static final int QH = 16;
    private static final int QS = 48;

    @Override
    public TensorType type() {
        return TensorType.Q5_K;
    }

    @Override
    public void dequantize(MemorySegment src, long offset, float[] dst, int dstOffset, int n) {
        int nb = Blocks.count(TensorType.Q5_K, n);
        for (int i = 0; i < nb; i++) {
            long b = offset + (long) i * BYTES;
            float d = Blocks.f16(src, b);
            float min = Blocks.f16(src, b + 2);
            int y = dstOffset + i * QK;
            int u1 = 1;
            int u2 = 2;
            for (int chunk = 0; chunk < 4; chunk++) {
                int is = 2 * chunk;
                float d1 = d * Blocks.kScale(src, b + SCALES, is);
                float m1 = min * Blocks.kMin(src, b + SCALES, is);
                float d2 = d * Blocks.kScale(src, b + SCALES, is + 1);
                float m2 = min * Blocks.kMin(src, b + SCALES, is + 1);
                long q = b + QS + 32L * chunk;
                for (int l = 0; l < 32; l++) {
                    int h = (Blocks.u8(src, b + QH + l) & u1) != 0 ? 16 : 0;
                    dst[y + l] = d1 * ((Blocks.u8(src, q + l) & 0xF) + h) - m1;
                }
                for (int l = 0; l < 32; l++) {
                    int h = (Blocks.u8(src, b + QH + l) & u2) != 0 ? 16 : 0;
                    dst[y + 32 + l] = d2 * ((Blocks.u8(src, q + l) >> 4) + h) - m2;
                }
                y += 64;
                u1 <<= 2;
                u2 <<= 2;
            }
        }
    }
}
