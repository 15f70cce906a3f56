package dev.fathom.kernel;

import dev.fathom.tensor.Tensor;

/**
 * The numeric primitives of a forward pass. Weights stay in their stored type: the matrix-vector products decode
 * them block by block as they go. An instance may keep scratch buffers, so it belongs to one sequence / thread.
 * {@link #scalar(int)} gives the plain-Java reference implementation; faster ones (Vector API, threads) implement
 * the same interface.
 */
public interface Kernels extends AutoCloseable {

    /** Scalar kernels able to decode weight rows up to {@code maxRowLength} values. */
    static Kernels scalar(int maxRowLength) {
        return new ScalarKernels(maxRowLength);
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

    /**
     * The transposed product: {@code out[outOff + j] = sum_r x[xOff + r] * W[firstRow + r][j]} for
     * {@code j < w.rowLength()}.
     */
    void matvecTransposed(Tensor w, long firstRow, int rows, float[] x, int xOff, float[] out, int outOff);

    /** {@code out = x / sqrt(mean(x^2) + eps) * weight} over n values ({@code out} may be {@code x}). */
    void rmsnorm(float[] x, int xOff, float[] weight, float eps, float[] out, int outOff, int n);

    /** In-place softmax of {@code x[off .. off + n)}. */
    void softmax(float[] x, int off, int n);

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

    /** Releases worker threads, if any (the scalar kernels have none). */
    @Override
    default void close() {}
}
