package dev.fathom.kernel;

import dev.fathom.kernel.VectorSupport.Flags;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.*;

class VectorSupportTest {
    /** C2 on, the module loaded, 512-bit AVX-512 vectors. */
    private static final Flags GOOD = new Flags(true, true, true, 4, true, 3, 512, 16);

    private static void warns(Flags f, String expected) {
        String w = VectorSupport.check(f);
        assertNotNull(w, f.toString());
        assertTrue(w.startsWith("WARNING: ") && w.contains(expected), w);
    }

    @Test
    void goodFlagsGiveNoWarning() {
        assertNull(VectorSupport.check(GOOD));
        assertNull(VectorSupport.check(new Flags(true, true, true, 4, true, 2, 256, 8)), "AVX2");
        assertNull(VectorSupport.check(new Flags(true, true, false, 1, true, 3, 512, 16)), "C2 only: the tier limit does not apply");
        assertNull(VectorSupport.check(new Flags(true, true, true, 4, true, -1, 256, 8)), "not x86: no UseAVX");
    }

    @Test
    void flagsThatStopC2OrSimdWarn() {
        warns(new Flags(false, true, true, 4, true, 3, 0, 0), "--add-modules jdk.incubator.vector");
        warns(new Flags(true, false, false, 4, true, 3, 512, 16), "-Xint or -XX:-UseCompiler");
        warns(new Flags(true, true, true, 1, true, 3, 512, 16), "-XX:TieredStopAtLevel=1");
        warns(new Flags(true, true, true, 3, true, 3, 512, 16), "-XX:TieredStopAtLevel=3");
        warns(new Flags(true, true, true, 4, false, 3, 512, 16), "no C2");
        warns(new Flags(true, true, true, 4, true, 0, 64, 2), "-XX:UseAVX=0");
        warns(new Flags(true, true, true, 4, true, -1, 64, 1), "no SIMD");
        warns(new Flags(true, true, true, 4, true, 1, 128, 4), "128 bits");
    }

    @Test
    void thisJvmIsRecognised() {
        Flags f = Flags.current();
        assertTrue(f.vectorModule() && f.useCompiler() && f.vectorBits() >= 128, f.toString());
    }
}
