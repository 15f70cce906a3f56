package dev.fathom.kernel;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

import java.lang.foreign.MemorySegment;
import java.util.Arrays;

/**
 * The matrix-matrix product of every weight type (prompt chunks, batches of streams): a group of weight rows is
 * dequantised once into float32 panels (block scales applied: {@code q * d} is exact), then a register-blocked
 * float micro-kernel of 4 rows x 2 activations runs over many activation vectors. Each (row, x) pair keeps one
 * vector accumulator whose FMAs run over the row in ascending order, blocks of {@link #KC} values resumed from
 * memory: the canonical sum of {@link RowKernel}, so the result is the one decode computes for that x alone.
 * Loops are blocked so the panels' current columns stay in L1 and a block of {@link #X_BLOCK} activations in L2.
 * One instance per thread (it owns its panel and accumulator memory).
 */
final class PanelGemm {
    private static final VectorSpecies<Float> F = RowKernel.FLOATS;
    private static final int L = RowKernel.L;
    /** Weight rows decoded per group: four panels of four rows. */
    static final int GROUP = 16;
    /** Activation vectors per block. */
    private static final int X_BLOCK = 64;
    /** Columns per pass over a block: 4 x 512 floats of panel (8 KiB) and 2 activations' 4 KiB stay in L1. */
    private static final int KC = 512;

    /** Whether the 4 x 4 tile is used: 16 accumulators need AVX-512's 32 registers. */
    private static final boolean WIDE = L == 16;

    private final float[] panel;
    private final float[] acc = new float[GROUP * X_BLOCK * L];
    /** The decoders' per-block scale products. */
    private final float[] factors = new float[RowKernel.SCRATCH_LANES];

    PanelGemm(int maxRowLength) {
        panel = new float[GROUP * maxRowLength];
    }

    /** As {@link RowKernel#dotRowsBatch}. */
    void multiply(RowKernel k, MemorySegment w, long off, long rowBytes, int rows, int n, float[] xs, int xOff,
                  int xStride, int nx, float[] out, int outOff, int outStride) {
        int nv = n - n % L; // the vector part of the canonical sum; the rest is its scalar tail
        for (int r0 = 0; r0 < rows; r0 += GROUP) {
            int g = Math.min(GROUP, rows - r0), padded = (g + 3) & ~3;
            for (int r = 0; r < g; r++) k.decode(w, off + (r0 + r) * rowBytes, n, panel, r * n, factors);
            if (padded > g) Arrays.fill(panel, g * n, padded * n, 0f); // computed and dropped
            for (int t0 = 0; t0 < nx; t0 += X_BLOCK) {
                int tb = Math.min(X_BLOCK, nx - t0), x0 = xOff + t0 * xStride;
                for (int k0 = 0; k0 < nv; k0 += KC) {
                    int k1 = Math.min(nv, k0 + KC);
                    boolean first = k0 == 0;
                    for (int p = 0; p < padded; p += 4) {
                        int t = 0;
                        if (WIDE) {
                            for (; t + 4 <= tb; t += 4) {
                                tile4x4(panel, p * n, n, xs, x0 + t * xStride, xStride, k0, k1, acc, (p * X_BLOCK + t) * L, first);
                            }
                        }
                        for (; t + 2 <= tb; t += 2) {
                            tile4x2(panel, p * n, n, xs, x0 + t * xStride, xStride, k0, k1, acc, (p * X_BLOCK + t) * L, first);
                        }
                        if (t < tb) tile4x1(panel, p * n, n, xs, x0 + t * xStride, k0, k1, acc, (p * X_BLOCK + t) * L, first);
                    }
                }
                for (int r = 0; r < g; r++) {
                    for (int t = 0; t < tb; t++) {
                        float s = nv == 0 ? 0f : RowKernel.sumLanes(acc, (r * X_BLOCK + t) * L);
                        out[outOff + (t0 + t) * outStride + r0 + r] = RowKernel.tail(panel, r * n, xs, x0 + t * xStride, nv, n, s);
                    }
                }
            }
        }
    }

