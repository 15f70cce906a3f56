package dev.fathom.bench;

/*
 * STREAM-like read bandwidth: the sum of a 1 GiB off-heap segment with 256-bit float vectors, on 1 and 2 threads
 * (the same WorkerPool as the kernels), reported as GB/s ("gbytes"). Run as in MatvecBench:
 *
 *   java --add-modules jdk.incubator.vector -cp target/test-classes:target/classes:$(cat target/cp.txt) \
 *       org.openjdk.jmh.Main StreamBench -f 1 -wi 2 -i 3
 */

import dev.fathom.kernel.WorkerPool;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;
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
import java.nio.ByteOrder;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

@State(Scope.Benchmark)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector", "-Xmx2g"})
@Warmup(iterations = 2, time = 1)
@Measurement(iterations = 3, time = 1)
public class StreamBench {
    private static final VectorSpecies<Float> F = FloatVector.SPECIES_256;
    private static final long SIZE = 1L << 30;
    private static final long CHUNK = 4L << 20;

    @Param({"1", "2"})
    public int threads;

    Arena arena;
    MemorySegment seg;
    WorkerPool pool;
    final float[] sums = new float[16];
    final AtomicInteger next = new AtomicInteger();
    final WorkerPool.Job job = new WorkerPool.Job() {
        @Override
        protected void run(int participant) {
            float s = 0;
            for (int c; (c = next.getAndIncrement()) < SIZE / CHUNK; ) s += sum(seg, c * CHUNK, CHUNK);
            sums[participant] += s;
        }
    };

    @Setup(Level.Trial)
    public void setup() {
        arena = Arena.ofShared();
        seg = arena.allocate(SIZE, 4096);
        for (long o = 0; o < SIZE; o += 4096) seg.set(java.lang.foreign.ValueLayout.JAVA_FLOAT, o, 1f); // touch pages
        pool = new WorkerPool(threads);
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        pool.close();
        arena.close();
    }

    static float sum(MemorySegment s, long off, long bytes) {
        FloatVector a0 = FloatVector.zero(F), a1 = a0, a2 = a0, a3 = a0;
        for (long o = off, end = off + bytes; o < end; o += 128) {
            a0 = a0.add(FloatVector.fromMemorySegment(F, s, o, ByteOrder.LITTLE_ENDIAN));
            a1 = a1.add(FloatVector.fromMemorySegment(F, s, o + 32, ByteOrder.LITTLE_ENDIAN));
            a2 = a2.add(FloatVector.fromMemorySegment(F, s, o + 64, ByteOrder.LITTLE_ENDIAN));
            a3 = a3.add(FloatVector.fromMemorySegment(F, s, o + 96, ByteOrder.LITTLE_ENDIAN));
        }
        return a0.add(a1).add(a2.add(a3)).reduceLanes(jdk.incubator.vector.VectorOperators.ADD);
    }

    @Benchmark
    public float sum(MatvecBench.Bytes c) {
        next.set(0);
        pool.run(job);
        c.gbytes += SIZE / 1e9;
        return sums[0];
    }
}
