package dev.fathom.kernel;

import dev.fathom.tensor.TensorType;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/** F32 rows: four independent accumulators of the kernels' float species ({@link RowKernel#FLOATS}), scalar tail. */
final class F32Kernel extends RowKernel {
    private static final VectorSpecies<Float> F = RowKernel.FLOATS;
    private static final ValueLayout.OfFloat FLOAT = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(LE);

    F32Kernel() {
        super(TensorType.F32);
    }

    @Override
    protected float dot(MemorySegment w, long p, int n, float[] xp, int xpOff, float[] scratch) {
        final int l = F.length();
        FloatVector a0 = FloatVector.zero(F), a1 = a0, a2 = a0, a3 = a0;
        int i = 0;
        for (; i <= n - 4 * l; i += 4 * l) {
            long q = p + 4L * i;
            int x = xpOff + i;
            a0 = FloatVector.fromMemorySegment(F, w, q, LE).fma(FloatVector.fromArray(F, xp, x), a0);
            a1 = FloatVector.fromMemorySegment(F, w, q + 4L * l, LE).fma(FloatVector.fromArray(F, xp, x + l), a1);
            a2 = FloatVector.fromMemorySegment(F, w, q + 8L * l, LE).fma(FloatVector.fromArray(F, xp, x + 2 * l), a2);
            a3 = FloatVector.fromMemorySegment(F, w, q + 12L * l, LE).fma(FloatVector.fromArray(F, xp, x + 3 * l), a3);
        }
        for (; i <= n - l; i += l) {
            a0 = FloatVector.fromMemorySegment(F, w, p + 4L * i, LE).fma(FloatVector.fromArray(F, xp, xpOff + i), a0);
        }
        a0.add(a1).add(a2.add(a3)).intoArray(scratch, 0); // no vector crosses a call: C2 would box it
        float s = sumLanes(scratch, F.length());
        for (; i < n; i++) s += w.get(FLOAT, p + 4L * i) * xp[xpOff + i];
        return s;
    }
}
