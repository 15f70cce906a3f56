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
 * Q5_0 ({@code fp16 d; uint32 qh; uint8 qs[16]}; value j = (low nibble of qs[j] | bit j of qh << 4) - 16, value
 * j + 16 = (high nibble | bit j + 12 of qh, at 0x10) - 16, times d): the nibbles as in {@link Q4_0Kernel}; the fifth
 * bits by one variable shift per vector of the broadcast qh word (lane j shifted by j, or by j + 12 for the high
 * nibbles) and a mask.
 */
final class Q5_0Kernel extends RowKernel {
    private static final VectorSpecies<Byte> B = VectorSpecies.of(byte.class, VectorShape.forBitSize(8 * L));
    private static final VectorSpecies<Integer> I = FLOATS.withLanes(int.class).check(int.class);
    private static final int QK = 32, BYTES = 22;
    /** Shift of qh giving value j's fifth bit at 0x10: j - 4 is done as (qh << 4) >>> j for j < 16, j + 12 for the rest. */
    private static final int[] SHIFTS = new int[32];

    static {
        for (int j = 0; j < 16; j++) {
            SHIFTS[j] = j;
            SHIFTS[16 + j] = j + 12;
        }
    }

    Q5_0Kernel() {
        super(TensorType.Q5_0.format());
    }

    /** L quant bytes at {@code p} as int lanes 0..255. */
    private static IntVector bytes(MemorySegment w, long p) {
        return (IntVector) ByteVector.fromMemorySegment(B, w, p, LE).convertShape(ZERO_EXTEND_B2I, I, 0);
    }

    /**
     * Values {@code i .. i + L} of the block at {@code pb}: the low nibbles of qs[i..] for i < 16, the high ones of
     * qs[i - 16 ..] above, the fifth bits of qh shifted to 0x10, minus 16, times d. One body for every i: C2 counts
     * nodes at parse time (NodeCountInliningCutoff), so each vector operation appears once per method.
     */
    private static FloatVector values(MemorySegment w, long pb, int i, int qh, float d) {
        IntVector q = bytes(w, pb + 6 + (i & 15)).lanewise(LSHR, 4 * (i >> 4)).and(0xF);
        IntVector h = IntVector.broadcast(I, i < 16 ? qh << 4 : qh).lanewise(LSHR, IntVector.fromArray(I, SHIFTS, i)).and(0x10);
        return ((FloatVector) q.or(h).sub(16).convertShape(I2F, FLOATS, 0)).mul(d);
    }

    private static float d(MemorySegment w, long pb) {
        return Float.float16ToFloat(w.get(SHORT, pb));
    }

    @Override
    protected void decode(MemorySegment w, long p0, int n, float[] dst, int off, float[] factors) {
        for (int b = 0; b < n / QK; b++) {
            long pb = p0 + (long) BYTES * b;
            float d = d(w, pb);
            int qh = w.get(INT, pb + 2);
            for (int i = 0; i < QK; i += L) values(w, pb, i, qh, d).intoArray(dst, off + QK * b + i);
        }
    }

    @Override
    protected float dot(MemorySegment w, long p0, int n, float[] xs, int xOff, float[] scratch) {
        FloatVector acc = FloatVector.zero(FLOATS);
        for (int b = 0; b < n / QK; b++) {
            long pb = p0 + (long) BYTES * b;
            int x = xOff + QK * b;
            float d = d(w, pb);
            int qh = w.get(INT, pb + 2);
            for (int i = 0; i < QK; i += L) acc = values(w, pb, i, qh, d).fma(FloatVector.fromArray(FLOATS, xs, x + i), acc);
        }
        acc.intoArray(scratch, 0); // no vector crosses a call: C2 would box it
        return sumLanes(scratch, 0);
    }
}