    /**
     * Rows {@code w0 + k * n} (k < 4) of the panel against activations at {@code x0} and {@code x0 + xStride}, columns
     * {@code k0 .. k1}; accumulator of (row k, x j) at {@code a + (k * X_BLOCK + j) * L}. Written flat: eight
     * accumulators, two activation vectors and one weight vector stay in registers (AVX2 has 16).
     */
    private static void tile4x2(float[] pw, int w0, int n, float[] xs, int x0, int xStride, int k0, int k1,
                                float[] acc, int a, boolean first) {
        int w1 = w0 + n, w2 = w1 + n, w3 = w2 + n, x1 = x0 + xStride;
        int a1 = a + X_BLOCK * L, a2 = a1 + X_BLOCK * L, a3 = a2 + X_BLOCK * L;
        FloatVector c00, c01, c10, c11, c20, c21, c30, c31;
        if (first) {
            c00 = FloatVector.zero(F);
            c01 = c00; c10 = c00; c11 = c00; c20 = c00; c21 = c00; c30 = c00; c31 = c00;
        } else {
            c00 = FloatVector.fromArray(F, acc, a);
            c01 = FloatVector.fromArray(F, acc, a + L);
            c10 = FloatVector.fromArray(F, acc, a1);
            c11 = FloatVector.fromArray(F, acc, a1 + L);
            c20 = FloatVector.fromArray(F, acc, a2);
            c21 = FloatVector.fromArray(F, acc, a2 + L);
            c30 = FloatVector.fromArray(F, acc, a3);
            c31 = FloatVector.fromArray(F, acc, a3 + L);
        }
        for (int i = k0; i < k1; i += L) {
            FloatVector xa = FloatVector.fromArray(F, xs, x0 + i), xb = FloatVector.fromArray(F, xs, x1 + i);
            FloatVector v = FloatVector.fromArray(F, pw, w0 + i);
            c00 = v.fma(xa, c00);
            c01 = v.fma(xb, c01);
            v = FloatVector.fromArray(F, pw, w1 + i);
            c10 = v.fma(xa, c10);
            c11 = v.fma(xb, c11);
            v = FloatVector.fromArray(F, pw, w2 + i);
            c20 = v.fma(xa, c20);
            c21 = v.fma(xb, c21);
            v = FloatVector.fromArray(F, pw, w3 + i);
            c30 = v.fma(xa, c30);
            c31 = v.fma(xb, c31);
        }
        c00.intoArray(acc, a);
        c01.intoArray(acc, a + L);
        c10.intoArray(acc, a1);
        c11.intoArray(acc, a1 + L);
        c20.intoArray(acc, a2);
        c21.intoArray(acc, a2 + L);
        c30.intoArray(acc, a3);
        c31.intoArray(acc, a3 + L);
    }

