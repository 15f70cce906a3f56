package dev.fathom.kernel;

import dev.fathom.tensor.TensorType;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

import java.lang.foreign.MemorySegment;

/**
 * Q8_0 ({@code fp16 d; int8 q[32]}): the 32 quants are loaded as eight little-endian ints; byte k of every int is
 * extracted with a shift left and an arithmetic shift right (no shuffles), so vector k holds values
 * {@code 4i + k}. The activations are permuted once per product to match ({@link #prepare}). Per block
 * {@code s = sum_k q_k * x_k} (lanes), then {@code acc += s * d}.
 */
final class Q8_0Kernel extends RowKernel {
    private static final VectorSpecies<Integer> I = IntVector.SPECIES_256;
    private static final int QK = 32, BYTES = 34;

    Q8_0Kernel() {
        super(TensorType.Q8_0);
    }

    @Override
    public void prepare(float[] x, int xOff, int n, float[] dst, int dstOff) {
        for (int b = 0; b < n; b += QK) {
            for (int k = 0; k < 4; k++) {
                for (int i = 0; i < 8; i++) dst[dstOff + b + 8 * k + i] = x[xOff + b + 4 * i + k];
            }
        }
    }

    private static FloatVector lane(IntVector q, int k) {
        IntVector v = k == 3 ? q : q.lanewise(VectorOperators.LSHL, 24 - 8 * k);
        return (FloatVector) v.lanewise(VectorOperators.ASHR, 24).convert(VectorOperators.I2F, 0);
    }

    @Override
    protected float dot(MemorySegment w, long p, int n, float[] xp, int xpOff, float[] scratch) {
        int nb = n / QK;
        FloatVector acc = FloatVector.zero(F8);
        for (int b = 0, x = xpOff; b < nb; b++, p += BYTES, x += QK) {
            float d = Float.float16ToFloat(w.get(SHORT, p));
            IntVector q = IntVector.fromMemorySegment(I, w, p + 2, LE);
            FloatVector s = lane(q, 0).mul(FloatVector.fromArray(F8, xp, x));
            s = lane(q, 1).fma(FloatVector.fromArray(F8, xp, x + 8), s);
            s = lane(q, 2).fma(FloatVector.fromArray(F8, xp, x + 16), s);
            s = lane(q, 3).fma(FloatVector.fromArray(F8, xp, x + 24), s);
            acc = s.fma(FloatVector.broadcast(F8, d), acc);
        }
        return sumLanes(acc, scratch);
    }

    /** One row against four prepared vectors (x0 + k * xStride), each block decoded once; the per-x operations are those of {@link #dot}. */
    @Override
    protected boolean hasTile4() {
        return true;
    }

    @Override
    protected void tile4(MemorySegment w, long p, int n, float[] xp, int x0, int xStride, float[] out, int o,
                         int outStride, float[] scratch) {
        int nb = n / QK;
        int x1 = x0 + xStride, x2 = x1 + xStride, x3 = x2 + xStride;
        FloatVector c0 = FloatVector.zero(F8), c1 = c0, c2 = c0, c3 = c0;
        for (int b = 0, xo = 0; b < nb; b++, p += BYTES, xo += QK) {
            float d = Float.float16ToFloat(w.get(SHORT, p));
            IntVector q = IntVector.fromMemorySegment(I, w, p + 2, LE);
            FloatVector q0 = lane(q, 0), q1 = lane(q, 1), q2 = lane(q, 2), q3 = lane(q, 3);
            c0 = dot4(q0, q1, q2, q3, xp, x0 + xo).fma(FloatVector.broadcast(F8, d), c0);
            c1 = dot4(q0, q1, q2, q3, xp, x1 + xo).fma(FloatVector.broadcast(F8, d), c1);
            c2 = dot4(q0, q1, q2, q3, xp, x2 + xo).fma(FloatVector.broadcast(F8, d), c2);
            c3 = dot4(q0, q1, q2, q3, xp, x3 + xo).fma(FloatVector.broadcast(F8, d), c3);
        }
        out[o] = sumLanes(c0, scratch);
        out[o + outStride] = sumLanes(c1, scratch);
        out[o + 2 * outStride] = sumLanes(c2, scratch);
        out[o + 3 * outStride] = sumLanes(c3, scratch);
    }

    private static FloatVector dot4(FloatVector q0, FloatVector q1, FloatVector q2, FloatVector q3, float[] xp, int x) {
        FloatVector s = q0.mul(FloatVector.fromArray(F8, xp, x));
        s = q1.fma(FloatVector.fromArray(F8, xp, x + 8), s);
        s = q2.fma(FloatVector.fromArray(F8, xp, x + 16), s);
        return q3.fma(FloatVector.fromArray(F8, xp, x + 24), s);
    }
}
