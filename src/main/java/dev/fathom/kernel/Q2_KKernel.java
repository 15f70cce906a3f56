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
 * Q2_K ({@code uint8 scales[16]; uint8 qs[64]; fp16 d; fp16 dmin}, 256 values): a super-block's 16 scale bytes
 * become, in one vector pass, the 16 sub-block factors {@code d * (sc & 15)} and {@code -(dmin * (sc >> 4))},
 * stored to scratch and broadcast from there (one load each per sub-block of 16). A value is
 * {@code dl * q - ml} with {@code dl * q} exact (4 + 11 + 2 bits), so the single rounding of
 * {@code fma(q, dl, -ml)} gives the same bits. The 2-bit field k of a quant byte is taken in place, without a
 * shift: {@code q & (3 << 2k)} is {@code q << 2k}, and the factor is {@code dl * 4^-k} (exact, a power of two), so
 * one vector costs and, convert, fma, fma. 
 */
final class Q2_KKernel extends RowKernel {
    private static final VectorSpecies<Byte> B = VectorSpecies.of(byte.class, VectorShape.forBitSize(8 * L));
    private static final VectorSpecies<Integer> I = FLOATS.withLanes(int.class).check(int.class);
    private static final int QK = 256, BYTES = 84, QS = 16, D = 80, DMIN = 82;
    /** Scratch offset of the factors: dl * 4^-k at [SC + j], -ml at [SC + 16 + j]. */
    private static final int SC = SCRATCH_LANES;
    /** 4^-k of sub-block j, k = (j >> 1) & 3 (the lanes of one or two scale vectors). */
    private static final FloatVector KS = FloatVector.fromArray(FLOATS, kScales(), 0);

    Q2_KKernel() {
        super(TensorType.Q2_K.format());
    }

    private static float[] kScales() {
        float[] k = new float[16];
        for (int j = 0; j < 16; j++) k[j] = 1f / (1 << 2 * ((j >> 1) & 3));
        return k;
    }

    private static IntVector q(MemorySegment w, long p) {
        return (IntVector) ByteVector.fromMemorySegment(B, w, p, LE).convertShape(VectorOperators.B2I, I, 0);
    }

    /** The exact values of one vector: field {@code mask} of q, factors of sub-block j from scratch. */
    private static FloatVector v(IntVector q, int mask, float[] s, int j) {
        return ((FloatVector) q.and(mask).convert(VectorOperators.I2F, 0)).fma(s[j], s[j + 16]);
    }

    private static FloatVector x(float[] xs, int o) {
        return FloatVector.fromArray(FLOATS, xs, o);
    }

    /**
     * The 32 factors of the super-block at {@code pb} into {@code s[o ..]}, {@link #L} scale bytes per pass: one
     * vector body per loop (C2's parse-time node cutoff counts each unrolled copy).
     */
    private static void factors(MemorySegment w, long pb, float[] s, int o) {
        float d = Float.float16ToFloat(w.get(SHORT, pb + D));
        float m = -Float.float16ToFloat(w.get(SHORT, pb + DMIN));
        for (int t = 0; t < 16; t += L) {
            IntVector sc = q(w, pb + t);
            ((FloatVector) sc.and(15).convert(VectorOperators.I2F, 0)).mul(d).mul(KS).intoArray(s, o + t);
            ((FloatVector) sc.lanewise(VectorOperators.LSHR, 4).and(15).convert(VectorOperators.I2F, 0)).mul(m)
                    .intoArray(s, o + 16 + t);
        }
    }

    @Override
    protected void decode(MemorySegment w, long p0, int n, float[] dst, int off, float[] factors) {
        for (int b = 0; b < n / QK; b++) {
            long pb = p0 + (long) BYTES * b;
            factors(w, pb, factors, 0);
            for (int h = 0; h < 2; h++) {
                for (int k = 0; k < 4; k++) {
                    for (int e = 0; e < 32; e += L) {
                        v(q(w, pb + QS + 32 * h + e), 3 << 2 * k, factors, 8 * h + 2 * k + (e >> 4)).intoArray(dst, off + QK * b + 128 * h + 32 * k + e);
                    }
                }
            }
        }
    }

    /**
     * Field k of a half's 32 quant bytes is values {@code 32k ..} of the half, sub-blocks {@code 2k, 2k + 1}. One
     * loop body for every field: C2 counts nodes at parse time (NodeCountInliningCutoff), so each vector operation
     * appears once per method.
     */
    @Override
    protected float dot(MemorySegment w, long p0, int n, float[] xs, int xOff, float[] s) {
        FloatVector acc = FloatVector.zero(FLOATS);
        for (int b = 0; b < n / QK; b++) {
            long pb = p0 + (long) BYTES * b;
            factors(w, pb, s, SC);
            for (int h = 0; h < 2; h++) {
                for (int k = 0; k < 4; k++) {
                    int x = xOff + QK * b + 128 * h + 32 * k, j = SC + 8 * h + 2 * k;
                    for (int e = 0; e < 32; e += L) {
                        acc = v(q(w, pb + QS + 32 * h + e), 3 << 2 * k, s, j + (e >> 4)).fma(x(xs, x + e), acc);
                    }
                }
            }
        }
        acc.intoArray(s, 0); // no vector crosses a call: C2 would box it
        return sumLanes(s, 0);
    }
}
