package dev.fathom.kernel;

import dev.fathom.tensor.TensorType;
import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * Q6_K (super-blocks of 256 in 210 bytes: {@code uint8 ql[128], qh[64]; int8 scales[16]; fp16 d}), value
 * {@code d * sc_k * (q - 32)} for sub-block k of 16. Eight lanes of ql, ql+32 and qh are widened to ints and
 * combined into four vectors of 6-bit q (values l, l+32, l+64, l+96 of a half); the -32 offset is applied once per
 * super-block as {@code 32 * d * sum_k sc_k * sum(x in k)} with the 16-value sums of x prepared per product.
 * Prepared layout per super-block (272 floats): x unchanged, then the 16 sub-block sums.
 */
final class Q6_KKernel extends RowKernel {
    private static final VectorSpecies<Byte> B = ByteVector.SPECIES_64;
    private static final VectorSpecies<Integer> I = IntVector.SPECIES_256;
    private static final ValueLayout.OfLong LONG = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(LE);
    private static final int QK = 256, BYTES = 210, PREP = 272;

    Q6_KKernel() {
        super(TensorType.Q6_K);
    }

    @Override
    public int preparedLength(int n) {
        return n / QK * PREP;
    }

    @Override
    public void prepare(float[] x, int xOff, int n, float[] dst, int dstOff) {
        for (int b = 0; b < n / QK; b++) {
            int s = xOff + b * QK, d = dstOff + b * PREP;
            System.arraycopy(x, s, dst, d, QK);
            for (int k = 0; k < 16; k++) {
                float sum = 0f;
                for (int i = 0; i < 16; i++) sum += x[s + 16 * k + i];
                dst[d + QK + k] = sum;
            }
        }
    }

    private static IntVector load(MemorySegment w, long p) {
        return (IntVector) ByteVector.fromMemorySegment(B, w, p, LE).convertShape(VectorOperators.B2I, I, 0);
    }

    private static FloatVector f(IntVector v) {
        return (FloatVector) v.convert(VectorOperators.I2F, 0);
    }

    private static FloatVector q1(IntVector a, IntVector h) {
        return f(a.and(15).or(h.and(3).lanewise(VectorOperators.LSHL, 4)));
    }

    private static FloatVector q2(IntVector b, IntVector h) {
        return f(b.and(15).or(h.and(12).lanewise(VectorOperators.LSHL, 2)));
    }

    private static FloatVector q3(IntVector a, IntVector h) {
        return f(a.lanewise(VectorOperators.ASHR, 4).and(15).or(h.and(48)));
    }

    private static FloatVector q4(IntVector b, IntVector h) {
        return f(b.lanewise(VectorOperators.ASHR, 4).and(15).or(h.lanewise(VectorOperators.ASHR, 2).and(48)));
    }

    @Override
    public void dotRows(MemorySegment w, long off, long rowBytes, int rows, int n,
                        float[] xp, int xpOff, float[] out, int outOff, float[] scratch) {
        int nb = n / QK;
        for (int r = 0; r < rows; r++) {
            long p = off + r * rowBytes;
            FloatVector acc = FloatVector.zero(F8);
            float offset = 0f;
            for (int b = 0, x = xpOff; b < nb; b++, p += BYTES, x += PREP) {
                float d = Float.float16ToFloat(w.get(SHORT, p + 208));
                float corr = 0f;
                for (int h = 0; h < 2; h++) {
                    long ql = p + 64 * h, qh = p + 128 + 32 * h;
                    long sc = w.get(LONG, p + 192 + 8 * h);
                    int xo = x + 128 * h;
                    for (int is = 0; is < 2; is++) {
                        int l = 16 * is;
                        IntVector a0 = load(w, ql + l), b0 = load(w, ql + 32 + l), h0 = load(w, qh + l);
                        IntVector a1 = load(w, ql + l + 8), b1 = load(w, ql + 40 + l), h1 = load(w, qh + l + 8);
                        FloatVector s1 = q1(a0, h0).mul(FloatVector.fromArray(F8, xp, xo + l));
                        s1 = q1(a1, h1).fma(FloatVector.fromArray(F8, xp, xo + l + 8), s1);
                        FloatVector s2 = q2(b0, h0).mul(FloatVector.fromArray(F8, xp, xo + 32 + l));
                        s2 = q2(b1, h1).fma(FloatVector.fromArray(F8, xp, xo + 40 + l), s2);
                        FloatVector s3 = q3(a0, h0).mul(FloatVector.fromArray(F8, xp, xo + 64 + l));
                        s3 = q3(a1, h1).fma(FloatVector.fromArray(F8, xp, xo + 72 + l), s3);
                        FloatVector s4 = q4(b0, h0).mul(FloatVector.fromArray(F8, xp, xo + 96 + l));
                        s4 = q4(b1, h1).fma(FloatVector.fromArray(F8, xp, xo + 104 + l), s4);
                        acc = s1.fma(FloatVector.broadcast(F8, d * (byte) (sc >>> 8 * is)), acc);
                        acc = s2.fma(FloatVector.broadcast(F8, d * (byte) (sc >>> 8 * (is + 2))), acc);
                        acc = s3.fma(FloatVector.broadcast(F8, d * (byte) (sc >>> 8 * (is + 4))), acc);
                        acc = s4.fma(FloatVector.broadcast(F8, d * (byte) (sc >>> 8 * (is + 6))), acc);
                    }
                    for (int k = 0; k < 8; k++) corr += (byte) (sc >>> 8 * k) * xp[x + QK + 8 * h + k];
                }
                offset += d * corr;
            }
            out[outOff + r] = sumLanes(acc, scratch) - 32f * offset;
        }
    }
}
