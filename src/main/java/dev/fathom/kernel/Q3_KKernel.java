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
import static jdk.incubator.vector.VectorOperators.NOT;
import static jdk.incubator.vector.VectorOperators.ZERO_EXTEND_B2I;

/**
 * Q3_K (super-blocks of 256 in 110 bytes: {@code uint8 hmask[32], qs[64], scales[12]; fp16 d}). Group g = 4h + j
 * (half h, j = 0..3) of 32 values takes bits 2j, 2j + 1 of {@code qs[32h + l]} and bit g of {@code hmask[l]}
 * (cleared: minus 4); value = (d * scale) * v with v = low - 4 * !hbit, one 6-bit scale per 16 values.
 *
 * <p>A vector works in the frame of its quant pair: {@code q & (3 << 2j)} is {@code low * 4^j} without a shift, the
 * inverted hmask bit is moved to bit {@code 2j + 2} and subtracted, giving the integer {@code v * 4^j}, exact in
 * float; it is multiplied by {@code (d * scale) * 4^-j}. That product is bit-identical to the format's
 * {@code (d * scale) * v}: scaling one factor by 4^j and the other by 4^-j is exact (|d * scale| >= 2^-24, far from
 * float's subnormals), so both round the same real number. The sixteen scale products of a super-block are computed
 * once as scalars (ggml's 32-bit word unpacking) into the scratch array.
 */
final class Q3_KKernel extends RowKernel {
    private static final VectorSpecies<Byte> B = VectorSpecies.of(byte.class, VectorShape.forBitSize(8 * L));
    private static final VectorSpecies<Integer> I = FLOATS.withLanes(int.class).check(int.class);
    private static final int QK = 256, BYTES = 110, QS = 32, SCALES = 96, D = 108;
    /** 4^-j: the frame of quant pair j. */
    private static final float[] FRAME = {1f, 0.25f, 0.0625f, 0.015625f};

    Q3_KKernel() {
        super(TensorType.Q3_K.format());
    }

    /**
     * {@code (d * scale[s]) * 4^-j} into {@code dst[o + s]} for the sixteen sub-blocks s of the super-block at
     * {@code pb} (j = (s / 2) % 4, the pair of s's group): the scales unpacked four per 32-bit word.
     */
    private static void scales(MemorySegment w, long pb, float[] dst, int o) {
        float d = Float.float16ToFloat(w.get(SHORT, pb + D));
        int a0 = w.get(INT, pb + SCALES), a1 = w.get(INT, pb + SCALES + 4), t = w.get(INT, pb + SCALES + 8);
        int x0 = (a0 & 0x0F0F0F0F) | ((t & 0x03030303) << 4);
        int x1 = (a1 & 0x0F0F0F0F) | (((t >>> 2) & 0x03030303) << 4);
        int x2 = ((a0 >>> 4) & 0x0F0F0F0F) | (((t >>> 4) & 0x03030303) << 4);
        int x3 = ((a1 >>> 4) & 0x0F0F0F0F) | (((t >>> 6) & 0x03030303) << 4);
        for (int s = 0; s < 4; s++) {
            int sh = 8 * s;
            float f = FRAME[s >> 1], g = FRAME[(s >> 1) + 2];
            dst[o + s] = (d * (((x0 >>> sh) & 0xFF) - 32)) * f;
            dst[o + 4 + s] = (d * (((x1 >>> sh) & 0xFF) - 32)) * g;
            dst[o + 8 + s] = (d * (((x2 >>> sh) & 0xFF) - 32)) * f;
            dst[o + 12 + s] = (d * (((x3 >>> sh) & 0xFF) - 32)) * g;
        }
    }

    /** L quant bytes at {@code p} as int lanes 0..255. */
    private static IntVector bytes(MemorySegment w, long p) {
        return (IntVector) ByteVector.fromMemorySegment(B, w, p, LE).convertShape(ZERO_EXTEND_B2I, I, 0);
    }

