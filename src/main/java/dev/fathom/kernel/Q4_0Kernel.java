package dev.fathom.kernel;

import dev.fathom.tensor.TensorType;
import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorSpecies;

import java.lang.foreign.MemorySegment;

import static jdk.incubator.vector.VectorOperators.ASHR;
import static jdk.incubator.vector.VectorOperators.B2I;
import static jdk.incubator.vector.VectorOperators.I2F;

/**
 * Q4_0 ({@code fp16 d; uint8 qs[16]}, value {@code (nibble - 8) * d}; low nibbles are values 0..15, high nibbles
 * 16..31). The 16 bytes widen to int lanes ({@link #L} per load: one load on AVX-512, two on AVX2); {@code (v & 15)
 * - 8} and {@code ((v >> 4) & 15) - 8} are the values, exact as floats, multiplied with the activations in their
 * natural order; then {@code acc += s * d}. Each block is unpacked once per row, whatever the number of activation
 * vectors. Every form (one row, four rows, four x) runs the same operations per (row, x) in the same order.
 */
final class Q4_0Kernel extends RowKernel {
    private static final VectorSpecies<Float> F = VECTOR_BITS >= 512 ? FloatVector.SPECIES_512 : FloatVector.SPECIES_256;
    private static final VectorSpecies<Integer> I = VectorSpecies.of(int.class, F.vectorShape());
    /** Lanes per vector, and quant bytes per load. */
    private static final int L = F.length();
    private static final VectorSpecies<Byte> B = VectorSpecies.of(byte.class, VectorShape.forBitSize(8 * L));
    /** Whether the 16 quant bytes take two loads (vectors of 8 lanes). */
    private static final boolean TWO_LOADS = L < 16;
    private static final int QK = 32, BYTES = 18;

    Q4_0Kernel() {
        super(TensorType.Q4_0);
    }

    @Override
    protected float dot(MemorySegment w, long p0, int n, float[] xp, int xpOff, float[] scratch) {
        int nb = n / QK;
        FloatVector acc = FloatVector.zero(F);
        FloatVector s;
        for (int b = 0; b < nb; b++) {
            long pb = p0 + (long) BYTES * b;
            int xi = xpOff + QK * b;
            FloatVector xa = FloatVector.fromArray(F, xp, xi), xc = FloatVector.fromArray(F, xp, xi + 16);
            FloatVector xb = TWO_LOADS ? FloatVector.fromArray(F, xp, xi + L) : xa;
            FloatVector xd = TWO_LOADS ? FloatVector.fromArray(F, xp, xi + 16 + L) : xa;
            IntVector v = (IntVector) ByteVector.fromMemorySegment(B, w, pb + 2, LE).convertShape(B2I, I, 0);
            IntVector u = TWO_LOADS ? (IntVector)
                    ByteVector.fromMemorySegment(B, w, pb + 2 + L, LE).convertShape(B2I, I, 0) : v;
            FloatVector qa = (FloatVector) v.and(15).sub(8).convert(I2F, 0);
            FloatVector qc = (FloatVector) v.lanewise(ASHR, 4).and(15).sub(8).convert(I2F, 0);
            FloatVector qb = TWO_LOADS ? (FloatVector) u.and(15).sub(8).convert(I2F, 0) : qa;
            FloatVector qd = TWO_LOADS ? (FloatVector) u.lanewise(ASHR, 4).and(15).sub(8).convert(I2F, 0) : qa;
            s = qa.mul(xa);
            if (TWO_LOADS) s = qb.fma(xb, s);
            s = qc.fma(xc, s);
            if (TWO_LOADS) s = qd.fma(xd, s);
            acc = s.fma(FloatVector.broadcast(F, Float.float16ToFloat(w.get(SHORT, pb))), acc);
        }
        acc.intoArray(scratch, 0); // no vector crosses a call: C2 would box it
        return sumLanes(scratch, L);
    }

    @Override
    protected boolean hasRows4() {
        return true;
    }

