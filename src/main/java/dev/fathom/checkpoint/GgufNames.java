package dev.fathom.checkpoint;

import dev.fathom.FathomException;
import dev.fathom.gguf.GgufMetadata;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * llama.cpp's GGUF conventions for the architectures Fathom runs, both ways: canonical tensor names to llama.cpp's
 * ({@code layers.3.attn.wkv_a.weight} is {@code blk.3.attn_kv_a_mqa.weight}), and llama.cpp's metadata keys to
 * Hugging Face config names and back (what its converter, {@code convert_hf_to_gguf.py}, writes). Reading and
 * writing share these tables, so a file Fathom writes reads back as it was meant.
 */
public final class GgufNames {
    private GgufNames() {}

    private static final Map<String, String> TOP = Map.of(
            "embed.weight", "token_embd.weight",
            "norm.weight", "output_norm.weight",
            "head.weight", "output.weight",
            "rope.freqs", "rope_freqs.weight");

    /** Per-layer names without the {@code .weight} / {@code .bias} suffix (which is kept), except the router's. */
    private static final Map<String, String> LAYER = new LinkedHashMap<>();

    static {
        String[][] pairs = {
                {"attn_norm", "attn_norm"}, {"ffn_norm", "ffn_norm"},
                {"attn.wq", "attn_q"}, {"attn.wq_a", "attn_q_a"}, {"attn.q_norm", "attn_q_a_norm"}, {"attn.wq_b", "attn_q_b"},
                {"attn.wkv_a", "attn_kv_a_mqa"}, {"attn.kv_norm", "attn_kv_a_norm"}, {"attn.wkv_b", "attn_kv_b"}, {"attn.wk_b", "attn_k_b"},
                {"attn.wv_b", "attn_v_b"}, {"attn.wo", "attn_output"}, {"attn.wk", "attn_k"}, {"attn.wv", "attn_v"},
                {"ffn.w1", "ffn_gate"}, {"ffn.w2", "ffn_down"}, {"ffn.w3", "ffn_up"},
                {"ffn.experts.w1", "ffn_gate_exps"}, {"ffn.experts.w2", "ffn_down_exps"}, {"ffn.experts.w3", "ffn_up_exps"},
                {"ffn.shared_experts.w1", "ffn_gate_shexp"}, {"ffn.shared_experts.w2", "ffn_down_shexp"},
                {"ffn.shared_experts.w3", "ffn_up_shexp"}};
        for (String[] p : pairs) LAYER.put(p[0], p[1]);
    }

    private static final Pattern LAYER_NAME = Pattern.compile("layers\\.(\\d+)\\.(.+)\\.(weight|bias)");

    /** llama.cpp's name of a canonical tensor name. */
    public static String tensor(String canonical) {
        String top = TOP.get(canonical);
        if (top != null) return top;
        Matcher m = LAYER_NAME.matcher(canonical);
        if (m.matches()) {
            String blk = "blk." + m.group(1) + ".";
            String part = m.group(2), suffix = m.group(3);
            if (part.equals("ffn.gate")) return blk + (suffix.equals("weight") ? "ffn_gate_inp.weight" : "exp_probs_b.bias");
            String name = LAYER.get(part);
            if (name != null) return blk + name + "." + suffix;
        }
        throw new IllegalArgumentException("not a canonical tensor name: " + canonical);
    }

    // ------------------------------------------------------------------------------------------------ metadata

    /** llama.cpp's {@code llm_expert_gating_func_type}. */
    static final int GATING_SOFTMAX = 1, GATING_SIGMOID = 2;