    /** The inverted hmask bytes at {@code p}, shifted down by {@code 4h}: bit j is the cleared bit of group 4h + j. */
    private static IntVector hn(MemorySegment w, long p, int sh) {
        return bytes(w, p).lanewise(NOT).lanewise(LSHR, sh);
    }

    /** Values of pair j (constant at every call site) from quant bytes q and shifted inverted hmask hn, times s. */
    private static FloatVector v(IntVector q, IntVector hn, int j, float s) {
        IntVector u = q.and(3 << 2 * j).sub(hn.lanewise(LSHL, j + 2).and(4 << 2 * j));
        return ((FloatVector) u.convertShape(I2F, FLOATS, 0)).mul(s);
    }

    private static FloatVector x(float[] xs, int i) {
        return FloatVector.fromArray(FLOATS, xs, i);
    }

    /** The vector decode, one pipeline at parse time like {@link #dot}; the scales as in {@link #scales}. */
    @Override
    protected void decode(MemorySegment w, long p0, int n, float[] dst, int off, float[] factors) {
        for (int b = 0; b < n / QK; b++) {
            long pb = p0 + (long) BYTES * b;
            float d = Float.float16ToFloat(w.get(SHORT, pb + D));
            int a0 = w.get(INT, pb + SCALES), a1 = w.get(INT, pb + SCALES + 4), t = w.get(INT, pb + SCALES + 8);
            for (int h = 0; h < 2; h++) {
                // sub-blocks 8h .. 8h + 4 (pairs 0, 1) and 8h + 4 .. 8h + 8 (pairs 2, 3)
                int xa = ((a0 >>> 4 * h) & 0x0F0F0F0F) | (((t >>> 4 * h) & 0x03030303) << 4);
                int xb = ((a1 >>> 4 * h) & 0x0F0F0F0F) | (((t >>> 4 * h + 2) & 0x03030303) << 4);
                long q = pb + QS + 32L * h;
                int o = off + QK * b + 128 * h, sh = 4 * h;
                for (int j = 0; j < 4; j++) {
                    int word = j < 2 ? xa : xb;
                    for (int k = 0; k < 32; k += L) {
                        int m = 2 * (j & 1) + (k >> 4); // the sub-block's byte in word
                        float sc = (d * (((word >>> 8 * m) & 0xFF) - 32)) * FRAME[j];
                        v(bytes(w, q + k), hn(w, pb + k, sh), j, sc).intoArray(dst, o + 32 * j + k);
                    }
                }
            }
        }
    }

    /**
     * The canonical sum, one vector pipeline at parse time: with the quant and hmask vectors of a half kept across
     * its four pairs, or the pairs written out, the method exceeds C2's parse-time node cutoff and boxes. The loops
     * have constant trip counts; C2 unrolls them and folds each pair's masks.
     */
    @Override
    protected float dot(MemorySegment w, long p0, int n, float[] xs, int xOff, float[] scratch) {
        final int sc = SCRATCH_LANES;
        FloatVector acc = FloatVector.zero(FLOATS);
        for (int b = 0; b < n / QK; b++) {
            long pb = p0 + (long) BYTES * b;
            scales(w, pb, scratch, sc);
            for (int h = 0; h < 2; h++) {
                long q = pb + QS + 32L * h;
                int x = xOff + QK * b + 128 * h, s = sc + 8 * h, sh = 4 * h;
                for (int j = 0; j < 4; j++) {
                    for (int k = 0; k < 32; k += L) {
                        acc = v(bytes(w, q + k), hn(w, pb + k, sh), j, scratch[s + 2 * j + (k >> 4)])
                                .fma(x(xs, x + 32 * j + k), acc);
                    }
                }
            }
        }
        acc.intoArray(scratch, 0); // no vector crosses a call: C2 would box it
        return sumLanes(scratch, 0);
    }
}
