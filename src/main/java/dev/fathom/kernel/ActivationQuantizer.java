package dev.fathom.kernel;

/**
 * Quantises an activation vector to Q8_0 blocks the way llama.cpp's CPU backend does before a Q8_0 or Q4_0 product
 * (ggml's AVX2 {@code quantize_row_q8_0}): per 32 values {@code d = amax / 127} (stored rounded to fp16),
 * {@code q = rint(x * 127 / amax)} (round half to even). Products then run on integers, which is both faster and
 * bit-compatible with llama.cpp's results for these weight types.
 */
final class ActivationQuantizer {
    static final int QK = 32;

    private ActivationQuantizer() {
    }

    /**
     * Writes the quants of {@code x[xOff .. xOff + n)} to {@code q[qOff ..]} (n values, each in [-127, 127]) and the
     * block scales, as the float value of their fp16 form, to {@code d[dOff ..]} (n / 32 values).
     */
    static void quantize(float[] x, int xOff, int n, short[] q, int qOff, float[] d, int dOff) {
        for (int b = 0; b < n / QK; b++) {
            int s = xOff + b * QK;
            float amax = 0f;
            for (int i = 0; i < QK; i++) amax = Math.max(amax, Math.abs(x[s + i]));
            d[dOff + b] = Float.float16ToFloat(Float.floatToFloat16(amax / 127f));
            float id = amax != 0f ? 127f / amax : 0f;
            for (int i = 0; i < QK; i++) q[qOff + b * QK + i] = (short) Math.rint(x[s + i] * id);
        }
    }
}
