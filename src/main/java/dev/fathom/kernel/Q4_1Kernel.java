package dev.fathom.kernel;

import dev.fathom.tensor.TensorType;
import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorSpecies;

import java.lang.foreign.MemorySegment;

/**
 * Q4_1 ({@code fp16 d; fp16 m; uint8 qs[16]}, value = nibble * d + m): {@link #L} quant bytes widen to int lanes
 * (one vpmovzxbd); the low nibbles ({@code and}) are values 0..15 of the block, the high ones ({@code >>> 4}) values
 * 16..31. A nibble converts to float and takes {@code fma(q, d, m)}: bit-identical to the format's {@code q * d + m}
 * because {@code q * d} is exact in float32 (4-bit times 11-bit significands, far from under- or overflow), so the
 * one rounding of the FMA is the rounding of the addition. Then the canonical sum's FMA with the activations.
 */
final class Q4_1Kernel extends RowKernel {
    private static final VectorSpecies<Byte> B = VectorSpecies.of(byte.class, VectorShape.forBitSize(8 * L));
    private static final VectorSpecies<Integer> I = FLOATS.withLanes(int.class).check(int.class);
    private static final int QK = 32, BYTES = 20;

    Q4_1Kernel() {
        super(TensorType.Q4_1.format());
    }

    /** L quant bytes at {@code p}, one per int lane. */
    private static IntVector q(MemorySegment w, long p) {
        return (IntVector) ByteVector.fromMemorySegment(B, w, p, LE).convertShape(VectorOperators.ZERO_EXTEND_B2I, I, 0);
    }

    private static FloatVector lo(IntVector q, FloatVector d, FloatVector m) {
        return ((FloatVector) q.and(0x0F).convertShape(VectorOperators.I2F, FLOATS, 0)).fma(d, m);
    }

    private static FloatVector hi(IntVector q, FloatVector d, FloatVector m) {
        return ((FloatVector) q.lanewise(VectorOperators.LSHR, 4).convertShape(VectorOperators.I2F, FLOATS, 0)).fma(d, m);
    }

    private static FloatVector f16(MemorySegment w, long p) {
        return FloatVector.broadcast(FLOATS, Float.float16ToFloat(w.get(SHORT, p)));
    }

    private static FloatVector x(float[] xs, int i) {
        return FloatVector.fromArray(FLOATS, xs, i);
    }

    @Override
    protected void decode(MemorySegment w, long p0, int n, float[] dst, int off, float[] factors) {
        for (int b = 0; b < n / QK; b++) {
            long pb = p0 + (long) BYTES * b;
            int o = off + QK * b;
            FloatVector d = f16(w, pb), m = f16(w, pb + 2);
            IntVector q0 = q(w, pb + 4);
            lo(q0, d, m).intoArray(dst, o);
            if (L == 16) {
                hi(q0, d, m).intoArray(dst, o + 16);
            } else {
                IntVector q1 = q(w, pb + 12);
                lo(q1, d, m).intoArray(dst, o + 8);
                hi(q0, d, m).intoArray(dst, o + 16);
                hi(q1, d, m).intoArray(dst, o + 24);
            }
        }
    }

    @Override
    protected float dot(MemorySegment w, long p0, int n, float[] xs, int xOff, float[] scratch) {
        FloatVector acc = FloatVector.zero(FLOATS);
        for (int b = 0; b < n / QK; b++) {
            long pb = p0 + (long) BYTES * b;
            int x = xOff + QK * b;
            FloatVector d = f16(w, pb), m = f16(w, pb + 2);
            IntVector q0 = q(w, pb + 4);
            if (L == 16) {
                acc = lo(q0, d, m).fma(x(xs, x), acc);
                acc = hi(q0, d, m).fma(x(xs, x + 16), acc);
            } else {
                IntVector q1 = q(w, pb + 12);
                acc = lo(q0, d, m).fma(x(xs, x), acc);
                acc = lo(q1, d, m).fma(x(xs, x + 8), acc);
                acc = hi(q0, d, m).fma(x(xs, x + 16), acc);
                acc = hi(q1, d, m).fma(x(xs, x + 24), acc);
            }
        }
        acc.intoArray(scratch, 0); // no vector crosses a call: C2 would box it
        return sumLanes(scratch, 0);
    }

    private static void rows2(MemorySegment w, long r0, long r1, int n, float[] xs, int xOff, float[] out, int o,
                              float[] scratch) {
        FloatVector c0 = FloatVector.zero(FLOATS), c1 = c0;
        for (int b = 0; b < n / QK; b++) {
            long bo = (long) BYTES * b;
            int x = xOff + QK * b;
            if (L == 16) {
                FloatVector x0 = x(xs, x), x1 = x(xs, x + 16);
                FloatVector d = f16(w, r0 + bo), m = f16(w, r0 + bo + 2);
                IntVector q = q(w, r0 + bo + 4);
                c0 = lo(q, d, m).fma(x0, c0);
                c0 = hi(q, d, m).fma(x1, c0);
                d = f16(w, r1 + bo); m = f16(w, r1 + bo + 2); q = q(w, r1 + bo + 4);
                c1 = lo(q, d, m).fma(x0, c1);
                c1 = hi(q, d, m).fma(x1, c1);
            } else {
                FloatVector x0 = x(xs, x), x1 = x(xs, x + 8), x2 = x(xs, x + 16), x3 = x(xs, x + 24);
                FloatVector d = f16(w, r0 + bo), m = f16(w, r0 + bo + 2);
                IntVector q0 = q(w, r0 + bo + 4), q1 = q(w, r0 + bo + 12);
                c0 = lo(q0, d, m).fma(x0, c0);
                c0 = lo(q1, d, m).fma(x1, c0);
                c0 = hi(q0, d, m).fma(x2, c0);
                c0 = hi(q1, d, m).fma(x3, c0);
                d = f16(w, r1 + bo); m = f16(w, r1 + bo + 2); q0 = q(w, r1 + bo + 4); q1 = q(w, r1 + bo + 12);
                c1 = lo(q0, d, m).fma(x0, c1);
                c1 = lo(q1, d, m).fma(x1, c1);
                c1 = hi(q0, d, m).fma(x2, c1);
                c1 = hi(q1, d, m).fma(x3, c1);
            }
        }
        c0.intoArray(scratch, 0);
        c1.intoArray(scratch, L);
        out[o] = sumLanes(scratch, 0);
        out[o + 1] = sumLanes(scratch, L);
    }
}
