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
 * Q2_K ({@code uint8 scales[16]; uint8 qs[64]; fp16 d; fp16 dmin}, 256 values): a super-block's 16 scale bytes
 * become, in one vector pass, the 16 sub-block factors {@code d * (sc & 15)} and {@code -(dmin * (sc >> 4))},
 * stored to scratch and broadcast from there (one load each per sub-block of 16). A value is
 * {@code dl * q - ml} with {@code dl * q} exact (4 + 11 + 2 bits), so the single rounding of
 * {@code fma(q, dl, -ml)} gives the same bits. The 2-bit field k of a quant byte is taken in place, without a
 * shift: {@code q & (3 << 2k)} is {@code q << 2k}, and the factor is {@code dl * 4^-k} (exact, a power of two), so
 * one vector costs and, convert, fma, fma. Quant bytes widen once per vector of bytes and serve the four fields.
 */
final class Q2_KKernel extends RowKernel {
    private static final VectorSpecies<Byte> B = VectorSpecies.of(byte.class, VectorShape.forBitSize(8 * L));
    private static final VectorSpecies<Integer> I = FLOATS.withLanes(int.class).check(int.class);
    private static final int QK = 256, BYTES = 84, QS = 16, D = 80, DMIN = 82;
    /** Scratch offset of the factors: dl * 4^-k at [SC + 32r + j], -ml at [SC + 32r + 16 + j] for row r. */
    private static final int SC = SCRATCH_LANES;
    /** 4^-k of sub-block j, k = (j >> 1) & 3 (the lanes of one or two scale vectors). */
    private static final FloatVector KS = FloatVector.fromArray(FLOATS, kScales(), 0);

    Q2_KKernel() {
        super(TensorType.Q2_K.format());
    }

    private static float[] kScales() {
        float[] k = new float[16];
        for (int j = 0; j < 16; j++) k[j] = 1f / (1 << 2 * ((j >> 1) & 3));
        return k;
    }

    private static IntVector q(MemorySegment w, long p) {
        return (IntVector) ByteVector.fromMemorySegment(B, w, p, LE).convertShape(VectorOperators.B2I, I, 0);
    }

    /** The exact values of one vector: field {@code mask} of q, factors of sub-block j from scratch. */
    private static FloatVector v(IntVector q, int mask, float[] s, int j) {
        return ((FloatVector) q.and(mask).convert(VectorOperators.I2F, 0)).fma(s[j], s[j + 16]);
    }

    private static FloatVector x(float[] xs, int o) {
        return FloatVector.fromArray(FLOATS, xs, o);
    }

    /** The 32 factors of the super-block at {@code pb} into {@code s[o ..]}. */
    private static void factors(MemorySegment w, long pb, float[] s, int o) {
        float d = Float.float16ToFloat(w.get(SHORT, pb + D));
        float m = -Float.float16ToFloat(w.get(SHORT, pb + DMIN));
        IntVector sc = q(w, pb);
        ((FloatVector) sc.and(15).convert(VectorOperators.I2F, 0)).mul(d).mul(KS).intoArray(s, o);
        ((FloatVector) sc.lanewise(VectorOperators.LSHR, 4).and(15).convert(VectorOperators.I2F, 0)).mul(m)
                .intoArray(s, o + 16);
        if (L == 8) {
            sc = q(w, pb + 8);
            ((FloatVector) sc.and(15).convert(VectorOperators.I2F, 0)).mul(d).mul(KS).intoArray(s, o + 8);
            ((FloatVector) sc.lanewise(VectorOperators.LSHR, 4).and(15).convert(VectorOperators.I2F, 0)).mul(m)
                    .intoArray(s, o + 24);
        }
    }

