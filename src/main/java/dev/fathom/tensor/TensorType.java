package dev.fathom.tensor;

import dev.fathom.FathomException;

/**
 * How a tensor stores its numbers: blocks of {@code blockSize} values in {@code bytesPerBlock} bytes.
 * The ggml types keep their ggml ids (GGUF stores them); every ggml type is listed so that an unsupported one
 * is reported by name and its size can still be checked. Types from other formats (for example FP8 in
 * safetensors) get {@code ggmlId = -1}.
 */
public enum TensorType {
    F32(0, 1, 4),
    F16(1, 1, 2),
    Q4_0(2, 32, 18),
    Q4_1(3, 32, 20),
    Q5_0(6, 32, 22),
    Q5_1(7, 32, 24),
    Q8_0(8, 32, 34),
    Q8_1(9, 32, 36),
    Q2_K(10, 256, 84),
    Q3_K(11, 256, 110),
    Q4_K(12, 256, 144),
    Q5_K(13, 256, 176),
    Q6_K(14, 256, 210),
    Q8_K(15, 256, 292),
    IQ2_XXS(16, 256, 66),
    IQ2_XS(17, 256, 74),
    IQ3_XXS(18, 256, 98),
    IQ1_S(19, 256, 50),
    IQ4_NL(20, 32, 18),
    IQ3_S(21, 256, 110),
    IQ2_S(22, 256, 82),
    IQ4_XS(23, 256, 136),
    I8(24, 1, 1),
    I16(25, 1, 2),
    I32(26, 1, 4),
    I64(27, 1, 8),
    F64(28, 1, 8),
    IQ1_M(29, 256, 56),
    BF16(30, 1, 2),
    TQ1_0(34, 256, 54),
    TQ2_0(35, 256, 66),
    MXFP4(39, 32, 17),
    /** FP8 e4m3fn of safetensors (not a ggml type); DeepSeek's block scales come with the tensor. */
    F8_E4M3(-1, 1, 1);

    private static final TensorType[] BY_GGML_ID = new TensorType[64];

    static {
        for (TensorType t : values()) {
            if (t.ggmlId >= 0) BY_GGML_ID[t.ggmlId] = t;
        }
    }

    public final int ggmlId;
    public final int blockSize;
    public final int bytesPerBlock;

    TensorType(int ggmlId, int blockSize, int bytesPerBlock) {
        this.ggmlId = ggmlId;
        this.blockSize = blockSize;
        this.bytesPerBlock = bytesPerBlock;
    }

    /** The type with this ggml id, or null when ggml has no such type (or it was removed from ggml). */
    public static TensorType fromGgmlId(int id) {
        return id >= 0 && id < BY_GGML_ID.length ? BY_GGML_ID[id] : null;
    }

    /** Bytes needed for {@code n} values; n must be a multiple of the block size. */
    public long bytesFor(long n) {
        if (n % blockSize != 0) {
            throw new IllegalArgumentException(n + " values is not a whole number of " + name() + " blocks of " + blockSize);
        }
        return n / blockSize * bytesPerBlock;
    }

    /** Whether Fathom can read tensors of this type. */
    public boolean isSupported() {
        return BlockFormats.isSupported(this);
    }

    /** The block format that reads (and, for some types, writes) this type; a clear error when unsupported. */
    public BlockFormat format() {
        BlockFormat f = BlockFormats.of(this);
        if (f == null) {
            throw new FathomException("tensor type " + name() + " (ggml id " + ggmlId + ") is not supported by Fathom; "
                    + "supported: " + BlockFormats.supportedNames());
        }
        return f;
    }
}
