package dev.fathom.kernel;

import dev.fathom.tensor.TensorType;
import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

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

    private static IntVector load(MemorySegment w, long p) {
        return (IntVector) ByteVector.fromMemorySegment(B, w, p, LE).convertShape(VectorOperators.B2I, I, 0);
    }

    private static FloatVector f(IntVector v) {
        return (FloatVector) v.convert(VectorOperators.I2F, 0);
    }

    /** 6-bit scale j (0..7) of get_scale_min_k4 from the packed bytes read as three little-endian ints. */
    static int scale(int s0, int s2, int j) {
        return j < 4 ? (s0 >>> 8 * j) & 63 : ((s2 >>> 8 * (j - 4)) & 0xF) | (((s0 >>> 8 * (j - 4) + 6) & 3) << 4);
    }

    /** 6-bit min j (0..7) of get_scale_min_k4. */
    static int min(int s1, int s2, int j) {
        return j < 4 ? (s1 >>> 8 * j) & 63 : ((s2 >>> 8 * (j - 4) + 4) & 0xF) | (((s1 >>> 8 * (j - 4) + 6) & 3) << 4);
    }

    @Override
    public void dotRows(MemorySegment w, long off, long rowBytes, int rows, int n,
                        float[] xp, int xpOff, float[] out, int outOff, float[] scratch) {
        int nb = n / QK;
        for (int r = 0; r < rows; r++) {
            long p = off + r * rowBytes;
            FloatVector acc = FloatVector.zero(F8);
            float mins = 0f;
            for (int b = 0, x = xpOff; b < nb; b++, p += BYTES, x += PREP) {
                float d = Float.float16ToFloat(w.get(SHORT, p));
                float dmin = Float.float16ToFloat(w.get(SHORT, p + 2));
                int s0 = w.get(INT, p + 4), s1 = w.get(INT, p + 8), s2 = w.get(INT, p + 12);
                float m = 0f;
                for (int c = 0; c < 4; c++) {
                    long q = p + 16 + 32 * c;
                    int xo = x + 64 * c;
                    IntVector v0 = load(w, q), v1 = load(w, q + 8), v2 = load(w, q + 16), v3 = load(w, q + 24);
                    FloatVector lo = f(v0.and(15)).mul(FloatVector.fromArray(F8, xp, xo));
                    lo = f(v1.and(15)).fma(FloatVector.fromArray(F8, xp, xo + 8), lo);
                    lo = f(v2.and(15)).fma(FloatVector.fromArray(F8, xp, xo + 16), lo);
                    lo = f(v3.and(15)).fma(FloatVector.fromArray(F8, xp, xo + 24), lo);
                    FloatVector hi = f(v0.and(0xF0)).mul(FloatVector.fromArray(F8, xp, xo + 32));
                    hi = f(v1.and(0xF0)).fma(FloatVector.fromArray(F8, xp, xo + 40), hi);
                    hi = f(v2.and(0xF0)).fma(FloatVector.fromArray(F8, xp, xo + 48), hi);
                    hi = f(v3.and(0xF0)).fma(FloatVector.fromArray(F8, xp, xo + 56), hi);
                    acc = lo.fma(FloatVector.broadcast(F8, d * scale(s0, s2, 2 * c)), acc);
                    acc = hi.fma(FloatVector.broadcast(F8, d * scale(s0, s2, 2 * c + 1)), acc);
                    m += min(s1, s2, 2 * c) * xp[x + 256 + 2 * c] + min(s1, s2, 2 * c + 1) * xp[x + 257 + 2 * c];
                }
                mins += dmin * m;
            }
            out[outOff + r] = sumLanes(acc, scratch) - mins;
        }
    }
}
