package dev.fathom.tensor;

import java.lang.foreign.MemorySegment;

/**
 * Q6_K: super-blocks of 256 values in 210 bytes, {@code { uint8 ql[128]; uint8 qh[64]; int8 scales[16]; fp16 d; }}.
 * Each 128-value half uses 64 bytes of ql, 32 of qh and 8 scales. For l < 32 in a half: value l is the low
 * nibble of ql[l] with bits 0-1 of qh[l] on top, value l + 32 the low nibble of ql[l + 32] with bits 2-3,
 * value l + 64 the high nibble of ql[l] with bits 4-5, value l + 96 the high nibble of ql[l + 32] with bits 6-7.
 * Sub-blocks are 16 values with int8 scales. value = (d * scale) * (q - 32) (ggml dequantize_row_q6_K).
 * Encoding is quantize_row_q6_K_ref (what llama-quantize uses with no imatrix): a symmetric scale per
 * sub-block from make_qx_quants (nmax 32, weights x^2), the scales quantised to int8 so that the one of
 * largest magnitude becomes -128 (then clamped to 127), and every value re-quantised against the stored scale.
 */
public final class Q6_K implements BlockFormat {
    private static final int QK = 256;
    private static final int BYTES = 210;
    private static final int QL = 0;
    private static final int QH = 128;
    private static final int SCALES = 192;
    private static final int D = 208;

    @Override
    public TensorType type() {
        return TensorType.Q6_K;
    }

    @Override
    public void dequantize(MemorySegment src, long offset, float[] dst, int dstOffset, int n) {
        int nb = Blocks.count(TensorType.Q6_K, n);
        for (int i = 0; i < nb; i++) {
            long b = offset + (long) i * BYTES;
            float d = Blocks.f16(src, b + D);
            int y = dstOffset + i * QK;
            for (int half = 0; half < 2; half++) {
                long ql = b + QL + 64L * half;
                long qh = b + QH + 32L * half;
                long sc = b + SCALES + 8L * half;
                for (int l = 0; l < 32; l++) {
                    int is = l / 16;
                    int lo = Blocks.u8(src, ql + l);
                    int hi = Blocks.u8(src, ql + l + 32);
                    int h = Blocks.u8(src, qh + l);
                    int q1 = ((lo & 0xF) | ((h & 3) << 4)) - 32;
                    int q2 = ((hi & 0xF) | (((h >> 2) & 3) << 4)) - 32;
                    int q3 = ((lo >> 4) | (((h >> 4) & 3) << 4)) - 32;
                    int q4 = ((hi >> 4) | (((h >> 6) & 3) << 4)) - 32;
                    dst[y + l] = d * Blocks.i8(src, sc + is) * q1;
                    dst[y + l + 32] = d * Blocks.i8(src, sc + is + 2) * q2;
                    dst[y + l + 64] = d * Blocks.i8(src, sc + is + 4) * q3;
                    dst[y + l + 96] = d * Blocks.i8(src, sc + is + 6) * q4;
                }
                y += 128;
            }
        }
    }

    @Override
    public boolean canQuantize() {
        return true;
    }

    @Override
    public void quantize(float[] src, int srcOffset, int n, MemorySegment dst, long offset) {
        int nb = Blocks.count(TensorType.Q6_K, n);
        int[] L = new int[QK];
        float[] scales = new float[16];
        for (int i = 0; i < nb; i++) {
            int x = srcOffset + i * QK;
            long b = offset + (long) i * BYTES;
            float maxScale = 0;
            float maxAbsScale = 0;
            for (int ib = 0; ib < 16; ib++) {
                float scale = KQuants.makeQxQuants(16, 32, src, x + 16 * ib, L, 16 * ib);
                scales[ib] = scale;
                float absScale = Math.abs(scale);
                if (absScale > maxAbsScale) {
                    maxAbsScale = absScale;
                    maxScale = scale;
                }
            }
            if (maxAbsScale < 1e-15f) { // GROUP_MAX_EPS: ggml zeroes the whole block (d = +0)
                dst.asSlice(b, BYTES).fill((byte) 0);
                continue;
            }
            float iscale = -128.f / maxScale;
            Blocks.putF16(dst, b + D, 1 / iscale);
            for (int ib = 0; ib < 16; ib++) {
                Blocks.put8(dst, b + SCALES + ib, Math.min(127, KQuants.nearestInt(iscale * scales[ib]))); // stored as int8
            }
            float dAll = Blocks.f16(dst, b + D);
            for (int j = 0; j < 16; j++) {
                float d = dAll * Blocks.i8(dst, b + SCALES + j);
                if (d == 0) continue; // keeps make_qx_quants' levels, as ggml does
                for (int ii = 0; ii < 16; ii++) {
                    int l = KQuants.nearestInt(src[x + 16 * j + ii] / d);
                    L[16 * j + ii] = Math.max(-32, Math.min(31, l)) + 32;
                }
            }
            for (int j = 0; j < QK; j += 128) {
                long ql = b + QL + j / 2;
                long qh = b + QH + j / 4;
                for (int l = 0; l < 32; l++) {
                    int q1 = L[j + l] & 0xF;
                    int q2 = L[j + l + 32] & 0xF;
                    int q3 = L[j + l + 64] & 0xF;
                    int q4 = L[j + l + 96] & 0xF;
                    Blocks.put8(dst, ql + l, q1 | (q3 << 4));
                    Blocks.put8(dst, ql + l + 32, q2 | (q4 << 4));
                    Blocks.put8(dst, qh + l, (L[j + l] >> 4) | ((L[j + l + 32] >> 4) << 2)
                            | ((L[j + l + 64] >> 4) << 4) | ((L[j + l + 96] >> 4) << 6));
                }
            }
        }
    }
}