    /** Four rows against one x: each activation block is loaded once; written flat (C2 boxes vectors passed to helpers). */
    @Override
    protected void rows4(MemorySegment w, long r0, long rowBytes, int n, float[] xp, int xpOff, float[] out, int o,
                         float[] scratch) {
        int nb = n / QK;
        long r1 = r0 + rowBytes, r2 = r1 + rowBytes, r3 = r2 + rowBytes;
        FloatVector c0 = FloatVector.zero(F), c1 = c0, c2 = c0, c3 = c0;
        FloatVector s;
        for (int b = 0; b < nb; b++) {
            long bo = (long) BYTES * b;
            int xi = xpOff + QK * b;
            FloatVector xa = FloatVector.fromArray(F, xp, xi), xc = FloatVector.fromArray(F, xp, xi + 16);
            FloatVector xb = TWO_LOADS ? FloatVector.fromArray(F, xp, xi + L) : xa;
            FloatVector xd = TWO_LOADS ? FloatVector.fromArray(F, xp, xi + 16 + L) : xa;
            {
                IntVector v = (IntVector) ByteVector.fromMemorySegment(B, w, r0 + bo + 2, LE).convertShape(B2I, I, 0);
                IntVector u = TWO_LOADS ? (IntVector)
                        ByteVector.fromMemorySegment(B, w, r0 + bo + 2 + L, LE).convertShape(B2I, I, 0) : v;
                FloatVector qa = (FloatVector) v.and(15).sub(8).convert(I2F, 0);
                FloatVector qc = (FloatVector) v.lanewise(ASHR, 4).and(15).sub(8).convert(I2F, 0);
                FloatVector qb = TWO_LOADS ? (FloatVector) u.and(15).sub(8).convert(I2F, 0) : qa;
                FloatVector qd = TWO_LOADS ? (FloatVector) u.lanewise(ASHR, 4).and(15).sub(8).convert(I2F, 0) : qa;
                s = qa.mul(xa);
                if (TWO_LOADS) s = qb.fma(xb, s);
                s = qc.fma(xc, s);
                if (TWO_LOADS) s = qd.fma(xd, s);
                c0 = s.fma(FloatVector.broadcast(F, Float.float16ToFloat(w.get(SHORT, r0 + bo))), c0);
            }
            {
                IntVector v = (IntVector) ByteVector.fromMemorySegment(B, w, r1 + bo + 2, LE).convertShape(B2I, I, 0);
                IntVector u = TWO_LOADS ? (IntVector)
                        ByteVector.fromMemorySegment(B, w, r1 + bo + 2 + L, LE).convertShape(B2I, I, 0) : v;
                FloatVector qa = (FloatVector) v.and(15).sub(8).convert(I2F, 0);
                FloatVector qc = (FloatVector) v.lanewise(ASHR, 4).and(15).sub(8).convert(I2F, 0);
                FloatVector qb = TWO_LOADS ? (FloatVector) u.and(15).sub(8).convert(I2F, 0) : qa;
                FloatVector qd = TWO_LOADS ? (FloatVector) u.lanewise(ASHR, 4).and(15).sub(8).convert(I2F, 0) : qa;
                s = qa.mul(xa);
                if (TWO_LOADS) s = qb.fma(xb, s);
                s = qc.fma(xc, s);
                if (TWO_LOADS) s = qd.fma(xd, s);
                c1 = s.fma(FloatVector.broadcast(F, Float.float16ToFloat(w.get(SHORT, r1 + bo))), c1);
            }
            {
                IntVector v = (IntVector) ByteVector.fromMemorySegment(B, w, r2 + bo + 2, LE).convertShape(B2I, I, 0);
                IntVector u = TWO_LOADS ? (IntVector)
                        ByteVector.fromMemorySegment(B, w, r2 + bo + 2 + L, LE).convertShape(B2I, I, 0) : v;
                FloatVector qa = (FloatVector) v.and(15).sub(8).convert(I2F, 0);
                FloatVector qc = (FloatVector) v.lanewise(ASHR, 4).and(15).sub(8).convert(I2F, 0);
                FloatVector qb = TWO_LOADS ? (FloatVector) u.and(15).sub(8).convert(I2F, 0) : qa;
                FloatVector qd = TWO_LOADS ? (FloatVector) u.lanewise(ASHR, 4).and(15).sub(8).convert(I2F, 0) : qa;
                s = qa.mul(xa);
                if (TWO_LOADS) s = qb.fma(xb, s);
                s = qc.fma(xc, s);
                if (TWO_LOADS) s = qd.fma(xd, s);
                c2 = s.fma(FloatVector.broadcast(F, Float.float16ToFloat(w.get(SHORT, r2 + bo))), c2);
            }
            {
                IntVector v = (IntVector) ByteVector.fromMemorySegment(B, w, r3 + bo + 2, LE).convertShape(B2I, I, 0);
                IntVector u = TWO_LOADS ? (IntVector)
                        ByteVector.fromMemorySegment(B, w, r3 + bo + 2 + L, LE).convertShape(B2I, I, 0) : v;
                FloatVector qa = (FloatVector) v.and(15).sub(8).convert(I2F, 0);
                FloatVector qc = (FloatVector) v.lanewise(ASHR, 4).and(15).sub(8).convert(I2F, 0);
                FloatVector qb = TWO_LOADS ? (FloatVector) u.and(15).sub(8).convert(I2F, 0) : qa;
                FloatVector qd = TWO_LOADS ? (FloatVector) u.lanewise(ASHR, 4).and(15).sub(8).convert(I2F, 0) : qa;
                s = qa.mul(xa);
                if (TWO_LOADS) s = qb.fma(xb, s);
                s = qc.fma(xc, s);
                if (TWO_LOADS) s = qd.fma(xd, s);
                c3 = s.fma(FloatVector.broadcast(F, Float.float16ToFloat(w.get(SHORT, r3 + bo))), c3);
            }
        }
        c0.intoArray(scratch, 0);
        out[o] = sumLanes(scratch, L);
        c1.intoArray(scratch, 0);
        out[o + 1] = sumLanes(scratch, L);
        c2.intoArray(scratch, 0);
        out[o + 2] = sumLanes(scratch, L);
        c3.intoArray(scratch, 0);
        out[o + 3] = sumLanes(scratch, L);
    }

