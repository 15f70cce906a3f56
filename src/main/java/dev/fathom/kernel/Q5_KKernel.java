package dev.fathom.kernel;

import dev.fathom.tensor.TensorType;
import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorSpecies;

import java.lang.foreign.MemorySegment;

import static jdk.incubator.vector.VectorOperators.I2F;
import static jdk.incubator.vector.VectorOperators.LSHR;
import static jdk.incubator.vector.VectorOperators.ROL;
import static jdk.incubator.vector.VectorOperators.ZERO_EXTEND_B2I;

/**
 * Q5_K (super-blocks of 256 in 176 bytes: {@code fp16 d, dmin; uint8 scales[12]; uint8 qh[32]; uint8 qs[128]}; eight
 * sub-blocks of 32 with 6-bit scales and mins as in Q4_K; value = (d * scale) * (q + 16 * hbit) - (dmin * min)). The
 * scale and min products are scalars per sub-block, broadcast once. Each 64-value chunk j reads its 32 quant bytes
 * once per {@link #L} lanes (one vpmovzxbd), low nibbles for sub-block 2j and high nibbles for 2j + 1; their fifth
 * bits are bits 2j and 2j + 1 of the 32 qh bytes, brought to bit 4 by one rotate (vprold) and a mask, or-ed in.
 * Values convert to float and take dequantize's {@code q * d1 - m1} (a multiply and a subtract, no FMA).
 *
 * <p>At 16 lanes the sums are fused, one row per call, one sub-block (two vectors) per loop iteration with its nibble
 * shift and qh rotation as loop variables: C2's parse-time node budget (NodeCountInliningCutoff, 18000 nodes) holds
 * about three such vectors per method (a zero-extending byte load costs ~1350 nodes, a lane-wise op 350-700), so a
 * flat chunk of four vectors, or two rows sharing x, overflows it and the vector calls box. At 8 lanes a row is
 * decoded into the scratch array and summed from there (four rows through {@link RowKernel#rows4}).
 */
final class Q5_KKernel extends RowKernel {
    private static final VectorSpecies<Byte> B = VectorSpecies.of(byte.class, VectorShape.forBitSize(8 * L));
    private static final VectorSpecies<Integer> I = FLOATS.withLanes(int.class).check(int.class);
    private static final int QK = 256, BYTES = 176, QH = 16, QS = 48;
    Q5_KKernel() {
        super(TensorType.Q5_K.format());
    }

    /** L bytes at {@code p} as int lanes 0..255. */
    private static IntVector bytes(MemorySegment w, long p) {
        return (IntVector) ByteVector.fromMemorySegment(B, w, p, LE).convertShape(ZERO_EXTEND_B2I, I, 0);
    }

    private static FloatVector x(float[] xs, int i) {
        return FloatVector.fromArray(FLOATS, xs, i);
    }

    private static FloatVector f(IntVector v) {
        return (FloatVector) v.convertShape(I2F, FLOATS, 0);
    }

    @Override
    protected void decode(MemorySegment w, long p0, int n, float[] dst, int off) {
        IntVector mF = IntVector.broadcast(I, 0xF), m10 = IntVector.broadcast(I, 0x10);
        for (int b = 0; b < n / QK; b++) {
            long pb = p0 + (long) BYTES * b;
            float d = Float.float16ToFloat(w.get(SHORT, pb)), dmin = Float.float16ToFloat(w.get(SHORT, pb + 2));
            int a = w.get(INT, pb + 4), m = w.get(INT, pb + 8), c = w.get(INT, pb + 12);
            int scLo = a & 0x3F3F3F3F, mnLo = m & 0x3F3F3F3F;
            int scHi = (c & 0x0F0F0F0F) | ((a >>> 2) & 0x30303030), mnHi = ((c >>> 4) & 0x0F0F0F0F) | ((m >>> 2) & 0x30303030);
            for (int j = 0; j < 4; j++) {
                int sw = j < 2 ? scLo : scHi, mw = j < 2 ? mnLo : mnHi, sh = 16 * (j & 1);
                FloatVector d1 = FloatVector.broadcast(FLOATS, d * ((sw >>> sh) & 0xFF));
                FloatVector m1 = FloatVector.broadcast(FLOATS, dmin * ((mw >>> sh) & 0xFF));
                FloatVector d2 = FloatVector.broadcast(FLOATS, d * ((sw >>> sh + 8) & 0xFF));
                FloatVector m2 = FloatVector.broadcast(FLOATS, dmin * ((mw >>> sh + 8) & 0xFF));
                int rl = (4 - 2 * j) & 31, rh = (3 - 2 * j) & 31; // bit 2j, 2j + 1 of qh rotated to bit 4
                long q = pb + QS + 32L * j;
                int o = off + QK * b + 64 * j;
                for (int k = 0; k < 32; k += L) {
                    IntVector v = bytes(w, q + k), h = bytes(w, pb + QH + k);
                    f(v.and(mF).or(h.lanewise(ROL, rl).and(m10))).mul(d1).sub(m1).intoArray(dst, o + k);
                    f(v.lanewise(LSHR, 4).or(h.lanewise(ROL, rh).and(m10))).mul(d2).sub(m2).intoArray(dst, o + 32 + k);
                }
            }
        }
    }

