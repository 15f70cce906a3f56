package dev.fathom.kernel;

import dev.fathom.tensor.TensorType;
import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorSpecies;

import static jdk.incubator.vector.VectorOperators.ASHR;
import static jdk.incubator.vector.VectorOperators.B2I;
import static jdk.incubator.vector.VectorOperators.I2F;
import static jdk.incubator.vector.VectorOperators.LSHL;

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

    @Override
    protected float dot(MemorySegment w, long p0, int n, float[] xp, int xpOff, float[] scratch) {
        int nb = n / QK;
        FloatVector acc = FloatVector.zero(F8);
        // One flat loop over quarters (4 per super-block): see Q4_KKernel on why nothing is nested.
        for (int c = 0; c < 4 * nb; c++) {
            int k = c & 3;
            long p = p0 + (long) (c >> 2) * BYTES;
            int x = xpOff + (c >> 2) * PREP;
            float d = Float.float16ToFloat(w.get(SHORT, p + 208));
            int h = k >> 1, l = 16 * (k & 1);
            long ql = p + 64 * h + l, qh = p + 128 + 32 * h + l;
            long sc = w.get(LONG, p + 192 + 8 * h) >>> 8 * (k & 1);
            int xo = x + 128 * h + l;
            IntVector a0 = (IntVector) ByteVector.fromMemorySegment(B, w, ql, LE).convertShape(B2I, I, 0);
            IntVector b0 = (IntVector) ByteVector.fromMemorySegment(B, w, ql + 32, LE).convertShape(B2I, I, 0);
            IntVector h0 = (IntVector) ByteVector.fromMemorySegment(B, w, qh, LE).convertShape(B2I, I, 0);
            IntVector a1 = (IntVector) ByteVector.fromMemorySegment(B, w, ql + 8, LE).convertShape(B2I, I, 0);
            IntVector b1 = (IntVector) ByteVector.fromMemorySegment(B, w, ql + 40, LE).convertShape(B2I, I, 0);
            IntVector h1 = (IntVector) ByteVector.fromMemorySegment(B, w, qh + 8, LE).convertShape(B2I, I, 0);
            // q1 = low nibble of ql[l] | bits 0-1 of qh << 4; q2 = low nibble of ql[l+32] | bits 2-3 << 2;
            // q3 = high nibble of ql[l] | bits 4-5; q4 = high nibble of ql[l+32] | bits 6-7 >> 2
            FloatVector s1 = ((FloatVector) a0.and(15).or(h0.and(3).lanewise(LSHL, 4)).convert(I2F, 0))
                    .mul(FloatVector.fromArray(F8, xp, xo));
            s1 = ((FloatVector) a1.and(15).or(h1.and(3).lanewise(LSHL, 4)).convert(I2F, 0))
                    .fma(FloatVector.fromArray(F8, xp, xo + 8), s1);
            FloatVector s2 = ((FloatVector) b0.and(15).or(h0.and(12).lanewise(LSHL, 2)).convert(I2F, 0))
                    .mul(FloatVector.fromArray(F8, xp, xo + 32));
            s2 = ((FloatVector) b1.and(15).or(h1.and(12).lanewise(LSHL, 2)).convert(I2F, 0))
                    .fma(FloatVector.fromArray(F8, xp, xo + 40), s2);
            FloatVector s3 = ((FloatVector) a0.lanewise(ASHR, 4).and(15).or(h0.and(48)).convert(I2F, 0))
                    .mul(FloatVector.fromArray(F8, xp, xo + 64));
            s3 = ((FloatVector) a1.lanewise(ASHR, 4).and(15).or(h1.and(48)).convert(I2F, 0))
                    .fma(FloatVector.fromArray(F8, xp, xo + 72), s3);
            FloatVector s4 = ((FloatVector) b0.lanewise(ASHR, 4).and(15).or(h0.lanewise(ASHR, 2).and(48)).convert(I2F, 0))
                    .mul(FloatVector.fromArray(F8, xp, xo + 96));
            s4 = ((FloatVector) b1.lanewise(ASHR, 4).and(15).or(h1.lanewise(ASHR, 2).and(48)).convert(I2F, 0))
                    .fma(FloatVector.fromArray(F8, xp, xo + 104), s4);
            acc = s1.fma(FloatVector.broadcast(F8, d * (byte) sc), acc);
            acc = s2.fma(FloatVector.broadcast(F8, d * (byte) (sc >>> 16)), acc);
            acc = s3.fma(FloatVector.broadcast(F8, d * (byte) (sc >>> 32)), acc);
            acc = s4.fma(FloatVector.broadcast(F8, d * (byte) (sc >>> 48)), acc);
        }
        float offset = 0f;
        for (int b = 0; b < nb; b++) {
            long p = p0 + (long) b * BYTES;
            int x = xpOff + b * PREP + QK;
            long sc0 = w.get(LONG, p + 192), sc1 = w.get(LONG, p + 200);
            float corr = 0f;
            for (int k = 0; k < 8; k++) corr += (byte) (sc0 >>> 8 * k) * xp[x + k];
            for (int k = 0; k < 8; k++) corr += (byte) (sc1 >>> 8 * k) * xp[x + 8 + k];
            offset += Float.float16ToFloat(w.get(SHORT, p + 208)) * corr;
        }
        acc.intoArray(scratch, 0); // no vector crosses a call: C2 would box it
        return sumLanes(scratch, F8.length()) - 32f * offset;
    }
}
