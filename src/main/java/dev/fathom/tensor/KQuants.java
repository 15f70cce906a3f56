package dev.fathom.tensor;

import java.lang.foreign.MemorySegment;

/**
 * The search routines behind ggml's reference K-quant encoders (ggml-quants.c: nearest_int, make_qx_quants,
 * make_qkx2_quants) and the 6-bit scale/min packing of Q4_K and Q5_K. Every float operation is written in
 * the order C evaluates it, all in float (Java float arithmetic is IEEE single, like C's with no double
 * literals involved), so the chosen levels and scales, and hence the bytes, are ggml's.
 */
final class KQuants {
    private KQuants() {}

    /**
     * ggml's nearest_int: adds 1.5 * 2^23 so the float addition itself rounds to an integer (to nearest, ties
     * to even), then reads the integer back from the mantissa bits. Kept as the bit trick rather than
     * Math.rint so that out-of-range input (ggml only asserts |x| <= 4194303) gives ggml's value too.
     */
    static int nearestInt(float f) {
        int i = Float.floatToRawIntBits(f + 12582912f);
        return (i & 0x007fffff) - 0x00400000;
    }

    /**
     * make_qx_quants with rmse_type 1 and no importance weights (weight x^2), the only form the reference
     * Q6_K encoder uses: a symmetric scale for {@code n} values, levels stored as {@code l + nmax} in
     * {@code L[lo ..]}, l in [-nmax, nmax - 1]. Returns the scale (0 for an all-but-zero group, whose levels are 0).
     */
    static float makeQxQuants(int n, int nmax, float[] x, int xo, int[] L, int lo) {
        float max = 0;
        float amax = 0;
        for (int i = 0; i < n; i++) {
            float ax = Math.abs(x[xo + i]);
            if (ax > amax) {
                amax = ax;
                max = x[xo + i];
            }
        }
        if (amax < 1e-15f) { // GROUP_MAX_EPS
            for (int i = 0; i < n; i++) L[lo + i] = 0;
            return 0f;
        }
        float iscale = -nmax / max;
        float sumlx = 0;
        float suml2 = 0;
        for (int i = 0; i < n; i++) {
            float v = x[xo + i];
            int l = Math.max(-nmax, Math.min(nmax - 1, nearestInt(iscale * v)));
            L[lo + i] = l + nmax;
            float w = v * v;
            sumlx += w * v * l; // (w * x) * l, as C groups it
            suml2 += w * l * l;
        }
        float scale = suml2 != 0 ? sumlx / suml2 : 0.0f;
        float best = scale * sumlx;
        // Try 18 nearby inverse scales; keep one only if it strictly improves sumlx^2 / suml2.
        for (int is = -9; is <= 9; is++) {
            if (is == 0) continue;
            iscale = -(nmax + 0.1f * is) / max;
            sumlx = 0;
            suml2 = 0;
            for (int i = 0; i < n; i++) {
                float v = x[xo + i];
                int l = Math.max(-nmax, Math.min(nmax - 1, nearestInt(iscale * v)));
                float w = v * v;
                sumlx += w * v * l;
                suml2 += w * l * l;
            }
            if (suml2 > 0 && sumlx * sumlx > best * suml2) {
                for (int i = 0; i < n; i++) {
                    L[lo + i] = nmax + Math.max(-nmax, Math.min(nmax - 1, nearestInt(iscale * x[xo + i])));
                }
                scale = sumlx / suml2;
                best = scale * sumlx;
            }
        }
        return scale;
    }

    /**
     * make_qkx2_quants: an asymmetric fit x ~ scale * L - theMin for {@code n} values with levels 0..nmax,
     * trying nstep + 1 inverse scales (rmin + rdelta * is + nmax) / (max - min) and keeping the one of least
     * weighted error (squared, or absolute when useMad). Levels go to {@code L[lo ..]}; the (non-negative)
     * min to {@code theMin[mi]}; the scale is returned.
     */
    static float makeQkx2Quants(int n, int nmax, float[] x, int xo, float[] weights, int[] L, int lo, int[] laux,
                                float rmin, float rdelta, int nstep, boolean useMad, float[] theMin, int mi) {
        float min = x[xo];
        float max = x[xo];
        float sumW = weights[0];
        float sumX = sumW * x[xo];
        for (int i = 1; i < n; i++) {
            float v = x[xo + i];
            if (v < min) min = v;
            if (v > max) max = v;
            float w = weights[i];
            sumW += w;
            sumX += w * v;
        }
        if (min > 0) min = 0;
        if (max == min) {
            for (int i = 0; i < n; i++) L[lo + i] = 0;
            theMin[mi] = -min;
            return 0f;
        }
        float iscale = nmax / (max - min);
        float scale = 1 / iscale;
        float bestError = 0;
        for (int i = 0; i < n; i++) {
            int l = nearestInt(iscale * (x[xo + i] - min));
            L[lo + i] = Math.max(0, Math.min(nmax, l));
            float diff = scale * L[lo + i] + min - x[xo + i];
            diff = useMad ? Math.abs(diff) : diff * diff;
            bestError += weights[i] * diff;
        }
        if (nstep < 1) {
            theMin[mi] = -min;
            return scale;
        }
        for (int is = 0; is <= nstep; is++) {
            iscale = (rmin + rdelta * is + nmax) / (max - min);
            float sumL = 0, sumL2 = 0, sumXL = 0;
            for (int i = 0; i < n; i++) {
                int l = Math.max(0, Math.min(nmax, nearestInt(iscale * (x[xo + i] - min))));
                laux[i] = l;
                float w = weights[i];
                sumL += w * l;
                sumL2 += w * l * l;
                sumXL += w * l * x[xo + i];
            }
            float D = sumW * sumL2 - sumL * sumL;
            if (D > 0) {
                // Weighted least squares for scale and min with these levels; a positive min is not allowed.
                float thisScale = (sumW * sumXL - sumX * sumL) / D;
                float thisMin = (sumL2 * sumX - sumL * sumXL) / D;
                if (thisMin > 0) {
                    thisMin = 0;
                    thisScale = sumXL / sumL2;
                }
                float curError = 0;
                for (int i = 0; i < n; i++) {
                    float diff = thisScale * laux[i] + thisMin - x[xo + i];
                    diff = useMad ? Math.abs(diff) : diff * diff;
                    curError += weights[i] * diff;
                }
                if (curError < bestError) {
                    System.arraycopy(laux, 0, L, lo, n);
                    bestError = curError;
                    scale = thisScale;
                    min = thisMin;
                }
            }
        }
        theMin[mi] = -min;
        return scale;
    }

