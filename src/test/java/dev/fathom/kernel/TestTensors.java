package dev.fathom.kernel;

import dev.fathom.tensor.BlockFormat;
import dev.fathom.tensor.F8_E4M3;
import dev.fathom.tensor.HalfFloats;
import dev.fathom.tensor.Tensor;
import dev.fathom.tensor.TensorType;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.Arrays;
import java.util.List;
import java.util.Random;

/** Random weight tensors of every supported type, for the kernel tests and benchmarks. */
public final class TestTensors {
    private static final ValueLayout.OfShort SHORT = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private TestTensors() {}

    /** Every type Fathom can read. */
    public static List<TensorType> supportedTypes() {
        return Arrays.stream(TensorType.values()).filter(TensorType::isSupported).toList();
    }

    /**
     * Byte offsets (within a block) of the fp16 scales of the types without a quantiser; random bytes elsewhere
     * are valid quants for them.
     */
    static int[] scaleOffsets(TensorType t) {
        return switch (t) {
            case Q2_K -> new int[] {80, 82};
            case Q3_K -> new int[] {108};
            case Q4_K, Q5_K -> new int[] {0, 2};
            case Q6_K -> new int[] {208};
            case IQ4_NL -> new int[] {0};
            default -> throw new IllegalArgumentException("no scale layout for " + t);
        };
    }

    /** A {@code rows x cols} tensor of {@code type} in a segment of {@code arena}: quantised Gaussian data, or random bytes with sane scales. */
    public static Tensor random(TensorType type, int rows, int cols, long seed, Arena arena) {
        long bytes = type.bytesFor(cols) * rows;
        MemorySegment seg = arena.allocate(Math.max(bytes, 1), 64);
        Random rnd = new Random(seed);
        BlockFormat f = type.format();
        if (f.canQuantize()) {
            float[] row = new float[cols];
            long rowBytes = type.bytesFor(cols);
            for (int r = 0; r < rows; r++) {
                for (int i = 0; i < cols; i++) row[i] = (float) rnd.nextGaussian();
                f.quantize(row, 0, cols, seg, r * rowBytes);
            }
        } else if (type == TensorType.F8_E4M3) { // every finite code; NaN codes never occur in a checkpoint
            for (long o = 0; o < bytes; o++) {
                int c = rnd.nextInt(256);
                seg.set(ValueLayout.JAVA_BYTE, o, (byte) (F8_E4M3.isNaN(c) ? 0x38 : c));
            }
        } else {
            byte[] b = new byte[(int) Math.min(bytes, 1 << 20)];
            for (long o = 0; o < bytes; o += b.length) {
                rnd.nextBytes(b);
                MemorySegment.copy(b, 0, seg, ValueLayout.JAVA_BYTE, o, (int) Math.min(b.length, bytes - o));
            }
            int[] scales = scaleOffsets(type);
            for (long blk = 0; blk < bytes / type.bytesPerBlock; blk++) {
                for (int s : scales) {
                    float v = (float) (0.001 + 0.05 * rnd.nextDouble());
                    seg.set(SHORT, blk * type.bytesPerBlock + s, HalfFloats.f32ToF16(v));
                }
            }
        }
        return new Tensor("w", type, new long[] {cols, rows}, seg);
    }

    public static float[] gaussian(int n, long seed) {
        Random rnd = new Random(seed);
        float[] x = new float[n];
        for (int i = 0; i < n; i++) x[i] = (float) rnd.nextGaussian();
        return x;
    }
}
