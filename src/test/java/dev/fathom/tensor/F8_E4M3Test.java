package dev.fathom.tensor;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.*;

/** All 256 e4m3fn codes against the format's definition (README-wave2 section 2), computed independently. */
class F8_E4M3Test {
    @Test
    void everyCodeDecodesToItsDefinedValue() {
        int finite = 0;
        for (int b = 0; b < 256; b++) {
            int e = (b >> 3) & 0xF, m = b & 7;
            boolean nan = e == 15 && m == 7;
            assertEquals(nan, F8_E4M3.isNaN(b), "code 0x" + Integer.toHexString(b));
            if (nan) continue;
            finite++;
            double v = e == 0 ? m / 8.0 * Math.pow(2, -6) : (1 + m / 8.0) * Math.pow(2, e - 7);
            if ((b & 0x80) != 0) v = -v;
            assertEquals((float) v, F8_E4M3.decode(b), "code 0x" + Integer.toHexString(b));
            assertEquals(Float.floatToRawIntBits((float) v), Float.floatToRawIntBits(F8_E4M3.decode(b)), "sign of zero, code " + b);
        }
        assertEquals(254, finite);
        assertEquals(448f, F8_E4M3.decode(0x7E));
        assertEquals(-448f, F8_E4M3.decode(0xFE));
        assertEquals(0x1p-9f, F8_E4M3.decode(0x01), "smallest subnormal");
        // Codes read back from memory as bytes (sign-extended) decode the same.
        for (int b = 0; b < 256; b++) if (!F8_E4M3.isNaN(b)) assertEquals(F8_E4M3.decode(b), F8_E4M3.decode((byte) b));
    }
}
