package dev.fathom.tensor;

import java.lang.foreign.MemorySegment;

/**
 * Q4_K: super-blocks of 256 values in 144 bytes, {@code { fp16 d; fp16 dmin; uint8 scales[12]; uint8 qs[128]; }}.
 * Eight sub-blocks of 32 values, each with a 6-bit scale and 6-bit min packed in scales (get_scale_min_k4).
 * Each 64-value chunk uses 32 bytes of qs: low nibbles are its first 32 values, high nibbles the next 32.
 * value = (d * scale) * q - (dmin * min) (ggml dequantize_row_q4_K).
 * Encoding is quantize_row_q4_K_ref (what llama-quantize uses with no imatrix): make_qkx2_quants per
 * sub-block (levels 0..15, trial inverse scales (14 + 0.1 is) / range for is = 0..20), 6-bit scales and mins
 * against the largest of each, then every value re-quantised against the stored scale and min.
 */
public final class Q4_K implements BlockFormat {
    private static final int QK = 256;
    private static final int BYTES = 144;
    private static final int SCALES = 4;
    private static final int QS = 16;

    @Override
    public TensorType type() {
        return TensorType.Q4_K;
    }

    @Override
    public void dequantize(MemorySegment src, long offset, float[] dst, int dstOffset, int n) {
        int nb = Blocks.count(TensorType.Q4_K, n);
        for (int i = 0; i < nb; i++) {
            long b = offset + (long) i * BYTES;
            float d = Blocks.f16(src, b);
            float min = Blocks.f16(src, b + 2);
            int y = dstOffset + i * QK;
            for (int chunk = 0; chunk < 4; chunk++) {
                int is = 2 * chunk;
                float d1 = d * Blocks.kScale(src, b + SCALES, is);
                float m1 = min * Blocks.kMin(src, b + SCALES, is);
                float d2 = d * Blocks.kScale(src, b + SCALES, is + 1);
                float m2 = min * Blocks.kMin(src, b + SCALES, is + 1);
                long q = b + QS + 32L * chunk;
                for (int l = 0; l < 32; l++) {
                    dst[y + l] = d1 * (Blocks.u8(src, q + l) & 0xF) - m1;
                }
                for (int l = 0; l < 32; l++) {
                    dst[y + 32 + l] = d2 * (Blocks.u8(src, q + l) >> 4) - m2;
                }
                y += 64;
            }
        }
    }

    @Override
    public boolean canQuantize() {
        return true;
    }

    @Override
    public void quantize(float[] src, int srcOffset, int n, MemorySegment dst, long offset) {
        int nb = Blocks.count(TensorType.Q4_K, n);
        int[] L = new int[QK];
        int[] laux = new int[32];
        float[] weights = new float[32];
        float[] scales = new float[8];
        float[] mins = new float[8];
        int[] packed = new int[12];
        for (int i = 0; i < nb; i++) {
            long b = offset + (long) i * BYTES;
            // make_qkx2_quants(32, 15, ..., rmin -1, rdelta 0.1, nstep 20, use_mad false), as ggml calls it
            KQuants.quantizeScaleMinBlock(src, srcOffset + i * QK, 15, -1.f, 0.1f, 20, dst, b, L, laux, weights, scales, mins, packed);
            for (int j = 0; j < QK; j += 64) {
                long q = b + QS + j / 2;
                for (int l = 0; l < 32; l++) Blocks.put8(dst, q + l, L[j + l] | (L[j + l + 32] << 4));
            }
        }
    }
}
