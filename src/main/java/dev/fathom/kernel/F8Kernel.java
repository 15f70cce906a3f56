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
 * 2^120 (exact), then an FMA with the activations. Block scales are not seen here: the product folds them into the
 * activations per row block ({@link VectorKernels}).
 */
final class F8Kernel extends RowKernel {
    private static final VectorSpecies<Float> F = RowKernel.FLOATS;
    private static final VectorSpecies<Integer> I = F.withLanes(int.class).check(int.class);
    private static final VectorSpecies<Byte> B = VectorSpecies.of(byte.class, VectorShape.forBitSize(Math.max(64, F.vectorBitSize() / 4)));

    F8Kernel() {
        super(TensorType.F8_E4M3);
    }

    @Override
    protected float dot(MemorySegment w, long p, int n, float[] xp, int xpOff, float[] scratch) {
        final int l = F.length();
        FloatVector a0 = FloatVector.zero(F), a1 = a0;
        int i = 0;
        for (; i <= n - 2 * l; i += 2 * l) {
            IntVector v0 = (IntVector) ByteVector.fromMemorySegment(B, w, p + i, LE).convertShape(VectorOperators.B2I, I, 0);
            IntVector v1 = (IntVector) ByteVector.fromMemorySegment(B, w, p + i + l, LE).convertShape(VectorOperators.B2I, I, 0);
            FloatVector f0 = v0.and(0x7F).lanewise(VectorOperators.LSHL, 20).or(v0.and(0x80).lanewise(VectorOperators.LSHL, 24))
                    .reinterpretAsFloats().mul(F8_E4M3.REBIAS);
            FloatVector f1 = v1.and(0x7F).lanewise(VectorOperators.LSHL, 20).or(v1.and(0x80).lanewise(VectorOperators.LSHL, 24))
                    .reinterpretAsFloats().mul(F8_E4M3.REBIAS);
            a0 = f0.fma(FloatVector.fromArray(F, xp, xpOff + i), a0);
            a1 = f1.fma(FloatVector.fromArray(F, xp, xpOff + i + l), a1);
        }
        a0.add(a1).intoArray(scratch, 0); // no vector crosses a call: C2 would box it
        float s = sumLanes(scratch, F.length());
        for (; i < n; i++) s += F8_E4M3.decode(w.get(ValueLayout.JAVA_BYTE, p + i)) * xp[xpOff + i];
        return s;
    }
}
