package dev.fathom.model;

import dev.fathom.FathomException;
import dev.fathom.checkpoint.ConfigValues;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The hyper-parameters of a dense decoder with grouped-query attention and a SwiGLU MLP: Qwen2 (q/k/v biases, the
 * R1-Distill-Qwen models) and Llama (llama3 rope scaling, R1-Distill-Llama). Field names are the HF config.json
 * names in camelCase.
 *
 * @param architecture      {@code qwen2} or {@code llama} (llama.cpp's names)
 * @param headDim           per-head size of queries, keys and values ({@code head_dim}, else hidden / heads)
 * @param ropeScaling       null for plain RoPE
 * @param tieWordEmbeddings the output head is the embedding matrix
 */
public record DenseConfig(
        String architecture,
        int vocabSize,
        int hiddenSize,
        int intermediateSize,
        int numHiddenLayers,
        int numAttentionHeads,
        int numKeyValueHeads,
        int headDim,
        float rmsNormEps,
        float ropeTheta,
        int maxPositionEmbeddings,
        RopeScaling ropeScaling,
        boolean tieWordEmbeddings,
        int bosTokenId,
        int eosTokenId) implements ModelConfig {

    /**
     * HF {@code rope_scaling}: {@code llama3} (factor, low/high_freq_factor, original_max_position_embeddings),
     * {@code linear} (factor) or {@code yarn} (factor, original context, beta_fast, beta_slow).
     */
    public record RopeScaling(String type, float factor, float lowFreqFactor, float highFreqFactor,
                              int originalMaxPositionEmbeddings, float betaFast, float betaSlow) {}

    public DenseConfig {
        positive("vocab_size", vocabSize);
        positive("hidden_size", hiddenSize);
        positive("intermediate_size", intermediateSize);
        positive("num_hidden_layers", numHiddenLayers);
        positive("num_attention_heads", numAttentionHeads);
        positive("num_key_value_heads", numKeyValueHeads);
        if (headDim <= 0 || headDim % 2 != 0) throw new FathomException("head_dim must be a positive even number, got " + headDim);
        if (numAttentionHeads % numKeyValueHeads != 0) {
            throw new FathomException("num_attention_heads = " + numAttentionHeads + " is not a multiple of num_key_value_heads = "
                    + numKeyValueHeads);
        }
        if (ropeScaling != null && !java.util.List.of("llama3", "linear", "yarn").contains(ropeScaling.type())) {
            throw new FathomException("rope_scaling type '" + ropeScaling.type() + "' is not supported (llama3, linear or yarn)");
        }
    }

    private static void positive(String name, int v) {
        if (v <= 0) throw new FathomException(name + " must be positive, got " + v);
    }

    @Override
    public int kvEntry() {
        return 2 * numKeyValueHeads * headDim;
    }

    /**
     * The llama3 rope scaling as one divisor per rotary pair (what llama.cpp's converter stores as
     * {@code rope_freqs}): wavelengths shorter than {@code original / high_freq_factor} keep their frequency (1),
     * longer than {@code original / low_freq_factor} are divided by factor, those between are interpolated smoothly
     * (HF's {@code _compute_llama3_parameters}: new = (1 - smooth) * f / factor + smooth * f). Computed in float32,
     * as the converter (and HF) compute it, so the values are the converter's bits.
     */
    public float[] llama3Divisors() {
        if (ropeScaling == null || !ropeScaling.type().equals("llama3")) throw new IllegalStateException("no llama3 rope scaling");
        RopeScaling s = ropeScaling;
        float orig = s.originalMaxPositionEmbeddings();
        double lowWavelen = (double) orig / s.lowFreqFactor(), highWavelen = (double) orig / s.highFreqFactor();
        float[] div = new float[headDim / 2];
        for (int i = 0; i < div.length; i++) {
            float freq = 1f / (float) Math.pow(ropeTheta, (float) (2 * i) / headDim);
            float wavelen = (float) (2 * Math.PI) / freq;
            if (wavelen < highWavelen) {
                div[i] = 1;
            } else if (wavelen > lowWavelen) {
                div[i] = s.factor();
            } else {
                float smooth = (orig / wavelen - s.lowFreqFactor()) / (s.highFreqFactor() - s.lowFreqFactor());
                div[i] = 1f / ((1f - smooth) / s.factor() + smooth);
            }
        }
        return div;
    }

    /** Reads the HF names; errors name the key. */
    public static DenseConfig fromConfig(String architecture, ConfigValues v) {
        int hidden = v.getInt("hidden_size"), heads = v.getInt("num_attention_heads");
        if (heads <= 0 || (!v.has("head_dim") && hidden % heads != 0)) {
            throw new FathomException(v.source() + ": hidden_size = " + hidden + " is not a multiple of num_attention_heads = " + heads);
        }
        RopeScaling scaling = null;
        if (v.has("rope_scaling")) {
            String type = v.getString("rope_scaling.rope_type", v.getString("rope_scaling.type", "default"));
            if (!type.equals("default")) {
                scaling = new RopeScaling(type, v.getFloat("rope_scaling.factor"), v.getFloat("rope_scaling.low_freq_factor", 1f),
                        v.getFloat("rope_scaling.high_freq_factor", 4f),
                        v.getInt("rope_scaling.original_max_position_embeddings", v.getInt("max_position_embeddings")),
                        v.getFloat("rope_scaling.beta_fast", 32f), v.getFloat("rope_scaling.beta_slow", 1f));
            }
        }
        return new DenseConfig(architecture, v.getInt("vocab_size"), hidden, v.getInt("intermediate_size"),
                v.getInt("num_hidden_layers"), heads, v.getInt("num_key_value_heads", heads), v.getInt("head_dim", heads > 0 ? hidden / heads : 0),
                v.getFloat("rms_norm_eps"), v.getFloat("rope_theta", 10000f), v.getInt("max_position_embeddings"), scaling,
                v.getBoolean("tie_word_embeddings", false), v.getFirstInt("bos_token_id", -1), v.getFirstInt("eos_token_id", -1));
    }

    @Override
    public ConfigValues toConfig() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("vocab_size", vocabSize);
        m.put("hidden_size", hiddenSize);
        m.put("intermediate_size", intermediateSize);
        m.put("num_hidden_layers", numHiddenLayers);
        m.put("num_attention_heads", numAttentionHeads);
        m.put("num_key_value_heads", numKeyValueHeads);
        m.put("head_dim", headDim);
        m.put("rms_norm_eps", rmsNormEps);
        m.put("rope_theta", ropeTheta);
        m.put("max_position_embeddings", maxPositionEmbeddings);
        if (ropeScaling != null) {
            Map<String, Object> r = new LinkedHashMap<>();
            r.put("rope_type", ropeScaling.type());
            r.put("factor", ropeScaling.factor());
            r.put("low_freq_factor", ropeScaling.lowFreqFactor());
            r.put("high_freq_factor", ropeScaling.highFreqFactor());
            r.put("original_max_position_embeddings", ropeScaling.originalMaxPositionEmbeddings());
            r.put("beta_fast", ropeScaling.betaFast());
            r.put("beta_slow", ropeScaling.betaSlow());
            m.put("rope_scaling", r);
        }
        m.put("tie_word_embeddings", tieWordEmbeddings);
        if (bosTokenId >= 0) m.put("bos_token_id", bosTokenId);
        if (eosTokenId >= 0) m.put("eos_token_id", eosTokenId);
        return new ConfigValues("config", m);
    }
}
