package dev.fathom.convert;

import dev.fathom.FathomException;
import dev.fathom.tensor.TensorType;

import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The weight types of a GGUF file as llama-quantize chooses them (src/llama-quant.cpp, {@code llama_tensor_get_type}):
 * one type for every matrix, or the Q4_K_M mix. Norms, biases, the MoE router and its bias always stay F32. Where a
 * row length is not a multiple of the chosen type's block, llama.cpp's fallback applies (Q4_K to Q5_0, Q5_K to Q5_1,
 * Q6_K to Q8_0, then F16 when not even a multiple of 32).
 */
public enum QuantMix {
    F32(TensorType.F32, 0), F16(TensorType.F16, 1), BF16(TensorType.BF16, 32), Q8_0(TensorType.Q8_0, 7),
    Q4_0(TensorType.Q4_0, 2), Q4_K(TensorType.Q4_K, 14), Q6_K(TensorType.Q6_K, 18),
    /**
     * Q4_K, with Q6_K for the output head and, on the layers {@link #useMoreBits} picks, attn_v and every ffn_down
     * (dense, shared and routed experts); with 8 experts attn_v and attn_k become Q8_0 and attn_output Q5_K.
     */
    Q4_K_M(TensorType.Q4_K, 15);

    private static final Pattern LAYER = Pattern.compile("blk\\.(\\d+)\\..*");

    /** The base type of the matrices. */
    public final TensorType base;
    /** llama.cpp's {@code llama_ftype} ({@code general.file_type}). */
    public final int fileType;

    QuantMix(TensorType base, int fileType) {
        this.base = base;
        this.fileType = fileType;
    }

    public static QuantMix fromName(String name) {
        for (QuantMix m : values()) if (m.name().equalsIgnoreCase(name)) return m;
        throw new FathomException("--type " + name + " is not supported (F32, F16, BF16, Q8_0, Q4_0, Q4_K, Q6_K or Q4_K_M)");
    }

    /** llama.cpp's {@code use_more_bits}: the first and last eighth of the layers and every third in between. */
    static boolean useMoreBits(int layer, int layers) {
        return layer < layers / 8 || layer >= 7 * layers / 8 || (layer - layers / 8) % 3 == 2;
    }

    /** llama-quantize's {@code tensor_allows_quantization}: matrices named *weight, except norms and the MoE router. */
    public static boolean quantizable(String name, int dims) {
        return dims >= 2 && name.endsWith("weight") && !name.contains("_norm.weight") && !name.contains("ffn_gate_inp.weight");
    }

    /**
     * The type of tensor {@code name} (llama.cpp's name) with {@code rowLength} values per row in a model of
     * {@code layers} layers and {@code experts} routed experts; {@code arch} and layers identify a Llama 70B.
     * Without an {@code output.weight} ({@code hasOutput} false: tied embeddings) token_embd is the output head and
     * gets its type, as llama-quantize's {@code has_output} decides.
     */
    public TensorType typeOf(String name, int dims, long rowLength, String arch, int layers, int experts, boolean hasOutput) {
        if (!quantizable(name, dims)) return TensorType.F32;
        TensorType t = base;
        if (this == Q4_K_M) {
            Matcher m = LAYER.matcher(name);
            int layer = m.matches() ? Integer.parseInt(m.group(1)) : -1;
            if (name.equals("output.weight") || (!hasOutput && name.equals("token_embd.weight"))) {
                return rowLength % 256 != 0 ? TensorType.Q8_0 : TensorType.Q6_K;
            } else if (name.contains("attn_v.weight")) {
                if (useMoreBits(layer, layers)) t = TensorType.Q6_K;
                if (arch.equals("llama") && layers == 80 && t == TensorType.Q4_K) t = TensorType.Q5_K; // LLM_TYPE_70B
                if (experts == 8) t = TensorType.Q8_0;
            } else if (name.contains("attn_k.weight") && experts == 8) {
                t = TensorType.Q8_0;
            } else if (name.contains("ffn_down")) {
                if (useMoreBits(layer, layers)) t = TensorType.Q6_K;
            } else if (name.contains("attn_output.weight") && experts == 8) {
                t = TensorType.Q5_K;
            }
        }
        if (rowLength % t.blockSize != 0) {
            t = switch (t) {
                case Q4_K -> TensorType.Q5_0;
                case Q5_K -> TensorType.Q5_1;
                case Q6_K -> TensorType.Q8_0;
                default -> t;
            };
            if (rowLength % t.blockSize != 0) t = TensorType.F16;
        }
        return t;
    }

    public String cliName() {
        return name().toUpperCase(Locale.ROOT);
    }
}
