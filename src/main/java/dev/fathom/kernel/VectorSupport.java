package dev.fathom.kernel;

import com.sun.management.HotSpotDiagnosticMXBean;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

import java.lang.management.ManagementFactory;

/**
 * Start-up check that the Vector API is compiled to SIMD instructions: without C2 (interpreter, {@code -Xint},
 * {@code TieredStopAtLevel < 4}), without the {@code jdk.incubator.vector} module or on hardware without 256-bit
 * vectors, the kernels are correct but 10-100x slower than they should be. {@link #check()} returns a warning the
 * CLI should print loudly, or null when all is well. It decides from the JVM's flags, not from a timing: a timing
 * taken at start-up, before C2 has compiled the kernels or on a busy machine, warns when nothing is wrong.
 */
public final class VectorSupport {
    private static final String MODULE = "jdk.incubator.vector";

    private VectorSupport() {}

    /**
     * What decides whether the kernels run as SIMD code. {@code useAvx} is HotSpot's UseAVX on x86, -1 elsewhere;
     * {@code vectorBits} and {@code lanes} are the preferred float species'.
     */
    public record Flags(boolean vectorModule, boolean useCompiler, boolean tieredCompilation, int tieredStopAtLevel,
                        boolean serverCompiler, int useAvx, int vectorBits, int lanes) {
        /** This JVM's flags. */
        static Flags current() {
            boolean module = ModuleLayer.boot().findModule(MODULE).isPresent();
            HotSpotDiagnosticMXBean hs = ManagementFactory.getPlatformMXBean(HotSpotDiagnosticMXBean.class);
            VectorSpecies<Float> f = module ? FloatVector.SPECIES_PREFERRED : null; // the class needs the module
            return new Flags(module, bool(hs, "UseCompiler", true), bool(hs, "TieredCompilation", true),
                    integer(hs, "TieredStopAtLevel", 4), !System.getProperty("java.vm.name", "").matches("(?i).*(client|minimal).*"),
                    integer(hs, "UseAVX", -1), f == null ? 0 : f.vectorBitSize(), f == null ? 0 : f.length());
        }

        private static boolean bool(HotSpotDiagnosticMXBean hs, String name, boolean absent) {
            String v = option(hs, name);
            return v == null ? absent : Boolean.parseBoolean(v);
        }

        private static int integer(HotSpotDiagnosticMXBean hs, String name, int absent) {
            String v = option(hs, name);
            return v == null ? absent : Integer.parseInt(v);
        }

        private static String option(HotSpotDiagnosticMXBean hs, String name) {
            if (hs == null) return null;
            try {
                return hs.getVMOption(name).getValue();
            } catch (IllegalArgumentException e) {
                return null; // not a flag of this VM or CPU (UseAVX off x86)
            }
        }
    }

    /** The preferred species and VM, in words. */
    public static String describe() {
        VectorSpecies<Float> f = FloatVector.SPECIES_PREFERRED;
        return "Vector API: " + f.vectorBitSize() + "-bit preferred float species (" + f.length() + " lanes), "
                + System.getProperty("java.vm.name") + " " + System.getProperty("java.vm.version");
    }

    /** A warning to print when vector kernels will be slow, null when the Vector API is intrinsified. Instant. */
    public static String check() {
        return check(Flags.current());
    }

    /** The warning for the given flags, null when they let C2 compile the Vector API to SIMD instructions. */
    public static String check(Flags f) {
        String slow = ": the Vector API is not compiled to SIMD instructions and the kernels will be 10-100x slower";
        if (!f.vectorModule()) return "WARNING: the module " + MODULE + " is not loaded" + slow + "; run with --add-modules " + MODULE;
        if (!f.useCompiler()) return "WARNING: the JVM runs interpreted (-Xint or -XX:-UseCompiler)" + slow + "; remove that option";
        if (f.tieredCompilation() && f.tieredStopAtLevel() < 4) {
            return "WARNING: the JVM runs with -XX:TieredStopAtLevel=" + f.tieredStopAtLevel() + " (no C2)" + slow + "; remove that option";
        }
        if (!f.serverCompiler()) return "WARNING: this JVM has no C2 compiler" + slow + "; use a JDK with the Server VM";
        if (f.useAvx() == 0 || f.vectorBits() < 128 || f.lanes() <= 1) {
            return "WARNING: no SIMD vectors are available (" + (f.useAvx() == 0 ? "-XX:UseAVX=0, " : "") + f.vectorBits()
                    + "-bit preferred species)" + slow;
        }
        if (f.vectorBits() < 256) {
            return "WARNING: the preferred vector size is " + f.vectorBits() + " bits; Fathom's kernels are tuned "
                    + "for 256-bit vectors (AVX2) and will run slowly on this CPU";
        }
        return null;
    }
}
