package dev.fathom.bench;

import dev.fathom.kernel.Kernels;
import dev.fathom.tensor.Tensor;
import dev.fathom.tensor.TensorType;

import java.lang.foreign.Arena;

/**
 * A quick (non-JMH) matvec GB/s probe for iterating on kernels: {@code QuickBench [threads] [types...]}, run with the
 * classpath of MatvecBench. Best of several passes over a 192 MiB tensor after a warm-up.
 */
public final class QuickBench {
    public static void main(String[] args) {
        int threads = args.length > 0 ? Integer.parseInt(args[0]) : 1;
        String[] types = args.length > 1 ? java.util.Arrays.copyOfRange(args, 1, args.length)
                : new String[] {"F32", "F16", "BF16", "Q8_0", "Q4_0", "Q4_K", "Q6_K"};
        int cols = 4096;
        for (String name : types) {
            try (Arena arena = Arena.ofShared(); Kernels k = Kernels.vector(cols, threads)) {
                Tensor w = MatvecBench.tiled(TensorType.valueOf(name), cols, MatvecBench.MIN_BYTES, arena);
                int rows = (int) w.rowCount();
                float[] x = dev.fathom.kernel.TestTensors.gaussian(cols, 1), out = new float[rows];
                for (int i = 0; i < 3000; i++) k.matvec(w, (i * 16L) % (rows - 16), 16, x, 0, out, 0); // warm up on small products
                double best = 0;
                long end = System.nanoTime() + 3_000_000_000L;
                int passes = 0;
                while (System.nanoTime() < end || passes < 3) {
                    long t0 = System.nanoTime();
                    k.matvec(w, 0, rows, x, 0, out, 0);
                    best = Math.max(best, w.rowBytes() * (double) rows / (System.nanoTime() - t0));
                    passes++;
                }
                System.out.printf("%-6s %d threads: %6.2f GB/s (best of %d)%n", name, threads, best, passes);
            }
        }
    }
}
