package dev.fathom.kernel;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;

/**
 * Measures the machine's memory read bandwidth the way decode uses memory: threads each summing their share of
 * a buffer far larger than the caches (STREAM-style "sum"), best of several passes. Decode speed is judged
 * against this figure: every active weight byte is read once per token.
 */
public final class MemoryBandwidth {
    private static final VectorSpecies<Float> F = FloatVector.SPECIES_256;

    private MemoryBandwidth() {}

    /** Read bandwidth in bytes per second over a {@code bytes}-byte off-heap buffer with {@code threads} threads. */
    public static double measure(long bytes, int threads, int passes) {
        long perThread = bytes / threads / F.vectorByteSize() * F.vectorByteSize();
        try (Arena arena = Arena.ofShared()) {
            MemorySegment buf = arena.allocate(perThread * threads, 64);
            buf.fill((byte) 1);
            double best = 0;
            float[] sink = new float[threads];
            for (int p = 0; p < passes; p++) {
                Thread[] ts = new Thread[threads];
                long t0 = System.nanoTime();
                for (int t = 0; t < threads; t++) {
                    int id = t;
                    ts[t] = Thread.ofPlatform().start(() -> sink[id] = sum(buf, id * perThread, perThread));
                }
                for (Thread t : ts) {
                    try {
                        t.join();
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                        return best;
                    }
                }
                long dt = System.nanoTime() - t0;
                best = Math.max(best, perThread * threads * 1e9 / dt);
            }
            if (Float.isNaN(sink[0])) throw new AssertionError(); // keeps the sums alive
            return best;
        }
    }

    private static float sum(MemorySegment s, long from, long n) {
        FloatVector a0 = FloatVector.zero(F), a1 = FloatVector.zero(F), a2 = FloatVector.zero(F), a3 = FloatVector.zero(F);
        long step = 4L * F.vectorByteSize();
        long end = from + n / step * step;
        for (long i = from; i < end; i += step) {
            a0 = a0.add(FloatVector.fromMemorySegment(F, s, i, ByteOrder.LITTLE_ENDIAN));
            a1 = a1.add(FloatVector.fromMemorySegment(F, s, i + F.vectorByteSize(), ByteOrder.LITTLE_ENDIAN));
            a2 = a2.add(FloatVector.fromMemorySegment(F, s, i + 2L * F.vectorByteSize(), ByteOrder.LITTLE_ENDIAN));
            a3 = a3.add(FloatVector.fromMemorySegment(F, s, i + 3L * F.vectorByteSize(), ByteOrder.LITTLE_ENDIAN));
        }
        return a0.add(a1).add(a2).add(a3).reduceLanes(VectorOperators.ADD);
    }
}
