package dev.fathom.kernel;

import dev.fathom.tensor.BlockFormat;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

import java.lang.foreign.MemorySegment;

/**
 * The simple path for the rarer types: each row is decoded by the type's bit-exact scalar {@link BlockFormat}
 * into per-thread scratch, then dotted with the vector loop. Batches decode a row once for every x.
 */
final class DecodedRowKernel extends RowKernel {
    private static final VectorSpecies<Float> F = RowKernel.FLOATS;
    private final BlockFormat format;

    DecodedRowKernel(BlockFormat format) {
        super(format.type());
        this.format = format;
    }

    @Override
    protected float dot(MemorySegment w, long p, int n, float[] xp, int xpOff, float[] scratch) {
        format.dequantize(w, p, scratch, SCRATCH_LANES, n);
        return dot(scratch, xp, xpOff, n);
    }

    @Override
    public void dotRowsBatch(MemorySegment w, long off, long rowBytes, int rows, int n, float[] xp, int xpOff,
                             int xpStride, int nx, float[] out, int outOff, int outStride, float[] scratch) {
        for (int r = 0; r < rows; r++) {
            format.dequantize(w, off + r * rowBytes, scratch, SCRATCH_LANES, n);
            for (int j = 0; j < nx; j++) out[outOff + j * outStride + r] = dot(scratch, xp, xpOff + j * xpStride, n);
        }
    }

    /** The decoded row at {@code scratch[SCRATCH_LANES ..]} dotted with {@code x[xOff ..]}: fixed order. */
    static float dot(float[] scratch, float[] x, int xOff, int n) {
        final int l = F.length();
        FloatVector a0 = FloatVector.zero(F), a1 = a0;
        int i = 0;
        for (; i <= n - 2 * l; i += 2 * l) {
            a0 = FloatVector.fromArray(F, scratch, SCRATCH_LANES + i).fma(FloatVector.fromArray(F, x, xOff + i), a0);
            a1 = FloatVector.fromArray(F, scratch, SCRATCH_LANES + i + l).fma(FloatVector.fromArray(F, x, xOff + i + l), a1);
        }
        for (; i <= n - l; i += l) {
            a0 = FloatVector.fromArray(F, scratch, SCRATCH_LANES + i).fma(FloatVector.fromArray(F, x, xOff + i), a0);
        }
        a0.add(a1).intoArray(scratch, 0); // no vector crosses a call: C2 would box it
        float s = sumLanes(scratch, F.length());
        for (; i < n; i++) s += scratch[SCRATCH_LANES + i] * x[xOff + i];
        return s;
    }
}
