package dev.fathom.tensor;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * FP8 e4m3fn (safetensors {@code F8_E4M3}, DeepSeek-V3's weights): sign, 4 exponent bits (bias 7), 3 mantissa bits;
 * exponent 0 is subnormal ({@code m/8 * 2^-6}); no infinities; 0x7F and 0xFF are NaN (never stored by a quantiser:
 * {@link #firstNaN} finds them at load). Values here are the codes' own values; a weight's block scale is applied by
 * the tensor ({@link BlockScales}).
 */
public final class F8_E4M3 implements BlockFormat {
    /** 2^120: the exponent rebias from e4m3's bias 7 to float32's 127 (see {@link #decode}). */
    public static final float REBIAS = 0x1p120f;

    @Override
    public TensorType type() {
        return TensorType.F8_E4M3;
    }

    /**
     * The value of code {@code b}: its exponent and mantissa bits placed where float32 keeps them (a float32 2^120
     * times too small, subnormals included), times 2^120; exact for every finite code.
     */
    public static float decode(int b) {
        float mag = Float.intBitsToFloat((b & 0x7F) << 20) * REBIAS;
        return (b & 0x80) != 0 ? -mag : mag;
    }

    public static boolean isNaN(int b) {
        return (b & 0x7F) == 0x7F;
    }

    /** The offset of the first NaN code in {@code [offset, offset + n)}, or -1. */
    public static long firstNaN(MemorySegment src, long offset, long n) {
        for (long i = 0; i < n; i++) {
            if (isNaN(src.get(ValueLayout.JAVA_BYTE, offset + i))) return offset + i;
        }
        return -1;
    }

    @Override
    public void dequantize(MemorySegment src, long offset, float[] dst, int dstOffset, int n) {
        for (int i = 0; i < n; i++) dst[dstOffset + i] = decode(src.get(ValueLayout.JAVA_BYTE, offset + i));
    }
}
