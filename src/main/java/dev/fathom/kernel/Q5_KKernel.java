package dev.fathom.kernel;

import dev.fathom.tensor.TensorType;
import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorSpecies;

import java.lang.foreign.MemorySegment;

import static jdk.incubator.vector.VectorOperators.I2F;
import static jdk.incubator.vector.VectorOperators.LSHL;
import static jdk.incubator.vector.VectorOperators.LSHR;
import static jdk.incubator.vector.VectorOperators.ZERO_EXTEND_B2I;

/**
 * Q5_K (super-blocks of 256 in 176 bytes: {@code fp16 d, dmin; uint8 scales[12]; uint8 qh[32]; uint8 qs[128]}; eight
 * sub-blocks of 32 with 6-bit scales and mins as in Q4_K; value = (d * scale) * (q + 16 * hbit) - (dmin * min)). The
 * sixteen scale and min products of a super-block are computed once as scalars (four 32-bit words of the packed
 * bytes, see {@link #scales}) into the scratch array. Each 64-value chunk j reads its 32 quant bytes once, low
 * nibbles for sub-block 2j and high nibbles for 2j + 1; their fifth bits are bits 2j and 2j + 1 of the 32 qh bytes,
 * which are shifted right by 2j once per chunk and then moved to bit 4 by one shift and a mask.
 */
final class Q5_KKernel extends RowKernel {
    private static final VectorSpecies<Byte> B = VectorSpecies.of(byte.class, VectorShape.forBitSize(8 * L));
    private static final VectorSpecies<Integer> I = FLOATS.withLanes(int.class).check(int.class);
    private static final int QK = 256, BYTES = 176, QH = 16, QS = 48;
    /** Scratch floats of one row's scales: d * scale[0..8) then dmin * min[0..8). */
    private static final int S = 16;

    Q5_KKernel() {
        super(TensorType.Q5_K.format());
    }

    /**
     * The products {@code d * scale[s]} into {@code dst[o + s]} and {@code dmin * min[s]} into {@code dst[o + 8 + s]}
     * for the super-block at {@code pb}: get_scale_min_k4 on 32-bit words, four 6-bit fields per word.
     */
    private static void scales(MemorySegment w, long pb, float[] dst, int o) {
        float d = Float.float16ToFloat(w.get(SHORT, pb)), dmin = Float.float16ToFloat(w.get(SHORT, pb + 2));
        int a = w.get(INT, pb + 4), m = w.get(INT, pb + 8), c = w.get(INT, pb + 12);
        int scLo = a & 0x3F3F3F3F, mnLo = m & 0x3F3F3F3F;
        int scHi = (c & 0x0F0F0F0F) | ((a >>> 2) & 0x30303030), mnHi = ((c >>> 4) & 0x0F0F0F0F) | ((m >>> 2) & 0x30303030);
        for (int s = 0; s < 4; s++) {
            dst[o + s] = d * ((scLo >>> 8 * s) & 0xFF);
            dst[o + 4 + s] = d * ((scHi >>> 8 * s) & 0xFF);
            dst[o + 8 + s] = dmin * ((mnLo >>> 8 * s) & 0xFF);
            dst[o + 12 + s] = dmin * ((mnHi >>> 8 * s) & 0xFF);
        }
    }

    /** L bytes at {@code p} as int lanes 0..255. */
    private static IntVector bytes(MemorySegment w, long p) {
        return (IntVector) ByteVector.fromMemorySegment(B, w, p, LE).convertShape(ZERO_EXTEND_B2I, I, 0);
    }

    /** Low-nibble values; {@code h} is the qh bytes shifted right by 2j (the fifth bit at bit 0). */
    private static FloatVector lo(IntVector q, IntVector h, float d, float m) {
        IntVector v = q.and(0xF).or(h.lanewise(LSHL, 4).and(0x10));
        return ((FloatVector) v.convertShape(I2F, FLOATS, 0)).mul(d).sub(m);
    }

