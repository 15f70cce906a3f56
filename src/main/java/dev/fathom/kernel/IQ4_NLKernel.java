package dev.fathom.kernel;

import dev.fathom.tensor.TensorType;
import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorShuffle;
import jdk.incubator.vector.VectorSpecies;

import java.lang.foreign.MemorySegment;

/**
 * IQ4_NL ({@code fp16 d; uint8 qs[16]}, value = d * kvalues[nibble]): the low nibbles are values 0..15 of the block,
 * the high ones 16..31, as in Q4_0. On AVX-512 the block's 16-entry table {@code kvalues * d} (the same products as
 * the format's) is one float vector and a nibble lane looks its value up with one vpermd ({@code selectFrom}). On
 * AVX2 a 16-entry lookup of 8-lane vectors would take two permutes and a blend, so the int8 codebook is looked up
 * first, 16 nibbles at a time by one 128-bit byte shuffle (vpshufb), then widened, converted and scaled by d.
 */
final class IQ4_NLKernel extends RowKernel {
    private static final VectorSpecies<Byte> B = VectorSpecies.of(byte.class, VectorShape.forBitSize(8 * L));
    private static final VectorSpecies<Byte> B16 = ByteVector.SPECIES_128;
    private static final VectorSpecies<Integer> I = FLOATS.withLanes(int.class).check(int.class);
    private static final int QK = 32, BYTES = 18;
    private static final byte[] VALUES = {-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113};
    /** The codebook as float lanes (AVX-512: 16 lanes). */
    private static final FloatVector TABLE_F = L == 16 ? FloatVector.fromArray(FLOATS, floats(), 0) : null;
    /** The codebook as 16 bytes (AVX2). */
    private static final ByteVector TABLE_B = ByteVector.fromArray(B16, VALUES, 0);
    /** Bytes 8..15 of a 128-bit vector to lanes 0..7. */
    private static final VectorShuffle<Byte> UPPER = VectorShuffle.fromValues(B16,
            8, 9, 10, 11, 12, 13, 14, 15, 0, 1, 2, 3, 4, 5, 6, 7);

    IQ4_NLKernel() {
        super(TensorType.IQ4_NL.format());
    }

    private static float[] floats() {
        float[] f = new float[16];
        for (int i = 0; i < 16; i++) f[i] = VALUES[i];
        return f;
    }

    private static float d(MemorySegment w, long p) {
        return Float.float16ToFloat(w.get(SHORT, p));
    }

    private static FloatVector x(float[] xs, int i) {
        return FloatVector.fromArray(FLOATS, xs, i);
    }

    // ---- AVX-512: 16 lanes, the scaled table in one vector

    /** The block's 16 values {@code kvalues * d} as int bits. */
    private static IntVector table(float d) {
        return TABLE_F.mul(d).reinterpretAsInts();
    }

    /** The 16 quant bytes at {@code p}, one per int lane. */
    private static IntVector q(MemorySegment w, long p) {
        return (IntVector) ByteVector.fromMemorySegment(B, w, p, LE).convertShape(VectorOperators.ZERO_EXTEND_B2I, I, 0);
    }

    /** Values 0..15 of the block (selectFrom wraps the index to its low 4 bits: the low nibble). */
    private static FloatVector lo(IntVector q, IntVector t) {
        return q.selectFrom(t).reinterpretAsFloats();
    }

    private static FloatVector hi(IntVector q, IntVector t) {
        return q.lanewise(VectorOperators.LSHR, 4).selectFrom(t).reinterpretAsFloats();
    }

    // ---- AVX2: 8 lanes, the int8 codebook looked up 16 nibbles at a time

    /** The codebook values of the 16 low nibbles of the bytes at {@code p} (selectFrom wraps to 4 bits). */
    private static ByteVector loB(ByteVector q) {
        return q.selectFrom(TABLE_B);
    }

    private static ByteVector hiB(ByteVector q) {
        return q.reinterpretAsInts().lanewise(VectorOperators.LSHR, 4).reinterpretAsBytes().selectFrom(TABLE_B);
    }

    /** Lanes 0..7 of 16 codebook bytes, times d. */
    private static FloatVector low8(ByteVector v, FloatVector d) {
        return ((FloatVector) v.convertShape(VectorOperators.B2F, FLOATS, 0)).mul(d);
    }

