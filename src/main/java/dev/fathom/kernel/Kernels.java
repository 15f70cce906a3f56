package dev.fathom.kernel;

import dev.fathom.tensor.Tensor;

/**
 * The numeric primitives of a forward pass. Weights stay in their stored type: the matrix products decode them
 * block by block as they go. An instance keeps scratch buffers for its products, so one forward pass at a time
 * uses it (a model holds one, under its lock); {@link #dot}, {@link #axpy}, {@link #softmax} and
 * {@link #ropePairs} use no scratch and may run on several threads at once (the model's attention does).
 * {@link #scalar(int)} gives the plain-Java reference implementation; {@link #vector(int, int)} the fast one
 * (Vector API, fused dequantise-and-dot per {@linkplain RowKernels tensor type}, products split by output rows
 * over worker threads; {@link #vector(int, WorkerPool)} shares a pool the caller also uses for its own jobs).
 * {@link #matmul} takes token rows of activations at a fixed stride ({@code xs[xOff + t * xStride ..]}) and writes
 * outputs likewise ({@code out[outOff + t * outStride + r]}), decoding each weight block once for several tokens.
 * Activations are float32 and are never quantised; weights are dequantised exactly and multiplied in float32
 * (results differ from the scalar path only by float reassociation). For the vector kernels, the value computed for
 * one (weight row, x) pair does not depend on the other rows or x of the call nor on the thread count:
 * {@code matmul} of a batch gives the bits of {@code matvec} of each x alone.
 */
public interface Kernels extends AutoCloseable {

    /** Scalar kernels able to decode weight rows up to {@code maxRowLength} values. */
    static Kernels scalar(int maxRowLength) {
        return new ScalarKernels(maxRowLength);
    }

    /**
     * Vector API kernels for rows up to {@code maxRowLength} values, with their own pool of {@code threads}
     * participants (the calling thread plus {@code threads - 1} daemon workers); {@link #close} stops the workers.
     */
    static Kernels vector(int maxRowLength, int threads) {
        return new VectorKernels(maxRowLength, new WorkerPool(threads), true);
    }

    /** Vector API kernels on all available processors. */
    static Kernels vector(int maxRowLength) {
        return vector(maxRowLength, Runtime.getRuntime().availableProcessors());
    }

    /** Vector API kernels sharing {@code pool} (not closed by {@link #close}); one product at a time runs on it. */
    static Kernels vector(int maxRowLength, WorkerPool pool) {
        return new VectorKernels(maxRowLength, pool, false);
    }

    /**
     * {@code out[outOff + r] = W[firstRow + r] . x[xOff ..]} for {@code r < rows}, where W is {@code w} seen as a
     * matrix of {@code w.rowCount()} rows of {@code w.rowLength()} values (ggml order: stacked experts and heads are
     * consecutive row ranges).
     */
    void matvec(Tensor w, long firstRow, int rows, float[] x, int xOff, float[] out, int outOff);

    /**
     * The batched product of {@code nx} activation vectors: for {@code t < nx} and {@code r < rows},
     * {@code out[outOff + t * outStride + r] = W[firstRow + r] . xs[xOff + t * xStride ..]}. The same as {@code nx}
     * calls of {@link #matvec}; implementations reuse each decoded weight block across the vectors.
     */
    default void matmul(Tensor w, long firstRow, int rows, float[] xs, int xOff, int xStride, int nx,
                        float[] out, int outOff, int outStride) {
        for (int t = 0; t < nx; t++) matvec(w, firstRow, rows, xs, xOff + t * xStride, out, outOff + t * outStride);
    }

    /** {@code out = x / sqrt(mean(x^2) + eps) * weight} over n values ({@code out} may be {@code x}). */
    void rmsnorm(float[] x, int xOff, float[] weight, float eps, float[] out, int outOff, int n);

    /** In-place softmax of {@code x[off .. off + n)}. */
    void softmax(float[] x, int off, int n);

    /** Safe to call from several threads at once (as are axpy, softmax and ropePairs): it uses no scratch. */
    float dot(float[] a, int aOff, float[] b, int bOff, int n);

    /** {@code y[yOff + i] += a * x[xOff + i]}. */
    void axpy(float a, float[] x, int xOff, float[] y, int yOff, int n);

    /** {@code gate[i] = silu(gate[i]) * up[i]} (SwiGLU). */
    void swiglu(float[] gate, float[] up, int n);

    /**
     * Rotates adjacent pairs {@code (x[2i], x[2i+1])} of {@code x[off .. off + 2 * cos.length)} by the angle whose
     * cosine / sine are {@code cos[i]} / {@code sin[i]} (ggml's NORM rope).
     */
    void ropePairs(float[] x, int off, float[] cos, float[] sin, int pairs);

    /**
     * Rotates the pairs {@code (x[i], x[i + pairs])} of {@code x[off .. off + 2 * pairs)} (HF's rotate_half, ggml's
     * NEOX rope).
     */
    void ropeHalves(float[] x, int off, float[] cos, float[] sin, int pairs);

    /** Releases worker threads, if any (the scalar kernels have none). */
    @Override
    default void close() {}
}
