package dev.fathom.tensor;

import java.lang.foreign.MemorySegment;

/**
 * Q5_1: blocks of 32 values in 24 bytes, {@code { fp16 d; fp16 m; uint8 qh[4]; uint8 qs[16]; }}; 5-bit q as
 * in Q5_0, value = q * d + m. Encoding is quantize_row_q5_1_ref: d = (max - min) / 31, m = min,
 * q = trunc((x - min) / d + 0.5).
 */
public final class Q5_1 implements BlockFormat {
    private static final int QK = 32;
    private static final int BYTES = 24;

    @Override
    public TensorType type() {
        return TensorType.Q5_1;
    }

    @Override
    public void dequantize(MemorySegment src, long offset, float[] dst, int dstOffset, int n) {
        int nb = Blocks.count(TensorType.Q5_1, n);
        for (int i = 0; i < nb; i++) {
            long b = offset + (long) i * BYTES;
            float d = Blocks.f16(src, b);
            float m = Blocks.f16(src, b + 2);
            int qh = Blocks.u32(src, b + 4);
            int y = dstOffset + i * QK;
            for (int j = 0; j < QK / 2; j++) {
                int q = Blocks.u8(src, b + 8 + j);
                int h0 = ((qh >>> j) << 4) & 0x10;
                int h1 = (qh >>> (j + 12)) & 0x10;
                dst[y + j] = ((q & 0x0F) | h0) * d + m;
                dst[y + j + QK / 2] = ((q >> 4) | h1) * d + m;
            }
        }
    }

    @Override
    public boolean canQuantize() {
        return true;
    }

    @Override
    public void quantize(float[] src, int srcOffset, int n, MemorySegment dst, long offset) {
        int nb = Blocks.count(TensorType.Q5_1, n);
        for (int i = 0; i < nb; i++) {
            int x = srcOffset + i * QK;
            long b = offset + (long) i * BYTES;
            float min = Blocks.min(src, x, QK);
            float d = (Blocks.max(src, x, QK) - min) / 31;
            float id = d != 0f ? 1.0f / d : 0.0f;
            Blocks.putF16(dst, b, d);
            Blocks.putF16(dst, b + 2, min);
            int qh = 0;
            for (int j = 0; j < QK / 2; j++) {
                float x0 = (src[x + j] - min) * id;
                float x1 = (src[x + QK / 2 + j] - min) * id;
                int q0 = (int) (x0 + 0.5f) & 0xFF; // ggml casts to uint8_t without clamping
                int q1 = (int) (x1 + 0.5f) & 0xFF;
                Blocks.put8(dst, b + 8 + j, (q0 & 0x0F) | ((q1 & 0x0F) << 4));
                qh |= ((q0 & 0x10) >>> 4) << j;
                qh |= ((q1 & 0x10) >>> 4) << (j + QK / 2);
            }
            Blocks.put32(dst, b + 4, qh);
        }
    }
}