    /**
     * The first step of quantize_row_q4_K_ref / quantize_row_q5_K_ref for one super-block at {@code x[xo ..]}:
     * fits each of the 8 sub-blocks of 32 with make_qkx2_quants (weights sqrt(mean x^2) + |x|), quantises
     * their scales and mins to 6 bits against the largest of each, and writes d, dmin and the 12 packed
     * scale bytes at {@code b} (fp16 d, fp16 dmin, scales[12]). Then re-quantises every value against the
     * stored (fp16, 6-bit) scale and min into {@code L[0 .. 256)}, levels 0..nmax; a sub-block whose stored
     * scale is 0 keeps make_qkx2_quants' levels, as ggml's does.
     */
    static void quantizeScaleMinBlock(float[] x, int xo, int nmax, float rmin, float rdelta, int nstep,
                                      MemorySegment dst, long b, int[] L, int[] laux, float[] weights,
                                      float[] scales, float[] mins, int[] packed) {
        float maxScale = 0; // as the min is subtracted, scales are never negative
        float maxMin = 0;
        for (int j = 0; j < 8; j++) {
            int s = xo + 32 * j;
            float sumX2 = 0;
            for (int l = 0; l < 32; l++) sumX2 += x[s + l] * x[s + l];
            float avX = (float) Math.sqrt(sumX2 / 32); // sqrtf: the double root of a float rounds to sqrtf's result
            for (int l = 0; l < 32; l++) weights[l] = avX + Math.abs(x[s + l]);
            scales[j] = makeQkx2Quants(32, nmax, x, s, weights, L, 32 * j, laux, rmin, rdelta, nstep, false, mins, j);
            if (scales[j] > maxScale) maxScale = scales[j];
            if (mins[j] > maxMin) maxMin = mins[j];
        }
        float invScale = maxScale > 0 ? 63.f / maxScale : 0.f;
        float invMin = maxMin > 0 ? 63.f / maxMin : 0.f;
        java.util.Arrays.fill(packed, 0);
        for (int j = 0; j < 8; j++) {
            // ggml stores nearest_int into a uint8_t before MIN(63, .): keep the truncation to 8 bits.
            int ls = Math.min(63, nearestInt(invScale * scales[j]) & 0xFF);
            int lm = Math.min(63, nearestInt(invMin * mins[j]) & 0xFF);
            // The get_scale_min_k4 layout: 0..3 in the low 6 bits of bytes 0..7, 4..7 split across
            // bytes 8..11 (low bits) and the top 2 bits of bytes 0..7.
            if (j < 4) {
                packed[j] = ls;
                packed[j + 4] = lm;
            } else {
                packed[j + 4] = (ls & 0xF) | ((lm & 0xF) << 4);
                packed[j - 4] |= (ls >> 4) << 6;
                packed[j] |= (lm >> 4) << 6;
            }
        }
        Blocks.putF16(dst, b, maxScale / 63.f);
        Blocks.putF16(dst, b + 2, maxMin / 63.f);
        for (int k = 0; k < 12; k++) Blocks.put8(dst, b + 4 + k, packed[k]);

        // Re-quantise against what a decoder will see: the fp16 d and dmin times the 6-bit scale and min.
        float dAll = Blocks.f16(dst, b);
        float mAll = Blocks.f16(dst, b + 2);
        for (int j = 0; j < 8; j++) {
            int sc = j < 4 ? packed[j] & 63 : (packed[j + 4] & 0xF) | ((packed[j - 4] >> 6) << 4);
            int m = j < 4 ? packed[j + 4] & 63 : (packed[j + 4] >> 4) | ((packed[j] >> 6) << 4);
            float d = dAll * sc;
            if (d == 0) continue;
            float dm = mAll * m;
            for (int ii = 0; ii < 32; ii++) {
                int l = nearestInt((x[xo + 32 * j + ii] + dm) / d);
                L[32 * j + ii] = Math.max(0, Math.min(nmax, l));
            }
        }
    }
}
