package dev.fathom.kernel;

import dev.fathom.tensor.TensorType;
import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorSpecies;

import java.lang.foreign.MemorySegment;

import static jdk.incubator.vector.VectorOperators.I2F;
import static jdk.incubator.vector.VectorOperators.LSHR;
import static jdk.incubator.vector.VectorOperators.B2I;

/**
 * Q4_0 ({@code fp16 d; uint8 qs[16]}; value j = (low nibble of qs[j] - 8) d, value j + 16 = (high nibble - 8) d):
 * {@link #L} quant bytes zero-extended to int lanes give L low nibbles by a mask and L high nibbles by a shift;
 * {@code q - 8} in int, converted, times d (exact), then the canonical sum. On AVX-512 one 16-byte load is the
 * whole block (values 0-15 and 16-31); on AVX2 two 8-byte loads give values 0-7, 8-15 (low) and 16-23, 24-31 (high).
 */
final class Q4_0Kernel extends RowKernel {
    private static final VectorSpecies<Byte> B = VectorSpecies.of(byte.class, VectorShape.forBitSize(8 * L));
    private static final VectorSpecies<Integer> I = FLOATS.withLanes(int.class).check(int.class);
    private static final int QK = 32, BYTES = 18;

    Q4_0Kernel() {
        super(TensorType.Q4_0.format());
    }

    /** L quant bytes at {@code p} as int lanes 0..255. */
    private static IntVector bytes(MemorySegment w, long p) {
        return (IntVector) ByteVector.fromMemorySegment(B, w, p, LE).convertShape(B2I, I, 0);
    }

    private static FloatVector lo(IntVector q, FloatVector d) {
        return ((FloatVector) q.and(0xF).sub(8).convertShape(I2F, FLOATS, 0)).mul(d);
    }

    private static FloatVector hi(IntVector q, FloatVector d) {
        return ((FloatVector) q.lanewise(LSHR, 4).and(0xF).sub(8).convertShape(I2F, FLOATS, 0)).mul(d);
    }

    private static FloatVector d(MemorySegment w, long pb) {
        return FloatVector.broadcast(FLOATS, Float.float16ToFloat(w.get(SHORT, pb)));
    }

    @Override
    protected void decode(MemorySegment w, long p0, int n, float[] dst, int off, float[] factors) {
        for (int b = 0; b < n / QK; b++) {
            long pb = p0 + (long) BYTES * b;
            int o = off + QK * b;
            FloatVector d = d(w, pb);
            IntVector q = bytes(w, pb + 2);
            if (L == 16) {
                lo(q, d).intoArray(dst, o);
                hi(q, d).intoArray(dst, o + 16);
            } else {
                IntVector q8 = bytes(w, pb + 10);
                lo(q, d).intoArray(dst, o);
                lo(q8, d).intoArray(dst, o + 8);
                hi(q, d).intoArray(dst, o + 16);
                hi(q8, d).intoArray(dst, o + 24);
            }
        }
    }

    @Override
    protected float dot(MemorySegment w, long p0, int n, float[] xs, int xOff, float[] scratch) {
        FloatVector acc = FloatVector.zero(FLOATS);
        for (int b = 0; b < n / QK; b++) {
            long pb = p0 + (long) BYTES * b;
            int x = xOff + QK * b;
            FloatVector d = d(w, pb);
            IntVector q = bytes(w, pb + 2);
            if (L == 16) {
                acc = lo(q, d).fma(FloatVector.fromArray(FLOATS, xs, x), acc);
                acc = hi(q, d).fma(FloatVector.fromArray(FLOATS, xs, x + 16), acc);
            } else {
                IntVector q8 = bytes(w, pb + 10);
                acc = lo(q, d).fma(FloatVector.fromArray(FLOATS, xs, x), acc);
                acc = lo(q8, d).fma(FloatVector.fromArray(FLOATS, xs, x + 8), acc);
                acc = hi(q, d).fma(FloatVector.fromArray(FLOATS, xs, x + 16), acc);
                acc = hi(q8, d).fma(FloatVector.fromArray(FLOATS, xs, x + 24), acc);
            }
        }
        acc.intoArray(scratch, 0); // no vector crosses a call: C2 would box it
        return sumLanes(scratch, 0);
    }
}
