package dev.fathom.tensor;

import java.lang.foreign.MemorySegment;

/**
 * The byte layout of one tensor type, one class per type (F32, Q8_0, Q4_K, ...). Decoding reproduces ggml's
 * {@code to_float} bit for bit; encoding (where a type supports it) reproduces ggml's reference quantiser
 * ({@code quantize_row_*_ref}), rounding included.
 */
public interface BlockFormat {

    TensorType type();

    /**
     * Decodes {@code n} values (a multiple of the block size) stored at byte {@code offset} of {@code src}
     * into {@code dst[dstOffset .. dstOffset + n)}.
     */
    void dequantize(MemorySegment src, long offset, float[] dst, int dstOffset, int n);

    /** Whether {@link #quantize} is implemented for this type. */
    default boolean canQuantize() {
        return false;
    }

    /**
     * Encodes {@code n} values (a multiple of the block size) from {@code src[srcOffset ..]} into
     * {@code type().bytesFor(n)} bytes at byte {@code offset} of {@code dst}.
     */
    default void quantize(float[] src, int srcOffset, int n, MemorySegment dst, long offset) {
        throw new UnsupportedOperationException("Fathom cannot write tensors of type " + type());
    }
}
