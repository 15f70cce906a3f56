package dev.fathom.kernel;

import dev.fathom.tensor.TensorType;
import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorSpecies;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

import static jdk.incubator.vector.VectorOperators.I2F;
import static jdk.incubator.vector.VectorOperators.LSHL;
import static jdk.incubator.vector.VectorOperators.LSHR;
import static jdk.incubator.vector.VectorOperators.ZERO_EXTEND_B2I;

/**
 * Q6_K (super-blocks of 256 in 210 bytes: {@code uint8 ql[128], qh[64]; int8 scales[16]; fp16 d}). Each half of
 * 128 values uses 64 bytes of ql and 32 of qh; its four groups g of 32 values take the low (g < 2) or high nibbles
 * of ql[32 (g & 1) + l] and bits 2g, 2g + 1 of qh[l]; value = (d * scale) * (q - 32), one int8 scale per 16 values.
 * A vector is the ql and qh bytes of its lanes zero-extended to ints, a mask or shift each, an OR, the offset,
 * the conversion and the scale.
 */
final class Q6_KKernel extends RowKernel {
    private static final VectorSpecies<Byte> B = VectorSpecies.of(byte.class, VectorShape.forBitSize(8 * L));
    private static final VectorSpecies<Integer> I = FLOATS.withLanes(int.class).check(int.class);
    private static final int QK = 256, BYTES = 210, QH = 128, SCALES = 192, D = 208;

    Q6_KKernel() {
        super(TensorType.Q6_K.format());
    }

    /** L quant bytes at {@code p} as int lanes 0..255. */
    private static IntVector bytes(MemorySegment w, long p) {
        return (IntVector) ByteVector.fromMemorySegment(B, w, p, LE).convertShape(ZERO_EXTEND_B2I, I, 0);
    }

    /**
     * Values {@code 32 g + l .. + L} of half {@code half} of the super-block at {@code pb}, d its scale: the
     * nibble of ql[32 (g & 1) + l] (low for g < 2), bits 2g, 2g + 1 of qh[l] above it, minus 32, times the exact
     * {@code d * scale}. The group is a variable, not four unrolled cases: C2 counts nodes at parse time
     * (NodeCountInliningCutoff), so each vector operation must appear once in the bytecode of a method.
     */
    private static FloatVector values(MemorySegment w, long pb, int half, int g, int l, float d) {
        IntVector a = bytes(w, pb + 64 * half + 32 * (g & 1) + l), h = bytes(w, pb + QH + 32 * half + l);
        IntVector q = a.lanewise(LSHR, 4 * (g >> 1)).and(0xF).or(h.lanewise(LSHR, 2 * g).and(3).lanewise(LSHL, 4));
        float s = d * w.get(ValueLayout.JAVA_BYTE, pb + SCALES + 8 * half + 2 * g + l / 16);
        return ((FloatVector) q.sub(32).convertShape(I2F, FLOATS, 0)).mul(s);
    }

    @Override
    protected void decode(MemorySegment w, long p0, int n, float[] dst, int off, float[] factors) {
        for (int b = 0; b < n / QK; b++) {
            long pb = p0 + (long) BYTES * b;
            float d = Float.float16ToFloat(w.get(SHORT, pb + D));
            for (int half = 0; half < 2; half++) {
                for (int g = 0; g < 4; g++) {
                    for (int l = 0; l < 32; l += L) values(w, pb, half, g, l, d).intoArray(dst, off + QK * b + 128 * half + 32 * g + l);
                }
            }
        }
    }

    @Override
    protected float dot(MemorySegment w, long p0, int n, float[] xs, int xOff, float[] scratch) {
        FloatVector acc = FloatVector.zero(FLOATS);
        for (int b = 0; b < n / QK; b++) {
            long pb = p0 + (long) BYTES * b;
            float d = Float.float16ToFloat(w.get(SHORT, pb + D));
            for (int half = 0; half < 2; half++) {
                for (int g = 0; g < 4; g++) {
                    int x = xOff + QK * b + 128 * half + 32 * g;
                    for (int l = 0; l < 32; l += L) acc = values(w, pb, half, g, l, d).fma(FloatVector.fromArray(FLOATS, xs, x + l), acc);
                }
            }
        }
        acc.intoArray(scratch, 0); // no vector crosses a call: C2 would box it
        return sumLanes(scratch, 0);
    }
}
