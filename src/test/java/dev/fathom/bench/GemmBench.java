package dev.fathom.bench;

/*
 * The batched product (prompt chunks, batches of streams) per weight type: a 4096 x 4096 matrix against `batch`
 * activation vectors, reported as GFLOP/s ("gflops" counter, 2 * rows * cols * batch per call). Run like MatvecBench:
 *
 *   java --add-modules jdk.incubator.vector -cp target/test-classes:target/classes:$(cat target/cp.txt) \
 *       org.openjdk.jmh.Main GemmBench -f 1 -wi 2 -i 3 -p type=F32,Q8_0 -p batch=8,128
 */

import dev.fathom.kernel.Kernels;
import dev.fathom.kernel.TestTensors;
import dev.fathom.tensor.Tensor;
import dev.fathom.tensor.TensorType;
import org.openjdk.jmh.annotations.AuxCounters;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

import java.lang.foreign.Arena;
import java.util.concurrent.TimeUnit;

@State(Scope.Benchmark)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector", "-Xmx2g"})
@Warmup(iterations = 2, time = 1)
@Measurement(iterations = 3, time = 1)
public class GemmBench {
    @Param({"F32", "BF16", "Q8_0", "Q4_0", "Q4_K", "Q6_K"})
    public String type;
    @Param({"8", "128"})
    public int batch;
    @Param({"1", "2"})
    public int threads;

    static final int ROWS = 4096, COLS = 4096;
    Arena arena;
    Tensor w;
    Kernels k;
    float[] xs, out;

    /** Floating-point operations done, reported per second. */
    @AuxCounters(AuxCounters.Type.OPERATIONS)
    @State(Scope.Thread)
    public static class Flops {
        public double gflops;

        @Setup(Level.Iteration)
        public void reset() {
            gflops = 0;
        }
    }

    @Setup(Level.Trial)
    public void setup() {
        arena = Arena.ofShared();
        w = TestTensors.random(TensorType.valueOf(type), ROWS, COLS, 1, arena);
        k = Kernels.vector(COLS, threads);
        xs = TestTensors.gaussian(batch * COLS, 3);
        out = new float[batch * ROWS];
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        k.close();
        arena.close();
    }

    @Benchmark
    public float[] matmul(Flops c) {
        k.matmul(w, 0, ROWS, xs, 0, COLS, batch, out, 0, ROWS);
        c.gflops += 2e-9 * ROWS * COLS * batch;
        return out;
    }
}
