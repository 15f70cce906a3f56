package dev.fathom.kernel;

import dev.fathom.tensor.BlockFormat;
import dev.fathom.tensor.TensorType;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorSpecies;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * Dot products of one tensor type's encoded weight rows (read in place from a {@link MemorySegment},
 * little-endian) with float32 activations. This base class is the whole path for a type without a fused kernel:
 * rows are decoded by the type's bit-exact {@link BlockFormat} and dotted with float vectors. A fused kernel (a
 * subclass, one line in {@link RowKernels}) decodes in registers instead; adding a weight type is one subclass.
 *
 * <p><b>The canonical sum.</b> Every path computes, for one (row w, activation x) pair of {@code n} values,
 * exactly: {@code acc = 0; for i in 0, L, 2L, ..: acc = fma(w[i..i+L), x[i..i+L), acc)} over vectors of
 * {@link #L} float lanes, then {@link #sumLanes} of acc, then {@code s += w[i] * x[i]} for the tail values one by
 * one. {@code w[i]} is the exact dequantised value ({@code q * d} is exact in float32), so a fused decode kernel
 * ({@link #dot}), the panel GEMM of batches ({@link PanelGemm}) and a decoded row give the same
 * bits: a row's result depends neither on the other rows or activations of the call nor on the thread running
 * it (decode alone == batch == prompt rows).
 */
public class RowKernel {
    /**
     * The vector size of every kernel: the hardware's preferred size, capped by {@code -Dfathom.vector.bits}
     * (256 runs the AVX2 shapes on an AVX-512 machine: the build tests both).
     */
    static final int VECTOR_BITS = Math.min(FloatVector.SPECIES_PREFERRED.vectorBitSize(),
            Math.max(128, Integer.getInteger("fathom.vector.bits", Integer.MAX_VALUE)));
    /** Floats of {@link #VECTOR_BITS}: the lanes of the canonical sum. */
    static final VectorSpecies<Float> FLOATS = VectorSpecies.of(float.class, VectorShape.forBitSize(VECTOR_BITS));
    /** Lanes of {@link #FLOATS}. */
    static final int L = FLOATS.length();
    /** Whether the fused kernels (written for 8 and 16 lanes) run; 128-bit machines take the decoded-row path. */
    static final boolean FUSED = L == 8 || L == 16;
    static final ValueLayout.OfShort SHORT = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final ValueLayout.OfInt INT = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;

    /** Floats at the start of a scratch array kept for lane sums. */
    static final int SCRATCH_LANES = 64;

    private final BlockFormat format;

    RowKernel(BlockFormat format) {
        this.format = format;
    }

    public final TensorType type() {
        return format.type();
    }

    /** Scratch floats one thread needs for rows of up to {@code maxRowLength} values (lanes, a decoded row). */
    static int scratchLength(int maxRowLength) {
        return SCRATCH_LANES + maxRowLength;
    }

    /**
     * Writes the exact values of the row of {@code n} values at byte {@code p} of {@code w} into
     * {@code dst[off .. off + n)}; fused kernels override it with a vector decoder giving the same bits.
     * {@code factors[0 .. SCRATCH_LANES)} is scratch for a block's scale products (no array per row: escape analysis
     * does not remove one here, and the panel GEMM decodes a row per weight row of every chunk).
     */
    protected void decode(MemorySegment w, long p, int n, float[] dst, int off, float[] factors) {
        format.dequantize(w, p, dst, off, n);
    }

    /**
     * {@code out[outOff + r] = row r . x} for {@code r < rows}, row r starting at byte {@code off + r * rowBytes} of
     * {@code w} and holding {@code n} values, x at {@code xs[xOff ..]}. One {@link #dot} call site on purpose: C2
     * gives up inlining past a parse-time node count (NodeCountInliningCutoff, 18000), and a second or third copy of a
     * fused row's vector code in one compiled method passes it, leaving Vector API calls out of line and boxed (an
     * allocation per operation, 5-10x slower).
     */
    public final void dotRows(MemorySegment w, long off, long rowBytes, int rows, int n,
                              float[] xs, int xOff, float[] out, int outOff, float[] scratch) {
        for (int r = 0; r < rows; r++) out[outOff + r] = dot(w, off + r * rowBytes, n, xs, xOff, scratch);
    }

    /**
     * The canonical sum of the row of {@code n} values at byte {@code p} of {@code w} with {@code xs[xOff ..]}.
     * One row per call on purpose: the method is small enough to be JIT-compiled from its invocation count and
     * inlined whole (a loop over many rows would only get on-stack replacement).
     */
    protected float dot(MemorySegment w, long p, int n, float[] xs, int xOff, float[] scratch) {
        decode(w, p, n, scratch, SCRATCH_LANES, scratch); // the factors use lanes[0 ..] before the sum does
        return dotDecoded(scratch, SCRATCH_LANES, xs, xOff, n, scratch);
    }

    /**
     * The batched form: for each of {@code nx} activation vectors {@code j} at {@code xs[xOff + j * xStride ..]},
     * {@code out[outOff + j * outStride + r] = row r . x_j}, through the panel GEMM; bit-identical to
     * {@link #dotRows} per x.
     */
    public final void dotRowsBatch(MemorySegment w, long off, long rowBytes, int rows, int n, float[] xs, int xOff,
                                   int xStride, int nx, float[] out, int outOff, int outStride, PanelGemm gemm) {
        gemm.multiply(this, w, off, rowBytes, rows, n, xs, xOff, xStride, nx, out, outOff, outStride);
    }

    /** The canonical sum of {@code a[aOff ..]} and {@code x[xOff ..]} over n values ({@code lanes[0 .. L)} scratch). */
    static float dotDecoded(float[] a, int aOff, float[] x, int xOff, int n, float[] lanes) {
        FloatVector acc = FloatVector.zero(FLOATS);
        int i = 0;
        for (; i <= n - L; i += L) {
            acc = FloatVector.fromArray(FLOATS, a, aOff + i).fma(FloatVector.fromArray(FLOATS, x, xOff + i), acc);
        }
        acc.intoArray(lanes, 0); // no vector crosses a call: C2 would box it
        return tail(a, aOff, x, xOff, i, n, sumLanes(lanes, 0));
    }

    /** {@code s} plus the tail values {@code i .. n} of the canonical sum, one by one. */
    static float tail(float[] a, int aOff, float[] x, int xOff, int i, int n, float s) {
        for (; i < n; i++) s += a[aOff + i] * x[xOff + i];
        return s;
    }

    /**
     * Sum of the {@link #L} lanes a vector stored at {@code lanes[o ..]}, added pairwise in a fixed order: the same
     * bits in interpreted and compiled code ({@code reduceLanes(ADD)} may reassociate differently once
     * intrinsified), and a short dependency chain. Callers store the vector themselves: a vector passed to a method
     * C2 does not inline is boxed, allocating on every call.
     */
    static float sumLanes(float[] lanes, int o) {
        if (L == 4) return (lanes[o] + lanes[o + 1]) + (lanes[o + 2] + lanes[o + 3]);
        if (L == 8) return sum8(lanes, o);
        if (L == 16) return sum8(lanes, o) + sum8(lanes, o + 8);
        float s = 0f;
        for (int i = 0; i < L; i++) s += lanes[o + i];
        return s;
    }

    private static float sum8(float[] l, int o) {
        return ((l[o] + l[o + 1]) + (l[o + 2] + l[o + 3])) + ((l[o + 4] + l[o + 5]) + (l[o + 6] + l[o + 7]));
    }

    @Override
    public String toString() {
        return getClass().getSimpleName() + "[" + type() + "]";
    }
}
