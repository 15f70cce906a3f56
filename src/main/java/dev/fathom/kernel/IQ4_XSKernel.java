package dev.fathom.kernel;

import dev.fathom.tensor.TensorType;
import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorSpecies;

import java.lang.foreign.MemorySegment;

/**
 * IQ4_XS ({@code fp16 d; uint16 scales_h; uint8 scales_l[4]; uint8 qs[128]}, 256 values in 8 sub-blocks of 32):
 * the 8 sub-block factors {@code d * (ls - 32)} come from one vector pass per super-block (variable shifts of the
 * broadcast scale words), stored to scratch and broadcast from there. Quant bytes widen to int lanes; a nibble
 * indexes the IQ4_NL codebook held as float bits in int lanes: one 16-lane permute on AVX-512, two 8-lane permutes
 * and a blend on AVX2. {@code dl * table[q]} is exact (16 + 7 significant bits), then one FMA.
 */
final class IQ4_XSKernel extends RowKernel {
    private static final VectorSpecies<Byte> B = VectorSpecies.of(byte.class, VectorShape.forBitSize(8 * L));
    private static final VectorSpecies<Integer> I = FLOATS.withLanes(int.class).check(int.class);
    private static final int QK = 256, BYTES = 136, QS = 8;
    private static final int SC = SCRATCH_LANES;
    private static final byte[] VALUES = {-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113};
    /** The codebook as float bits: all 16 entries (L = 16), or entries 0..7 (L = 8) ... */
    private static final IntVector T0 = IntVector.fromArray(I, table(0), 0);
    /** ... and entries 8..15 (L = 8). */
    private static final IntVector T1 = IntVector.fromArray(I, table(8), 0);
    /** Per-lane shifts of scales_l (nibble ib) and scales_h (2 bits at 2ib) for sub-block ib = lane. */
    private static final IntVector SHL = IntVector.fromArray(I, shifts(4), 0), SHH = IntVector.fromArray(I, shifts(2), 0);

    IQ4_XSKernel() {
        super(TensorType.IQ4_XS.format());
    }

    private static int[] table(int from) {
        int[] t = new int[16];
        for (int i = 0; i < 16; i++) t[i] = Float.floatToRawIntBits(VALUES[(from + i) & 15]);
        return t;
    }

    private static int[] shifts(int step) {
        int[] s = new int[16];
        for (int i = 0; i < 8; i++) s[i] = step * i;
        return s;
    }

    private static IntVector q(MemorySegment w, long p) {
        return (IntVector) ByteVector.fromMemorySegment(B, w, p, LE).convertShape(VectorOperators.B2I, I, 0);
    }

    /** Codebook values of the nibbles in {@code idx} (0..15). */
    private static FloatVector lut(IntVector idx) {
        if (L == 16) return idx.selectFrom(T0).reinterpretAsFloats();
        IntVector a = idx.and(7).selectFrom(T0), b = idx.and(7).selectFrom(T1);
        return a.blend(b, idx.compare(VectorOperators.GT, 7)).reinterpretAsFloats();
    }

    private static FloatVector lo(IntVector q, float dl) {
        return lut(q.and(15)).mul(dl);
    }

    private static FloatVector hi(IntVector q, float dl) {
        return lut(q.lanewise(VectorOperators.LSHR, 4).and(15)).mul(dl);
    }

    private static FloatVector x(float[] xs, int o) {
        return FloatVector.fromArray(FLOATS, xs, o);
    }

    /** The 8 factors d * (ls - 32) of the super-block at {@code pb} into {@code s[o .. o + 8)} (L lanes written). */
    private static void factors(MemorySegment w, long pb, float[] s, int o) {
        float d = Float.float16ToFloat(w.get(SHORT, pb));
        IntVector h = IntVector.broadcast(I, w.get(SHORT, pb + 2) & 0xFFFF).lanewise(VectorOperators.LSHR, SHH).and(3);
        IntVector ls = IntVector.broadcast(I, w.get(INT, pb + 4)).lanewise(VectorOperators.LSHR, SHL).and(15)
                .or(h.lanewise(VectorOperators.LSHL, 4)).sub(32);
        ((FloatVector) ls.convert(VectorOperators.I2F, 0)).mul(d).intoArray(s, o);
    }

    @Override
    protected void decode(MemorySegment w, long p0, int n, float[] dst, int off) {
        float[] s = new float[16];
        for (int b = 0; b < n / QK; b++) {
            long pb = p0 + (long) BYTES * b;
            factors(w, pb, s, 0);
            for (int ib = 0; ib < 8; ib++) {
                long qp = pb + QS + 16 * ib;
                int o = off + QK * b + 32 * ib;
                float dl = s[ib];
                if (L == 16) {
                    IntVector a = q(w, qp);
                    lo(a, dl).intoArray(dst, o);
                    hi(a, dl).intoArray(dst, o + 16);
                } else {
                    IntVector a = q(w, qp), c = q(w, qp + 8);
                    lo(a, dl).intoArray(dst, o);
                    lo(c, dl).intoArray(dst, o + 8);
                    hi(a, dl).intoArray(dst, o + 16);
                    hi(c, dl).intoArray(dst, o + 24);
                }
            }
        }
    }

