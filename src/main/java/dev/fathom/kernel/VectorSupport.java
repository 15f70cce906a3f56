package dev.fathom.kernel;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

import java.lang.management.ManagementFactory;
import java.util.List;

/**
 * Start-up check that the Vector API is compiled to SIMD instructions: without C2 (interpreter, {@code -Xint},
 * {@code TieredStopAtLevel < 4}) or on hardware without 256-bit vectors, the kernels are correct but 10-100x slower
 * than they should be. {@link #check()} returns a warning the CLI should print loudly, or null when all is well.
 */
public final class VectorSupport {
    private static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;
    /** The vector dot must beat the scalar one by this factor (8 lanes and FMA give ~4-8x when intrinsified). */
    private static final double MIN_SPEEDUP = 1.8;

    private VectorSupport() {}

    /** The preferred species and VM, in words. */
    public static String describe() {
        return "Vector API: " + F.vectorBitSize() + "-bit preferred float species (" + F.length() + " lanes), "
                + System.getProperty("java.vm.name") + " " + System.getProperty("java.vm.version");
    }

    /** A warning to print when vector kernels will be slow, null when the Vector API is intrinsified. Takes ~50-150 ms. */
    public static String check() {
        if (F.vectorBitSize() < 256) {
            return "WARNING: the preferred vector size is " + F.vectorBitSize() + " bits; Fathom's kernels are tuned "
                    + "for 256-bit vectors (AVX2) and will run slowly on this CPU";
        }
        List<String> args = ManagementFactory.getRuntimeMXBean().getInputArguments();
        for (String a : args) {
            if (a.equals("-Xint") || a.startsWith("-XX:TieredStopAtLevel=") && !a.endsWith("=4")
                   ) {
                return "WARNING: the JVM runs with " + a + ": the Vector API is not compiled to SIMD instructions "
                        + "and the kernels will be 10-100x slower; remove that option";
            }
        }
        float[] a = new float[1024], b = new float[1024];
        for (int i = 0; i < a.length; i++) {
            a[i] = i * 0.001f;
            b[i] = 1f - i * 0.0005f;
        }
        double best = 0;
        long deadline = System.nanoTime() + 150_000_000L;
        float sink = 0;
        while (System.nanoTime() < deadline) {
            long t0 = System.nanoTime();
            for (int r = 0; r < 200; r++) sink += vectorDot(a, b);
            long t1 = System.nanoTime();
            for (int r = 0; r < 200; r++) sink += scalarDot(a, b);
            long t2 = System.nanoTime();
            best = Math.max(best, (double) (t2 - t1) / Math.max(1, t1 - t0));
            if (best >= MIN_SPEEDUP * 1.5) break;
        }
        if (sink == 42f) System.out.print(""); // keep the loops alive
        if (best < MIN_SPEEDUP) {
            return String.format("WARNING: the Vector API does not look intrinsified (vector dot only %.1fx the scalar "
                    + "one after warm-up): the kernels will be slow. Run with C2 enabled and "
                    + "--add-modules jdk.incubator.vector on a CPU with AVX2. %s", best, describe());
        }
        return null;
    }

    private static float vectorDot(float[] a, float[] b) {
        FloatVector acc = FloatVector.zero(F);
        for (int i = 0; i < a.length; i += F.length()) {
            acc = FloatVector.fromArray(F, a, i).fma(FloatVector.fromArray(F, b, i), acc);
        }
        return acc.reduceLanes(jdk.incubator.vector.VectorOperators.ADD);
    }

    private static float scalarDot(float[] a, float[] b) {
        float s = 0;
        for (int i = 0; i < a.length; i++) s += a[i] * b[i];
        return s;
    }
}
