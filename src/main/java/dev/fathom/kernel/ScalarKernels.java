package dev.fathom.kernel;

import dev.fathom.tensor.Tensor;

/** Plain scalar Java kernels: one weight row at a time is decoded into a reusable buffer. */
final class ScalarKernels implements Kernels {
    private final float[] row;

    ScalarKernels(int maxRowLength) {
        row = new float[maxRowLength];
    }

    private void checkRows(Tensor w, long firstRow, int rows) {
        if (firstRow < 0 || rows < 0 || firstRow + rows > w.rowCount()) {
            throw new IndexOutOfBoundsException("rows " + firstRow + ".." + (firstRow + rows) + " of " + w);
        }
        if (w.rowLength() > row.length) {
            throw new IllegalArgumentException(w + ": rows longer than the kernel scratch (" + row.length + ")");
        }
    }

    @Override
    public void matvec(Tensor w, long firstRow, int rows, float[] x, int xOff, float[] out, int outOff) {
        checkRows(w, firstRow, rows);
        int n = (int) w.rowLength();
        for (int r = 0; r < rows; r++) {
            w.dequantizeRow(firstRow + r, row); // block scales (FP8) applied
            out[outOff + r] = dot(row, 0, x, xOff, n);
        }
    }

    @Override
    public void rmsnorm(float[] x, int xOff, float[] weight, float eps, float[] out, int outOff, int n) {
        double ss = 0;
        for (int i = 0; i < n; i++) {
            float v = x[xOff + i];
            ss += v * v;
        }
        float scale = (float) (1.0 / Math.sqrt(ss / n + eps));
        for (int i = 0; i < n; i++) out[outOff + i] = x[xOff + i] * scale * weight[i];
    }

    @Override
    public void softmax(float[] x, int off, int n) {
        float max = Float.NEGATIVE_INFINITY;
        for (int i = 0; i < n; i++) max = Math.max(max, x[off + i]);
        double sum = 0;
        for (int i = 0; i < n; i++) {
            float e = (float) Math.exp(x[off + i] - max);
            x[off + i] = e;
            sum += e;
        }
        float inv = (float) (1.0 / sum);
        for (int i = 0; i < n; i++) x[off + i] *= inv;
    }

    @Override
    public float dot(float[] a, int aOff, float[] b, int bOff, int n) {
        float s = 0;
        for (int i = 0; i < n; i++) s += a[aOff + i] * b[bOff + i];
        return s;
    }

    @Override
    public void axpy(float a, float[] x, int xOff, float[] y, int yOff, int n) {
        for (int i = 0; i < n; i++) y[yOff + i] += a * x[xOff + i];
    }

    @Override
    public void swiglu(float[] gate, float[] up, int n) {
        for (int i = 0; i < n; i++) {
            float g = gate[i];
            gate[i] = (float) (g / (1.0 + Math.exp(-g))) * up[i];
        }
    }

    @Override
    public void ropePairs(float[] x, int off, float[] cos, float[] sin, int pairs) {
        for (int i = 0; i < pairs; i++) {
            int j = off + 2 * i;
            float x0 = x[j], x1 = x[j + 1];
            x[j] = x0 * cos[i] - x1 * sin[i];
            x[j + 1] = x0 * sin[i] + x1 * cos[i];
        }
    }

    @Override
    public void ropeHalves(float[] x, int off, float[] cos, float[] sin, int pairs) {
        for (int i = 0; i < pairs; i++) {
            int j = off + i;
            float x0 = x[j], x1 = x[j + pairs];
            x[j] = x0 * cos[i] - x1 * sin[i];
            x[j + pairs] = x0 * sin[i] + x1 * cos[i];
        }
    }
}
