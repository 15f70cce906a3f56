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

    /**
     * Values {@code i .. i + L} of the sub-block whose quant bytes start at {@code qp}: low nibbles of bytes i.. for
     * i < 16, high nibbles of bytes i - 16 .. above. One body for every i: C2 counts nodes at parse time
     * (NodeCountInliningCutoff), so each vector operation appears once per method.
     */
    private static FloatVector values(MemorySegment w, long qp, int i, float dl) {
        return lut(q(w, qp + (i & 15)).lanewise(VectorOperators.LSHR, 4 * (i >> 4)).and(15)).mul(dl);
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
    protected void decode(MemorySegment w, long p0, int n, float[] dst, int off, float[] factors) {
        for (int b = 0; b < n / QK; b++) {
            long pb = p0 + (long) BYTES * b;
            factors(w, pb, factors, 0);
            for (int ib = 0; ib < 8; ib++) {
                for (int i = 0; i < 32; i += L) values(w, pb + QS + 16 * ib, i, factors[ib]).intoArray(dst, off + QK * b + 32 * ib + i);
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
                int x = xOff + QK * b + 32 * ib;
                float dl = s[SC + ib];
                for (int i = 0; i < 32; i += L) acc = values(w, pb + QS + 16 * ib, i, dl).fma(x(xs, x + i), acc);
            }
        }
        acc.intoArray(s, 0); // no vector crosses a call: C2 would box it
        return sumLanes(s, 0);
    }
}
