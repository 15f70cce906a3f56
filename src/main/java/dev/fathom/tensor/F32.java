package dev.fathom.tensor;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/** IEEE float32, little-endian. */
public final class F32 implements BlockFormat {
    private static final ValueLayout.OfFloat LE = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(java.nio.ByteOrder.LITTLE_ENDIAN);

    @Override
    public TensorType type() {
        return TensorType.F32;
    }

    @Override
    public void dequantize(MemorySegment src, long offset, float[] dst, int dstOffset, int n) {
        MemorySegment.copy(src, LE, offset, dst, dstOffset, n);
    }

    @Override
    public boolean canQuantize() {
        return true;
    }

    @Override
    public void quantize(float[] src, int srcOffset, int n, MemorySegment dst, long offset) {
        MemorySegment.copy(src, srcOffset, dst, LE, offset, n);
    }
}
