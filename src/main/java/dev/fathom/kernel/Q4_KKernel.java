package dev.fathom.kernel;

import dev.fathom.tensor.TensorType;
import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorSpecies;

import static jdk.incubator.vector.VectorOperators.B2I;
import static jdk.incubator.vector.VectorOperators.I2F;

import java.lang.foreign.MemorySegment;

/**
 * Q4_K (super-blocks of 256 in 144 bytes: {@code fp16 d, dmin; uint8 scales[12]; uint8 qs[128]}), value
 * {@code d * sc_j * q - dmin * m_j} for sub-block j of 32. The nibble part is a vector dot per sub-block (high
 * nibbles kept in place as {@code v & 0xF0}, their activations prepared divided by 16, as in Q4_0); the min part is
 * {@code dmin * sum_j m_j * sum(x in j)} with the sub-block sums of x prepared once per product.
 * Prepared layout per super-block (264 floats): 4 chunks of [x 32 values, x next 32 values / 16], 8 sub-block sums.
 */
final class Q4_KKernel extends RowKernel {
    private static final VectorSpecies<Byte> B = ByteVector.SPECIES_64;
    private static final VectorSpecies<Integer> I = IntVector.SPECIES_256;
    private static final int QK = 256, BYTES = 144, PREP = 264;

    Q4_KKernel() {
        super(TensorType.Q4_K);
    }

    @Override
    public int preparedLength(int n) {
        return n / QK * PREP;
    }

    @Override
    public void prepare(float[] x, int xOff, int n, float[] dst, int dstOff) {
        for (int b = 0; b < n / QK; b++) {
            int s = xOff + b * QK, d = dstOff + b * PREP;
            for (int j = 0; j < 8; j++) {
                float scale = (j & 1) == 0 ? 1f : 0.0625f;
                float sum = 0f;
                for (int i = 0; i < 32; i++) {
                    float v = x[s + 32 * j + i];
                    dst[d + 32 * j + i] = v * scale;
                    sum += v;
                }
                dst[d + 256 + j] = sum;
            }
        }
    }

    @Override
    protected float dot(MemorySegment w, long p0, int n, float[] xp, int xpOff, float[] scratch) {
        int nb = n / QK;
        FloatVector acc = FloatVector.zero(F8);
        // One flat loop over 64-value chunks (4 per super-block): a vector accumulator carried through a nested loop
        // is boxed by C2, and vectors must not cross calls (a helper C2 declines to inline boxes them too).
        for (int c = 0; c < 4 * nb; c++) {
            int cb = c & 3;
            long p = p0 + (long) (c >> 2) * BYTES;
            int xo = xpOff + (c >> 2) * PREP + 64 * cb;
            long q = p + 16 + 32 * cb;
            IntVector v0 = (IntVector) ByteVector.fromMemorySegment(B, w, q, LE).convertShape(B2I, I, 0);
            IntVector v1 = (IntVector) ByteVector.fromMemorySegment(B, w, q + 8, LE).convertShape(B2I, I, 0);
            IntVector v2 = (IntVector) ByteVector.fromMemorySegment(B, w, q + 16, LE).convertShape(B2I, I, 0);
            IntVector v3 = (IntVector) ByteVector.fromMemorySegment(B, w, q + 24, LE).convertShape(B2I, I, 0);
            FloatVector lo = ((FloatVector) v0.and(15).convert(I2F, 0)).mul(FloatVector.fromArray(F8, xp, xo));
            lo = ((FloatVector) v1.and(15).convert(I2F, 0)).fma(FloatVector.fromArray(F8, xp, xo + 8), lo);
            lo = ((FloatVector) v2.and(15).convert(I2F, 0)).fma(FloatVector.fromArray(F8, xp, xo + 16), lo);
            lo = ((FloatVector) v3.and(15).convert(I2F, 0)).fma(FloatVector.fromArray(F8, xp, xo + 24), lo);
            FloatVector hi = ((FloatVector) v0.and(0xF0).convert(I2F, 0)).mul(FloatVector.fromArray(F8, xp, xo + 32));
            hi = ((FloatVector) v1.and(0xF0).convert(I2F, 0)).fma(FloatVector.fromArray(F8, xp, xo + 40), hi);
            hi = ((FloatVector) v2.and(0xF0).convert(I2F, 0)).fma(FloatVector.fromArray(F8, xp, xo + 48), hi);
            hi = ((FloatVector) v3.and(0xF0).convert(I2F, 0)).fma(FloatVector.fromArray(F8, xp, xo + 56), hi);
            // scales 2cb and 2cb+1 (get_scale_min_k4): bytes 2cb, 2cb+1 for cb < 2, else split over bytes 8.. and 0..
            float d = Float.float16ToFloat(w.get(SHORT, p));
            int s0 = w.get(INT, p + 4);
            int sc0, sc1;
            if (cb < 2) {
                sc0 = (s0 >>> 16 * cb) & 63;
                sc1 = (s0 >>> 16 * cb + 8) & 63;
            } else {
                int s2 = w.get(INT, p + 12), sh = 16 * (cb - 2);
                sc0 = ((s2 >>> sh) & 0xF) | (((s0 >>> sh + 6) & 3) << 4);
                sc1 = ((s2 >>> sh + 8) & 0xF) | (((s0 >>> sh + 14) & 3) << 4);
            }
            acc = lo.fma(FloatVector.broadcast(F8, d * sc0), acc);
            acc = hi.fma(FloatVector.broadcast(F8, d * sc1), acc);
        }
        float mins = 0f;
        for (int b = 0; b < nb; b++) {
            long p = p0 + (long) b * BYTES;
            int x = xpOff + b * PREP + 256;
            float dmin = Float.float16ToFloat(w.get(SHORT, p + 2));
            int s1 = w.get(INT, p + 8), s2 = w.get(INT, p + 12);
            float m = 0f;
            for (int j = 0; j < 4; j++) m += ((s1 >>> 8 * j) & 63) * xp[x + j];
            for (int j = 0; j < 4; j++) m += (((s2 >>> 8 * j + 4) & 0xF) | (((s1 >>> 8 * j + 6) & 3) << 4)) * xp[x + 4 + j];
            mins += dmin * m;
        }
        acc.intoArray(scratch, 0); // no vector crosses a call: C2 would box it
        return sumLanes(scratch, F8.length()) - mins;
    }
}