    /** The hyper-parameters of a GGUF file under HF names; errors name the GGUF key. */
    public static ConfigValues config(GgufMetadata m, String source) {
        String arch = Checkpoint.supported(source, m.getString("general.architecture"));
        Map<String, Object> c = new LinkedHashMap<>();
        String a = arch + ".";
        int layers = m.getInt(a + "block_count");
        c.put("vocab_size", m.has(a + "vocab_size") ? m.getInt(a + "vocab_size") : m.getStringArray("tokenizer.ggml.tokens").length);
        c.put("hidden_size", m.getInt(a + "embedding_length"));
        c.put("num_hidden_layers", layers);
        c.put("num_attention_heads", m.getInt(a + "attention.head_count"));
        c.put("rms_norm_eps", m.getFloat(a + "attention.layer_norm_rms_epsilon"));
        c.put("rope_theta", m.getFloat(a + "rope.freq_base", 10000f));
        c.put("max_position_embeddings", m.getInt(a + "context_length"));
        if (m.has("tokenizer.ggml.bos_token_id")) c.put("bos_token_id", m.getInt("tokenizer.ggml.bos_token_id"));
        if (m.has("tokenizer.ggml.eos_token_id")) c.put("eos_token_id", m.getInt("tokenizer.ggml.eos_token_id"));
        if (arch.equals("deepseek2")) {
            deepSeek(m, c, layers);
        } else {
            int heads = m.getInt(a + "attention.head_count");
            c.put("intermediate_size", m.getInt(a + "feed_forward_length"));
            c.put("num_key_value_heads", m.getInt(a + "attention.head_count_kv", heads));
            if (m.has(a + "attention.key_length")) c.put("head_dim", m.getInt(a + "attention.key_length"));
            String scaling = m.findString(a + "rope.scaling.type").orElse("none");
            switch (scaling) {
                case "none" -> {}
                case "linear" -> c.put("rope_scaling", Map.of("rope_type", "linear", "factor", m.getFloat(a + "rope.scaling.factor")));
                case "yarn" -> c.put("rope_scaling", Map.of("rope_type", "yarn", "factor", m.getFloat(a + "rope.scaling.factor"),
                        "original_max_position_embeddings", m.getInt(a + "rope.scaling.original_context_length"),
                        "beta_fast", m.getFloat(a + "rope.scaling.yarn_beta_fast", 32f),
                        "beta_slow", m.getFloat(a + "rope.scaling.yarn_beta_slow", 1f)));
                default -> throw new FathomException(source + ": metadata key '" + a + "rope.scaling.type' = '" + scaling
                        + "' is not supported (none, linear or yarn)");
            }
        }
        return new ConfigValues(source, c);
    }

    private static void deepSeek(GgufMetadata m, Map<String, Object> c, int layers) {
        String a = "deepseek2.";
        int rope = m.getInt(a + "rope.dimension_count");
        // key_length_mla / value_length_mla are the per-head sizes; older files only have key_length / value_length.
        String keyKey = m.has(a + "attention.key_length_mla") ? a + "attention.key_length_mla" : a + "attention.key_length";
        int keyLength = m.getInt(keyKey);
        int valueLength = m.has(a + "attention.value_length_mla") ? m.getInt(a + "attention.value_length_mla") : m.getInt(a + "attention.value_length");
        if (keyLength <= rope) {
            throw new FathomException("metadata key '" + keyKey + "' = " + keyLength + " must exceed '" + a + "rope.dimension_count' = " + rope);
        }
        int leadingDense = m.getInt(a + "leading_dense_block_count", 0);
        boolean moe = leadingDense < layers;
        int gating = m.getInt(a + "expert_gating_func", GATING_SOFTMAX); // absent in old V2 files: llama.cpp uses softmax
        String scoring = switch (gating) {
            case GATING_SOFTMAX -> "softmax";
            case GATING_SIGMOID -> "sigmoid";
            default -> throw new FathomException("metadata key '" + a + "expert_gating_func' = " + gating
                    + " is not supported (1 = softmax, 2 = sigmoid)");
        };
        int nGroup = m.getInt(a + "expert_group_count", 1);
        int topkGroup = m.getInt(a + "expert_group_used_count", nGroup == 1 ? 1 : 0);
        if (topkGroup == 0) throw new FathomException("metadata key '" + a + "expert_group_used_count' is missing");
        c.put("intermediate_size", leadingDense > 0 ? m.getInt(a + "feed_forward_length") : m.getInt(a + "feed_forward_length", 0));
        c.put("moe_intermediate_size", moe ? m.getInt(a + "expert_feed_forward_length") : m.getInt(a + "expert_feed_forward_length", 0));
        int qLora = m.getInt(a + "attention.q_lora_rank", 0);
        if (qLora > 0) c.put("q_lora_rank", qLora);
        c.put("kv_lora_rank", m.getInt(a + "attention.kv_lora_rank"));
        c.put("qk_nope_head_dim", keyLength - rope);
        c.put("qk_rope_head_dim", rope);
        c.put("v_head_dim", valueLength);
        c.put("n_routed_experts", moe ? m.getInt(a + "expert_count") : m.getInt(a + "expert_count", 0));
        c.put("n_shared_experts", m.getInt(a + "expert_shared_count", 0));
        c.put("num_experts_per_tok", moe ? m.getInt(a + "expert_used_count") : m.getInt(a + "expert_used_count", 0));
        c.put("n_group", nGroup);
        c.put("topk_group", topkGroup);
        c.put("routed_scaling_factor", m.getFloat(a + "expert_weights_scale", 1f));
        c.put("norm_topk_prob", m.getBoolean(a + "expert_weights_norm", false));
        c.put("scoring_func", scoring);
        // llama.cpp derives the method: noaux_tc for sigmoid gating, group-limited for softmax over several groups.
        c.put("topk_method", gating == GATING_SIGMOID ? "noaux_tc" : nGroup > 1 ? "group_limited_greedy" : "greedy");
        c.put("first_k_dense_replace", leadingDense);
        String scalingType = m.findString(a + "rope.scaling.type").orElse("none");
        if (!scalingType.equals("none")) {
            if (!scalingType.equals("yarn")) {
                throw new FathomException("metadata key '" + a + "rope.scaling.type' = '" + scalingType + "' is not supported (yarn or none)");
            }
            float mscaleAllDim = mscaleFromLogMultiplier(m.getFloat(a + "rope.scaling.yarn_log_multiplier"));
            Map<String, Object> y = new LinkedHashMap<>();
            y.put("type", "yarn");
            y.put("factor", m.getFloat(a + "rope.scaling.factor"));
            y.put("original_max_position_embeddings", m.getInt(a + "rope.scaling.original_context_length"));
            y.put("beta_fast", m.getFloat(a + "rope.scaling.yarn_beta_fast", 32f));
            y.put("beta_slow", m.getFloat(a + "rope.scaling.yarn_beta_slow", 1f));
            y.put("mscale", mscaleAllDim);
            y.put("mscale_all_dim", mscaleAllDim);
            c.put("rope_scaling", y);
        }
    }

