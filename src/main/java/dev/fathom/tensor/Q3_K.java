package dev.fathom.tensor;

import java.lang.foreign.MemorySegment;

/**
 * Q3_K: super-blocks of 256 values in 110 bytes, {@code { uint8 hmask[32]; uint8 qs[64]; uint8 scales[12]; fp16 d; }}.
 * Sixteen sub-blocks of 16 values with signed 6-bit scales (stored + 32): scale j takes its low 4 bits from
 * the low nibble of scales[j] (j < 8) or the high nibble of scales[j - 8], and its top 2 bits from bits
 * 2*(j/4)..+1 of scales[8 + j%4]. The low 2 bits of each value are packed like Q2_K; the third bit is in hmask:
 * value 32k + l of the super-block (k = 0..7, l < 32) uses bit k of hmask[l]; a cleared bit subtracts 4.
 * value = (d * (scale - 32)) * ((q & 3) - (hbit ? 0 : 4)) (ggml dequantize_row_q3_K).
 */
public final class Q3_K implements BlockFormat {
    private static final int QK = 256;
    private static final int BYTES = 110;
    private static final int HMASK = 0;
    private static final int QS = 32;
    private static final int SCALES = 96;
    private static final int D = 108;

    @Override
    public TensorType type() {
        return TensorType.Q3_K;
    }

    /** The signed scale (-32..31) of sub-block {@code j} (0..15) from the 12 packed bytes at {@code off}. */
    static int scale(MemorySegment s, long off, int j) {
        int low = j < 8 ? Blocks.u8(s, off + j) & 0xF : Blocks.u8(s, off + j - 8) >> 4;
        int high = (Blocks.u8(s, off + 8 + (j & 3)) >> (2 * (j >> 2))) & 3;
        return (low | (high << 4)) - 32;
    }

    @Override
    public void dequantize(MemorySegment src, long offset, float[] dst, int dstOffset, int n) {
        int nb = Blocks.count(TensorType.Q3_K, n);
        for (int i = 0; i < nb; i++) {
            long b = offset + (long) i * BYTES;
            float dAll = Blocks.f16(src, b + D);
            int y = dstOffset + i * QK;
            int is = 0;
            int m = 1;
            for (int half = 0; half < 2; half++) {
                long q = b + QS + 32L * half;
                for (int shift = 0; shift < 8; shift += 2) {
                    for (int part = 0; part < 32; part += 16) {
                        float dl = dAll * scale(src, b + SCALES, is++);
                        for (int l = 0; l < 16; l++) {
                            int low = (Blocks.u8(src, q + part + l) >> shift) & 3;
                            int high = (Blocks.u8(src, b + HMASK + part + l) & m) != 0 ? 0 : 4;
                            dst[y++] = dl * (low - high);
                        }
                    }
                    m <<= 1;
                }
            }
        }
    }
}
