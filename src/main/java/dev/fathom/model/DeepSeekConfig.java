package dev.fathom.model;

import dev.fathom.FathomException;
import dev.fathom.checkpoint.ConfigValues;

import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;

/**
 * The hyper-parameters of a DeepSeek-V2 / V3 model (llama.cpp architecture {@code deepseek2}). Field names are
 * the Hugging Face {@code config.json} names in camelCase ({@link #fromConfig} reads them, whatever file they
 * came from). Floating-point values are float32 because GGUF stores them so (a GGUF round trip is exact).
 *
 * @param qLoraRank 0 when the model projects queries directly ({@code q_lora_rank: null}, DeepSeek-V2-Lite)
 * @param ropeScaling null when the model uses plain RoPE
 * @param bosTokenId -1 when unknown
 * @param eosTokenId -1 when unknown
 */
public record DeepSeekConfig(
        int vocabSize,
        int hiddenSize,
        int intermediateSize,
        int moeIntermediateSize,
        int numHiddenLayers,
        int numAttentionHeads,
        int qLoraRank,
        int kvLoraRank,
        int qkNopeHeadDim,
        int qkRopeHeadDim,
        int vHeadDim,
        int nRoutedExperts,
        int nSharedExperts,
        int numExpertsPerTok,
        int nGroup,
        int topkGroup,
        float routedScalingFactor,
        boolean normTopkProb,
        ScoringFunc scoringFunc,
        TopkMethod topkMethod,
        int firstKDenseReplace,
        float rmsNormEps,
        float ropeTheta,
        int maxPositionEmbeddings,
        RopeScaling ropeScaling,
        int bosTokenId,
        int eosTokenId) implements ModelConfig {

    /** HF {@code scoring_func}: how router logits become expert scores. */
    public enum ScoringFunc {
        SOFTMAX, SIGMOID;

        public String hfName() {
            return name().toLowerCase(Locale.ROOT);
        }

        public static ScoringFunc fromHf(String name) {
            for (ScoringFunc f : values()) if (f.hfName().equals(name)) return f;
            throw new FathomException("unknown scoring_func '" + name + "' (expected softmax or sigmoid)");
        }
    }

    /** HF {@code topk_method}: how the routed experts are chosen. */
    public enum TopkMethod {
        /** Plain top-k of the scores (DeepSeek-V2-Lite). */
        GREEDY,
        /** Keep the topk_group groups with the largest MAXIMUM score, then top-k (DeepSeek-V2). */
        GROUP_LIMITED_GREEDY,
        /** Scores + e_score_correction_bias choose; groups ranked by the sum of their top-2 (DeepSeek-V3). */
        NOAUX_TC;

        public String hfName() {
            return name().toLowerCase(Locale.ROOT);
        }

        public static TopkMethod fromHf(String name) {
            for (TopkMethod m : values()) if (m.hfName().equals(name)) return m;
            throw new FathomException("unknown topk_method '" + name + "' (expected greedy, group_limited_greedy or noaux_tc)");
        }
    }

    /** HF {@code rope_scaling} (only YaRN is used by DeepSeek). */
    public record RopeScaling(String type, float factor, int originalMaxPositionEmbeddings, float betaFast,
                              float betaSlow, float mscale, float mscaleAllDim) {
        public boolean isYarn() {
            return "yarn".equals(type);
        }
    }

    public static final String ARCH = "deepseek2";

    public DeepSeekConfig {
        positive("vocab_size", vocabSize);
        positive("hidden_size", hiddenSize);
        positive("num_hidden_layers", numHiddenLayers);
        positive("num_attention_heads", numAttentionHeads);
        positive("kv_lora_rank", kvLoraRank);
        positive("qk_nope_head_dim", qkNopeHeadDim);
        positive("v_head_dim", vHeadDim);
        if (qLoraRank < 0) throw new FathomException("q_lora_rank must be >= 0 (0 = none), got " + qLoraRank);
        if (qkRopeHeadDim <= 0 || qkRopeHeadDim % 2 != 0) {
            throw new FathomException("qk_rope_head_dim must be a positive even number, got " + qkRopeHeadDim);
        }
        if (firstKDenseReplace < 0 || firstKDenseReplace > numHiddenLayers) {
            throw new FathomException("first_k_dense_replace = " + firstKDenseReplace + " is outside 0.." + numHiddenLayers);
        }
        if (firstKDenseReplace > 0) positive("intermediate_size", intermediateSize);
        if (firstKDenseReplace < numHiddenLayers) {
            positive("moe_intermediate_size", moeIntermediateSize);
            positive("n_routed_experts", nRoutedExperts);
            positive("num_experts_per_tok", numExpertsPerTok);
            positive("n_group", nGroup);
            if (nSharedExperts < 0) throw new FathomException("n_shared_experts must be >= 0, got " + nSharedExperts);
            if (numExpertsPerTok > nRoutedExperts) {
                throw new FathomException("num_experts_per_tok = " + numExpertsPerTok + " exceeds n_routed_experts = " + nRoutedExperts);
            }
            if (nRoutedExperts % nGroup != 0) {
                throw new FathomException("n_routed_experts = " + nRoutedExperts + " is not a multiple of n_group = " + nGroup);
            }
            if (topkGroup < 1 || topkGroup > nGroup) {
                throw new FathomException("topk_group = " + topkGroup + " is outside 1..n_group = " + nGroup);
            }
            if (topkGroup * (nRoutedExperts / nGroup) < numExpertsPerTok) {
                throw new FathomException("topk_group = " + topkGroup + " groups of " + (nRoutedExperts / nGroup)
                        + " experts cannot hold num_experts_per_tok = " + numExpertsPerTok);
            }
            if (scoringFunc == null) throw new FathomException("scoring_func is missing");
            if (topkMethod == null) throw new FathomException("topk_method is missing");
        }
        if (ropeScaling != null && !ropeScaling.isYarn()) {
            throw new FathomException("rope_scaling type '" + ropeScaling.type() + "' is not supported (DeepSeek uses yarn)");
        }
    }

    private static void positive(String name, int v) {
        if (v <= 0) throw new FathomException(name + " must be positive, got " + v);
    }

    /** Query / key head size, nope + rope ({@code q_head_dim} in HF). */
    public int qkHeadDim() {
        return qkNopeHeadDim + qkRopeHeadDim;
    }

    public boolean isMoeLayer(int layer) {
        return layer >= firstKDenseReplace;
    }

    @Override
    public String architecture() {
        return ARCH;
    }

    @Override
    public int kvEntry() {
        return kvLoraRank + qkRopeHeadDim;
    }

    // ---------------------------------------------------------------- HF config.json names

    /** Reads the HF names (config.json, or a GGUF's metadata translated to them); errors name the key. */
    public static DeepSeekConfig fromConfig(ConfigValues v) {
        RopeScaling scaling = null;
        if (v.has("rope_scaling")) {
            String type = v.getString("rope_scaling.type", v.getString("rope_scaling.rope_type", "none"));
            scaling = new RopeScaling(type, v.getFloat("rope_scaling.factor"), v.getInt("rope_scaling.original_max_position_embeddings"),
                    v.getFloat("rope_scaling.beta_fast", 32f), v.getFloat("rope_scaling.beta_slow", 1f),
                    v.getFloat("rope_scaling.mscale", 1f), v.getFloat("rope_scaling.mscale_all_dim", 0f));
        }
        int layers = v.getInt("num_hidden_layers");
        int dense = v.getInt("first_k_dense_replace", 0);
        boolean moe = dense < layers && v.getInt("n_routed_experts", 0) > 0;
        return new DeepSeekConfig(
                v.getInt("vocab_size"), v.getInt("hidden_size"), v.getInt("intermediate_size", 0),
                v.getInt("moe_intermediate_size", 0), layers, v.getInt("num_attention_heads"),
                v.getInt("q_lora_rank", 0), v.getInt("kv_lora_rank"), v.getInt("qk_nope_head_dim"),
                v.getInt("qk_rope_head_dim"), v.getInt("v_head_dim"), v.getInt("n_routed_experts", 0),
                v.getInt("n_shared_experts", 0), v.getInt("num_experts_per_tok", 0), v.getInt("n_group", 1),
                v.getInt("topk_group", 1), v.getFloat("routed_scaling_factor", 1f), v.getBoolean("norm_topk_prob", false),
                moe ? ScoringFunc.fromHf(v.getString("scoring_func", "softmax")) : ScoringFunc.SOFTMAX,
                moe ? TopkMethod.fromHf(v.getString("topk_method", "greedy")) : TopkMethod.GREEDY,
                moe ? dense : layers, v.getFloat("rms_norm_eps"), v.getFloat("rope_theta", 10000f),
                v.getInt("max_position_embeddings"), scaling, v.getFirstInt("bos_token_id", -1), v.getFirstInt("eos_token_id", -1));
    }

    /** This config under HF names (what {@link #fromConfig} reads back). */
    @Override
    public ConfigValues toConfig() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("vocab_size", vocabSize);
        m.put("hidden_size", hiddenSize);
        m.put("intermediate_size", intermediateSize);
        m.put("moe_intermediate_size", moeIntermediateSize);
        m.put("num_hidden_layers", numHiddenLayers);
        m.put("num_attention_heads", numAttentionHeads);
        if (qLoraRank > 0) m.put("q_lora_rank", qLoraRank);
        m.put("kv_lora_rank", kvLoraRank);
        m.put("qk_nope_head_dim", qkNopeHeadDim);
        m.put("qk_rope_head_dim", qkRopeHeadDim);
        m.put("v_head_dim", vHeadDim);
        m.put("n_routed_experts", nRoutedExperts);
        m.put("n_shared_experts", nSharedExperts);
        m.put("num_experts_per_tok", numExpertsPerTok);
        m.put("n_group", nGroup);
        m.put("topk_group", topkGroup);
        m.put("routed_scaling_factor", routedScalingFactor);
        m.put("norm_topk_prob", normTopkProb);
        m.put("scoring_func", scoringFunc.hfName());
        m.put("topk_method", topkMethod.hfName());
        m.put("first_k_dense_replace", firstKDenseReplace);
        m.put("rms_norm_eps", rmsNormEps);
        m.put("rope_theta", ropeTheta);
        m.put("max_position_embeddings", maxPositionEmbeddings);
        if (ropeScaling != null) {
            Map<String, Object> y = new LinkedHashMap<>();
            y.put("type", ropeScaling.type());
            y.put("factor", ropeScaling.factor());
            y.put("original_max_position_embeddings", ropeScaling.originalMaxPositionEmbeddings());
            y.put("beta_fast", ropeScaling.betaFast());
            y.put("beta_slow", ropeScaling.betaSlow());
            y.put("mscale", ropeScaling.mscale());
            y.put("mscale_all_dim", ropeScaling.mscaleAllDim());
            m.put("rope_scaling", y);
        }
        if (bosTokenId >= 0) m.put("bos_token_id", bosTokenId);
        if (eosTokenId >= 0) m.put("eos_token_id", eosTokenId);
        return new ConfigValues("config", m);
    }
}
