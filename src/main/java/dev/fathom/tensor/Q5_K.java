package dev.fathom.tensor;

import java.lang.foreign.MemorySegment;

/**
 * Q5_K: super-blocks of 256 values in 176 bytes,
 * {@code { fp16 d; fp16 dmin; uint8 scales[12]; uint8 qh[32]; uint8 qs[128]; }}. Scales, mins and the low
 * 4 bits as in Q4_K; the fifth bit of value 32k + l (k = 0..7, l < 32) is bit k of qh[l].
 * value = (d * scale) * (q + 16 * hbit) - (dmin * min) (ggml dequantize_row_q5_K).
 * Encoding is quantize_row_q5_K_ref: as Q4_K's (see {@link Q4_K}) with levels 0..31 and make_qkx2_quants'
 * trial inverse scales (30.5 + 0.1 is) / range for is = 0..15.
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

    @Override
    public boolean canQuantize() {
        return true;
    }

    @Override
    public void quantize(float[] src, int srcOffset, int n, MemorySegment dst, long offset) {
        int nb = Blocks.count(TensorType.Q5_K, n);
        int[] L = new int[QK];
        int[] laux = new int[32];
        float[] weights = new float[32];
        float[] scales = new float[8];
        float[] mins = new float[8];
        int[] packed = new int[12];
        int[] qh = new int[32];
        for (int i = 0; i < nb; i++) {
            long b = offset + (long) i * BYTES;
            // make_qkx2_quants(32, 31, ..., rmin -0.5, rdelta 0.1, nstep 15, use_mad false), as ggml calls it
            KQuants.quantizeScaleMinBlock(src, srcOffset + i * QK, 31, -0.5f, 0.1f, 15, dst, b, L, laux, weights, scales, mins, packed);
            java.util.Arrays.fill(qh, 0);
            int m1 = 1, m2 = 2;
            for (int c = 0; c < QK; c += 64) {
                long ql = b + QS + c / 2;
                for (int j = 0; j < 32; j++) {
                    int l1 = L[c + j];
                    if (l1 > 15) {
                        l1 -= 16;
                        qh[j] |= m1;
                    }
                    int l2 = L[c + j + 32];
                    if (l2 > 15) {
                        l2 -= 16;
                        qh[j] |= m2;
                    }
                    Blocks.put8(dst, ql + j, l1 | (l2 << 4));
                }
                m1 <<= 2;
                m2 <<= 2;
            }
            for (int j = 0; j < 32; j++) Blocks.put8(dst, b + QH + j, qh[j]);
        }
    }
}
