package dev.fathom.tensor;

import java.lang.foreign.MemorySegment;

/**
 * Q5_0: blocks of 32 values in 22 bytes, {@code { fp16 d; uint8 qh[4]; uint8 qs[16]; }}. The low 4 bits are
 * nibbles as in Q4_0; bit j of the little-endian u32 qh is the fifth bit of value j. value = (q - 16) * d.
 * Encoding is quantize_row_q5_0_ref: d = (largest-magnitude value, sign kept) / -16,
 * q = min(31, trunc(x / d + 16.5)).
 */
public final class Q5_0 implements BlockFormat {
    private static final int QK = 32;
    private static final int BYTES = 22;

    @Override
    public TensorType type() {
        return TensorType.Q5_0;
    }

    @Override
    public void dequantize(MemorySegment src, long offset, float[] dst, int dstOffset, int n) {
        int nb = Blocks.count(TensorType.Q5_0, n);
        for (int i = 0; i < nb; i++) {
            long b = offset + (long) i * BYTES;
            float d = Blocks.f16(src, b);
            int qh = Blocks.u32(src, b + 2);
            int y = dstOffset + i * QK;
            for (int j = 0; j < QK / 2; j++) {
                int q = Blocks.u8(src, b + 6 + j);
                int h0 = ((qh >>> j) << 4) & 0x10;
                int h1 = (qh >>> (j + 12)) & 0x10;
                dst[y + j] = (((q & 0x0F) | h0) - 16) * d;
                dst[y + j + QK / 2] = (((q >> 4) | h1) - 16) * d;
            }
        }
    }

    @Override
    public boolean canQuantize() {
        return true;
    }

    @Override
    public void quantize(float[] src, int srcOffset, int n, MemorySegment dst, long offset) {
        int nb = Blocks.count(TensorType.Q5_0, n);
        for (int i = 0; i < nb; i++) {
            int x = srcOffset + i * QK;
            long b = offset + (long) i * BYTES;
            float d = Blocks.signedAbsMax(src, x, QK) / -16;
            float id = d != 0f ? 1.0f / d : 0.0f;
            Blocks.putF16(dst, b, d);
            int qh = 0;
            for (int j = 0; j < QK / 2; j++) {
                float x0 = src[x + j] * id;
                float x1 = src[x + QK / 2 + j] * id;
                int q0 = Math.min(31, (int) (x0 + 16.5f));
                int q1 = Math.min(31, (int) (x1 + 16.5f));
                Blocks.put8(dst, b + 6 + j, (q0 & 0x0F) | ((q1 & 0x0F) << 4));
                qh |= ((q0 & 0x10) >>> 4) << j;
                qh |= ((q1 & 0x10) >>> 4) << (j + QK / 2);
            }
            Blocks.put32(dst, b + 2, qh);
        }
    }
}
