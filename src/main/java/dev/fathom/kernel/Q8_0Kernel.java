package dev.fathom.kernel;

import dev.fathom.tensor.TensorType;
import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorSpecies;

import java.lang.foreign.MemorySegment;

import static jdk.incubator.vector.VectorOperators.ASHR;
import static jdk.incubator.vector.VectorOperators.B2S;
import static jdk.incubator.vector.VectorOperators.I2F;
import static jdk.incubator.vector.VectorOperators.LSHL;

/**
 * Q8_0 ({@code fp16 d; int8 q[32]}) against Q8_0-quantised activations ({@link ActivationQuantizer}), as llama.cpp
 * computes it: per block the integer sum {@code sum_i qw_i * qx_i} times {@code dw * dx}. The weight bytes widen to
 * 16-bit lanes and multiply the prepared 16-bit activation quants (|product| <= 128 * 127, so the sum of two fits
 * in 16 bits); adjacent 16-bit lanes are added into 32-bit ones by shifts. A block is one 512-bit short vector where
 * the hardware has them (AVX-512), else two 256-bit halves. Prepared: n quants, n / 32 scales. Every form (one row,
 * four rows, four x) runs the same operations per (row, x) in the same order.
 */
final class Q8_0Kernel extends RowKernel {
    private static final VectorSpecies<Short> S = VECTOR_BITS >= 512 ? ShortVector.SPECIES_512 : ShortVector.SPECIES_256;
    private static final VectorSpecies<Byte> B = VectorSpecies.of(byte.class, VectorShape.forBitSize(S.vectorBitSize() / 2));
    private static final VectorSpecies<Float> F = VectorSpecies.of(float.class, S.vectorShape());
    /** Whether a block takes two short vectors (256-bit hardware). */
    private static final boolean TWO_PARTS = S.length() < 32;
    private static final int QK = 32, BYTES = 34;

    Q8_0Kernel() {
        super(TensorType.Q8_0);
    }

    @Override
    public boolean quantisesActivations() {
        return true;
    }

    @Override
    public int preparedLength(int n) {
        return n / QK;
    }

    @Override
    public int preparedQuants(int n) {
        return n;
    }

    @Override
    public void prepare(float[] x, int xOff, int n, float[] dst, int dstOff, short[] qdst, int qOff) {
        ActivationQuantizer.quantize(x, xOff, n, qdst, qOff, dst, dstOff);
    }

