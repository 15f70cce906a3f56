package dev.fathom.kernel;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * Quantises an activation vector to Q8_0 blocks the way llama.cpp's CPU backend does before a Q8_0 or Q4_0 product
 * (ggml's AVX2 {@code quantize_row_q8_0}): per 32 values {@code d = amax / 127} (stored rounded to fp16),
 * {@code q = rint(x * 127 / amax)} (round half to even). Products then run on integers, which is both faster and
 * the same arithmetic as llama.cpp's for these weight types.
 */
final class ActivationQuantizer {
    static final int QK = 32;
    private static final VectorSpecies<Float> F = FloatVector.SPECIES_256;
    private static final VectorSpecies<Short> S = ShortVector.SPECIES_128;
    /** 1.5 * 2^23: adding and subtracting it rounds a float of magnitude below 2^22 to an integer, half to even. */
    private static final float ROUND = 12582912f;

    private ActivationQuantizer() {
    }

    /**
     * Writes the quants of {@code x[xOff .. xOff + n)} to {@code q[qOff ..]} (n values, each in [-127, 127]) and the
     * block scales, as the float value of their fp16 form, to {@code d[dOff ..]} (n / 32 values).
     */
    static void quantize(float[] x, int xOff, int n, short[] q, int qOff, float[] d, int dOff) {
        for (int b = 0; b < n / QK; b++) {
            int s = xOff + b * QK, t = qOff + b * QK;
            FloatVector v0 = FloatVector.fromArray(F, x, s), v1 = FloatVector.fromArray(F, x, s + 8);
            FloatVector v2 = FloatVector.fromArray(F, x, s + 16), v3 = FloatVector.fromArray(F, x, s + 24);
            // max is exact, so the lane order does not matter; NaN propagates as in ggml's max
            float amax = v0.abs().max(v1.abs()).max(v2.abs().max(v3.abs())).reduceLanes(VectorOperators.MAX);
            d[dOff + b] = Float.float16ToFloat(Float.floatToFloat16(amax / 127f));
            FloatVector id = FloatVector.broadcast(F, amax != 0f ? 127f / amax : 0f);
            ((ShortVector) v0.mul(id).add(ROUND).sub(ROUND).convertShape(VectorOperators.F2S, S, 0)).intoArray(q, t);
            ((ShortVector) v1.mul(id).add(ROUND).sub(ROUND).convertShape(VectorOperators.F2S, S, 0)).intoArray(q, t + 8);
            ((ShortVector) v2.mul(id).add(ROUND).sub(ROUND).convertShape(VectorOperators.F2S, S, 0)).intoArray(q, t + 16);
            ((ShortVector) v3.mul(id).add(ROUND).sub(ROUND).convertShape(VectorOperators.F2S, S, 0)).intoArray(q, t + 24);
        }
    }
}
