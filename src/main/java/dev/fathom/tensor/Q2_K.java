package dev.fathom.tensor;

import java.lang.foreign.MemorySegment;

/**
 * Q2_K: super-blocks of 256 values in 84 bytes, {@code { uint8 scales[16]; uint8 qs[64]; fp16 d; fp16 dmin; }}.
 * Sixteen sub-blocks of 16 values; scales[s] holds a 4-bit scale (low nibble) and a 4-bit min (high nibble).
 * Each 128-value half uses 32 bytes of qs: bits 2k..2k+1 of byte l give value 32k + l (l < 32).
 * value = (d * scale) * q - (dmin * min), in that order (ggml dequantize_row_q2_K).
 */
public final class Q2_K implements BlockFormat {
    private static final int QK = 256;
    private static final int BYTES = 84;
    private static final int SCALES = 0;
    private static final int QS = 16;
    private static final int D = 80;
    private static final int DMIN = 82;

    @Override
    public TensorType type() {
        return TensorType.Q2_K;
    }

    @Override
    public void dequantize(MemorySegment src, long offset, float[] dst, int dstOffset, int n) {
        int nb = Blocks.count(TensorType.Q2_K, n);
        for (int i = 0; i < nb; i++) {
            long b = offset + (long) i * BYTES;
            float d = Blocks.f16(src, b + D);
            float min = Blocks.f16(src, b + DMIN);
            int y = dstOffset + i * QK;
            int is = 0;
            for (int half = 0; half < 2; half++) {
                long q = b + QS + 32L * half;
                for (int shift = 0; shift < 8; shift += 2) {
                    for (int part = 0; part < 32; part += 16) { // two sub-blocks of 16 per shift
                        int sc = Blocks.u8(src, b + SCALES + is++);
                        float dl = d * (sc & 0xF);
                        float ml = min * (sc >> 4);
                        for (int l = 0; l < 16; l++) {
                            dst[y++] = dl * ((Blocks.u8(src, q + part + l) >> shift) & 3) - ml;
                        }
                    }
                }
            }
        }
    }
}
