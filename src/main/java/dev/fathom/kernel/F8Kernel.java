package dev.fathom.kernel;

import dev.fathom.tensor.F8_E4M3;
import dev.fathom.tensor.TensorType;
import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorSpecies;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * FP8 e4m3 rows decoded in registers: each byte sign-extended to an int lane, its exponent and mantissa shifted to
 * float32's place ({@code (b & 0x7F) << 20}, a float 2^120 too small, subnormals included), the sign set, times
 * 2^120 (exact), then the canonical sum. Block scales are not seen here: the product folds them into the
 * activations per row block ({@link VectorKernels}).
 */
final class F8Kernel extends RowKernel {
    private static final VectorSpecies<Float> F = RowKernel.FLOATS;
    private static final VectorSpecies<Integer> I = F.withLanes(int.class).check(int.class);
    private static final VectorSpecies<Byte> B = VectorSpecies.of(byte.class, VectorShape.forBitSize(F.vectorBitSize() / 4));

    F8Kernel() {
        super(TensorType.F8_E4M3.format());
    }

    /** {@link #L} e4m3 bytes at {@code p} as floats. */
    private static FloatVector widen(MemorySegment w, long p) {
        IntVector v = (IntVector) ByteVector.fromMemorySegment(B, w, p, LE).convertShape(VectorOperators.B2I, I, 0);
        return v.and(0x7F).lanewise(VectorOperators.LSHL, 20).or(v.and(0x80).lanewise(VectorOperators.LSHL, 24))
                .reinterpretAsFloats().mul(F8_E4M3.REBIAS);
    }

    private static float scalar(MemorySegment w, long p) {
        return F8_E4M3.decode(w.get(ValueLayout.JAVA_BYTE, p));
    }

    @Override
    protected void decode(MemorySegment w, long p, int n, float[] dst, int off, float[] factors) {
        int i = 0;
        for (; i <= n - L; i += L) widen(w, p + i).intoArray(dst, off + i);
        for (; i < n; i++) dst[off + i] = scalar(w, p + i);
    }

    @Override
    protected float dot(MemorySegment w, long p, int n, float[] xs, int xOff, float[] scratch) {
        FloatVector acc = FloatVector.zero(F);
        int i = 0;
        for (; i <= n - L; i += L) acc = widen(w, p + i).fma(FloatVector.fromArray(F, xs, xOff + i), acc);
        acc.intoArray(scratch, 0); // no vector crosses a call: C2 would box it
        float s = sumLanes(scratch, 0);
        for (; i < n; i++) s += scalar(w, p + i) * xs[xOff + i];
        return s;
    }
}
