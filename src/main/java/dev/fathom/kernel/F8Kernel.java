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
    protected void decode(MemorySegment w, long p, int n, float[] dst, int off) {
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

    @Override
    protected void rows4(MemorySegment w, long p, long rowBytes, int n, float[] xs, int xOff, float[] out, int o,
                         float[] scratch) {
        long p1 = p + rowBytes, p2 = p1 + rowBytes, p3 = p2 + rowBytes;
        FloatVector c0 = FloatVector.zero(F), c1 = c0, c2 = c0, c3 = c0;
        int i = 0;
        for (; i <= n - L; i += L) {
            FloatVector x = FloatVector.fromArray(F, xs, xOff + i);
            c0 = widen(w, p + i).fma(x, c0);
            c1 = widen(w, p1 + i).fma(x, c1);
            c2 = widen(w, p2 + i).fma(x, c2);
            c3 = widen(w, p3 + i).fma(x, c3);
        }
        c0.intoArray(scratch, 0);
        c1.intoArray(scratch, L);
        c2.intoArray(scratch, 2 * L);
        c3.intoArray(scratch, 3 * L);
        float s0 = sumLanes(scratch, 0), s1 = sumLanes(scratch, L), s2 = sumLanes(scratch, 2 * L), s3 = sumLanes(scratch, 3 * L);
        for (; i < n; i++) {
            float x = xs[xOff + i];
            s0 += scalar(w, p + i) * x;
            s1 += scalar(w, p1 + i) * x;
            s2 += scalar(w, p2 + i) * x;
            s3 += scalar(w, p3 + i) * x;
        }
        out[o] = s0;
        out[o + 1] = s1;
        out[o + 2] = s2;
        out[o + 3] = s3;
    }
}