    @Override
    protected void decode(MemorySegment w, long p0, int n, float[] dst, int off) {
        float[] s = new float[32];
        for (int b = 0; b < n / QK; b++) {
            long pb = p0 + (long) BYTES * b;
            factors(w, pb, s, 0);
            for (int h = 0; h < 2; h++) {
                long qp = pb + QS + 32 * h;
                int o = off + QK * b + 128 * h, j = 8 * h;
                if (L == 16) {
                    IntVector a = q(w, qp), c = q(w, qp + 16);
                    v(a, 3, s, j).intoArray(dst, o);
                    v(c, 3, s, j + 1).intoArray(dst, o + 16);
                    v(a, 12, s, j + 2).intoArray(dst, o + 32);
                    v(c, 12, s, j + 3).intoArray(dst, o + 48);
                    v(a, 48, s, j + 4).intoArray(dst, o + 64);
                    v(c, 48, s, j + 5).intoArray(dst, o + 80);
                    v(a, 192, s, j + 6).intoArray(dst, o + 96);
                    v(c, 192, s, j + 7).intoArray(dst, o + 112);
                } else {
                    IntVector a0 = q(w, qp), a1 = q(w, qp + 8), a2 = q(w, qp + 16), a3 = q(w, qp + 24);
                    for (int k = 0, m = 3; k < 4; k++, m <<= 2, o += 32, j += 2) {
                        v(a0, m, s, j).intoArray(dst, o);
                        v(a1, m, s, j).intoArray(dst, o + 8);
                        v(a2, m, s, j + 1).intoArray(dst, o + 16);
                        v(a3, m, s, j + 1).intoArray(dst, o + 24);
                    }
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
            for (int h = 0; h < 2; h++) {
                long qp = pb + QS + 32 * h;
                int x = xOff + QK * b + 128 * h, j = SC + 8 * h;
                if (L == 16) {
                    IntVector a = q(w, qp), c = q(w, qp + 16);
                    acc = v(a, 3, s, j).fma(x(xs, x), acc);
                    acc = v(c, 3, s, j + 1).fma(x(xs, x + 16), acc);
                    acc = v(a, 12, s, j + 2).fma(x(xs, x + 32), acc);
                    acc = v(c, 12, s, j + 3).fma(x(xs, x + 48), acc);
                    acc = v(a, 48, s, j + 4).fma(x(xs, x + 64), acc);
                    acc = v(c, 48, s, j + 5).fma(x(xs, x + 80), acc);
                    acc = v(a, 192, s, j + 6).fma(x(xs, x + 96), acc);
                    acc = v(c, 192, s, j + 7).fma(x(xs, x + 112), acc);
                } else {
                    IntVector a0 = q(w, qp), a1 = q(w, qp + 8), a2 = q(w, qp + 16), a3 = q(w, qp + 24);
                    acc = v(a0, 3, s, j).fma(x(xs, x), acc);
                    acc = v(a1, 3, s, j).fma(x(xs, x + 8), acc);
                    acc = v(a2, 3, s, j + 1).fma(x(xs, x + 16), acc);
                    acc = v(a3, 3, s, j + 1).fma(x(xs, x + 24), acc);
                    acc = v(a0, 12, s, j + 2).fma(x(xs, x + 32), acc);
                    acc = v(a1, 12, s, j + 2).fma(x(xs, x + 40), acc);
                    acc = v(a2, 12, s, j + 3).fma(x(xs, x + 48), acc);
                    acc = v(a3, 12, s, j + 3).fma(x(xs, x + 56), acc);
                    acc = v(a0, 48, s, j + 4).fma(x(xs, x + 64), acc);
                    acc = v(a1, 48, s, j + 4).fma(x(xs, x + 72), acc);
                    acc = v(a2, 48, s, j + 5).fma(x(xs, x + 80), acc);
                    acc = v(a3, 48, s, j + 5).fma(x(xs, x + 88), acc);
                    acc = v(a0, 192, s, j + 6).fma(x(xs, x + 96), acc);
                    acc = v(a1, 192, s, j + 6).fma(x(xs, x + 104), acc);
                    acc = v(a2, 192, s, j + 7).fma(x(xs, x + 112), acc);
                    acc = v(a3, 192, s, j + 7).fma(x(xs, x + 120), acc);
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
            factors(w, r1 + bo, s, SC + 32);
            factors(w, r2 + bo, s, SC + 64);
            factors(w, r3 + bo, s, SC + 96);
            for (int h = 0; h < 2; h++) {
                long qp = bo + QS + 32 * h;
                int x = xOff + QK * b + 128 * h, j = SC + 8 * h;
                for (int k = 0, m = 3; k < 4; k++, m <<= 2, x += 32, j += 2) {
                    if (L == 16) {
                        FloatVector v = x(xs, x);
                        c0 = v(q(w, r0 + qp), m, s, j).fma(v, c0);
                        c1 = v(q(w, r1 + qp), m, s, j + 32).fma(v, c1);
                        c2 = v(q(w, r2 + qp), m, s, j + 64).fma(v, c2);
                        c3 = v(q(w, r3 + qp), m, s, j + 96).fma(v, c3);
                        v = x(xs, x + 16);
                        c0 = v(q(w, r0 + qp + 16), m, s, j + 1).fma(v, c0);
                        c1 = v(q(w, r1 + qp + 16), m, s, j + 33).fma(v, c1);
                        c2 = v(q(w, r2 + qp + 16), m, s, j + 65).fma(v, c2);
                        c3 = v(q(w, r3 + qp + 16), m, s, j + 97).fma(v, c3);
                    } else {
                        for (int e = 0; e < 32; e += 8) {
                            int jj = j + (e >> 4);
                            FloatVector v = x(xs, x + e);
                            c0 = v(q(w, r0 + qp + e), m, s, jj).fma(v, c0);
                            c1 = v(q(w, r1 + qp + e), m, s, jj + 32).fma(v, c1);
                            c2 = v(q(w, r2 + qp + e), m, s, jj + 64).fma(v, c2);
                            c3 = v(q(w, r3 + qp + e), m, s, jj + 96).fma(v, c3);
                        }
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