    /** Fused at 16 lanes; at 8 the decoded row's canonical sum. */
    @Override
    protected float dot(MemorySegment w, long p0, int n, float[] xs, int xOff, float[] scratch) {
        if (L == 16) return dot16(w, p0, n, xs, xOff, scratch);
        decode(w, p0, n, scratch, SCRATCH_LANES);
        return dotDecoded(scratch, SCRATCH_LANES, xs, xOff, n, scratch);
    }

    private static float dot16(MemorySegment w, long p0, int n, float[] xs, int xOff, float[] scratch) {
        IntVector mF = IntVector.broadcast(I, 0xF), m10 = IntVector.broadcast(I, 0x10);
        FloatVector acc = FloatVector.zero(FLOATS);
        for (int b = 0; b < n / QK; b++) {
            long pb = p0 + (long) BYTES * b;
            float d = Float.float16ToFloat(w.get(SHORT, pb)), dmin = Float.float16ToFloat(w.get(SHORT, pb + 2));
            int a = w.get(INT, pb + 4), m = w.get(INT, pb + 8), c = w.get(INT, pb + 12);
            long sc = (a & 0x3F3F3F3FL) | (((c & 0x0F0F0F0FL) | ((a >>> 2) & 0x30303030L)) << 32);
            long mn = (m & 0x3F3F3F3FL) | ((((c >>> 4) & 0x0F0F0F0FL) | ((m >>> 2) & 0x30303030L)) << 32);
            for (int s = 0; s < 8; s++) { // sub-block s: chunk s / 2, nibbles s % 2
                int sh = 8 * s, half = s & 1;
                FloatVector d1 = FloatVector.broadcast(FLOATS, d * (int) ((sc >>> sh) & 0xFF));
                FloatVector m1 = FloatVector.broadcast(FLOATS, dmin * (int) ((mn >>> sh) & 0xFF));
                int r = (4 - s) & 31; // bit s of qh rotated to bit 4
                long q = pb + QS + 32L * (s >> 1);
                int x = xOff + QK * b + 32 * s;
                IntVector v0 = bytes(w, q), v1 = bytes(w, q + 16), h0 = bytes(w, pb + QH), h1 = bytes(w, pb + QH + 16);
                acc = f(v0.lanewise(LSHR, 4 * half).and(mF).or(h0.lanewise(ROL, r).and(m10))).mul(d1).sub(m1).fma(x(xs, x), acc);
                acc = f(v1.lanewise(LSHR, 4 * half).and(mF).or(h1.lanewise(ROL, r).and(m10))).mul(d1).sub(m1).fma(x(xs, x + 16), acc);
            }
        }
        acc.intoArray(scratch, 0); // no vector crosses a call: C2 would box it
        return sumLanes(scratch, 0);
    }

    /** Four rows: at 16 lanes four fused one-row sums. */
    @Override
    protected void rows4(MemorySegment w, long r0, long rowBytes, int n, float[] xs, int xOff, float[] out, int o,
                         float[] scratch) {
        if (L != 16) {
            super.rows4(w, r0, rowBytes, n, xs, xOff, out, o, scratch);
            return;
        }
        out[o] = dot16(w, r0, n, xs, xOff, scratch);
        out[o + 1] = dot16(w, r0 + rowBytes, n, xs, xOff, scratch);
        out[o + 2] = dot16(w, r0 + 2 * rowBytes, n, xs, xOff, scratch);
        out[o + 3] = dot16(w, r0 + 3 * rowBytes, n, xs, xOff, scratch);
    }
}
