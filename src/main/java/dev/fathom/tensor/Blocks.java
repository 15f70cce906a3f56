package dev.fathom.tensor;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/** Shared little-endian accessors and arithmetic for the block formats (package-private, allocation-free). */
final class Blocks {
    static final ValueLayout.OfShort SHORT = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final ValueLayout.OfInt INT = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private Blocks() {}

    /** Number of blocks in {@code n} values; fails unless n is a non-negative multiple of the block size. */
    static int count(TensorType type, int n) {
        if (n < 0 || n % type.blockSize != 0) {
            throw new IllegalArgumentException(n + " values is not a whole number of " + type + " blocks of " + type.blockSize);
        }
        return n / type.blockSize;
    }

    /** Unsigned byte. */
    static int u8(MemorySegment s, long off) {
        return s.get(ValueLayout.JAVA_BYTE, off) & 0xFF;
    }

    /** Signed byte. */
    static int i8(MemorySegment s, long off) {
        return s.get(ValueLayout.JAVA_BYTE, off);
    }

    static void put8(MemorySegment s, long off, int v) {
        s.set(ValueLayout.JAVA_BYTE, off, (byte) v);
    }

    /** Unsigned little-endian 32-bit value as an int (bit pattern). */
    static int u32(MemorySegment s, long off) {
        return s.get(INT, off);
    }

    static void put32(MemorySegment s, long off, int v) {
        s.set(INT, off, v);
    }

    /** An fp16 (ggml_half) at {@code off}, widened to float32. */
    static float f16(MemorySegment s, long off) {
        return HalfFloats.f16ToF32(s.get(SHORT, off));
    }

    /** Stores {@code v} as fp16 (round to nearest even) at {@code off}. */
    static void putF16(MemorySegment s, long off, float v) {
        s.set(SHORT, off, HalfFloats.f32ToF16(v));
    }
    /** The value of largest magnitude in {@code src[from .. from + n)}, sign kept (first one on ties), as ggml's _0 quantisers pick it. */
    static float signedAbsMax(float[] src, int from, int n) {
        float amax = 0f, max = 0f;
        for (int j = 0; j < n; j++) {
            float v = src[from + j];
            if (amax < Math.abs(v)) {
                amax = Math.abs(v);
                max = v;
            }
        }
        return max;
    }

    /** The smallest and largest value of {@code src[from .. from + n)}, as ggml's _1 quantisers scan them. */
    static float min(float[] src, int from, int n) {
        float min = Float.MAX_VALUE;
        for (int j = 0; j < n; j++) if (src[from + j] < min) min = src[from + j];
        return min;
    }

    static float max(float[] src, int from, int n) {
        float max = -Float.MAX_VALUE;
        for (int j = 0; j < n; j++) if (src[from + j] > max) max = src[from + j];
        return max;
    }


    /** C's {@code roundf}: nearest integer, halfway cases away from zero (Math.round rounds them up instead). */
    static float roundf(float x) {
        float a = Math.abs(x);
        float t = (float) Math.floor(a);
        if (a - t >= 0.5f) t += 1f; // a - floor(a) is exact in float
        return Math.copySign(t, x);
    }

    /**
     * ggml's get_scale_min_k4, scale half: the 6-bit scale {@code j} (0..7) of the 12 packed bytes at
     * {@code off}. Scales 0..3 are the low 6 bits of bytes 0..3; scales 4..7 take their low 4 bits from the low
     * nibble of bytes 8..11 and their top 2 bits from the top of bytes 0..3.
     */
    static int kScale(MemorySegment s, long off, int j) {
        return j < 4 ? u8(s, off + j) & 63 : (u8(s, off + j + 4) & 0xF) | ((u8(s, off + j - 4) >> 6) << 4);
    }

    /**
     * get_scale_min_k4, min half: mins 0..3 are the low 6 bits of bytes 4..7; mins 4..7 take the high nibble of
     * bytes 8..11 and the top 2 bits of bytes 4..7.
     */
    static int kMin(MemorySegment s, long off, int j) {
        return j < 4 ? u8(s, off + j + 4) & 63 : (u8(s, off + j + 4) >> 4) | ((u8(s, off + j) >> 6) << 4);
    }
}
