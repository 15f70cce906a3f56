package dev.fathom.tensor;

/**
 * Conversions between float32 and the two 16-bit float formats, exactly as ggml does them:
 * IEEE binary16 (F16, round to nearest even, as {@code GGML_FP32_TO_FP16}) and bfloat16 (BF16, as
 * {@code ggml_compute_fp32_to_bf16}: NaN forced quiet, otherwise round to nearest even on the upper 16 bits,
 * subnormals kept). Widening is exact in both cases.
 */
public final class HalfFloats {
    private HalfFloats() {}

    /** binary16 bits to float32 (exact). */
    public static float f16ToF32(short bits) {
        return Float.float16ToFloat(bits);
    }

    /** float32 to binary16 bits, round to nearest even (what F16C's {@code vcvtps2ph} with imm 0 does). */
    public static short f32ToF16(float f) {
        return Float.floatToFloat16(f);
    }

    /** bfloat16 bits to float32 (exact: the bits become the upper half). */
    public static float bf16ToF32(short bits) {
        return Float.intBitsToFloat((bits & 0xFFFF) << 16);
    }

    /** float32 to bfloat16 bits as ggml_compute_fp32_to_bf16: quiet NaN, else round to nearest even. */
    public static short f32ToBf16(float f) {
        int i = Float.floatToRawIntBits(f);
        if ((i & 0x7FFFFFFF) > 0x7F800000) {
            return (short) ((i >>> 16) | 64);
        }
        // Unsigned 32-bit arithmetic in ggml; int addition wraps the same way and >>> is the unsigned shift.
        return (short) ((i + (0x7FFF + ((i >>> 16) & 1))) >>> 16);
    }
}
