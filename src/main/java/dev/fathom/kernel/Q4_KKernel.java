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
import static jdk.incubator.vector.VectorOperators.ZERO_EXTEND_B2I;

/**
 * Q4_K (super-blocks of 256 in 144 bytes: {@code fp16 d, dmin; uint8 scales[12]; uint8 qs[128]}; eight sub-blocks of
 * 32 with 6-bit scales and mins; value = (d * scale) * q - (dmin * min)). The sixteen scale and min products of a
 * super-block are computed once as scalars (four 32-bit words of the packed bytes, see {@link #scales}) and stored in
 * the scratch array; each sub-block then takes the low or high nibbles of its chunk's 32 quant bytes, in the
 * canonical order.
 */
final class Q4_KKernel extends RowKernel {
    private static final VectorSpecies<Byte> B = VectorSpecies.of(byte.class, VectorShape.forBitSize(8 * L));
    private static final VectorSpecies<Integer> I = FLOATS.withLanes(int.class).check(int.class);
    private static final int QK = 256, BYTES = 144, QS = 16;

    Q4_KKernel() {
        super(TensorType.Q4_K.format());
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

    /** L quant bytes at {@code p} as int lanes 0..255. */
    private static IntVector bytes(MemorySegment w, long p) {
        return (IntVector) ByteVector.fromMemorySegment(B, w, p, LE).convertShape(ZERO_EXTEND_B2I, I, 0);
    }

    /**
     * Values {@code 32 s + k .. + L} of the super-block at {@code pb} (sub-block s: the low nibbles of chunk s / 2
     * for even s, the high ones for odd s), {@code d1 * q - m1}. The sub-block is a variable, not unrolled cases:
     * C2 counts nodes at parse time (NodeCountInliningCutoff), so each vector operation appears once per method.
     */
    private static FloatVector values(MemorySegment w, long pb, int s, int k, float d1, float m1) {
        IntVector q = bytes(w, pb + QS + 32 * (s >> 1) + k).lanewise(LSHR, 4 * (s & 1)).and(0xF);
        return ((FloatVector) q.convertShape(I2F, FLOATS, 0)).mul(d1).sub(m1);
    }

    @Override
    protected void decode(MemorySegment w, long p0, int n, float[] dst, int off, float[] factors) {
        for (int b = 0; b < n / QK; b++) {
            long pb = p0 + (long) BYTES * b;
            scales(w, pb, factors, 0);
            for (int s = 0; s < 8; s++) {
                for (int k = 0; k < 32; k += L) values(w, pb, s, k, factors[s], factors[8 + s]).intoArray(dst, off + QK * b + 32 * s + k);
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
            for (int s = 0; s < 8; s++) {
                float d1 = scratch[sc + s], m1 = scratch[sc + 8 + s];
                int x = xOff + QK * b + 32 * s;
                for (int k = 0; k < 32; k += L) acc = values(w, pb, s, k, d1, m1).fma(FloatVector.fromArray(FLOATS, xs, x + k), acc);
            }
        }
        acc.intoArray(scratch, 0); // no vector crosses a call: C2 would box it
        return sumLanes(scratch, 0);
    }
}
