package dev.fathom.kernel;

import dev.fathom.tensor.TensorType;
import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorSpecies;

import java.lang.foreign.MemorySegment;

import static jdk.incubator.vector.VectorOperators.B2F;

/**
 * Q8_0 ({@code fp16 d; int8 q[32]}) against float32 activations: per block the quants widen to float lanes
 * ({@link #L} bytes per load) and multiply-add the activations ({@code s = sum_i q_i * x_i} per
 * lane), then {@code acc += s * d}. A block is two 16-lane vectors on AVX-512, four 8-lane ones on AVX2. Every
 * form (one row, four rows, four x) runs the same operations per (row, x) in the same order.
 */
final class Q8_0Kernel extends RowKernel {
    private static final VectorSpecies<Float> F = VECTOR_BITS >= 512 ? FloatVector.SPECIES_512 : FloatVector.SPECIES_256;
    /** Lanes per vector, and quant bytes per load. */
    private static final int L = F.length();
    private static final VectorSpecies<Byte> B = VectorSpecies.of(byte.class, VectorShape.forBitSize(8 * L));
    /** Vectors per 32-value block: 2 on AVX-512, 4 on AVX2. */
    private static final int PARTS = 32 / L;
    private static final int QK = 32, BYTES = 34;

    Q8_0Kernel() {
        super(TensorType.Q8_0);
    }

    @Override
    protected float dot(MemorySegment w, long p0, int n, float[] xp, int xpOff, float[] scratch) {
        int nb = n / QK;
        FloatVector acc = FloatVector.zero(F), s;
        for (int b = 0; b < nb; b++) {
            long pb = p0 + (long) BYTES * b;
            int xb = xpOff + QK * b;
            FloatVector x0 = FloatVector.fromArray(F, xp, xb), x1 = FloatVector.fromArray(F, xp, xb + L);
            FloatVector x2 = PARTS == 4 ? FloatVector.fromArray(F, xp, xb + 2 * L) : x0;
            FloatVector x3 = PARTS == 4 ? FloatVector.fromArray(F, xp, xb + 3 * L) : x0;
            s = ((FloatVector) ByteVector.fromMemorySegment(B, w, pb + 2, LE).convertShape(B2F, F, 0)).mul(x0);
            s = ((FloatVector) ByteVector.fromMemorySegment(B, w, pb + 2 + L, LE).convertShape(B2F, F, 0)).fma(x1, s);
            if (PARTS == 4) {
                s = ((FloatVector) ByteVector.fromMemorySegment(B, w, pb + 2 + 2 * L, LE).convertShape(B2F, F, 0)).fma(x2, s);
                s = ((FloatVector) ByteVector.fromMemorySegment(B, w, pb + 2 + 3 * L, LE).convertShape(B2F, F, 0)).fma(x3, s);
            }
            acc = s.fma(FloatVector.broadcast(F, Float.float16ToFloat(w.get(SHORT, pb))), acc);
        }
        acc.intoArray(scratch, 0); // no vector crosses a call: C2 would box it
        return sumLanes(scratch, F.length());
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
        FloatVector c0 = FloatVector.zero(F), c1 = c0, c2 = c0, c3 = c0, s;
        for (int b = 0; b < nb; b++) {
            long bo = (long) BYTES * b;
            int xb = xpOff + QK * b;
            FloatVector x0 = FloatVector.fromArray(F, xp, xb), x1 = FloatVector.fromArray(F, xp, xb + L);
            FloatVector x2 = PARTS == 4 ? FloatVector.fromArray(F, xp, xb + 2 * L) : x0;
            FloatVector x3 = PARTS == 4 ? FloatVector.fromArray(F, xp, xb + 3 * L) : x0;
            s = ((FloatVector) ByteVector.fromMemorySegment(B, w, r0 + bo + 2, LE).convertShape(B2F, F, 0)).mul(x0);
            s = ((FloatVector) ByteVector.fromMemorySegment(B, w, r0 + bo + 2 + L, LE).convertShape(B2F, F, 0)).fma(x1, s);
            if (PARTS == 4) {
                s = ((FloatVector) ByteVector.fromMemorySegment(B, w, r0 + bo + 2 + 2 * L, LE).convertShape(B2F, F, 0)).fma(x2, s);
                s = ((FloatVector) ByteVector.fromMemorySegment(B, w, r0 + bo + 2 + 3 * L, LE).convertShape(B2F, F, 0)).fma(x3, s);
            }
            c0 = s.fma(FloatVector.broadcast(F, Float.float16ToFloat(w.get(SHORT, r0 + bo))), c0);
            s = ((FloatVector) ByteVector.fromMemorySegment(B, w, r1 + bo + 2, LE).convertShape(B2F, F, 0)).mul(x0);
            s = ((FloatVector) ByteVector.fromMemorySegment(B, w, r1 + bo + 2 + L, LE).convertShape(B2F, F, 0)).fma(x1, s);
            if (PARTS == 4) {
                s = ((FloatVector) ByteVector.fromMemorySegment(B, w, r1 + bo + 2 + 2 * L, LE).convertShape(B2F, F, 0)).fma(x2, s);
                s = ((FloatVector) ByteVector.fromMemorySegment(B, w, r1 + bo + 2 + 3 * L, LE).convertShape(B2F, F, 0)).fma(x3, s);
            }
            c1 = s.fma(FloatVector.broadcast(F, Float.float16ToFloat(w.get(SHORT, r1 + bo))), c1);
            s = ((FloatVector) ByteVector.fromMemorySegment(B, w, r2 + bo + 2, LE).convertShape(B2F, F, 0)).mul(x0);
            s = ((FloatVector) ByteVector.fromMemorySegment(B, w, r2 + bo + 2 + L, LE).convertShape(B2F, F, 0)).fma(x1, s);
            if (PARTS == 4) {
                s = ((FloatVector) ByteVector.fromMemorySegment(B, w, r2 + bo + 2 + 2 * L, LE).convertShape(B2F, F, 0)).fma(x2, s);
                s = ((FloatVector) ByteVector.fromMemorySegment(B, w, r2 + bo + 2 + 3 * L, LE).convertShape(B2F, F, 0)).fma(x3, s);
            }
            c2 = s.fma(FloatVector.broadcast(F, Float.float16ToFloat(w.get(SHORT, r2 + bo))), c2);
            s = ((FloatVector) ByteVector.fromMemorySegment(B, w, r3 + bo + 2, LE).convertShape(B2F, F, 0)).mul(x0);
            s = ((FloatVector) ByteVector.fromMemorySegment(B, w, r3 + bo + 2 + L, LE).convertShape(B2F, F, 0)).fma(x1, s);
            if (PARTS == 4) {
                s = ((FloatVector) ByteVector.fromMemorySegment(B, w, r3 + bo + 2 + 2 * L, LE).convertShape(B2F, F, 0)).fma(x2, s);
                s = ((FloatVector) ByteVector.fromMemorySegment(B, w, r3 + bo + 2 + 3 * L, LE).convertShape(B2F, F, 0)).fma(x3, s);
            }
            c3 = s.fma(FloatVector.broadcast(F, Float.float16ToFloat(w.get(SHORT, r3 + bo))), c3);
        }
        c0.intoArray(scratch, 0);
        out[o] = sumLanes(scratch, F.length());
        c1.intoArray(scratch, 0);
        out[o + 1] = sumLanes(scratch, F.length());
        c2.intoArray(scratch, 0);
        out[o + 2] = sumLanes(scratch, F.length());
        c3.intoArray(scratch, 0);
        out[o + 3] = sumLanes(scratch, F.length());
    }

