package dev.fathom.bench;

/*
 * Matrix-vector product per weight type, weights streamed from DRAM (>= 192 MiB per tensor, 6x the 32 MiB L3),
 * reported as GB/s of weight bytes ("gbytes" counter). Run:
 *
 *   ./mvnw -q -B -ntp test-compile dependency:build-classpath -Dmdep.outputFile=target/cp.txt -Dmdep.includeScope=test
 *   java --add-modules jdk.incubator.vector -cp target/test-classes:target/classes:$(cat target/cp.txt) \
 *       org.openjdk.jmh.Main 'MatvecBench|StreamBench' -f 1 -wi 2 -i 3
 *
 * (add e.g. -p type=Q8_0,Q4_0 -p threads=2 to narrow it; the gbytes line is the figure to read).
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
import java.lang.foreign.MemorySegment;
import java.util.concurrent.TimeUnit;

@State(Scope.Benchmark)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector", "-Xmx2g"})
@Warmup(iterations = 2, time = 1)
@Measurement(iterations = 3, time = 1)
public class MatvecBench {
    static final long MIN_BYTES = 192L << 20;

    @Param({"F32", "F16", "BF16", "Q8_0", "Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q2_K", "Q3_K", "Q4_K", "Q5_K", "Q6_K", "IQ4_NL", "IQ4_XS"})
    public String type;
    @Param({"1", "2"})
    public int threads;
    @Param({"4096"})
    public int cols;

    Arena arena;
    Tensor w;
    Kernels k;
    float[] x, out;
    int rows;
    double gb;

    /** Weight bytes streamed, reported per second. */
    @AuxCounters(AuxCounters.Type.OPERATIONS)
    @State(Scope.Thread)
    public static class Bytes {
        public double gbytes;

        @Setup(Level.Iteration)
        public void reset() {
            gbytes = 0;
        }
    }

    @Setup(Level.Trial)
    public void setup() {
        TensorType t = TensorType.valueOf(type);
        arena = Arena.ofShared();
        w = tiled(t, cols, MIN_BYTES, arena);
        rows = (int) w.rowCount();
        gb = w.rowBytes() * (double) rows / 1e9;
        k = Kernels.vector(cols, threads);
        x = TestTensors.gaussian(cols, 3);
        out = new float[rows];
    }

    /** A tensor of at least {@code minBytes}: 256 random rows repeated (the bytes still come from DRAM). */
    static Tensor tiled(TensorType t, int cols, long minBytes, Arena arena) {
        try (Arena tmp = Arena.ofConfined()) {
            Tensor small = TestTensors.random(t, 256, cols, 1, tmp);
            long tile = small.data().byteSize();
            int rows = (int) (256 * ((minBytes + tile - 1) / tile));
            MemorySegment seg = arena.allocate(t.bytesFor(cols) * rows, 4096);
            for (long o = 0; o < seg.byteSize(); o += tile) MemorySegment.copy(small.data(), 0, seg, o, tile);
            return new Tensor("w", t, new long[] {cols, rows}, seg);
        }
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        k.close();
        arena.close();
    }

    @Benchmark
    public float[] matvec(Bytes c) {
        k.matvec(w, 0, rows, x, 0, out, 0);
        c.gbytes += gb;
        return out;
    }
}
