package dev.fathom.kernel;

import dev.fathom.tensor.Tensor;
import dev.fathom.tensor.TensorType;
import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.lang.management.ManagementFactory;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

import static org.junit.jupiter.api.Assertions.fail;

/**
 * Once compiled, a product allocates nothing. Vector API values live in registers only when C2 inlines every vector
 * call of the compiled method; past its parse-time node cutoff it leaves calls out of line and boxes their vectors,
 * an allocation per operation that runs 5-10x slower and passes every bit-exactness test. The fused types are
 * interleaved, as a model's mixed tensors make the call sites polymorphic, and each runs both as a one-vector
 * product (the fused {@code dot}) and as a batch (the panel GEMM over decoded rows).
 */
class KernelAllocationTest {
    private static final int ROWS = 64, N = 4096, CALLS = 40, BATCH = 6;
    private static final long DEADLINE_NANOS = 60_000_000_000L;
    /** Bytes per product a warmed-up kernel may allocate (a boxed kernel allocates a vector per block: megabytes). */
    private static final long ALLOWED_PER_CALL = 64;

    @Test
    void compiledProductsDoNotAllocate() {
        if (!RowKernel.FUSED) return; // 128-bit vectors take the decoded-row path, no fused vector code
        var threads = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        try (Arena arena = Arena.ofConfined(); Kernels kernels = Kernels.vector(N, 1)) {
            List<Tensor> weights = new ArrayList<>();
            for (TensorType t : FusedKernelsTest.fusedTypes()) {
                weights.add(TestTensors.random(t, ROWS, N, t.ordinal(), arena)); // N: a multiple of every block
            }
            float[] x = TestTensors.gaussian(N * BATCH, 7), out = new float[ROWS * BATCH];
            long start = System.nanoTime();
            Map<String, Long> allocating;
            do {
                allocating = new TreeMap<>();
                for (int c = 0; c < CALLS; c++) {
                    for (Tensor w : weights) {
                        long before = threads.getCurrentThreadAllocatedBytes();
                        kernels.matvec(w, 0, ROWS, x, 0, out, 0);
                        long bytes = threads.getCurrentThreadAllocatedBytes() - before;
                        if (bytes > ALLOWED_PER_CALL) allocating.merge(w.type() + " matvec", bytes / CALLS, Long::sum);
                        before = threads.getCurrentThreadAllocatedBytes();
                        kernels.matmul(w, 0, ROWS, x, 0, N, BATCH, out, 0, ROWS);
                        bytes = threads.getCurrentThreadAllocatedBytes() - before;
                        if (bytes > ALLOWED_PER_CALL) allocating.merge(w.type() + " matmul", bytes / CALLS, Long::sum);
                    }
                }
                if (allocating.isEmpty()) return;
            } while (System.nanoTime() - start < DEADLINE_NANOS);
            fail("after 60 s these products still allocate (bytes per call; vector calls left out of line by C2): "
                    + allocating);
        }
    }
}
