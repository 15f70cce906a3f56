package dev.fathom.tensor;

import dev.fathom.FathomException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Arrays;
import java.util.List;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.*;

/** Quantise-then-dequantise on awkward data, the rounding rules of the reference quantisers, and errors. */
class BlockFormatRoundTripTest {

    static List<TensorType> quantisableTypes() {
        return Arrays.stream(TensorType.values()).filter(t -> t.isSupported() && t.format().canQuantize()).toList();
    }

    @Test
    void requiredTypesCanQuantise() {
        for (TensorType t : List.of(TensorType.F32, TensorType.F16, TensorType.BF16, TensorType.Q8_0, TensorType.Q4_0,
                TensorType.Q4_K, TensorType.Q5_K, TensorType.Q6_K)) {
            assertTrue(t.format().canQuantize(), t.name());
            assertSame(t, t.format().type());
        }
    }

    /** Blocks of 32 with the cases quantisers get wrong: zeros, constants, negative maxima, exact halves, tiny and huge values. */
    static float[] awkwardData(int blocks, long seed) {
        Random rnd = new Random(seed);
        float[] x = new float[blocks * 32];
        for (int b = 0; b < blocks; b++) {
            int o = b * 32;
            switch (b % 9) {
                case 0 -> { } // all zeros
                case 1 -> Arrays.fill(x, o, o + 32, 0.75f); // all equal, positive
                case 2 -> Arrays.fill(x, o, o + 32, -3.1f); // all equal, negative
                case 3 -> { // largest magnitude is negative
                    for (int j = 0; j < 32; j++) x[o + j] = (float) rnd.nextGaussian();
                    x[o + 5] = -9f;
                }
                case 4 -> { // exact halves on the Q8_0 grid: amax 127 makes d = 1
                    for (int j = 0; j < 32; j++) x[o + j] = (j - 16) + 0.5f;
                    x[o + 31] = 127f;
                }
                case 5 -> { // exact halves on the Q4_0 grid: max -8 makes d = 1
                    for (int j = 0; j < 32; j++) x[o + j] = ((j % 15) - 7) + 0.5f;
                    x[o] = -8f;
                }
                case 6 -> { // tiny values (fp16 subnormal scales) with some zeros
                    for (int j = 0; j < 32; j++) x[o + j] = j % 3 == 0 ? 0f : (float) rnd.nextGaussian() * 1e-6f;
                }
                case 7 -> { // one outlier among small values
                    for (int j = 0; j < 32; j++) x[o + j] = (float) rnd.nextGaussian() * 0.01f;
                    x[o + 17] = 30f;
                }
                default -> {
                    for (int j = 0; j < 32; j++) x[o + j] = (float) rnd.nextGaussian() * 2f;
                }
            }
        }
        return x;
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("quantisableTypes")
    void roundTripStaysWithinTheTypesError(TensorType type) {
        int n = 9 * 32 * 8; // a multiple of every block size (256 included)
        float[] x = awkwardData(n / 32, 42);
        float[] y = roundTrip(type, x);
        for (int b = 0; b < n / 32; b++) {
            float min = Float.MAX_VALUE, max = -Float.MAX_VALUE, amax = 0;
            for (int j = 0; j < 32; j++) {
                float v = x[b * 32 + j];
                min = Math.min(min, v);
                max = Math.max(max, v);
                amax = Math.max(amax, Math.abs(v));
            }
            // K-quant super-blocks (256 values) quantise their sub-blocks' scales (and mins) against the largest:
            // superAmax is the super-block's largest magnitude, superRange the largest sub-block max - min(min, 0).
            int sb = b / 8 * 8;
            float superAmax = 0, superRange = 0;
            for (int k = sb; k < sb + 8; k++) {
                float kMin = 0, kMax = -Float.MAX_VALUE;
                for (int j = 0; j < 32; j++) {
                    float v = x[k * 32 + j];
                    kMin = Math.min(kMin, v);
                    kMax = Math.max(kMax, v);
                    superAmax = Math.max(superAmax, Math.abs(v));
                }
                superRange = Math.max(superRange, kMax - kMin);
            }
            float subRange = max - Math.min(min, 0);
            for (int j = 0; j < 32; j++) {
                int i = b * 32 + j;
                float bound = switch (type) {
                    case F32 -> 0f;
                    case F16 -> Math.abs(x[i]) * 0x1p-11f + 0x1p-25f; // half an ulp, or half the smallest subnormal
                    case BF16 -> Math.abs(x[i]) * 0x1p-8f;
                    // half a step, plus the scale's fp16 rounding times the largest q, plus fp16 subnormal slack
                    case Q8_0 -> amax / 127 * 0.5f + amax * 0x1p-11f + 0x1p-14f;
                    // the value of largest magnitude's opposite end clamps to 7 steps: a whole step of error
                    case Q4_0 -> amax / 8 + amax * 0x1p-11f + 0x1p-14f;
                    case Q5_0 -> amax / 16 + amax * 0x1p-11f + 0x1p-14f;
                    case Q4_1 -> (max - min) / 15 * 0.5f + (Math.abs(min) + max - min) * 0x1p-10f + 0x1p-14f;
                    case Q5_1 -> (max - min) / 31 * 0.5f + (Math.abs(min) + max - min) * 0x1p-10f + 0x1p-14f;
                    // half a sub-block step, plus one step of the 6-bit scales and mins (a sub-block far below the
                    // super-block's largest gets scale 0 and comes back as its min)
                    case Q4_K -> subRange / 15 * 0.5f + superRange / 63 + superAmax * 0x1p-10f + 0x1p-14f;
                    case Q5_K -> subRange / 31 * 0.5f + superRange / 63 + superAmax * 0x1p-10f + 0x1p-14f;
                    // the far end clamps to 31 steps (a whole step, as Q4_0), plus one step of the int8 scales
                    case Q6_K -> amax / 32 + superAmax / 128 + superAmax * 0x1p-10f + 0x1p-14f;
                    // half the widest gap of the table (12 of the ~113..127 units amax maps to: about amax / 9), plus
                    // the 6-bit scale's error (at most d = superAmax / 113 / 32 per unit when 32 clamps to 31, times
                    // 127 units; a sub-block far below the super-block's largest gets scale 0 and comes back as 0),
                    // plus the fp16 d's rounding and subnormal step
                    case IQ4_XS -> amax / 8 + superAmax / 28 + superAmax * 0x1p-10f + 0x1p-12f;
                    default -> throw new AssertionError("no error bound for " + type);
                };
                float err = Math.abs(y[i] - x[i]);
                assertTrue(err <= bound, () -> type + " value " + i + " (block kind " + (i / 32) % 9 + "): " + x[i] + " came back as "
                        + y[i] + ", error " + err + " > " + bound);
            }
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("quantisableTypes")
    void zerosAndConstantsComeBack(TensorType type) {
        int n = 256;
        float[] zeros = new float[n];
        float[] y = roundTrip(type, zeros);
        for (int i = 0; i < n; i++) assertEquals(0f, y[i], 0f, type + " zero " + i); // -0.0 allowed (Q4_0's d is -0.0)
        // -127/64: every scale (amax/127, max/-8, max/-16, min, Q6_K's max/-4096) is exact in fp16, so the constant
        // comes back exactly. (A constant 1 would not for Q8_0: d = 1/127 rounds in fp16 and 127*d = 0.99994.)
        // Q4_K and Q5_K store a constant as 63 * dmin with dmin = |c| / 63 in fp16: -63/64 makes dmin 1/64.
        // IQ4_XS maps a constant to the table's 113 (the first fit, which the trials only tie): -113/64 makes the
        // sub-block scale -1/64 and d 1/2048.
        float c = switch (type) {
            case Q4_K, Q5_K -> -63f / 64;
            case IQ4_XS -> -113f / 64;
            default -> -127f / 64;
        };
        float[] constant = new float[n];
        Arrays.fill(constant, c);
        y = roundTrip(type, constant);
        for (int i = 0; i < n; i++) assertEquals(c, y[i], 0f, type + " constant " + i);
    }

    @Test
    void q8_0RoundsHalvesAwayFromZero() {
        float[] x = new float[32];
        for (int j = 0; j < 31; j++) x[j] = (j - 15) + 0.5f; // -14.5 .. 15.5
        x[31] = -127f; // d = 1 exactly
        float[] y = roundTrip(TensorType.Q8_0, x);
        for (int j = 0; j < 31; j++) {
            float expected = x[j] < 0 ? x[j] - 0.5f : x[j] + 0.5f;
            assertEquals(expected, y[j], 0f, "Q8_0 of " + x[j]);
        }
        assertEquals(-127f, y[31], 0f);
    }

    @Test
    void q4_0RoundsHalvesUpAndClampsTheFarEnd() {
        float[] x = new float[32];
        x[0] = -8f; // max by magnitude, negative: d = -8 / -8 = 1
        x[1] = -0.5f; // -0.5 + 8.5 = 8.0 -> 8 -> 0
        x[2] = 0.5f; // 9.0 -> 9 -> 1
        x[3] = -1.5f; // 7.0 -> 7 -> -1
        x[4] = 8f; // 16.5 -> 16, clamped to 15 -> 7
        float[] y = roundTrip(TensorType.Q4_0, x);
        assertEquals(-8f, y[0], 0f);
        assertEquals(0f, y[1], 0f);
        assertEquals(1f, y[2], 0f);
        assertEquals(-1f, y[3], 0f);
        assertEquals(7f, y[4], 0f);
    }

    @Test
    void cRoundf() {
        assertEquals(3f, Blocks.roundf(2.5f));
        assertEquals(-3f, Blocks.roundf(-2.5f));
        assertEquals(-1f, Blocks.roundf(-0.5f));
        assertEquals(1f, Blocks.roundf(0.5f));
        assertEquals(0f, Blocks.roundf(0.49999997f)); // x + 0.5f would round this up
        assertEquals(2f, Blocks.roundf(1.5f));
        assertEquals(-2f, Blocks.roundf(-1.5f));
        assertEquals(8388609f, Blocks.roundf(8388609f));
        assertEquals(Float.floatToRawIntBits(-0f), Float.floatToRawIntBits(Blocks.roundf(-0.2f)));
    }

    @Test
    void halfFloatConversions() {
        assertEquals((short) 0x3C00, HalfFloats.f32ToF16(1f));
        assertEquals((short) 0x7C00, HalfFloats.f32ToF16(65520f)); // rounds to infinity
        assertEquals((short) 0x7BFF, HalfFloats.f32ToF16(65519f));
        assertEquals((short) 0x3C00, HalfFloats.f32ToF16(1f + 0x1p-11f)); // tie to even
        assertEquals((short) 0x3C02, HalfFloats.f32ToF16(1f + 3 * 0x1p-11f)); // tie to even (up)
        assertEquals((short) 0x3F80, HalfFloats.f32ToBf16(1f));
        assertEquals((short) 0x3F80, HalfFloats.f32ToBf16(Float.intBitsToFloat(0x3F808000))); // tie to even (down)
        assertEquals((short) 0x3F82, HalfFloats.f32ToBf16(Float.intBitsToFloat(0x3F818000))); // tie to even (up)
        assertEquals((short) 0x3F81, HalfFloats.f32ToBf16(Float.intBitsToFloat(0x3F808001)));
        assertEquals((short) 0xFF80, HalfFloats.f32ToBf16(Float.NEGATIVE_INFINITY));
        assertEquals((short) 0x7F7F, HalfFloats.f32ToBf16(Float.intBitsToFloat(0x7F7F7FFF)));
        assertEquals((short) 0x7F80, HalfFloats.f32ToBf16(Float.MAX_VALUE)); // rounds to infinity
        assertEquals((short) 0x7FC1, HalfFloats.f32ToBf16(Float.intBitsToFloat(0x7F810000))); // signalling NaN made quiet
        assertEquals((short) 0x0001, HalfFloats.f32ToBf16(Float.intBitsToFloat(0x00010000))); // subnormal kept
        assertEquals(Float.intBitsToFloat(0xBF800000), HalfFloats.bf16ToF32((short) 0xBF80));
    }

    @Test
    void unsupportedTypeIsNamed() {
        assertFalse(TensorType.IQ2_XXS.isSupported());
        FathomException e = assertThrows(FathomException.class, TensorType.IQ2_XXS::format);
        assertTrue(e.getMessage().contains("IQ2_XXS"), e.getMessage());
        assertTrue(e.getMessage().contains("Q4_K"), "the message lists what is supported: " + e.getMessage());
    }

    @Test
    void decodersWithoutAnEncoderSaySo() {
        BlockFormat q3k = TensorType.Q3_K.format();
        assertFalse(q3k.canQuantize());
        UnsupportedOperationException e = assertThrows(UnsupportedOperationException.class,
                () -> q3k.quantize(new float[256], 0, 256, MemorySegment.ofArray(new byte[Math.toIntExact(TensorType.Q3_K.bytesFor(256))]), 0));
        assertTrue(e.getMessage().contains("Q3_K"), e.getMessage());
    }

    @Test
    void nearestIntRoundsHalvesToEven() {
        // ggml's nearest_int (the 1.5 * 2^23 trick), unlike roundf and Math.round
        assertEquals(2, KQuants.nearestInt(2.5f));
        assertEquals(4, KQuants.nearestInt(3.5f));
        assertEquals(-2, KQuants.nearestInt(-2.5f));
        assertEquals(0, KQuants.nearestInt(-0.5f));
        assertEquals(0, KQuants.nearestInt(0.49999997f));
        assertEquals(-7, KQuants.nearestInt(-7.2f));
        assertEquals(4194303, KQuants.nearestInt(4194303f));
        assertEquals(-4194303, KQuants.nearestInt(-4194303f));
    }

    @Test
    void partialBlocksAreRejected() {
        for (TensorType t : TensorType.values()) {
            if (!t.isSupported() || t.blockSize == 1) continue;
            assertThrows(IllegalArgumentException.class,
                    () -> t.format().dequantize(MemorySegment.ofArray(new byte[1024]), 0, new float[1024], 0, t.blockSize + 1), t.name());
        }
    }

    @Test
    void decodesAtOffsets() {
        float[] x = awkwardData(2 + 16, 7); // 64 values before, then 512: whole blocks of every size (256 included)
        for (TensorType t : quantisableTypes()) {
            BlockFormat f = t.format();
            long bytes = t.bytesFor(x.length - 64);
            MemorySegment seg = MemorySegment.ofArray(new byte[Math.toIntExact(bytes + 7)]);
            f.quantize(x, 64, x.length - 64, seg, 7); // odd byte offset: unaligned reads and writes
            float[] y = new float[x.length];
            f.dequantize(seg, 7, y, 64, x.length - 64);
            float[] z = roundTrip(t, Arrays.copyOfRange(x, 64, x.length));
            assertArrayEquals(z, Arrays.copyOfRange(y, 64, y.length), t.name());
            for (int i = 0; i < 64; i++) assertEquals(0f, y[i], 0f, t + ": wrote before dstOffset");
        }
    }

    static float[] roundTrip(TensorType type, float[] x) {
        BlockFormat f = type.format();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment seg = arena.allocate(type.bytesFor(x.length));
            f.quantize(x, 0, x.length, seg, 0);
            float[] y = new float[x.length];
            f.dequantize(seg, 0, y, 0, x.length);
            return y;
        }
    }
}