    @Override
    protected float dot(MemorySegment w, long p0, int n, float[] xs, int xOff, float[] s) {
        FloatVector acc = FloatVector.zero(FLOATS);
        for (int b = 0; b < n / QK; b++) {
            long pb = p0 + (long) BYTES * b;
            factors(w, pb, s, SC);
            for (int ib = 0; ib < 8; ib++) {
                long qp = pb + QS + 16 * ib;
                int x = xOff + QK * b + 32 * ib;
                float dl = s[SC + ib];
                if (L == 16) {
                    IntVector a = q(w, qp);
                    acc = lo(a, dl).fma(x(xs, x), acc);
                    acc = hi(a, dl).fma(x(xs, x + 16), acc);
                } else {
                    IntVector a = q(w, qp), c = q(w, qp + 8);
                    acc = lo(a, dl).fma(x(xs, x), acc);
                    acc = lo(c, dl).fma(x(xs, x + 8), acc);
                    acc = hi(a, dl).fma(x(xs, x + 16), acc);
                    acc = hi(c, dl).fma(x(xs, x + 24), acc);
                }
            }
        }
        acc.intoArray(s, 0); // no vector crosses a call: C2 would box it
        return sumLanes(s, 0);
    }

    /** Four rows against one x: each activation vector is loaded once for the four. */
    @Override
    protected void rows4(MemorySegment w, long r0, long rowBytes, int n, float[] xs, int xOff, float[] out, int o,
                         float[] s) {
        long r1 = r0 + rowBytes, r2 = r1 + rowBytes, r3 = r2 + rowBytes;
        FloatVector c0 = FloatVector.zero(FLOATS), c1 = c0, c2 = c0, c3 = c0;
        for (int b = 0; b < n / QK; b++) {
            long bo = (long) BYTES * b;
            factors(w, r0 + bo, s, SC);
            factors(w, r1 + bo, s, SC + 16);
            factors(w, r2 + bo, s, SC + 32);
            factors(w, r3 + bo, s, SC + 48);
            for (int ib = 0; ib < 8; ib++) {
                long qp = bo + QS + 16 * ib;
                int x = xOff + QK * b + 32 * ib;
                float d0 = s[SC + ib], d1 = s[SC + 16 + ib], d2 = s[SC + 32 + ib], d3 = s[SC + 48 + ib];
                if (L == 16) {
                    IntVector a0 = q(w, r0 + qp), a1 = q(w, r1 + qp), a2 = q(w, r2 + qp), a3 = q(w, r3 + qp);
                    FloatVector v = x(xs, x);
                    c0 = lo(a0, d0).fma(v, c0);
                    c1 = lo(a1, d1).fma(v, c1);
                    c2 = lo(a2, d2).fma(v, c2);
                    c3 = lo(a3, d3).fma(v, c3);
                    v = x(xs, x + 16);
                    c0 = hi(a0, d0).fma(v, c0);
                    c1 = hi(a1, d1).fma(v, c1);
                    c2 = hi(a2, d2).fma(v, c2);
                    c3 = hi(a3, d3).fma(v, c3);
                } else {
                    for (int e = 0; e < 16; e += 8) { // low nibbles of bytes 0..7, 8..15
                        FloatVector v = x(xs, x + e);
                        c0 = lo(q(w, r0 + qp + e), d0).fma(v, c0);
                        c1 = lo(q(w, r1 + qp + e), d1).fma(v, c1);
                        c2 = lo(q(w, r2 + qp + e), d2).fma(v, c2);
                        c3 = lo(q(w, r3 + qp + e), d3).fma(v, c3);
                    }
                    for (int e = 0; e < 16; e += 8) { // then their high nibbles
                        FloatVector v = x(xs, x + 16 + e);
                        c0 = hi(q(w, r0 + qp + e), d0).fma(v, c0);
                        c1 = hi(q(w, r1 + qp + e), d1).fma(v, c1);
                        c2 = hi(q(w, r2 + qp + e), d2).fma(v, c2);
                        c3 = hi(q(w, r3 + qp + e), d3).fma(v, c3);
                    }
                }
            }
        }
        c0.intoArray(s, 0);
        c1.intoArray(s, L);
        c2.intoArray(s, 2 * L);
        c3.intoArray(s, 3 * L);
        out[o] = sumLanes(s, 0);
        out[o + 1] = sumLanes(s, L);
        out[o + 2] = sumLanes(s, 2 * L);
        out[o + 3] = sumLanes(s, 3 * L);
    }
}
