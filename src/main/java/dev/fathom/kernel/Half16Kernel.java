package dev.fathom.kernel;

import dev.fathom.tensor.HalfFloats;
import dev.fathom.tensor.TensorType;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorSpecies;

import java.lang.foreign.MemorySegment;

/**
 * F16 and BF16 rows: 16-bit lanes widened to float32 exactly with integer operations (the Vector API has no
 * half-float conversion), then the F32 loop shape. BF16 is a 16-bit shift; F16 rebuilds the exponent by a
 * multiplication with 2^112 (exact for normal and subnormal halves) and patches infinities and NaNs; then the
 * canonical sum.
 */
final class Half16Kernel extends RowKernel {
    private static final VectorSpecies<Float> F = RowKernel.FLOATS;
    private static final VectorSpecies<Integer> I = F.withLanes(int.class).check(int.class);
    private static final VectorSpecies<Short> S =
            VectorSpecies.of(short.class, VectorShape.forBitSize(F.vectorBitSize() / 2));
    private static final float TWO_112 = 0x1p112f;

    private final boolean bf16;

    private Half16Kernel(TensorType type) {
        super(type.format());
        bf16 = type == TensorType.BF16;
    }

    static Half16Kernel f16() {
        return new Half16Kernel(TensorType.F16);
    }

    static Half16Kernel bf16() {
        return new Half16Kernel(TensorType.BF16);
    }

    /** Eight (or species-many) 16-bit floats at byte {@code p} as float32. */
    private static FloatVector widen(MemorySegment w, long p, boolean bf16) {
        IntVector v = (IntVector) ShortVector.fromMemorySegment(S, w, p, LE).convertShape(VectorOperators.S2I, I, 0);
        if (bf16) return v.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats();
        IntVector mag = v.and(0x7FFF).lanewise(VectorOperators.LSHL, 13);
        IntVector bits = mag.reinterpretAsFloats().mul(TWO_112).reinterpretAsInts();
        // exponent 31 (inf, NaN) iff mag >= 0x0F800000, i.e. bit 28 of mag + 0x00800000: an all-ones lane mask
        // by integer shifts (cheaper here than compare + blend)
        IntVector special = mag.add(0x00800000).lanewise(VectorOperators.LSHL, 3).lanewise(VectorOperators.ASHR, 31);
        bits = bits.or(mag.or(0x7F800000).and(special));
        return bits.or(v.and(0x80000000)).reinterpretAsFloats();
    }

    private float scalar(MemorySegment w, long p) {
        short h = w.get(SHORT, p);
        return bf16 ? HalfFloats.bf16ToF32(h) : HalfFloats.f16ToF32(h);
    }

    @Override
    protected void decode(MemorySegment w, long p, int n, float[] dst, int off, float[] factors) {
        int i = 0;
        for (; i <= n - L; i += L) widen(w, p + 2L * i, bf16).intoArray(dst, off + i);
        for (; i < n; i++) dst[off + i] = scalar(w, p + 2L * i);
    }

    @Override
    protected float dot(MemorySegment w, long p, int n, float[] xs, int xOff, float[] scratch) {
        final boolean b = bf16;
        FloatVector acc = FloatVector.zero(F);
        int i = 0;
        for (; i <= n - L; i += L) acc = widen(w, p + 2L * i, b).fma(FloatVector.fromArray(F, xs, xOff + i), acc);
        acc.intoArray(scratch, 0); // no vector crosses a call: C2 would box it
        float s = sumLanes(scratch, 0);
        for (; i < n; i++) s += scalar(w, p + 2L * i) * xs[xOff + i];
        return s;
    }
}
