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

    @Override
    protected float dot(MemorySegment w, long p, int n, float[] xp, int xpOff, float[] scratch) {
        int nb = n / QK;
        FloatVector acc = FloatVector.zero(F8);
        for (int b = 0, x = xpOff; b < nb; b++, p += BYTES, x += QK) {
            float d = Float.float16ToFloat(w.get(SHORT, p));
            IntVector q = IntVector.fromMemorySegment(I, w, p + 2, LE);
            FloatVector q0 = (FloatVector) q.lanewise(VectorOperators.LSHL, 24).lanewise(VectorOperators.ASHR, 24).convert(VectorOperators.I2F, 0);
            FloatVector q1 = (FloatVector) q.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 24).convert(VectorOperators.I2F, 0);
            FloatVector q2 = (FloatVector) q.lanewise(VectorOperators.LSHL, 8).lanewise(VectorOperators.ASHR, 24).convert(VectorOperators.I2F, 0);
            FloatVector q3 = (FloatVector) q.lanewise(VectorOperators.ASHR, 24).convert(VectorOperators.I2F, 0);
            FloatVector s = q0.mul(FloatVector.fromArray(F8, xp, x));
            s = q1.fma(FloatVector.fromArray(F8, xp, x + 8), s);
            s = q2.fma(FloatVector.fromArray(F8, xp, x + 16), s);
            s = q3.fma(FloatVector.fromArray(F8, xp, x + 24), s);
            acc = s.fma(FloatVector.broadcast(F8, d), acc);
        }
        acc.intoArray(scratch, 0); // no vector crosses a call: C2 would box it
        return sumLanes(scratch);
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
            FloatVector d = FloatVector.broadcast(F8, Float.float16ToFloat(w.get(SHORT, p)));
            IntVector q = IntVector.fromMemorySegment(I, w, p + 2, LE);
            FloatVector q0 = (FloatVector) q.lanewise(VectorOperators.LSHL, 24).lanewise(VectorOperators.ASHR, 24).convert(VectorOperators.I2F, 0);
            FloatVector q1 = (FloatVector) q.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 24).convert(VectorOperators.I2F, 0);
            FloatVector q2 = (FloatVector) q.lanewise(VectorOperators.LSHL, 8).lanewise(VectorOperators.ASHR, 24).convert(VectorOperators.I2F, 0);
            FloatVector q3 = (FloatVector) q.lanewise(VectorOperators.ASHR, 24).convert(VectorOperators.I2F, 0);
            int a = x0 + xo;
            FloatVector s = q0.mul(FloatVector.fromArray(F8, xp, a));
            s = q1.fma(FloatVector.fromArray(F8, xp, a + 8), s);
            s = q2.fma(FloatVector.fromArray(F8, xp, a + 16), s);
            c0 = q3.fma(FloatVector.fromArray(F8, xp, a + 24), s).fma(d, c0);
            a = x1 + xo;
            s = q0.mul(FloatVector.fromArray(F8, xp, a));
            s = q1.fma(FloatVector.fromArray(F8, xp, a + 8), s);
            s = q2.fma(FloatVector.fromArray(F8, xp, a + 16), s);
            c1 = q3.fma(FloatVector.fromArray(F8, xp, a + 24), s).fma(d, c1);
            a = x2 + xo;
            s = q0.mul(FloatVector.fromArray(F8, xp, a));
            s = q1.fma(FloatVector.fromArray(F8, xp, a + 8), s);
            s = q2.fma(FloatVector.fromArray(F8, xp, a + 16), s);
            c2 = q3.fma(FloatVector.fromArray(F8, xp, a + 24), s).fma(d, c2);
            a = x3 + xo;
            s = q0.mul(FloatVector.fromArray(F8, xp, a));
            s = q1.fma(FloatVector.fromArray(F8, xp, a + 8), s);
            s = q2.fma(FloatVector.fromArray(F8, xp, a + 16), s);
            c3 = q3.fma(FloatVector.fromArray(F8, xp, a + 24), s).fma(d, c3);
        }
        c0.intoArray(scratch, 0);
        out[o] = sumLanes(scratch);
        c1.intoArray(scratch, 0);
        out[o + outStride] = sumLanes(scratch);
        c2.intoArray(scratch, 0);
        out[o + 2 * outStride] = sumLanes(scratch);
        c3.intoArray(scratch, 0);
        out[o + 3 * outStride] = sumLanes(scratch);
    }
}
