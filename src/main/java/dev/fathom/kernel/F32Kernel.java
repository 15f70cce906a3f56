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
    protected void decode(MemorySegment w, long p, int n, float[] dst, int off) {
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

    @Override
    protected void rows4(MemorySegment w, long p, long rowBytes, int n, float[] xs, int xOff, float[] out, int o,
                         float[] scratch) {
        long p1 = p + rowBytes, p2 = p1 + rowBytes, p3 = p2 + rowBytes;
        FloatVector c0 = FloatVector.zero(FLOATS), c1 = c0, c2 = c0, c3 = c0;
        int i = 0;
        for (; i <= n - L; i += L) {
            FloatVector x = FloatVector.fromArray(FLOATS, xs, xOff + i);
            long b = 4L * i;
            c0 = FloatVector.fromMemorySegment(FLOATS, w, p + b, LE).fma(x, c0);
            c1 = FloatVector.fromMemorySegment(FLOATS, w, p1 + b, LE).fma(x, c1);
            c2 = FloatVector.fromMemorySegment(FLOATS, w, p2 + b, LE).fma(x, c2);
            c3 = FloatVector.fromMemorySegment(FLOATS, w, p3 + b, LE).fma(x, c3);
        }
        c0.intoArray(scratch, 0);
        c1.intoArray(scratch, L);
        c2.intoArray(scratch, 2 * L);
        c3.intoArray(scratch, 3 * L);
        float s0 = sumLanes(scratch, 0), s1 = sumLanes(scratch, L), s2 = sumLanes(scratch, 2 * L), s3 = sumLanes(scratch, 3 * L);
        for (; i < n; i++) {
            float x = xs[xOff + i];
            long b = 4L * i;
            s0 += w.get(FLOAT, p + b) * x;
            s1 += w.get(FLOAT, p1 + b) * x;
            s2 += w.get(FLOAT, p2 + b) * x;
            s3 += w.get(FLOAT, p3 + b) * x;
        }
        out[o] = s0;
        out[o + 1] = s1;
        out[o + 2] = s2;
        out[o + 3] = s3;
    }
}
