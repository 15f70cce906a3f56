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
 * Q5_1 ({@code fp16 d; fp16 m; uint32 qh; uint8 qs[16]}, value = q * d + m with q = nibble | bit i of qh << 4):
 * the nibbles as in {@link Q4_1Kernel} (one vpmovzxbd per {@link #L} bytes, low nibbles values 0..15, high ones
 * 16..31). The fifth bits come from qh broadcast to all lanes and shifted by a per-lane constant (one vpsrlvd, bit i
 * lands on bit 4), masked and or-ed in. Then {@code fma(q, d, m)}: bit-identical to the format's {@code q * d + m}
 * because {@code q * d} is exact in float32 (5-bit times 11-bit significands), and the canonical sum's FMA.
 */
final class Q5_1Kernel extends RowKernel {
    private static final VectorSpecies<Byte> B = VectorSpecies.of(byte.class, VectorShape.forBitSize(8 * L));
    private static final VectorSpecies<Integer> I = FLOATS.withLanes(int.class).check(int.class);
    private static final int QK = 32, BYTES = 24;

    Q5_1Kernel() {
        super(TensorType.Q5_1.format());
    }

    /** L quant bytes at {@code p}, one per int lane. */
    private static IntVector q(MemorySegment w, long p) {
        return (IntVector) ByteVector.fromMemorySegment(B, w, p, LE).convertShape(VectorOperators.ZERO_EXTEND_B2I, I, 0);
    }

    /** 16-lane rows: lane k takes bit k of qh, from {@code qh << 4}, to bit 4. */
    private static final IntVector SHIFT_LO0 = IntVector.fromArray(I, counts(0), 0);
    /** Lane k: bit 16 + k of qh, from qh itself, at bit 4. */
    private static final IntVector SHIFT_HI0 = IntVector.fromArray(I, counts(12), 0);

    private static int[] counts(int from) {
        int[] c = new int[L];
        for (int k = 0; k < L; k++) c[k] = from + k;
        return c;
    }

    /** Values of the low nibbles; {@code h4} is {@code qh << 4} in every lane. */
    private static FloatVector lo(IntVector q, IntVector h4, IntVector shift, FloatVector d, FloatVector m) {
        IntVector v = q.and(0x0F).or(h4.lanewise(VectorOperators.LSHR, shift).and(0x10));
        return ((FloatVector) v.convertShape(VectorOperators.I2F, FLOATS, 0)).fma(d, m);
    }

    /** Values of the high nibbles; {@code h} is qh in every lane. */
    private static FloatVector hi(IntVector q, IntVector h, IntVector shift, FloatVector d, FloatVector m) {
        IntVector v = q.lanewise(VectorOperators.LSHR, 4).or(h.lanewise(VectorOperators.LSHR, shift).and(0x10));
        return ((FloatVector) v.convertShape(VectorOperators.I2F, FLOATS, 0)).fma(d, m);
    }

    /**
     * 8-lane rows: {@code SPREAD[8 * b + k]} is bit k of the byte b at bit 4, so a byte of qh gives the fifth bits
     * of 8 lanes by one (L1-resident, 8 KiB) vector load instead of a shift and a mask: the 8-lane dot with shifts
     * exceeds C2's parse-time node cutoff (NodeCountInliningCutoff), which boxes vectors.
     */
    private static final int[] SPREAD = spread();

    private static int[] spread() {
        int[] t = new int[256 * 8];
        for (int b = 0; b < 256; b++) for (int k = 0; k < 8; k++) t[8 * b + k] = ((b >>> k) & 1) << 4;
        return t;
    }

    /**
     * 8-lane rows, values {@code 8j .. 8j + 7}: nibbles of bytes {@code 8 (j & 1) ..} (low for j < 2, high after),
     * fifth bits from byte j of qh. One vector body per loop pass, j a loop variable: unrolled by hand, the four
     * bodies exceed C2's parse-time node cutoff once the call sites are polymorphic.
     */
    private static FloatVector values8(MemorySegment w, long pb, int qh, int j, FloatVector d, FloatVector m) {
        IntVector v = q(w, pb + 8 + 8 * (j & 1)).lanewise(VectorOperators.LSHR, 4 * (j >> 1)).and(0x0F)
                .or(IntVector.fromArray(I, SPREAD, ((qh >>> 8 * j) & 0xFF) << 3));
        return ((FloatVector) v.convertShape(VectorOperators.I2F, FLOATS, 0)).fma(d, m);
    }

    private static int qh(MemorySegment w, long pb) {
        return w.get(INT, pb + 4);
    }

    private static FloatVector f16(MemorySegment w, long p) {
        return FloatVector.broadcast(FLOATS, Float.float16ToFloat(w.get(SHORT, p)));
    }

    private static FloatVector x(float[] xs, int i) {
        return FloatVector.fromArray(FLOATS, xs, i);
    }

    @Override
    protected void decode(MemorySegment w, long p0, int n, float[] dst, int off, float[] factors) {
        for (int b = 0; b < n / QK; b++) {
            long pb = p0 + (long) BYTES * b;
            int o = off + QK * b;
            FloatVector d = f16(w, pb), m = f16(w, pb + 2);
            if (L == 16) {
                IntVector q0 = q(w, pb + 8);
                IntVector h = IntVector.broadcast(I, qh(w, pb)), h4 = h.lanewise(VectorOperators.LSHL, 4);
                lo(q0, h4, SHIFT_LO0, d, m).intoArray(dst, o);
                hi(q0, h, SHIFT_HI0, d, m).intoArray(dst, o + 16);
            } else {
                int qh = qh(w, pb);
                for (int j = 0; j < 4; j++) values8(w, pb, qh, j, d, m).intoArray(dst, o + 8 * j);
            }
        }
    }

    @Override
    protected float dot(MemorySegment w, long p0, int n, float[] xs, int xOff, float[] scratch) {
        FloatVector acc = FloatVector.zero(FLOATS);
        for (int b = 0; b < n / QK; b++) {
            long pb = p0 + (long) BYTES * b;
            int x = xOff + QK * b;
            FloatVector d = f16(w, pb), m = f16(w, pb + 2);
            if (L == 16) {
                IntVector q0 = q(w, pb + 8);
                IntVector h = IntVector.broadcast(I, qh(w, pb)), h4 = h.lanewise(VectorOperators.LSHL, 4);
                acc = lo(q0, h4, SHIFT_LO0, d, m).fma(x(xs, x), acc);
                acc = hi(q0, h, SHIFT_HI0, d, m).fma(x(xs, x + 16), acc);
            } else {
                int qh = qh(w, pb);
                for (int j = 0; j < 4; j++) acc = values8(w, pb, qh, j, d, m).fma(x(xs, x + 8 * j), acc);
            }
        }
        acc.intoArray(scratch, 0); // no vector crosses a call: C2 would box it
        return sumLanes(scratch, 0);
    }
}
