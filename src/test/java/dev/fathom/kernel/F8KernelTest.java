package dev.fathom.kernel;

import dev.fathom.tensor.BlockScales;
import dev.fathom.tensor.F8_E4M3;
import dev.fathom.tensor.Tensor;
import dev.fathom.tensor.TensorType;
import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.*;

/**
 * The FP8 product with 128x128 block scales (rows and columns that are not multiples of 128 included): the vector
 * kernels, alone and batched, against the scalar reference on the dequantised weights; every finite code appears.
 */
class F8KernelTest {
    @Test
    void blockScaledProductsMatchTheScalarReference() {
        int rows = 200, cols = 300, block = 128;
        int rb = (rows + block - 1) / block, cb = (cols + block - 1) / block;
        SplittableRandom rnd = new SplittableRandom(7);
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment q = arena.allocate((long) rows * cols);
            for (int i = 0; i < rows * cols; i++) {
                int b = i < 256 ? i : rnd.nextInt(256);
                if (F8_E4M3.isNaN(b)) b = 0x3C;
                q.set(ValueLayout.JAVA_BYTE, i, (byte) b);
            }
            MemorySegment s = arena.allocate((long) rb * cb * 4);
            for (int i = 0; i < rb * cb; i++) s.setAtIndex(ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), i, (float) (1e-3 * (1 + i)));
            Tensor w = new Tensor("w", TensorType.F8_E4M3, new long[] {cols, rows}, q, new BlockScales(s, rb, cb, block));
            int nx = 5;
            float[] xs = new float[nx * cols];
            for (int i = 0; i < xs.length; i++) xs[i] = (float) rnd.nextGaussian();
            float[] ref = new float[nx * rows], alone = new float[nx * rows], batched = new float[nx * rows];
            try (Kernels scalar = Kernels.scalar(cols); Kernels vector = Kernels.vector(cols, 2)) {
                for (int t = 0; t < nx; t++) {
                    scalar.matvec(w, 0, rows, xs, t * cols, ref, t * rows);
                    vector.matvec(w, 0, rows, xs, t * cols, alone, t * rows);
                }
                vector.matmul(w, 0, rows, xs, 0, cols, nx, batched, 0, rows);
                float[] part = new float[70];
                vector.matvec(w, 100, 70, xs, 0, part, 0); // a range crossing the row-block boundary at 128
                for (int r = 0; r < 70; r++) assertEquals(alone[100 + r], part[r], "row " + (100 + r) + " of a sub-range");
            }
            assertArrayEquals(alone, batched, "batched == alone, bit for bit");
            for (int i = 0; i < ref.length; i++) {
                assertEquals(ref[i], alone[i], 1e-4 * Math.max(1, Math.abs(ref[i])), "output " + i);
            }
        }
    }
}