    /** High-nibble values; {@code h} as for {@link #lo} (the fifth bit at bit 1). */
    private static FloatVector hi(IntVector q, IntVector h, float d, float m) {
        IntVector v = q.lanewise(LSHR, 4).or(h.lanewise(LSHL, 3).and(0x10));
        return ((FloatVector) v.convertShape(I2F, FLOATS, 0)).mul(d).sub(m);
    }

    private static FloatVector x(float[] xs, int i) {
        return FloatVector.fromArray(FLOATS, xs, i);
    }

    @Override
    protected void decode(MemorySegment w, long p0, int n, float[] dst, int off) {
        for (int b = 0; b < n / QK; b++) {
            long pb = p0 + (long) BYTES * b;
            float d = Float.float16ToFloat(w.get(SHORT, pb)), dmin = Float.float16ToFloat(w.get(SHORT, pb + 2));
            int a = w.get(INT, pb + 4), m = w.get(INT, pb + 8), c = w.get(INT, pb + 12);
            int scLo = a & 0x3F3F3F3F, mnLo = m & 0x3F3F3F3F;
            int scHi = (c & 0x0F0F0F0F) | ((a >>> 2) & 0x30303030), mnHi = ((c >>> 4) & 0x0F0F0F0F) | ((m >>> 2) & 0x30303030);
            for (int j = 0; j < 4; j++) {
                int sw = j < 2 ? scLo : scHi, mw = j < 2 ? mnLo : mnHi, sh = 16 * (j & 1);
                float d1 = d * ((sw >>> sh) & 0xFF), m1 = dmin * ((mw >>> sh) & 0xFF);
                float d2 = d * ((sw >>> sh + 8) & 0xFF), m2 = dmin * ((mw >>> sh + 8) & 0xFF);
                long q = pb + QS + 32L * j;
                int o = off + QK * b + 64 * j;
                for (int k = 0; k < 32; k += L) {
                    IntVector v = bytes(w, q + k), h = bytes(w, pb + QH + k).lanewise(LSHR, 2 * j);
                    lo(v, h, d1, m1).intoArray(dst, o + k);
                    hi(v, h, d2, m2).intoArray(dst, o + 32 + k);
                }
            }
        }
    }

    @Override
    protected float dot(MemorySegment w, long p0, int n, float[] xs, int xOff, float[] scratch) {
        final int sc = SCRATCH_LANES;
        FloatVector acc = FloatVector.zero(FLOATS);
        for (int b = 0; b < n / QK; b++) {
            long pb = p0 + (long) BYTES * b;
            scales(w, pb, scratch, sc);
            for (int j = 0; j < 4; j++) {
                long q = pb + QS + 32L * j;
                int x = xOff + QK * b + 64 * j;
                float d1 = scratch[sc + 2 * j], m1 = scratch[sc + 8 + 2 * j];
                float d2 = scratch[sc + 2 * j + 1], m2 = scratch[sc + 9 + 2 * j];
                if (L == 16) {
                    IntVector v0 = bytes(w, q), v1 = bytes(w, q + 16);
                    IntVector h0 = bytes(w, pb + QH).lanewise(LSHR, 2 * j), h1 = bytes(w, pb + QH + 16).lanewise(LSHR, 2 * j);
                    acc = lo(v0, h0, d1, m1).fma(x(xs, x), acc);
                    acc = lo(v1, h1, d1, m1).fma(x(xs, x + 16), acc);
                    acc = hi(v0, h0, d2, m2).fma(x(xs, x + 32), acc);
                    acc = hi(v1, h1, d2, m2).fma(x(xs, x + 48), acc);
                } else {
                    for (int k = 0; k < 32; k += L) {
                        IntVector v = bytes(w, q + k), h = bytes(w, pb + QH + k).lanewise(LSHR, 2 * j);
                        acc = lo(v, h, d1, m1).fma(x(xs, x + k), acc);
                    }
                    for (int k = 0; k < 32; k += L) {
                        IntVector v = bytes(w, q + k), h = bytes(w, pb + QH + k).lanewise(LSHR, 2 * j);
                        acc = hi(v, h, d2, m2).fma(x(xs, x + 32 + k), acc);
                    }
                }
            }
        }
        acc.intoArray(scratch, 0); // no vector crosses a call: C2 would box it
        return sumLanes(scratch, 0);
    }

