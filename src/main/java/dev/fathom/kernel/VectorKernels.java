package dev.fathom.kernel;

import dev.fathom.tensor.BlockFormat;
import dev.fathom.tensor.BlockScales;
import dev.fathom.tensor.Tensor;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

import java.lang.foreign.MemorySegment;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Vector API kernels: one activation vector through the fused dequantise-and-dot {@link RowKernel}s, several
 * through the {@link PanelGemm}; products split by output rows over a {@link WorkerPool}. The non-product operations are the scalar ones except {@link #dot} and {@link #axpy}.
 */
final class VectorKernels implements Kernels {
    private static final VectorSpecies<Float> F = RowKernel.FLOATS;
    /** Products smaller than this many weight bytes run on the calling thread only. */
    static final long MIN_PARALLEL_BYTES = 96 * 1024;
    /** Chunks per participant: small enough to balance a busy core, large enough to amortise the claim. */
    private static final int CHUNKS_PER_THREAD = 8;
    private static final long MIN_CHUNK_BYTES = 16 * 1024;

    private final int maxRowLength;
    private final WorkerPool pool;
    private final boolean ownsPool;
    private final float[][] scratch;
    private final ScalarKernels scalar;
    private final ProductJob job = new ProductJob();
    private final PanelGemm[] gemms;
    /** FP8 activations with a row block's scales folded in. */
    private float[] scaled = new float[0];

    VectorKernels(int maxRowLength, WorkerPool pool, boolean ownsPool) {
        this.maxRowLength = maxRowLength;
        this.pool = pool;
        this.ownsPool = ownsPool;
        this.scalar = new ScalarKernels(maxRowLength);
        scratch = new float[pool.threads()][RowKernel.scratchLength(maxRowLength)];
        gemms = new PanelGemm[pool.threads()];
        for (int i = 0; i < gemms.length; i++) gemms[i] = new PanelGemm(maxRowLength);
    }

    private void checkRows(Tensor w, long firstRow, int rows) {
        if (firstRow < 0 || rows < 0 || firstRow + rows > w.rowCount()) {
            throw new IndexOutOfBoundsException("rows " + firstRow + ".." + (firstRow + rows) + " of " + w);
        }
        if (w.rowLength() > maxRowLength) {
            throw new IllegalArgumentException(w + ": rows longer than the kernel scratch (" + maxRowLength + ")");
        }
    }

    @Override
    public void matvec(Tensor w, long firstRow, int rows, float[] x, int xOff, float[] out, int outOff) {
        matmul(w, firstRow, rows, x, xOff, 0, 1, out, outOff, 0);
    }

    @Override
    public void matmul(Tensor w, long firstRow, int rows, float[] xs, int xOff, int xStride, int nx,
                       float[] out, int outOff, int outStride) {
        checkRows(w, firstRow, rows);
        if (nx < 0) throw new IllegalArgumentException("nx < 0: " + nx);
        if (rows == 0 || nx == 0) return;
        RowKernel k = RowKernels.of(w.type());
        int n = (int) w.rowLength();
        BlockScales scales = w.scales();
        if (scales == null) {
            products(k, w, firstRow, rows, n, xs, xOff, xStride, nx, out, outOff, outStride);
            return;
        }
        // Block-scaled weights (FP8): one row block at a time, its scales folded into the activations:
        // sum_c q[r][c] * s[r/B][c/B] * x[c] = sum_c q[r][c] * x'[c] with x'[c] = s[r/B][c/B] * x[c].
        if (scaled.length < n * nx) scaled = new float[Math.max(n * nx, scaled.length * 2)];
        for (long r0 = firstRow; r0 < firstRow + rows; ) {
            long r1 = Math.min(firstRow + rows, (r0 / scales.block() + 1) * scales.block());
            for (int j = 0; j < nx; j++) {
                int x = xOff + j * xStride;
                for (int c0 = 0; c0 < n; c0 += scales.block()) {
                    float s = scales.get(r0, c0);
                    for (int c = c0, end = Math.min(n, c0 + scales.block()); c < end; c++) scaled[j * n + c] = xs[x + c] * s;
                }
            }
            products(k, w, r0, (int) (r1 - r0), n, scaled, 0, n, nx, out, outOff + (int) (r0 - firstRow), outStride);
            r0 = r1;
        }
    }

    /** Rows {@code firstRow ..} of {@code w} against the activations, split over the pool when large enough. */
    private void products(RowKernel k, Tensor w, long firstRow, int rows, int n, float[] xs, int xOff, int xStride,
                          int nx, float[] out, int outOff, int outStride) {
        long rowBytes = w.rowBytes();
        long off = firstRow * rowBytes;
        MemorySegment data = w.data();
        long bytes = rowBytes * rows;
        if (pool.threads() == 1 || bytes < MIN_PARALLEL_BYTES) {
            if (nx == 1) k.dotRows(data, off, rowBytes, rows, n, xs, xOff, out, outOff, scratch[0]);
            else k.dotRowsBatch(data, off, rowBytes, rows, n, xs, xOff, xStride, nx, out, outOff, outStride, gemms[0]);
            return;
        }
        int chunkRows = (int) Math.max((rows + pool.threads() * CHUNKS_PER_THREAD - 1) / (pool.threads() * CHUNKS_PER_THREAD),
                (MIN_CHUNK_BYTES + rowBytes - 1) / rowBytes);
        // whole groups of four rows for the 4-row kernels, of a panel group for batches
        int unit = nx == 1 ? 4 : PanelGemm.GROUP;
        chunkRows = (chunkRows + unit - 1) / unit * unit;
        job.set(k, data, off, rowBytes, rows, n, xs, xOff, xStride, nx, out, outOff, outStride, chunkRows);
        try {
            pool.run(job);
        } finally {
            job.clear();
        }
    }

    /** One product, claimed chunk by chunk by the participants; reused for every call (no allocation). */
    private final class ProductJob extends WorkerPool.Job {
        private final AtomicInteger next = new AtomicInteger();
        private RowKernel k;
        private MemorySegment data;
        private long off, rowBytes;
        private int rows, n, xOff, xStride, nx, outOff, outStride, chunkRows, chunks;
        private float[] xs, out;

        void set(RowKernel k, MemorySegment data, long off, long rowBytes, int rows, int n, float[] xs, int xOff,
                 int xStride, int nx, float[] out, int outOff, int outStride, int chunkRows) {
            this.k = k;
            this.data = data;
            this.off = off;
            this.rowBytes = rowBytes;
            this.rows = rows;
            this.n = n;
            this.xs = xs;
            this.xOff = xOff;
            this.xStride = xStride;
            this.nx = nx;
            this.out = out;
            this.outOff = outOff;
            this.outStride = outStride;
            this.chunkRows = chunkRows;
            this.chunks = (rows + chunkRows - 1) / chunkRows;
            next.set(0);
        }

        void clear() {
            k = null;
            data = null;
            xs = null;
            out = null;
        }

        @Override
        protected void run(int participant) {
            for (int c; (c = next.getAndIncrement()) < chunks; ) {
                int r0 = c * chunkRows;
                int r = Math.min(chunkRows, rows - r0);
                long o = off + r0 * rowBytes;
                if (nx == 1) k.dotRows(data, o, rowBytes, r, n, xs, xOff, out, outOff + r0, scratch[participant]);
                else k.dotRowsBatch(data, o, rowBytes, r, n, xs, xOff, xStride, nx, out, outOff + r0, outStride, gemms[participant]);
            }
        }
    }

    @Override
    public void rmsnorm(float[] x, int xOff, float[] weight, float eps, float[] out, int outOff, int n) {
        scalar.rmsnorm(x, xOff, weight, eps, out, outOff, n);
    }

    @Override
    public void softmax(float[] x, int off, int n) {
        scalar.softmax(x, off, n);
    }

    @Override
    public float dot(float[] a, int aOff, float[] b, int bOff, int n) {
        FloatVector acc = FloatVector.zero(F);
        int i = 0;
        for (; i <= n - F.length(); i += F.length()) {
            acc = FloatVector.fromArray(F, a, aOff + i).fma(FloatVector.fromArray(F, b, bOff + i), acc);
        }
        // Lanes summed in a fixed order without scratch, so dot is safe to call from several threads at once.
        float s = 0f;
        for (int lane = 0; lane < F.length(); lane++) s += acc.lane(lane);
        for (; i < n; i++) s += a[aOff + i] * b[bOff + i];
        return s;
    }

    @Override
    public void axpy(float a, float[] x, int xOff, float[] y, int yOff, int n) {
        int i = 0;
        for (; i <= n - F.length(); i += F.length()) {
            FloatVector.fromArray(F, x, xOff + i).fma(FloatVector.broadcast(F, a), FloatVector.fromArray(F, y, yOff + i)).intoArray(y, yOff + i);
        }
        for (; i < n; i++) y[yOff + i] += a * x[xOff + i];
    }

    @Override
    public void swiglu(float[] gate, float[] up, int n) {
        scalar.swiglu(gate, up, n);
    }

    @Override
    public void ropePairs(float[] x, int off, float[] cos, float[] sin, int pairs) {
        scalar.ropePairs(x, off, cos, sin, pairs);
    }

    @Override
    public void ropeHalves(float[] x, int off, float[] cos, float[] sin, int pairs) {
        scalar.ropeHalves(x, off, cos, sin, pairs);
    }

    @Override
    public void close() {
        if (ownsPool) pool.close();
    }
}