    @Override
    protected boolean hasTile4() {
        return true;
    }

    /** One row against four x: each weight block is converted once; written flat like {@link #rows4}. */
    @Override
    protected void tile4(MemorySegment w, long p0, int n, float[] xp, int x0, int xStride, float[] out, int o,
                         int outStride, float[] scratch) {
        int nb = n / QK;
        int x1 = x0 + xStride, x2 = x1 + xStride, x3 = x2 + xStride;
        FloatVector c0 = FloatVector.zero(F), c1 = c0, c2 = c0, c3 = c0, s;
        for (int b = 0; b < nb; b++) {
            long pb = p0 + (long) BYTES * b;
            int xo = QK * b, a;
            FloatVector d = FloatVector.broadcast(F, Float.float16ToFloat(w.get(SHORT, pb)));
            FloatVector w0 = (FloatVector) ByteVector.fromMemorySegment(B, w, pb + 2, LE).convertShape(B2F, F, 0);
            FloatVector w1 = (FloatVector) ByteVector.fromMemorySegment(B, w, pb + 2 + L, LE).convertShape(B2F, F, 0);
            FloatVector w2 = PARTS == 4
                    ? (FloatVector) ByteVector.fromMemorySegment(B, w, pb + 2 + 2 * L, LE).convertShape(B2F, F, 0) : w0;
            FloatVector w3 = PARTS == 4
                    ? (FloatVector) ByteVector.fromMemorySegment(B, w, pb + 2 + 3 * L, LE).convertShape(B2F, F, 0) : w0;
            a = x0 + xo;
            s = w0.mul(FloatVector.fromArray(F, xp, a));
            s = w1.fma(FloatVector.fromArray(F, xp, a + L), s);
            if (PARTS == 4) {
                s = w2.fma(FloatVector.fromArray(F, xp, a + 2 * L), s);
                s = w3.fma(FloatVector.fromArray(F, xp, a + 3 * L), s);
            }
            c0 = s.fma(d, c0);
            a = x1 + xo;
            s = w0.mul(FloatVector.fromArray(F, xp, a));
            s = w1.fma(FloatVector.fromArray(F, xp, a + L), s);
            if (PARTS == 4) {
                s = w2.fma(FloatVector.fromArray(F, xp, a + 2 * L), s);
                s = w3.fma(FloatVector.fromArray(F, xp, a + 3 * L), s);
            }
            c1 = s.fma(d, c1);
            a = x2 + xo;
            s = w0.mul(FloatVector.fromArray(F, xp, a));
            s = w1.fma(FloatVector.fromArray(F, xp, a + L), s);
            if (PARTS == 4) {
                s = w2.fma(FloatVector.fromArray(F, xp, a + 2 * L), s);
                s = w3.fma(FloatVector.fromArray(F, xp, a + 3 * L), s);
            }
            c2 = s.fma(d, c2);
            a = x3 + xo;
            s = w0.mul(FloatVector.fromArray(F, xp, a));
            s = w1.fma(FloatVector.fromArray(F, xp, a + L), s);
            if (PARTS == 4) {
                s = w2.fma(FloatVector.fromArray(F, xp, a + 2 * L), s);
                s = w3.fma(FloatVector.fromArray(F, xp, a + 3 * L), s);
            }
            c3 = s.fma(d, c3);
        }
        c0.intoArray(scratch, 0);
        out[o] = sumLanes(scratch, F.length());
        c1.intoArray(scratch, 0);
        out[o + outStride] = sumLanes(scratch, F.length());
        c2.intoArray(scratch, 0);
        out[o + 2 * outStride] = sumLanes(scratch, F.length());
        c3.intoArray(scratch, 0);
        out[o + 3 * outStride] = sumLanes(scratch, F.length());
    }
}
