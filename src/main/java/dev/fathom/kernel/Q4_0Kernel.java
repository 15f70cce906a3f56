package dev.fathom.kernel;

import dev.fathom.tensor.TensorType;
import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

import java.lang.foreign.MemorySegment;

/**
 * Q4_0 ({@code fp16 d; uint8 qs[16]}, value {@code (nibble - 8) * d}). Two 8-byte loads
 * widen to int lanes; the low nibble is {@code v & 15}, the high one is kept in place as {@code v & 0xF0}
 * (16 times its value) and the matching activations are divided by 16 in {@link #prepare} (exact). The -8 offset
 * is folded into a prepared per-block vector {@code -8 * (x0 + x1 + x2 + x3)} that starts each block sum, so per
 * block: 2 loads, 2 widenings, 4 ands, 4 conversions, 4 + 1 FMAs.
 * Prepared layout per block (40 floats): x[0..16), x[16..32) / 16, the 8-lane offset vector.
 */
final class Q4_0Kernel extends RowKernel {
    private static final VectorSpecies<Byte> B = ByteVector.SPECIES_64;
    private static final VectorSpecies<Integer> I = IntVector.SPECIES_256;
    private static final int QK = 32, BYTES = 18, PREP = 40;

    Q4_0Kernel() {
        super(TensorType.Q4_0);
    }

    @Override
    public int preparedLength(int n) {
        return n / QK * PREP;
    }

    @Override
    public void prepare(float[] x, int xOff, int n, float[] dst, int dstOff) {
        for (int b = 0; b < n / QK; b++) {
            int s = xOff + b * QK, d = dstOff + b * PREP;
            for (int i = 0; i < 16; i++) {
                dst[d + i] = x[s + i];
                dst[d + 16 + i] = x[s + 16 + i] * 0.0625f;
            }
            for (int i = 0; i < 8; i++) {
                dst[d + 32 + i] = -8f * ((x[s + i] + x[s + 8 + i]) + (x[s + 16 + i] + x[s + 24 + i]));
            }
        }
    }

    private static IntVector load(MemorySegment w, long p) {
        return (IntVector) ByteVector.fromMemorySegment(B, w, p, LE).convertShape(VectorOperators.B2I, I, 0);
    }

    private static FloatVector f(IntVector v) {
        return (FloatVector) v.convert(VectorOperators.I2F, 0);
    }

    @Override
    protected float dot(MemorySegment w, long p, int n, float[] xp, int xpOff, float[] scratch) {
        int nb = n / QK;
        FloatVector acc = FloatVector.zero(F8);
        for (int b = 0, x = xpOff; b < nb; b++, p += BYTES, x += PREP) {
            float d = Float.float16ToFloat(w.get(SHORT, p));
            IntVector v0 = load(w, p + 2), v1 = load(w, p + 10);
            FloatVector s = f(v0.and(15)).fma(FloatVector.fromArray(F8, xp, x), FloatVector.fromArray(F8, xp, x + 32));
            s = f(v1.and(15)).fma(FloatVector.fromArray(F8, xp, x + 8), s);
            s = f(v0.and(0xF0)).fma(FloatVector.fromArray(F8, xp, x + 16), s);
            s = f(v1.and(0xF0)).fma(FloatVector.fromArray(F8, xp, x + 24), s);
            acc = s.fma(FloatVector.broadcast(F8, d), acc);
        }
        return sumLanes(acc, scratch);
    }

    @Override
    public void dotRowsBatch(MemorySegment w, long off, long rowBytes, int rows, int n, float[] xp, int xpOff,
                             int xpStride, int nx, float[] out, int outOff, int outStride, float[] scratch) {
        int nb = n / QK;
        int j = 0;
        for (; j + 4 <= nx; j += 4) {
            for (int r = 0; r < rows; r++) {
                tile4(w, off + r * rowBytes, nb, xp, xpOff + j * xpStride, xpStride, out, outOff + j * outStride + r,
                        outStride, scratch);
            }
        }
        if (j < nx) super.dotRowsBatch(w, off, rowBytes, rows, n, xp, xpOff + j * xpStride, xpStride, nx - j,
                out, outOff + j * outStride, outStride, scratch);
    }

    /** One row against four prepared vectors (x0 + k * xStride), each block decoded once; the per-x operations are those of {@link #dot}. */
    private static void tile4(MemorySegment w, long p, int nb, float[] xp, int x0, int xStride, float[] out, int o,
                              int outStride, float[] scratch) {
        int x1 = x0 + xStride, x2 = x1 + xStride, x3 = x2 + xStride;
        FloatVector c0 = FloatVector.zero(F8), c1 = c0, c2 = c0, c3 = c0;
        for (int b = 0, xo = 0; b < nb; b++, p += BYTES, xo += PREP) {
            float d = Float.float16ToFloat(w.get(SHORT, p));
            IntVector v0 = load(w, p + 2), v1 = load(w, p + 10);
            FloatVector q0 = f(v0.and(15)), q1 = f(v1.and(15)), q2 = f(v0.and(0xF0)), q3 = f(v1.and(0xF0));
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
        FloatVector s = q0.fma(FloatVector.fromArray(F8, xp, x), FloatVector.fromArray(F8, xp, x + 32));
        s = q1.fma(FloatVector.fromArray(F8, xp, x + 8), s);
        s = q2.fma(FloatVector.fromArray(F8, xp, x + 16), s);
        return q3.fma(FloatVector.fromArray(F8, xp, x + 24), s);
    }
}
