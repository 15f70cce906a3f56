package dev.fathom.tensor;

import java.lang.foreign.MemorySegment;

/**
 * IQ4_XS: super-blocks of 256 values in 136 bytes, {@code { fp16 d; uint16 scales_h; uint8 scales_l[4]; uint8 qs[128]; }}.
 * Eight sub-blocks of 32, each with a 6-bit scale ls: its low 4 bits are nibble ib of scales_l (low nibble first),
 * its top 2 bits bits 2ib, 2ib + 1 of scales_h. Within a sub-block the nibbles are ordered as in IQ4_NL (16 bytes:
 * low nibbles are values 0..15, high nibbles 16..31), each indexing kvalues_iq4nl.
 * value = (d * (ls - 32)) * table[nibble] (ggml dequantize_row_iq4_xs).
 * Encoding is quantize_row_iq4_xs_ref (quantize_iq4_xs with no imatrix, what llama-quantize uses without one):
 * per sub-block a least-squares scale over 15 trial inverse scales (weights x^2), the scales quantised to 6 bits
 * against d = -(the scale of largest magnitude) / 32, and every value re-quantised against the stored scale.
 */
public final class IQ4_XS implements BlockFormat {
    private static final int QK = 256;
    private static final int BYTES = 136;
    private static final int SCALES_H = 2;
    private static final int SCALES_L = 4;
    private static final int QS = 8;
    private static final byte[] VALUES = IQ4_NL.VALUES;

    @Override
    public TensorType type() {
        return TensorType.IQ4_XS;
    }

    @Override
    public void dequantize(MemorySegment src, long offset, float[] dst, int dstOffset, int n) {
        int nb = Blocks.count(TensorType.IQ4_XS, n);
        for (int i = 0; i < nb; i++) {
            long b = offset + (long) i * BYTES;
            float d = Blocks.f16(src, b);
            int scalesH = src.get(Blocks.SHORT, b + SCALES_H) & 0xFFFF;
            int y = dstOffset + i * QK;
            for (int ib = 0; ib < 8; ib++) {
                int ls = ((Blocks.u8(src, b + SCALES_L + ib / 2) >> 4 * (ib % 2)) & 0xF) | (((scalesH >> 2 * ib) & 3) << 4);
                float dl = d * (ls - 32);
                long q = b + QS + 16L * ib;
                for (int j = 0; j < 16; j++) {
                    int v = Blocks.u8(src, q + j);
                    dst[y + j] = dl * VALUES[v & 0xF];
                    dst[y + j + 16] = dl * VALUES[v >> 4];
                }
                y += 32;
            }
        }
    }

    @Override
    public boolean canQuantize() {
        return true;
    }

    @Override
    public void quantize(float[] src, int srcOffset, int n, MemorySegment dst, long offset) {
        int nb = Blocks.count(TensorType.IQ4_XS, n);
        float[] scales = new float[8];
        int[] L = new int[QK];
        for (int i = 0; i < nb; i++) {
            quantizeBlock(src, srcOffset + i * QK, dst, offset + (long) i * BYTES, scales, L);
        }
    }

    /** ggml's quantize_row_iq4_nl_impl(256, 32, ..., kvalues_iq4nl, no quant_weights, ntry 7) for one super-block. */
    private static void quantizeBlock(float[] x, int xo, MemorySegment dst, long b, float[] scales, int[] L) {
        float maxScale = 0, amaxScale = 0;
        for (int ib = 0; ib < 8; ib++) {
            int s = xo + 32 * ib;
            float amax = 0, max = 0;
            for (int j = 0; j < 32; j++) {
                float ax = Math.abs(x[s + j]);
                if (ax > amax) {
                    amax = ax;
                    max = x[s + j];
                }
            }
            if (amax < 1e-15f) { // GROUP_MAX_EPS
                scales[ib] = 0;
                continue;
            }
            // The largest magnitude first maps to -127 (table[0]); the levels of this first try are recomputed below.
            float d = -max / VALUES[0];
            float id = 1 / d;
            float sumqx = 0, sumq2 = 0;
            for (int j = 0; j < 32; j++) {
                float v = x[s + j];
                float q = VALUES[bestIndex(id * v)];
                float w = v * v;
                sumqx += w * q * v; // (w * q) * x, as C groups it
                sumq2 += w * q * q;
            }
            d = sumq2 > 0 ? sumqx / sumq2 : 0f;
            float best = d * sumqx;
            // Try inverse scales (itry - 127) / max; keep one only if it strictly improves sumqx^2 / sumq2.
            for (int itry = -7; itry <= 7; itry++) {
                id = (itry + VALUES[0]) / max;
                sumqx = 0;
                sumq2 = 0;
                for (int j = 0; j < 32; j++) {
                    float v = x[s + j];
                    float q = VALUES[bestIndex(id * v)];
                    float w = v * v;
                    sumqx += w * q * v;
                    sumq2 += w * q * q;
                }
                if (sumq2 > 0 && sumqx * sumqx > best * sumq2) {
                    d = sumqx / sumq2;
                    best = d * sumqx;
                }
            }
            scales[ib] = d;
            if (Math.abs(d) > amaxScale) {
                amaxScale = Math.abs(d);
                maxScale = d;
            }
        }

        // An all-zero super-block stores d = -0.0 (fp16 0x8000), as ggml does.
        float d = -maxScale / 32;
        Blocks.putF16(dst, b, d);
        float id = d != 0 ? 1 / d : 0f; // the float d, not its fp16, as ggml computes it
        int scalesH = 0, scalesL = 0; // 6-bit ls = l + 32: low nibbles in scales_l (nibble ib = bits 4ib..4ib+3), top 2 bits in scales_h
        for (int ib = 0; ib < 8; ib++) {
            int l = Math.max(-32, Math.min(31, KQuants.nearestInt(id * scales[ib])));
            float dl = d * l;
            float idl = dl != 0 ? 1 / dl : 0f;
            for (int j = 0; j < 32; j++) L[32 * ib + j] = bestIndex(idl * x[xo + 32 * ib + j]);
            l += 32;
            scalesL |= (l & 0xF) << 4 * ib;
            scalesH |= (l >> 4) << 2 * ib;
        }
        dst.set(Blocks.SHORT, b + SCALES_H, (short) scalesH);
        Blocks.put32(dst, b + SCALES_L, scalesL);
        for (int ib = 0; ib < 8; ib++) {
            for (int j = 0; j < 16; j++) Blocks.put8(dst, b + QS + 16 * ib + j, L[32 * ib + j] | (L[32 * ib + 16 + j] << 4));
        }
    }

    /**
     * ggml's best_index_int8 over kvalues_iq4nl: the index of the table value nearest {@code x}, clamped to the
     * ends; a tie between two neighbours goes to the upper one.
     */
    private static int bestIndex(float x) {
        if (x <= VALUES[0]) return 0;
        if (x >= VALUES[15]) return 15;
        int ml = 0, mu = 15;
        while (mu - ml > 1) {
            int mav = (ml + mu) / 2;
            if (x < VALUES[mav]) mu = mav;
            else ml = mav;
        }
        return x - VALUES[mu - 1] < VALUES[mu] - x ? mu - 1 : mu;
    }
}