    /**
     * llama.cpp's converter writes {@code yarn_log_multiplier = float32(0.1 * mscale_all_dim)} computed in double
     * from the config.json decimal. {@link #logMultiplier} does the same from the float's shortest decimal form;
     * this inverts it, preferring among the floats that give back the stored value the one with the shortest
     * decimal form (0.0707f gives 0.707, as in config.json, not 0.70699996).
     */
    public static float mscaleFromLogMultiplier(float logMul) {
        float guess = (float) (logMul / 0.1);
        float best = Float.NaN;
        float m = guess;
        for (int i = 0; i < 4; i++) m = Math.nextDown(m);
        for (int i = 0; i < 9; i++, m = Math.nextUp(m)) {
            if (logMultiplier(m) == logMul && (Float.isNaN(best) || Float.toString(m).length() < Float.toString(best).length())) {
                best = m;
            }
        }
        return Float.isNaN(best) ? guess : best;
    }

    public static float logMultiplier(float mscaleAllDim) {
        return (float) (0.1 * Double.parseDouble(Float.toString(mscaleAllDim)));
    }

    /**
     * Writes hyper-parameters (HF names) as llama.cpp's converter does for {@code arch}: the architecture, its keys,
     * BOS/EOS ids; no tokenizer vocabulary. For deepseek2 {@code expert_weights_norm} is written only when true.
     */
    public static GgufMetadata.Builder toGguf(String arch, ConfigValues c, GgufMetadata.Builder b) {
        String a = arch + ".";
        b.putString("general.architecture", arch);
        b.putUint32(a + "block_count", c.getInt("num_hidden_layers"));
        b.putUint32(a + "context_length", c.getInt("max_position_embeddings"));
        b.putUint32(a + "embedding_length", c.getInt("hidden_size"));
        b.putUint32(a + "feed_forward_length", c.getInt("intermediate_size", 0));
        b.putUint32(a + "attention.head_count", c.getInt("num_attention_heads"));
        if (arch.equals("deepseek2")) {
            deepSeekToGguf(c, b);
        } else {
            int heads = c.getInt("num_attention_heads");
            b.putUint32(a + "attention.head_count_kv", c.getInt("num_key_value_heads", heads));
            b.putFloat32(a + "rope.freq_base", c.getFloat("rope_theta", 10000f));
            b.putFloat32(a + "attention.layer_norm_rms_epsilon", c.getFloat("rms_norm_eps"));
            int headDim = c.getInt("head_dim", c.getInt("hidden_size") / heads);
            if (headDim != c.getInt("hidden_size") / heads) {
                b.putUint32(a + "attention.key_length", headDim);
                b.putUint32(a + "attention.value_length", headDim);
            }
            if (arch.equals("llama")) {
                b.putUint32(a + "vocab_size", c.getInt("vocab_size"));
                b.putUint32(a + "rope.dimension_count", headDim);
            }
            switch (c.getString("rope_scaling.rope_type", c.getString("rope_scaling.type", "none"))) {
                case "linear" -> {
                    b.putString(a + "rope.scaling.type", "linear");
                    b.putFloat32(a + "rope.scaling.factor", c.getFloat("rope_scaling.factor"));
                }
                case "yarn" -> {
                    b.putString(a + "rope.scaling.type", "yarn");
                    b.putFloat32(a + "rope.scaling.factor", c.getFloat("rope_scaling.factor"));
                    b.putUint32(a + "rope.scaling.original_context_length", c.getInt("rope_scaling.original_max_position_embeddings"));
                    b.putFloat32(a + "rope.scaling.yarn_beta_fast", c.getFloat("rope_scaling.beta_fast", 32f));
                    b.putFloat32(a + "rope.scaling.yarn_beta_slow", c.getFloat("rope_scaling.beta_slow", 1f));
                }
                default -> {} // none, or llama3: written as the rope_freqs tensor
            }
        }
        if (c.has("bos_token_id")) b.putUint32("tokenizer.ggml.bos_token_id", c.getFirstInt("bos_token_id", -1));
        if (c.has("eos_token_id")) b.putUint32("tokenizer.ggml.eos_token_id", c.getFirstInt("eos_token_id", -1));
        return b;
    }

