package dev.fathom.tensor;

import java.lang.foreign.MemorySegment;

/**
 * Q4_0: blocks of 32 values in 18 bytes, {@code { fp16 d; uint8 qs[16]; }}. Byte j holds value j in its low
 * nibble and value j + 16 in its high nibble; value = (nibble - 8) * d.
 * Encoding is quantize_row_q4_0_ref: d = (the value of largest magnitude, sign kept) / -8, nibble =
 * min(15, trunc(x / d + 8.5)).
 */
public final class Q4_0 implements BlockFormat {
    private static final int QK = 32;
    private static final int BYTES = 18;

    @Override
    public TensorType type() {
        return TensorType.Q4_0;
    }

    @Override
    public void dequantize(MemorySegment src, long offset, float[] dst, int dstOffset, int n) {
        int nb = Blocks.count(TensorType.Q4_0, n);
        for (int i = 0; i < nb; i++) {
            long b = offset + (long) i * BYTES;
            float d = Blocks.f16(src, b);
            int y = dstOffset + i * QK;
            for (int j = 0; j < QK / 2; j++) {
                int q = Blocks.u8(src, b + 2 + j);
                dst[y + j] = ((q & 0x0F) - 8) * d;
                dst[y + j + QK / 2] = ((q >> 4) - 8) * d;
            }
        }
    }

    @Override
    public boolean canQuantize() {
        return true;
    }

    @Override
    public void quantize(float[] src, int srcOffset, int n, MemorySegment dst, long offset) {
        int nb = Blocks.count(TensorType.Q4_0, n);
        for (int i = 0; i < nb; i++) {
            int x = srcOffset + i * QK;
            long b = offset + (long) i * BYTES;
            float d = Blocks.signedAbsMax(src, x, QK) / -8;
            float id = d != 0f ? 1.0f / d : 0.0f;
            Blocks.putF16(dst, b, d);
            for (int j = 0; j < QK / 2; j++) {
                float x0 = src[x + j] * id;
                float x1 = src[x + QK / 2 + j] * id;
                int q0 = Math.min(15, (int) (x0 + 8.5f)); // C float->int conversion truncates, like Java's cast
                int q1 = Math.min(15, (int) (x1 + 8.5f));
                Blocks.put8(dst, b + 2 + j, q0 | (q1 << 4));
            }
        }
    }
}