    /** {@link #tile4x2} for four activations: sixteen chains keep both FMA pipes busy through their latency. */
    private static void tile4x4(float[] pw, int w0, int n, float[] xs, int x0, int xStride, int k0, int k1,
                                float[] acc, int a, boolean first) {
        int w1 = w0 + n, w2 = w1 + n, w3 = w2 + n, x1 = x0 + xStride, x2 = x1 + xStride, x3 = x2 + xStride;
        int a1 = a + X_BLOCK * L, a2 = a1 + X_BLOCK * L, a3 = a2 + X_BLOCK * L;
        FloatVector c00, c01, c02, c03, c10, c11, c12, c13, c20, c21, c22, c23, c30, c31, c32, c33;
        if (first) {
            c00 = FloatVector.zero(F);
            c01 = c00; c02 = c00; c03 = c00; c10 = c00; c11 = c00; c12 = c00; c13 = c00;
            c20 = c00; c21 = c00; c22 = c00; c23 = c00; c30 = c00; c31 = c00; c32 = c00; c33 = c00;
        } else {
            c00 = FloatVector.fromArray(F, acc, a);
            c01 = FloatVector.fromArray(F, acc, a + L);
            c02 = FloatVector.fromArray(F, acc, a + 2 * L);
            c03 = FloatVector.fromArray(F, acc, a + 3 * L);
            c10 = FloatVector.fromArray(F, acc, a1);
            c11 = FloatVector.fromArray(F, acc, a1 + L);
            c12 = FloatVector.fromArray(F, acc, a1 + 2 * L);
            c13 = FloatVector.fromArray(F, acc, a1 + 3 * L);
            c20 = FloatVector.fromArray(F, acc, a2);
            c21 = FloatVector.fromArray(F, acc, a2 + L);
            c22 = FloatVector.fromArray(F, acc, a2 + 2 * L);
            c23 = FloatVector.fromArray(F, acc, a2 + 3 * L);
            c30 = FloatVector.fromArray(F, acc, a3);
            c31 = FloatVector.fromArray(F, acc, a3 + L);
            c32 = FloatVector.fromArray(F, acc, a3 + 2 * L);
            c33 = FloatVector.fromArray(F, acc, a3 + 3 * L);
        }
        for (int i = k0; i < k1; i += L) {
            FloatVector xa = FloatVector.fromArray(F, xs, x0 + i), xb = FloatVector.fromArray(F, xs, x1 + i);
            FloatVector xc = FloatVector.fromArray(F, xs, x2 + i), xd = FloatVector.fromArray(F, xs, x3 + i);
            FloatVector v = FloatVector.fromArray(F, pw, w0 + i);
            c00 = v.fma(xa, c00);
            c01 = v.fma(xb, c01);
            c02 = v.fma(xc, c02);
            c03 = v.fma(xd, c03);
            v = FloatVector.fromArray(F, pw, w1 + i);
            c10 = v.fma(xa, c10);
            c11 = v.fma(xb, c11);
            c12 = v.fma(xc, c12);
            c13 = v.fma(xd, c13);
            v = FloatVector.fromArray(F, pw, w2 + i);
            c20 = v.fma(xa, c20);
            c21 = v.fma(xb, c21);
            c22 = v.fma(xc, c22);
            c23 = v.fma(xd, c23);
            v = FloatVector.fromArray(F, pw, w3 + i);
            c30 = v.fma(xa, c30);
            c31 = v.fma(xb, c31);
            c32 = v.fma(xc, c32);
            c33 = v.fma(xd, c33);
        }
        c00.intoArray(acc, a);
        c01.intoArray(acc, a + L);
        c02.intoArray(acc, a + 2 * L);
        c03.intoArray(acc, a + 3 * L);
        c10.intoArray(acc, a1);
        c11.intoArray(acc, a1 + L);
        c12.intoArray(acc, a1 + 2 * L);
        c13.intoArray(acc, a1 + 3 * L);
        c20.intoArray(acc, a2);
        c21.intoArray(acc, a2 + L);
        c22.intoArray(acc, a2 + 2 * L);
        c23.intoArray(acc, a2 + 3 * L);
        c30.intoArray(acc, a3);
        c31.intoArray(acc, a3 + L);
        c32.intoArray(acc, a3 + 2 * L);
        c33.intoArray(acc, a3 + 3 * L);
    }

    /** {@link #tile4x2} for one activation (an odd one out). */
    private static void tile4x1(float[] pw, int w0, int n, float[] xs, int x0, int k0, int k1,
                                float[] acc, int a, boolean first) {
        int w1 = w0 + n, w2 = w1 + n, w3 = w2 + n;
        int a1 = a + X_BLOCK * L, a2 = a1 + X_BLOCK * L, a3 = a2 + X_BLOCK * L;
        FloatVector c0, c1, c2, c3;
        if (first) {
            c0 = FloatVector.zero(F);
            c1 = c0; c2 = c0; c3 = c0;
        } else {
            c0 = FloatVector.fromArray(F, acc, a);
            c1 = FloatVector.fromArray(F, acc, a1);
            c2 = FloatVector.fromArray(F, acc, a2);
            c3 = FloatVector.fromArray(F, acc, a3);
        }
        for (int i = k0; i < k1; i += L) {
            FloatVector x = FloatVector.fromArray(F, xs, x0 + i);
            c0 = FloatVector.fromArray(F, pw, w0 + i).fma(x, c0);
            c1 = FloatVector.fromArray(F, pw, w1 + i).fma(x, c1);
            c2 = FloatVector.fromArray(F, pw, w2 + i).fma(x, c2);
            c3 = FloatVector.fromArray(F, pw, w3 + i).fma(x, c3);
        }
        c0.intoArray(acc, a);
        c1.intoArray(acc, a1);
        c2.intoArray(acc, a2);
        c3.intoArray(acc, a3);
    }
}
