package dev.fathom.tokenizer;

/** Token types as stored in GGUF {@code tokenizer.ggml.token_type} (llama.cpp's {@code llama_token_type}). */
public enum TokenType {
    UNDEFINED(0), NORMAL(1), UNKNOWN(2), CONTROL(3), USER_DEFINED(4), UNUSED(5), BYTE(6);

    public final int ggufId;

    TokenType(int ggufId) {
        this.ggufId = ggufId;
    }

    /** The type for a GGUF id; unknown ids map to {@link #UNDEFINED} as in llama.cpp. */
    public static TokenType fromGgufId(int id) {
        return switch (id) {
            case 1 -> NORMAL;
            case 2 -> UNKNOWN;
            case 3 -> CONTROL;
            case 4 -> USER_DEFINED;
            case 5 -> UNUSED;
            case 6 -> BYTE;
            default -> UNDEFINED;
        };
    }

    /** Control and unknown tokens: matched in text only with parseSpecial, rendered only on request. */
    public boolean isSpecial() {
        return this == CONTROL || this == UNKNOWN;
    }
}
