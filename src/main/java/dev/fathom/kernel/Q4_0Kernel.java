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

    @Override
    protected float dot(MemorySegment w, long p, int n, float[] xp, int xpOff, float[] scratch) {
        int nb = n / QK;
        FloatVector acc = FloatVector.zero(F8);
        for (int b = 0, x = xpOff; b < nb; b++, p += BYTES, x += PREP) {
            float d = Float.float16ToFloat(w.get(SHORT, p));
            // Written flat: a vector returned from or passed to a method C2 does not inline is boxed.
            IntVector v0 = (IntVector) ByteVector.fromMemorySegment(B, w, p + 2, LE).convertShape(VectorOperators.B2I, I, 0);
            IntVector v1 = (IntVector) ByteVector.fromMemorySegment(B, w, p + 10, LE).convertShape(VectorOperators.B2I, I, 0);
            FloatVector s = ((FloatVector) v0.and(15).convert(VectorOperators.I2F, 0))
                    .fma(FloatVector.fromArray(F8, xp, x), FloatVector.fromArray(F8, xp, x + 32));
            s = ((FloatVector) v1.and(15).convert(VectorOperators.I2F, 0)).fma(FloatVector.fromArray(F8, xp, x + 8), s);
            s = ((FloatVector) v0.and(0xF0).convert(VectorOperators.I2F, 0)).fma(FloatVector.fromArray(F8, xp, x + 16), s);
            s = ((FloatVector) v1.and(0xF0).convert(VectorOperators.I2F, 0)).fma(FloatVector.fromArray(F8, xp, x + 24), s);
            acc = s.fma(FloatVector.broadcast(F8, d), acc);
        }
        acc.intoArray(scratch, 0); // no vector crosses a call: C2 would box it
        return sumLanes(scratch);
    }

    /**
     * One row against four prepared vectors (x0 + k * xStride), each block decoded once; the per-x operations are
     * those of {@link #dot}. Written flat: C2 boxes vectors passed to helpers it does not inline.
     */
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
        for (int b = 0, xo = 0; b < nb; b++, p += BYTES, xo += PREP) {
            FloatVector d = FloatVector.broadcast(F8, Float.float16ToFloat(w.get(SHORT, p)));
            IntVector v0 = (IntVector) ByteVector.fromMemorySegment(B, w, p + 2, LE).convertShape(VectorOperators.B2I, I, 0);
            IntVector v1 = (IntVector) ByteVector.fromMemorySegment(B, w, p + 10, LE).convertShape(VectorOperators.B2I, I, 0);
            FloatVector q0 = (FloatVector) v0.and(15).convert(VectorOperators.I2F, 0);
            FloatVector q1 = (FloatVector) v1.and(15).convert(VectorOperators.I2F, 0);
            FloatVector q2 = (FloatVector) v0.and(0xF0).convert(VectorOperators.I2F, 0);
            FloatVector q3 = (FloatVector) v1.and(0xF0).convert(VectorOperators.I2F, 0);
            int a = x0 + xo;
            FloatVector s = q0.fma(FloatVector.fromArray(F8, xp, a), FloatVector.fromArray(F8, xp, a + 32));
            s = q1.fma(FloatVector.fromArray(F8, xp, a + 8), s);
            s = q2.fma(FloatVector.fromArray(F8, xp, a + 16), s);
            s = q3.fma(FloatVector.fromArray(F8, xp, a + 24), s);
            c0 = s.fma(d, c0);
            a = x1 + xo;
            s = q0.fma(FloatVector.fromArray(F8, xp, a), FloatVector.fromArray(F8, xp, a + 32));
            s = q1.fma(FloatVector.fromArray(F8, xp, a + 8), s);
            s = q2.fma(FloatVector.fromArray(F8, xp, a + 16), s);
            s = q3.fma(FloatVector.fromArray(F8, xp, a + 24), s);
            c1 = s.fma(d, c1);
            a = x2 + xo;
            s = q0.fma(FloatVector.fromArray(F8, xp, a), FloatVector.fromArray(F8, xp, a + 32));
            s = q1.fma(FloatVector.fromArray(F8, xp, a + 8), s);
            s = q2.fma(FloatVector.fromArray(F8, xp, a + 16), s);
            s = q3.fma(FloatVector.fromArray(F8, xp, a + 24), s);
            c2 = s.fma(d, c2);
            a = x3 + xo;
            s = q0.fma(FloatVector.fromArray(F8, xp, a), FloatVector.fromArray(F8, xp, a + 32));
            s = q1.fma(FloatVector.fromArray(F8, xp, a + 8), s);
            s = q2.fma(FloatVector.fromArray(F8, xp, a + 16), s);
            s = q3.fma(FloatVector.fromArray(F8, xp, a + 24), s);
            c3 = s.fma(d, c3);
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
