package dev.fathom.kernel;

import dev.fathom.tensor.TensorType;
import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorSpecies;

import java.lang.foreign.MemorySegment;

import static jdk.incubator.vector.VectorOperators.B2F;

/**
 * Q8_0 ({@code fp16 d; int8 q[32]}): {@link #L} quant bytes widen to float lanes and are scaled by d (exact:
 * 8-bit times 11-bit mantissas), then one FMA with the activations, the canonical sum. A block is two 16-lane
 * vectors on AVX-512, four 8-lane ones on AVX2; written flat, since C2 boxes vectors carried through an inner loop
 * or passed to a helper it does not inline.
 */
final class Q8_0Kernel extends RowKernel {
    private static final VectorSpecies<Byte> B = VectorSpecies.of(byte.class, VectorShape.forBitSize(8 * L));
    /** Vectors per 32-value block: 2 on AVX-512, 4 on AVX2. */
    private static final int PARTS = 32 / L;
    private static final int QK = 32, BYTES = 34;

    Q8_0Kernel() {
        super(TensorType.Q8_0.format());
    }

    private static FloatVector q(MemorySegment w, long p) {
        return (FloatVector) ByteVector.fromMemorySegment(B, w, p, LE).convertShape(B2F, FLOATS, 0);
    }

    private static float d(MemorySegment w, long pb) {
        return Float.float16ToFloat(w.get(SHORT, pb));
    }

    @Override
    protected void decode(MemorySegment w, long p0, int n, float[] dst, int off, float[] factors) {
        for (int b = 0; b < n / QK; b++) {
            long pb = p0 + (long) BYTES * b;
            int o = off + QK * b;
            FloatVector d = FloatVector.broadcast(FLOATS, d(w, pb));
            q(w, pb + 2).mul(d).intoArray(dst, o);
            q(w, pb + 2 + L).mul(d).intoArray(dst, o + L);
            if (PARTS == 4) {
                q(w, pb + 2 + 2 * L).mul(d).intoArray(dst, o + 2 * L);
                q(w, pb + 2 + 3 * L).mul(d).intoArray(dst, o + 3 * L);
            }
        }
    }

    @Override
    protected float dot(MemorySegment w, long p0, int n, float[] xs, int xOff, float[] scratch) {
        FloatVector acc = FloatVector.zero(FLOATS);
        for (int b = 0; b < n / QK; b++) {
            long pb = p0 + (long) BYTES * b;
            int x = xOff + QK * b;
            FloatVector d = FloatVector.broadcast(FLOATS, d(w, pb));
            acc = q(w, pb + 2).mul(d).fma(FloatVector.fromArray(FLOATS, xs, x), acc);
            acc = q(w, pb + 2 + L).mul(d).fma(FloatVector.fromArray(FLOATS, xs, x + L), acc);
            if (PARTS == 4) {
                acc = q(w, pb + 2 + 2 * L).mul(d).fma(FloatVector.fromArray(FLOATS, xs, x + 2 * L), acc);
                acc = q(w, pb + 2 + 3 * L).mul(d).fma(FloatVector.fromArray(FLOATS, xs, x + 3 * L), acc);
            }
        }
        acc.intoArray(scratch, 0); // no vector crosses a call: C2 would box it
        return sumLanes(scratch, 0);
    }
}