    /**
     * Four rows against one x, as two pairs on AVX-512 (a method with all four rows inlined exceeds C2's parse-time
     * node cutoff, NodeCountInliningCutoff, and leaves vector calls out of line, boxed), one row per call on AVX2.
     */
    @Override
    protected void rows4(MemorySegment w, long r0, long rowBytes, int n, float[] xs, int xOff, float[] out, int o,
                         float[] scratch) {
        if (L == 8) {
            out[o] = dot(w, r0, n, xs, xOff, scratch);
            out[o + 1] = dot(w, r0 + rowBytes, n, xs, xOff, scratch);
            out[o + 2] = dot(w, r0 + 2 * rowBytes, n, xs, xOff, scratch);
            out[o + 3] = dot(w, r0 + 3 * rowBytes, n, xs, xOff, scratch);
            return;
        }
        rows2(w, r0, r0 + rowBytes, n, xs, xOff, out, o, scratch);
        rows2(w, r0 + 2 * rowBytes, r0 + 3 * rowBytes, n, xs, xOff, out, o + 2, scratch);
    }

    /** Two 16-lane rows: per 64-value chunk, each activation vector is loaded once for both rows. */
    private static void rows2(MemorySegment w, long r0, long r1, int n, float[] xs, int xOff, float[] out, int o,
                              float[] scratch) {
        final int s0 = SCRATCH_LANES, s1 = s0 + S;
        FloatVector c0 = FloatVector.zero(FLOATS), c1 = c0;
        for (int b = 0; b < n / QK; b++) {
            long bo = (long) BYTES * b;
            scales(w, r0 + bo, scratch, s0);
            scales(w, r1 + bo, scratch, s1);
            for (int j = 0; j < 4; j++) {
                long q = bo + QS + 32L * j;
                int x = xOff + QK * b + 64 * j;
                float d0 = scratch[s0 + 2 * j], m0 = scratch[s0 + 8 + 2 * j];
                float d1 = scratch[s1 + 2 * j], m1 = scratch[s1 + 8 + 2 * j];
                for (int k = 0; k < 32; k += L) {
                    FloatVector v = x(xs, x + k);
                    IntVector h = bytes(w, r0 + bo + QH + k).lanewise(LSHR, 2 * j);
                    c0 = lo(bytes(w, r0 + q + k), h, d0, m0).fma(v, c0);
                    h = bytes(w, r1 + bo + QH + k).lanewise(LSHR, 2 * j);
                    c1 = lo(bytes(w, r1 + q + k), h, d1, m1).fma(v, c1);
                }
                d0 = scratch[s0 + 2 * j + 1]; m0 = scratch[s0 + 9 + 2 * j];
                d1 = scratch[s1 + 2 * j + 1]; m1 = scratch[s1 + 9 + 2 * j];
                for (int k = 0; k < 32; k += L) {
                    FloatVector v = x(xs, x + 32 + k);
                    IntVector h = bytes(w, r0 + bo + QH + k).lanewise(LSHR, 2 * j);
                    c0 = hi(bytes(w, r0 + q + k), h, d0, m0).fma(v, c0);
                    h = bytes(w, r1 + bo + QH + k).lanewise(LSHR, 2 * j);
                    c1 = hi(bytes(w, r1 + q + k), h, d1, m1).fma(v, c1);
                }
            }
        }
        c0.intoArray(scratch, 0);
        c1.intoArray(scratch, L);
        out[o] = sumLanes(scratch, 0);
        out[o + 1] = sumLanes(scratch, L);
    }
}
