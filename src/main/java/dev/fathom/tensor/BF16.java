package dev.fathom.tensor;

import java.lang.foreign.MemorySegment;

/** bfloat16, little-endian; encoding is ggml_compute_fp32_to_bf16 (quiet NaN, round to nearest even). */
public final class BF16 implements BlockFormat {
    @Override
    public TensorType type() {
        return TensorType.BF16;
    }

    @Override
    public void dequantize(MemorySegment src, long offset, float[] dst, int dstOffset, int n) {
        Blocks.count(TensorType.BF16, n);
        for (int i = 0; i < n; i++) {
            dst[dstOffset + i] = HalfFloats.bf16ToF32(src.get(Blocks.SHORT, offset + 2L * i));
        }
    }

    @Override
    public boolean canQuantize() {
        return true;
    }

    @Override
    public void quantize(float[] src, int srcOffset, int n, MemorySegment dst, long offset) {
        Blocks.count(TensorType.BF16, n);
        for (int i = 0; i < n; i++) {
            dst.set(Blocks.SHORT, offset + 2L * i, HalfFloats.f32ToBf16(src[srcOffset + i]));
        }
    }
}
