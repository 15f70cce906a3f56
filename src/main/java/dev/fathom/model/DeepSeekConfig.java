package dev.fathom.model;

import dev.fathom.FathomException;
import dev.fathom.gguf.GgufMetadata;

import java.util.Locale;

/**
 * The hyper-parameters of a DeepSeek-V2 / V3 model (llama.cpp architecture {@code deepseek2}). Field names are
 * the Hugging Face {@code config.json} names in camelCase, so a config.json reader can fill the same record; no
 * GGUF type appears here. Floating-point values are float32 because GGUF stores them so (this makes
 * {@code fromGguf(toGguf(c)).equals(c)} exact).
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
        int eosTokenId) {

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

    // ---------------------------------------------------------------- GGUF (llama.cpp deepseek2 keys)

    private static String k(String suffix) {
        return ARCH + "." + suffix;
    }

    static final String BLOCK_COUNT = k("block_count");
    static final String CONTEXT_LENGTH = k("context_length");
    static final String EMBEDDING_LENGTH = k("embedding_length");
    static final String FEED_FORWARD_LENGTH = k("feed_forward_length");
    static final String HEAD_COUNT = k("attention.head_count");
    static final String HEAD_COUNT_KV = k("attention.head_count_kv");
    static final String RMS_EPS = k("attention.layer_norm_rms_epsilon");
    static final String Q_LORA_RANK = k("attention.q_lora_rank");
    static final String KV_LORA_RANK = k("attention.kv_lora_rank");
    static final String KEY_LENGTH = k("attention.key_length");
    static final String VALUE_LENGTH = k("attention.value_length");
    static final String KEY_LENGTH_MLA = k("attention.key_length_mla");
    static final String VALUE_LENGTH_MLA = k("attention.value_length_mla");
    static final String ROPE_DIMS = k("rope.dimension_count");
    static final String ROPE_BASE = k("rope.freq_base");
    static final String ROPE_SCALING_TYPE = k("rope.scaling.type");
    static final String ROPE_SCALING_FACTOR = k("rope.scaling.factor");
    static final String ROPE_ORIG_CTX = k("rope.scaling.original_context_length");
    static final String YARN_BETA_FAST = k("rope.scaling.yarn_beta_fast");
    static final String YARN_BETA_SLOW = k("rope.scaling.yarn_beta_slow");
    static final String YARN_LOG_MUL = k("rope.scaling.yarn_log_multiplier");
    static final String EXPERT_COUNT = k("expert_count");
    static final String EXPERT_USED_COUNT = k("expert_used_count");
    static final String EXPERT_SHARED_COUNT = k("expert_shared_count");
    static final String EXPERT_FFN_LENGTH = k("expert_feed_forward_length");
    static final String EXPERT_GROUP_COUNT = k("expert_group_count");
    static final String EXPERT_GROUP_USED_COUNT = k("expert_group_used_count");
    static final String EXPERT_WEIGHTS_SCALE = k("expert_weights_scale");
    static final String EXPERT_WEIGHTS_NORM = k("expert_weights_norm");
    static final String EXPERT_GATING_FUNC = k("expert_gating_func");
    static final String LEADING_DENSE = k("leading_dense_block_count");
    static final String VOCAB_SIZE = k("vocab_size");
    static final String BOS_ID = "tokenizer.ggml.bos_token_id";
    static final String EOS_ID = "tokenizer.ggml.eos_token_id";
    static final String TOKENS = "tokenizer.ggml.tokens";
    /** llama.cpp's {@code llm_expert_gating_func_type}. */
    static final int GATING_SOFTMAX = 1, GATING_SIGMOID = 2;

    /**
     * Reads llama.cpp's {@code deepseek2} metadata. Values GGUF does not hold are derived as llama.cpp does:
     * {@code mscale = mscale_all_dim = yarn_log_multiplier / 0.1}; {@code topk_method} is noaux_tc for sigmoid
     * gating, group_limited_greedy for softmax with several groups, greedy otherwise. Errors name the key.
     */
    public static DeepSeekConfig fromGguf(GgufMetadata m) {
        String arch = m.getString("general.architecture");
        if (!ARCH.equals(arch)) {
            throw new FathomException("metadata key 'general.architecture' is '" + arch + "', expected '" + ARCH + "'");
        }
        int layers = m.getInt(BLOCK_COUNT);
        int rope = m.getInt(ROPE_DIMS);
        int kvLora = m.getInt(KV_LORA_RANK);
        // key_length_mla / value_length_mla are the per-head sizes; older files only have key_length / value_length.
        int keyLength = m.has(KEY_LENGTH_MLA) ? m.getInt(KEY_LENGTH_MLA) : m.getInt(KEY_LENGTH);
        int valueLength = m.has(VALUE_LENGTH_MLA) ? m.getInt(VALUE_LENGTH_MLA) : m.getInt(VALUE_LENGTH);
        if (keyLength <= rope) {
            throw new FathomException("metadata key '" + (m.has(KEY_LENGTH_MLA) ? KEY_LENGTH_MLA : KEY_LENGTH) + "' = "
                    + keyLength + " must exceed '" + ROPE_DIMS + "' = " + rope);
        }
        int leadingDense = m.getInt(LEADING_DENSE, 0);
        boolean moe = leadingDense < layers;
        int gating = m.getInt(EXPERT_GATING_FUNC, GATING_SOFTMAX); // absent in old V2 files: llama.cpp uses softmax
        ScoringFunc scoring = switch (gating) {
            case GATING_SOFTMAX -> ScoringFunc.SOFTMAX;
            case GATING_SIGMOID -> ScoringFunc.SIGMOID;
            default -> throw new FathomException("metadata key '" + EXPERT_GATING_FUNC + "' = " + gating
                    + " is not supported (1 = softmax, 2 = sigmoid)");
        };
        int nGroup = m.getInt(EXPERT_GROUP_COUNT, 1);
        int topkGroup = m.getInt(EXPERT_GROUP_USED_COUNT, nGroup == 1 ? 1 : 0);
        if (topkGroup == 0) throw new FathomException("metadata key '" + EXPERT_GROUP_USED_COUNT + "' is missing");
        TopkMethod method = scoring == ScoringFunc.SIGMOID ? TopkMethod.NOAUX_TC
                : nGroup > 1 ? TopkMethod.GROUP_LIMITED_GREEDY : TopkMethod.GREEDY;

        RopeScaling scaling = null;
        String scalingType = m.findString(ROPE_SCALING_TYPE).orElse("none");
        if (!scalingType.equals("none")) {
            if (!scalingType.equals("yarn")) {
                throw new FathomException("metadata key '" + ROPE_SCALING_TYPE + "' = '" + scalingType + "' is not supported (yarn or none)");
            }
            float mscaleAllDim = mscaleFromLogMultiplier(m.getFloat(YARN_LOG_MUL));
            scaling = new RopeScaling("yarn", m.getFloat(ROPE_SCALING_FACTOR), m.getInt(ROPE_ORIG_CTX),
                    m.getFloat(YARN_BETA_FAST, 32f), m.getFloat(YARN_BETA_SLOW, 1f), mscaleAllDim, mscaleAllDim);
        }
        int vocab = m.has(VOCAB_SIZE) ? m.getInt(VOCAB_SIZE) : m.getStringArray(TOKENS).length;
        return new DeepSeekConfig(
                vocab,
                m.getInt(EMBEDDING_LENGTH),
                leadingDense > 0 ? m.getInt(FEED_FORWARD_LENGTH) : m.getInt(FEED_FORWARD_LENGTH, 0),
                moe ? m.getInt(EXPERT_FFN_LENGTH) : m.getInt(EXPERT_FFN_LENGTH, 0),
                layers,
                m.getInt(HEAD_COUNT),
                m.getInt(Q_LORA_RANK, 0),
                kvLora,
                keyLength - rope,
                rope,
                valueLength,
                moe ? m.getInt(EXPERT_COUNT) : m.getInt(EXPERT_COUNT, 0),
                m.getInt(EXPERT_SHARED_COUNT, 0),
                moe ? m.getInt(EXPERT_USED_COUNT) : m.getInt(EXPERT_USED_COUNT, 0),
                nGroup,
                topkGroup,
                m.getFloat(EXPERT_WEIGHTS_SCALE, 1f),
                m.getBoolean(EXPERT_WEIGHTS_NORM, false),
                scoring,
                method,
                leadingDense,
                m.getFloat(RMS_EPS),
                m.getFloat(ROPE_BASE, 10000f),
                m.getInt(CONTEXT_LENGTH),
                scaling,
                m.getInt(BOS_ID, -1),
                m.getInt(EOS_ID, -1));
    }

    /**
     * llama.cpp's converter writes {@code yarn_log_multiplier = float32(0.1 * mscale_all_dim)} computed in double
     * from the config.json decimal. {@link #logMultiplier} does the same from the float's shortest decimal form;
     * this inverts it, preferring among the floats that give back the stored value the one with the shortest
     * decimal form (0.0707f gives 0.707, as in config.json, not 0.70699996).
     */
    static float mscaleFromLogMultiplier(float logMul) {
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

    static float logMultiplier(float mscaleAllDim) {
        return (float) (0.1 * Double.parseDouble(Float.toString(mscaleAllDim)));
    }

    /**
     * Writes this config as llama.cpp's HF converter does for {@code deepseek2} (architecture, hyper-parameters,
     * BOS/EOS ids; no tokenizer vocabulary). {@code expert_weights_norm} is written only when true, as the converter.
     */
    public GgufMetadata.Builder toGguf(GgufMetadata.Builder b) {
        b.putString("general.architecture", ARCH);
        b.putUint32(BLOCK_COUNT, numHiddenLayers);
        b.putUint32(CONTEXT_LENGTH, maxPositionEmbeddings);
        b.putUint32(EMBEDDING_LENGTH, hiddenSize);
        b.putUint32(FEED_FORWARD_LENGTH, intermediateSize);
        b.putUint32(HEAD_COUNT, numAttentionHeads);
        b.putUint32(HEAD_COUNT_KV, 1); // MLA: one shared latent "head"
        if (ropeScaling != null) {
            b.putString(ROPE_SCALING_TYPE, ropeScaling.type());
            b.putFloat32(ROPE_SCALING_FACTOR, ropeScaling.factor());
            b.putUint32(ROPE_ORIG_CTX, ropeScaling.originalMaxPositionEmbeddings());
            b.putFloat32(YARN_BETA_FAST, ropeScaling.betaFast());
            b.putFloat32(YARN_BETA_SLOW, ropeScaling.betaSlow());
        }
        b.putFloat32(ROPE_BASE, ropeTheta);
        b.putFloat32(RMS_EPS, rmsNormEps);
        b.putUint32(EXPERT_COUNT, nRoutedExperts);
        b.putUint32(EXPERT_USED_COUNT, numExpertsPerTok);
        b.putUint32(EXPERT_GROUP_COUNT, nGroup);
        b.putUint32(EXPERT_GROUP_USED_COUNT, topkGroup);
        b.putUint32(EXPERT_GATING_FUNC, scoringFunc == ScoringFunc.SIGMOID ? GATING_SIGMOID : GATING_SOFTMAX);
        b.putUint32(LEADING_DENSE, firstKDenseReplace);
        b.putUint32(VOCAB_SIZE, vocabSize);
        b.putUint32(Q_LORA_RANK, qLoraRank);
        b.putUint32(KV_LORA_RANK, kvLoraRank);
        b.putUint32(KEY_LENGTH, kvLoraRank + qkRopeHeadDim);
        b.putUint32(VALUE_LENGTH, kvLoraRank);
        b.putUint32(KEY_LENGTH_MLA, qkNopeHeadDim + qkRopeHeadDim);
        b.putUint32(VALUE_LENGTH_MLA, vHeadDim);
        b.putUint32(EXPERT_FFN_LENGTH, moeIntermediateSize);
        b.putUint32(EXPERT_SHARED_COUNT, nSharedExperts);
        b.putFloat32(EXPERT_WEIGHTS_SCALE, routedScalingFactor);
        if (normTopkProb) b.putBool(EXPERT_WEIGHTS_NORM, true);
        b.putUint32(ROPE_DIMS, qkRopeHeadDim);
        if (ropeScaling != null) b.putFloat32(YARN_LOG_MUL, logMultiplier(ropeScaling.mscaleAllDim()));
        if (bosTokenId >= 0) b.putUint32(BOS_ID, bosTokenId);
        if (eosTokenId >= 0) b.putUint32(EOS_ID, eosTokenId);
        return b;
    }
}