    private static void deepSeekToGguf(ConfigValues c, GgufMetadata.Builder b) {
        String a = "deepseek2.";
        b.putUint32(a + "attention.head_count_kv", 1); // MLA: one shared latent "head"
        boolean yarn = c.has("rope_scaling");
        if (yarn) {
            b.putString(a + "rope.scaling.type", c.getString("rope_scaling.type"));
            b.putFloat32(a + "rope.scaling.factor", c.getFloat("rope_scaling.factor"));
            b.putUint32(a + "rope.scaling.original_context_length", c.getInt("rope_scaling.original_max_position_embeddings"));
            b.putFloat32(a + "rope.scaling.yarn_beta_fast", c.getFloat("rope_scaling.beta_fast", 32f));
            b.putFloat32(a + "rope.scaling.yarn_beta_slow", c.getFloat("rope_scaling.beta_slow", 1f));
        }
        int kvLora = c.getInt("kv_lora_rank"), rope = c.getInt("qk_rope_head_dim");
        b.putFloat32(a + "rope.freq_base", c.getFloat("rope_theta", 10000f));
        b.putFloat32(a + "attention.layer_norm_rms_epsilon", c.getFloat("rms_norm_eps"));
        b.putUint32(a + "expert_count", c.getInt("n_routed_experts", 0));
        b.putUint32(a + "expert_used_count", c.getInt("num_experts_per_tok", 0));
        b.putUint32(a + "expert_group_count", c.getInt("n_group", 1));
        b.putUint32(a + "expert_group_used_count", c.getInt("topk_group", 1));
        b.putUint32(a + "expert_gating_func", c.getString("scoring_func", "softmax").equals("sigmoid") ? GATING_SIGMOID : GATING_SOFTMAX);
        b.putUint32(a + "leading_dense_block_count", c.getInt("first_k_dense_replace", 0));
        b.putUint32(a + "vocab_size", c.getInt("vocab_size"));
        b.putUint32(a + "attention.q_lora_rank", c.getInt("q_lora_rank", 0));
        b.putUint32(a + "attention.kv_lora_rank", kvLora);
        b.putUint32(a + "attention.key_length", kvLora + rope);
        b.putUint32(a + "attention.value_length", kvLora);
        b.putUint32(a + "attention.key_length_mla", c.getInt("qk_nope_head_dim") + rope);
        b.putUint32(a + "attention.value_length_mla", c.getInt("v_head_dim"));
        b.putUint32(a + "expert_feed_forward_length", c.getInt("moe_intermediate_size", 0));
        b.putUint32(a + "expert_shared_count", c.getInt("n_shared_experts", 0));
        b.putFloat32(a + "expert_weights_scale", c.getFloat("routed_scaling_factor", 1f));
        if (c.getBoolean("norm_topk_prob", false)) b.putBool(a + "expert_weights_norm", true);
        b.putUint32(a + "rope.dimension_count", rope);
        if (yarn) b.putFloat32(a + "rope.scaling.yarn_log_multiplier", logMultiplier(c.getFloat("rope_scaling.mscale_all_dim")));
    }
}
