package dev.fathom.kernel;

import org.junit.jupiter.api.Test;

import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** ggml's AVX2 quantize_row_q8_0 semantics: id = 127 / amax, round half to even, scale kept as fp16. */
class ActivationQuantizerTest {

    @Test
    void roundsHalfToEvenWithTheScaleOfTheLargestMagnitude() {
        float[] x = new float[32];
        x[0] = 127f; // amax 127: id is exactly 1, so x * id is x
        x[1] = 2.5f;
        x[2] = 3.5f;
        x[3] = -2.5f;
        x[4] = -0.5f;
        x[5] = 126.49f;
        short[] q = new short[32];
        float[] d = new float[1];
        ActivationQuantizer.quantize(x, 0, 32, q, 0, d, 0);
        assertEquals(127, q[0]);
        assertEquals(2, q[1]);
        assertEquals(4, q[2]);
        assertEquals(-2, q[3]);
        assertEquals(0, q[4]);
        assertEquals(126, q[5]);
        assertEquals(1f, d[0]); // 127 / 127, exact in fp16
    }

    @Test
    void scaleIsStoredAsHalfPrecisionAndZeroBlocksStayZero() {
        float[] x = new float[64];
        x[40] = -1f; // second block: amax 1, d = 1/127 rounded to fp16
        short[] q = new short[64];
        float[] d = new float[2];
        ActivationQuantizer.quantize(x, 0, 64, q, 0, d, 0);
        assertEquals(0f, d[0]);
        assertArrayEquals(new short[32], java.util.Arrays.copyOf(q, 32));
        assertEquals(Float.float16ToFloat(Float.floatToFloat16(1f / 127f)), d[1]);
        assertTrue(d[1] != 1f / 127f, "1/127 is not an fp16 value: the stored scale must be rounded");
        assertEquals(-127, q[40]);
    }

    @Test
    void quantsStayInRangeAndReconstructTheBlock() {
        Random r = new Random(7);
        int n = 32 * 50;
        float[] x = new float[n + 3];
        for (int i = 0; i < x.length; i++) x[i] = (float) (r.nextGaussian() * Math.pow(10, r.nextInt(7) - 3));
        short[] q = new short[n + 5];
        float[] d = new float[n / 32 + 2];
        ActivationQuantizer.quantize(x, 3, n, q, 5, d, 2);
        for (int b = 0; b < n / 32; b++) {
            float amax = 0;
            for (int i = 0; i < 32; i++) amax = Math.max(amax, Math.abs(x[3 + 32 * b + i]));
            for (int i = 0; i < 32; i++) {
                int v = q[5 + 32 * b + i];
                assertTrue(v >= -127 && v <= 127, "quant " + v);
                // each value is within half a step (plus the fp16 rounding of the scale) of the original
                assertEquals(x[3 + 32 * b + i], v * d[2 + b], amax / 127 * 0.5 + amax * 1e-3);
            }
        }
    }
}
