package dev.fathom.kernel;

import dev.fathom.tensor.TensorType;
import jdk.incubator.vector.FloatVector;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/** F32 rows read in place: the canonical sum straight from the mapped floats. */
final class F32Kernel extends RowKernel {
    private static final ValueLayout.OfFloat FLOAT = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(LE);

    F32Kernel() {
        super(TensorType.F32.format());
    }

    @Override
    protected void decode(MemorySegment w, long p, int n, float[] dst, int off, float[] factors) {
        MemorySegment.copy(w, FLOAT, p, dst, off, n);
    }

    @Override
    protected float dot(MemorySegment w, long p, int n, float[] xs, int xOff, float[] scratch) {
        FloatVector acc = FloatVector.zero(FLOATS);
        int i = 0;
        for (; i <= n - L; i += L) {
            acc = FloatVector.fromMemorySegment(FLOATS, w, p + 4L * i, LE).fma(FloatVector.fromArray(FLOATS, xs, xOff + i), acc);
        }
        acc.intoArray(scratch, 0); // no vector crosses a call: C2 would box it
        float s = sumLanes(scratch, 0);
        for (; i < n; i++) s += w.get(FLOAT, p + 4L * i) * xs[xOff + i];
        return s;
    }
}