    /** Lanes 8..15 of 16 codebook bytes, times d. */
    private static FloatVector high8(ByteVector v, FloatVector d) {
        return ((FloatVector) v.rearrange(UPPER).convertShape(VectorOperators.B2F, FLOATS, 0)).mul(d);
    }

    private static ByteVector q16(MemorySegment w, long p) {
        return ByteVector.fromMemorySegment(B16, w, p, LE);
    }

    @Override
    protected void decode(MemorySegment w, long p0, int n, float[] dst, int off, float[] factors) {
        for (int b = 0; b < n / QK; b++) {
            long pb = p0 + (long) BYTES * b;
            int o = off + QK * b;
            if (L == 16) {
                IntVector t = table(d(w, pb)), q = q(w, pb + 2);
                lo(q, t).intoArray(dst, o);
                hi(q, t).intoArray(dst, o + 16);
            } else {
                FloatVector d = FloatVector.broadcast(FLOATS, d(w, pb));
                ByteVector q = q16(w, pb + 2), l = loB(q), h = hiB(q);
                low8(l, d).intoArray(dst, o);
                high8(l, d).intoArray(dst, o + 8);
                low8(h, d).intoArray(dst, o + 16);
                high8(h, d).intoArray(dst, o + 24);
            }
        }
    }

    @Override
    protected float dot(MemorySegment w, long p0, int n, float[] xs, int xOff, float[] scratch) {
        FloatVector acc = FloatVector.zero(FLOATS);
        for (int b = 0; b < n / QK; b++) {
            long pb = p0 + (long) BYTES * b;
            int x = xOff + QK * b;
            if (L == 16) {
                IntVector t = table(d(w, pb)), q = q(w, pb + 2);
                acc = lo(q, t).fma(x(xs, x), acc);
                acc = hi(q, t).fma(x(xs, x + 16), acc);
            } else {
                FloatVector d = FloatVector.broadcast(FLOATS, d(w, pb));
                ByteVector q = q16(w, pb + 2), l = loB(q), h = hiB(q);
                acc = low8(l, d).fma(x(xs, x), acc);
                acc = high8(l, d).fma(x(xs, x + 8), acc);
                acc = low8(h, d).fma(x(xs, x + 16), acc);
                acc = high8(h, d).fma(x(xs, x + 24), acc);
            }
        }
        acc.intoArray(scratch, 0); // no vector crosses a call: C2 would box it
        return sumLanes(scratch, 0);
    }

    private static void rows2(MemorySegment w, long r0, long r1, int n, float[] xs, int xOff, float[] out, int o,
                              float[] scratch) {
        FloatVector c0 = FloatVector.zero(FLOATS), c1 = c0;
        for (int b = 0; b < n / QK; b++) {
            long bo = (long) BYTES * b;
            int x = xOff + QK * b;
            if (L == 16) {
                FloatVector x0 = x(xs, x), x1 = x(xs, x + 16);
                IntVector t = table(d(w, r0 + bo)), q = q(w, r0 + bo + 2);
                c0 = lo(q, t).fma(x0, c0);
                c0 = hi(q, t).fma(x1, c0);
                t = table(d(w, r1 + bo)); q = q(w, r1 + bo + 2);
                c1 = lo(q, t).fma(x0, c1);
                c1 = hi(q, t).fma(x1, c1);
            } else {
                FloatVector x0 = x(xs, x), x1 = x(xs, x + 8), x2 = x(xs, x + 16), x3 = x(xs, x + 24);
                FloatVector d = FloatVector.broadcast(FLOATS, d(w, r0 + bo));
                ByteVector q = q16(w, r0 + bo + 2), l = loB(q), h = hiB(q);
                c0 = low8(l, d).fma(x0, c0);
                c0 = high8(l, d).fma(x1, c0);
                c0 = low8(h, d).fma(x2, c0);
                c0 = high8(h, d).fma(x3, c0);
                d = FloatVector.broadcast(FLOATS, d(w, r1 + bo));
                q = q16(w, r1 + bo + 2); l = loB(q); h = hiB(q);
                c1 = low8(l, d).fma(x0, c1);
                c1 = high8(l, d).fma(x1, c1);
                c1 = low8(h, d).fma(x2, c1);
                c1 = high8(h, d).fma(x3, c1);
            }
        }
        c0.intoArray(scratch, 0);
        c1.intoArray(scratch, L);
        out[o] = sumLanes(scratch, 0);
        out[o + 1] = sumLanes(scratch, L);
    }
}
