package dev.fathom.kernel;

import dev.fathom.tensor.TensorType;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorSpecies;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * The fused dequantise-and-dot kernel of one tensor type: dot products of encoded weight rows (read in place from a
 * {@link MemorySegment}, little-endian) with float32 activations. Adding a weight type is one subclass plus one line
 * in {@link RowKernels}.
 *
 * <p>Activations are first {@linkplain #prepare prepared} once per product: copied into the kernel's own layout
 * ({@link #preparedLength} floats for a row of {@code n} values), which lets a kernel permute, pre-scale or
 * pre-sum them (cheap, since one x serves every row). The dot products then read only prepared activations.
 *
 * <p>Determinism: the result for one (row, x) pair is a fixed sequence of float operations that does not depend on
 * how many rows or activation vectors are in the call, nor on the thread that runs it; {@link #dotRowsBatch} must
 * give the bits {@link #dotRows} gives for each x alone.
 */
public abstract class RowKernel {
    /** The 256-bit float species of the kernels shaped for 8 lanes (Q4_K, Q6_K; fine on AVX-512 too). */
    static final VectorSpecies<Float> F8 = FloatVector.SPECIES_256;
    /**
     * The widest vectors the kernels use: the hardware's preferred size, capped by {@code -Dfathom.vector.bits}
     * (256 runs the AVX2 shapes on an AVX-512 machine: the build tests both).
     */
    static final int VECTOR_BITS = Math.min(FloatVector.SPECIES_PREFERRED.vectorBitSize(),
            Math.max(128, Integer.getInteger("fathom.vector.bits", Integer.MAX_VALUE)));
    /** Floats of {@link #VECTOR_BITS}. */
    static final VectorSpecies<Float> FLOATS = VectorSpecies.of(float.class, VectorShape.forBitSize(VECTOR_BITS));
    static final ValueLayout.OfShort SHORT = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final ValueLayout.OfInt INT = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;

    /**
     * Per-thread scratch layout: {@code scratch[0 .. SCRATCH_LANES)} for lane sums, then room for one decoded row
     * (the caller sizes it {@code SCRATCH_LANES + maxRowLength}).
     */
    static final int SCRATCH_LANES = 64;

    private final TensorType type;

    protected RowKernel(TensorType type) {
        this.type = type;
    }

    public final TensorType type() {
        return type;
    }

    /** Prepared floats per activation vector of {@code n} values (n a whole number of blocks). */
    public int preparedLength(int n) {
        return n;
    }

    /** Writes the prepared form of {@code x[xOff .. xOff + n)} into {@code dst[dstOff .. + preparedLength(n))}. */
    public void prepare(float[] x, int xOff, int n, float[] dst, int dstOff) {
        System.arraycopy(x, xOff, dst, dstOff, n);
    }

    /**
     * {@code out[outOff + r] = row r . x} for {@code r < rows}, row r starting at byte {@code off + r * rowBytes} of
     * {@code w} and holding {@code n} values; x is the prepared vector at {@code xp[xpOff ..]}.
     * Groups of four rows go through {@link #rows4} when the kernel has one (each activation block loaded once for
     * the four rows).
     */
    public final void dotRows(MemorySegment w, long off, long rowBytes, int rows, int n,
                              float[] xp, int xpOff, float[] out, int outOff, float[] scratch) {
        int r = 0;
        if (hasRows4()) {
            for (; r + 4 <= rows; r += 4) rows4(w, off + r * rowBytes, rowBytes, n, xp, xpOff, out, outOff + r, scratch);
        }
        for (; r < rows; r++) out[outOff + r] = dot(w, off + r * rowBytes, n, xp, xpOff, scratch);
    }

    /**
     * The dot product of the row of {@code n} values at byte {@code p} of {@code w} with the prepared vector at
     * {@code xp[xpOff ..]}. One row per call on purpose: the method is small enough to be JIT-compiled from its
     * invocation count and inlined whole (a loop over many rows would only get on-stack replacement).
     */
    protected abstract float dot(MemorySegment w, long p, int n, float[] xp, int xpOff, float[] scratch);

    /** Whether {@link #rows4} is implemented. */
    protected boolean hasRows4() {
        return false;
    }

    /**
     * Four rows (at {@code p + k * rowBytes}) against one prepared vector, writing {@code out[o + k]}; the per-row
     * operations must be exactly those of {@link #dot}.
     */
    protected void rows4(MemorySegment w, long p, long rowBytes, int n, float[] xp, int xpOff, float[] out, int o,
                         float[] scratch) {
        throw new UnsupportedOperationException(type + " has no 4-row kernel");
    }

    /**
     * The batched form: for each of {@code nx} prepared vectors {@code j} at {@code xp[xpOff + j * xpStride ..]},
     * {@code out[outOff + j * outStride + r] = row r . x_j}, bit-identical to {@link #dotRows} per x. Groups of four
     * x go through {@link #tile4} when the kernel has one (each weight block decoded once for the four); the rest run
     * one after the other on each row while the row is hot in L1.
     */
    public void dotRowsBatch(MemorySegment w, long off, long rowBytes, int rows, int n, float[] xp, int xpOff,
                             int xpStride, int nx, float[] out, int outOff, int outStride, float[] scratch) {
        int j = 0;
        if (hasTile4()) {
            for (; j + 4 <= nx; j += 4) {
                for (int r = 0; r < rows; r++) {
                    tile4(w, off + r * rowBytes, n, xp, xpOff + j * xpStride, xpStride, out, outOff + j * outStride + r,
                            outStride, scratch);
                }
            }
        }
        for (int r = 0; r < rows; r++) {
            long o = off + r * rowBytes;
            for (int t = j; t < nx; t++) {
                out[outOff + t * outStride + r] = dot(w, o, n, xp, xpOff + t * xpStride, scratch);
            }
        }
    }

    /** Whether {@link #tile4} is implemented. */
    protected boolean hasTile4() {
        return false;
    }

    /**
     * One row of {@code n} values at byte {@code p} against four prepared vectors ({@code x0 + k * xStride}), writing
     * {@code out[o + k * outStride]}; the per-x operations must be exactly those of {@link #dot}.
     */
    protected void tile4(MemorySegment w, long p, int n, float[] xp, int x0, int xStride, float[] out, int o,
                         int outStride, float[] scratch) {
        throw new UnsupportedOperationException(type + " has no 4-wide tile");
    }

    /**
     * Sum of the first {@code count} lanes a vector stored into {@code lanes} (8 for 256 bits, 16 for 512), added
     * pairwise in a fixed order: the same bits in interpreted and compiled code ({@code reduceLanes(ADD)} may
     * reassociate differently once intrinsified), and a short dependency chain. Callers store the vector themselves:
     * a vector passed to a method C2 does not inline is boxed, allocating on every call.
     */
    static float sumLanes(float[] lanes, int count) {
        if (count == 8) return sum8(lanes, 0);
        if (count == 16) return sum8(lanes, 0) + sum8(lanes, 8);
        float s = 0f;
        for (int i = 0; i < count; i++) s += lanes[i];
        return s;
    }

    private static float sum8(float[] l, int o) {
        return ((l[o] + l[o + 1]) + (l[o + 2] + l[o + 3])) + ((l[o + 4] + l[o + 5]) + (l[o + 6] + l[o + 7]));
    }

    @Override
    public String toString() {
        return getClass().getSimpleName() + "[" + type + "]";
    }
}