    @Override
    protected boolean hasTile4() {
        return true;
    }

    /** One row against four x: each weight block is unpacked once; written flat like {@link #rows4}. */
    @Override
    protected void tile4(MemorySegment w, long p0, int n, float[] xp, int x0, int xStride, float[] out, int o,
                         int outStride, float[] scratch) {
        int nb = n / QK;
        int x1 = x0 + xStride, x2 = x1 + xStride, x3 = x2 + xStride;
        FloatVector c0 = FloatVector.zero(F), c1 = c0, c2 = c0, c3 = c0;
        FloatVector s;
        for (int b = 0; b < nb; b++) {
            long pb = p0 + (long) BYTES * b;
            int xo = QK * b, a;
            FloatVector d = FloatVector.broadcast(F, Float.float16ToFloat(w.get(SHORT, pb)));
            IntVector v = (IntVector) ByteVector.fromMemorySegment(B, w, pb + 2, LE).convertShape(B2I, I, 0);
            IntVector u = TWO_LOADS ? (IntVector)
                    ByteVector.fromMemorySegment(B, w, pb + 2 + L, LE).convertShape(B2I, I, 0) : v;
            FloatVector qa = (FloatVector) v.and(15).sub(8).convert(I2F, 0);
            FloatVector qc = (FloatVector) v.lanewise(ASHR, 4).and(15).sub(8).convert(I2F, 0);
            FloatVector qb = TWO_LOADS ? (FloatVector) u.and(15).sub(8).convert(I2F, 0) : qa;
            FloatVector qd = TWO_LOADS ? (FloatVector) u.lanewise(ASHR, 4).and(15).sub(8).convert(I2F, 0) : qa;
            a = x0 + xo;
            s = qa.mul(FloatVector.fromArray(F, xp, a));
            if (TWO_LOADS) s = qb.fma(FloatVector.fromArray(F, xp, a + L), s);
            s = qc.fma(FloatVector.fromArray(F, xp, a + 16), s);
            if (TWO_LOADS) s = qd.fma(FloatVector.fromArray(F, xp, a + 16 + L), s);
            c0 = s.fma(d, c0);
            a = x1 + xo;
            s = qa.mul(FloatVector.fromArray(F, xp, a));
            if (TWO_LOADS) s = qb.fma(FloatVector.fromArray(F, xp, a + L), s);
            s = qc.fma(FloatVector.fromArray(F, xp, a + 16), s);
            if (TWO_LOADS) s = qd.fma(FloatVector.fromArray(F, xp, a + 16 + L), s);
            c1 = s.fma(d, c1);
            a = x2 + xo;
            s = qa.mul(FloatVector.fromArray(F, xp, a));
            if (TWO_LOADS) s = qb.fma(FloatVector.fromArray(F, xp, a + L), s);
            s = qc.fma(FloatVector.fromArray(F, xp, a + 16), s);
            if (TWO_LOADS) s = qd.fma(FloatVector.fromArray(F, xp, a + 16 + L), s);
            c2 = s.fma(d, c2);
            a = x3 + xo;
            s = qa.mul(FloatVector.fromArray(F, xp, a));
            if (TWO_LOADS) s = qb.fma(FloatVector.fromArray(F, xp, a + L), s);
            s = qc.fma(FloatVector.fromArray(F, xp, a + 16), s);
            if (TWO_LOADS) s = qd.fma(FloatVector.fromArray(F, xp, a + 16 + L), s);
            c3 = s.fma(d, c3);
        }
        c0.intoArray(scratch, 0);
        out[o] = sumLanes(scratch, L);
        c1.intoArray(scratch, 0);
        out[o + outStride] = sumLanes(scratch, L);
        c2.intoArray(scratch, 0);
        out[o + 2 * outStride] = sumLanes(scratch, L);
        c3.intoArray(scratch, 0);
        out[o + 3 * outStride] = sumLanes(scratch, L);
    }
}
