package dev.fathom.tensor;

import java.lang.foreign.MemorySegment;

/** IEEE binary16, little-endian; encoding rounds to nearest even like ggml_fp32_to_fp16_row. */
public final class F16 implements BlockFormat {
    @Override
    public TensorType type() {
        return TensorType.F16;
    }

    @Override
    public void dequantize(MemorySegment src, long offset, float[] dst, int dstOffset, int n) {
        Blocks.count(TensorType.F16, n);
        for (int i = 0; i < n; i++) {
            dst[dstOffset + i] = Blocks.f16(src, offset + 2L * i);
        }
    }

    @Override
    public boolean canQuantize() {
        return true;
    }

    @Override
    public void quantize(float[] src, int srcOffset, int n, MemorySegment dst, long offset) {
        Blocks.count(TensorType.F16, n);
        for (int i = 0; i < n; i++) {
            Blocks.putF16(dst, offset + 2L * i, src[srcOffset + i]);
        }
    }
}
