package dev.fathom.tensor;

import java.lang.foreign.MemorySegment;

/**
 * Q4_1: blocks of 32 values in 20 bytes, {@code { fp16 d; fp16 m; uint8 qs[16]; }}; nibbles as in Q4_0,
 * value = nibble * d + m. Encoding is quantize_row_q4_1_ref: d = (max - min) / 15, m = min,
 * nibble = min(15, trunc((x - min) / d + 0.5)).
 */
public final class Q4_1 implements BlockFormat {
    private static final int QK = 32;
    private static final int BYTES = 20;

    @Override
    public TensorType type() {
        return TensorType.Q4_1;
    }

    @Override
    public void dequantize(MemorySegment src, long offset, float[] dst, int dstOffset, int n) {
        int nb = Blocks.count(TensorType.Q4_1, n);
        for (int i = 0; i < nb; i++) {
            long b = offset + (long) i * BYTES;
            float d = Blocks.f16(src, b);
            float m = Blocks.f16(src, b + 2);
            int y = dstOffset + i * QK;
            for (int j = 0; j < QK / 2; j++) {
                int q = Blocks.u8(src, b + 4 + j);
                dst[y + j] = (q & 0x0F) * d + m;
                dst[y + j + QK / 2] = (q >> 4) * d + m;
            }
        }
    }

    @Override
    public boolean canQuantize() {
        return true;
    }

    @Override
    public void quantize(float[] src, int srcOffset, int n, MemorySegment dst, long offset) {
        int nb = Blocks.count(TensorType.Q4_1, n);
        for (int i = 0; i < nb; i++) {
            int x = srcOffset + i * QK;
            long b = offset + (long) i * BYTES;
            float min = Blocks.min(src, x, QK);
            float d = (Blocks.max(src, x, QK) - min) / 15;
            float id = d != 0f ? 1.0f / d : 0.0f;
            Blocks.putF16(dst, b, d);
            Blocks.putF16(dst, b + 2, min);
            for (int j = 0; j < QK / 2; j++) {
                float x0 = (src[x + j] - min) * id;
                float x1 = (src[x + QK / 2 + j] - min) * id;
                int q0 = Math.min(15, (int) (x0 + 0.5f));
                int q1 = Math.min(15, (int) (x1 + 0.5f));
                Blocks.put8(dst, b + 4 + j, q0 | (q1 << 4));
            }
        }
    }
}