    @Override
    protected float dot(MemorySegment w, long p0, int n, float[] xp, int xpOff, short[] xq, int xqOff, float[] scratch) {
        int nb = n / QK;
        FloatVector acc = FloatVector.zero(F);
        ShortVector p;
        IntVector iv;
        for (int b = 0; b < nb; b++) {
            long pb = p0 + (long) BYTES * b;
            int qo = xqOff + QK * b;
            ShortVector x0 = ShortVector.fromArray(S, xq, qo), x1 = TWO_PARTS ? ShortVector.fromArray(S, xq, qo + 16) : x0;
            p = ((ShortVector) ByteVector.fromMemorySegment(B, w, pb + 2, LE).convertShape(B2S, S, 0)).mul(x0);
            if (TWO_PARTS) p = p.add(((ShortVector) ByteVector.fromMemorySegment(B, w, pb + 18, LE).convertShape(B2S, S, 0)).mul(x1));
            iv = p.reinterpretAsInts();
            iv = iv.lanewise(ASHR, 16).add(iv.lanewise(LSHL, 16).lanewise(ASHR, 16));
            acc = ((FloatVector) iv.convert(I2F, 0)).fma(FloatVector.broadcast(F, Float.float16ToFloat(w.get(SHORT, pb)) * xp[xpOff + b]), acc);
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
    protected void rows4(MemorySegment w, long r0, long rowBytes, int n, float[] xp, int xpOff, short[] xq, int xqOff,
                         float[] out, int o, float[] scratch) {
        int nb = n / QK;
        long r1 = r0 + rowBytes, r2 = r1 + rowBytes, r3 = r2 + rowBytes;
        FloatVector c0 = FloatVector.zero(F), c1 = c0, c2 = c0, c3 = c0;
        ShortVector p;
        IntVector iv;
        for (int b = 0; b < nb; b++) {
            long bo = (long) BYTES * b;
            int qo = xqOff + QK * b;
            float dx = xp[xpOff + b];
            ShortVector x0 = ShortVector.fromArray(S, xq, qo), x1 = TWO_PARTS ? ShortVector.fromArray(S, xq, qo + 16) : x0;
            p = ((ShortVector) ByteVector.fromMemorySegment(B, w, r0 + bo + 2, LE).convertShape(B2S, S, 0)).mul(x0);
            if (TWO_PARTS) p = p.add(((ShortVector) ByteVector.fromMemorySegment(B, w, r0 + bo + 18, LE).convertShape(B2S, S, 0)).mul(x1));
            iv = p.reinterpretAsInts();
            iv = iv.lanewise(ASHR, 16).add(iv.lanewise(LSHL, 16).lanewise(ASHR, 16));
            c0 = ((FloatVector) iv.convert(I2F, 0)).fma(FloatVector.broadcast(F, Float.float16ToFloat(w.get(SHORT, r0 + bo)) * dx), c0);
            p = ((ShortVector) ByteVector.fromMemorySegment(B, w, r1 + bo + 2, LE).convertShape(B2S, S, 0)).mul(x0);
            if (TWO_PARTS) p = p.add(((ShortVector) ByteVector.fromMemorySegment(B, w, r1 + bo + 18, LE).convertShape(B2S, S, 0)).mul(x1));
            iv = p.reinterpretAsInts();
            iv = iv.lanewise(ASHR, 16).add(iv.lanewise(LSHL, 16).lanewise(ASHR, 16));
            c1 = ((FloatVector) iv.convert(I2F, 0)).fma(FloatVector.broadcast(F, Float.float16ToFloat(w.get(SHORT, r1 + bo)) * dx), c1);
            p = ((ShortVector) ByteVector.fromMemorySegment(B, w, r2 + bo + 2, LE).convertShape(B2S, S, 0)).mul(x0);
            if (TWO_PARTS) p = p.add(((ShortVector) ByteVector.fromMemorySegment(B, w, r2 + bo + 18, LE).convertShape(B2S, S, 0)).mul(x1));
            iv = p.reinterpretAsInts();
            iv = iv.lanewise(ASHR, 16).add(iv.lanewise(LSHL, 16).lanewise(ASHR, 16));
            c2 = ((FloatVector) iv.convert(I2F, 0)).fma(FloatVector.broadcast(F, Float.float16ToFloat(w.get(SHORT, r2 + bo)) * dx), c2);
            p = ((ShortVector) ByteVector.fromMemorySegment(B, w, r3 + bo + 2, LE).convertShape(B2S, S, 0)).mul(x0);
            if (TWO_PARTS) p = p.add(((ShortVector) ByteVector.fromMemorySegment(B, w, r3 + bo + 18, LE).convertShape(B2S, S, 0)).mul(x1));
            iv = p.reinterpretAsInts();
            iv = iv.lanewise(ASHR, 16).add(iv.lanewise(LSHL, 16).lanewise(ASHR, 16));
            c3 = ((FloatVector) iv.convert(I2F, 0)).fma(FloatVector.broadcast(F, Float.float16ToFloat(w.get(SHORT, r3 + bo)) * dx), c3);
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

    /** One row against four x: each weight block is widened once; written flat like {@link #rows4}. */
    @Override
    protected void tile4(MemorySegment w, long p0, int n, float[] xp, int x0, int xStride, short[] xq, int q0,
                         int qStride, float[] out, int o, int outStride, float[] scratch) {
        int nb = n / QK;
        int x1 = x0 + xStride, x2 = x1 + xStride, x3 = x2 + xStride;
        int q1 = q0 + qStride, q2 = q1 + qStride, q3 = q2 + qStride;
        FloatVector c0 = FloatVector.zero(F), c1 = c0, c2 = c0, c3 = c0;
        ShortVector p;
        IntVector iv;
        for (int b = 0; b < nb; b++) {
            long pb = p0 + (long) BYTES * b;
            int qo = QK * b;
            float dw = Float.float16ToFloat(w.get(SHORT, pb));
            ShortVector w0 = (ShortVector) ByteVector.fromMemorySegment(B, w, pb + 2, LE).convertShape(B2S, S, 0);
            ShortVector w1 = TWO_PARTS ? (ShortVector) ByteVector.fromMemorySegment(B, w, pb + 18, LE).convertShape(B2S, S, 0) : w0;
            p = w0.mul(ShortVector.fromArray(S, xq, q0 + qo));
            if (TWO_PARTS) p = p.add(w1.mul(ShortVector.fromArray(S, xq, q0 + qo + 16)));
            iv = p.reinterpretAsInts();
            iv = iv.lanewise(ASHR, 16).add(iv.lanewise(LSHL, 16).lanewise(ASHR, 16));
            c0 = ((FloatVector) iv.convert(I2F, 0)).fma(FloatVector.broadcast(F, dw * xp[x0 + b]), c0);
            p = w0.mul(ShortVector.fromArray(S, xq, q1 + qo));
            if (TWO_PARTS) p = p.add(w1.mul(ShortVector.fromArray(S, xq, q1 + qo + 16)));
            iv = p.reinterpretAsInts();
            iv = iv.lanewise(ASHR, 16).add(iv.lanewise(LSHL, 16).lanewise(ASHR, 16));
            c1 = ((FloatVector) iv.convert(I2F, 0)).fma(FloatVector.broadcast(F, dw * xp[x1 + b]), c1);
            p = w0.mul(ShortVector.fromArray(S, xq, q2 + qo));
            if (TWO_PARTS) p = p.add(w1.mul(ShortVector.fromArray(S, xq, q2 + qo + 16)));
            iv = p.reinterpretAsInts();
            iv = iv.lanewise(ASHR, 16).add(iv.lanewise(LSHL, 16).lanewise(ASHR, 16));
            c2 = ((FloatVector) iv.convert(I2F, 0)).fma(FloatVector.broadcast(F, dw * xp[x2 + b]), c2);
            p = w0.mul(ShortVector.fromArray(S, xq, q3 + qo));
            if (TWO_PARTS) p = p.add(w1.mul(ShortVector.fromArray(S, xq, q3 + qo + 16)));
            iv = p.reinterpretAsInts();
            iv = iv.lanewise(ASHR, 16).add(iv.lanewise(LSHL, 16).lanewise(ASHR, 16));
            c3 = ((FloatVector) iv.convert(I2F, 0)).fma(FloatVector.broadcast(F, dw * xp[x3 + b]), c3);
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
