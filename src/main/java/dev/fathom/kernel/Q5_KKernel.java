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
 * scale and min products are scalars per sub-block. Sub-block s takes the low (even s) or high nibbles of chunk s / 2;
 * its fifth bits are bit s of the 32 qh bytes, brought to bit 4 by one rotate (vprold) and a mask, or-ed in.
 * Values convert to float and take dequantize's {@code q * d1 - m1} (a multiply and a subtract, no FMA).
 *
 * <p>One loop body per sub-block position, the nibble shift and qh rotation loop variables: C2 counts nodes at parse
 * time (NodeCountInliningCutoff, 18000 nodes; a zero-extending byte load costs ~1350, a lane-wise op 350-700), so a
 * flat chunk of vectors, or rows sharing x, overflows it and the vector calls box.
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

    /** Scale (low 32 bits: sub-blocks 0..3, high: 4..7) or min bytes of get_scale_min_k4, eight 6-bit fields. */
    private static long fields(int a, int m, int c, boolean mins) {
        return mins ? (m & 0x3F3F3F3FL) | ((((c >>> 4) & 0x0F0F0F0FL) | ((m >>> 2) & 0x30303030L)) << 32)
                : (a & 0x3F3F3F3FL) | (((c & 0x0F0F0F0FL) | ((a >>> 2) & 0x30303030L)) << 32);
    }

    /** Values {@code 32 s + k .. + L} of the super-block at {@code pb}: {@code q * d1 - m1}, q with its fifth bit. */
    private static FloatVector values(MemorySegment w, long pb, int s, int k, float d1, float m1) {
        IntVector v = bytes(w, pb + QS + 32 * (s >> 1) + k), h = bytes(w, pb + QH + k);
        IntVector q = v.lanewise(LSHR, 4 * (s & 1)).and(0xF).or(h.lanewise(ROL, (4 - s) & 31).and(0x10)); // bit s of qh to bit 4
        return ((FloatVector) q.convertShape(I2F, FLOATS, 0)).mul(d1).sub(m1);
    }

    @Override
    protected void decode(MemorySegment w, long p0, int n, float[] dst, int off, float[] factors) {
        for (int b = 0; b < n / QK; b++) {
            long pb = p0 + (long) BYTES * b;
            float d = Float.float16ToFloat(w.get(SHORT, pb)), dmin = Float.float16ToFloat(w.get(SHORT, pb + 2));
            int a = w.get(INT, pb + 4), m = w.get(INT, pb + 8), c = w.get(INT, pb + 12);
            long sc = fields(a, m, c, false), mn = fields(a, m, c, true);
            for (int s = 0; s < 8; s++) {
                float d1 = d * (int) ((sc >>> 8 * s) & 0xFF), m1 = dmin * (int) ((mn >>> 8 * s) & 0xFF);
                for (int k = 0; k < 32; k += L) values(w, pb, s, k, d1, m1).intoArray(dst, off + QK * b + 32 * s + k);
            }
        }
    }

    @Override
    protected float dot(MemorySegment w, long p0, int n, float[] xs, int xOff, float[] scratch) {
        FloatVector acc = FloatVector.zero(FLOATS);
        for (int b = 0; b < n / QK; b++) {
            long pb = p0 + (long) BYTES * b;
            float d = Float.float16ToFloat(w.get(SHORT, pb)), dmin = Float.float16ToFloat(w.get(SHORT, pb + 2));
            int a = w.get(INT, pb + 4), m = w.get(INT, pb + 8), c = w.get(INT, pb + 12);
            long sc = fields(a, m, c, false), mn = fields(a, m, c, true);
            for (int s = 0; s < 8; s++) {
                float d1 = d * (int) ((sc >>> 8 * s) & 0xFF), m1 = dmin * (int) ((mn >>> 8 * s) & 0xFF);
                int x = xOff + QK * b + 32 * s;
                for (int k = 0; k < 32; k += L) acc = values(w, pb, s, k, d1, m1).fma(x(xs, x + k), acc);
            }
        }
        acc.intoArray(scratch, 0); // no vector crosses a call: C2 would box it
        return sumLanes(scratch, 0);
    }
}
