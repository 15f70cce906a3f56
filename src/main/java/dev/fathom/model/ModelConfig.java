package dev.fathom.model;

import dev.fathom.FathomException;
import dev.fathom.checkpoint.ConfigValues;

/**
 * The hyper-parameters of a model, one record per architecture family: {@link DeepSeekConfig} (MLA, DeepSeekMoE)
 * and {@link DenseConfig} (grouped-query attention and a dense SwiGLU MLP: Qwen2, Llama). Both read Hugging Face
 * config names.
 */
public sealed interface ModelConfig permits DeepSeekConfig, DenseConfig {

    /** The config of an architecture ({@code deepseek2}, {@code qwen2}, {@code llama}) from HF names. */
    static ModelConfig of(String architecture, ConfigValues values) {
        try {
            return switch (architecture) {
                case DeepSeekConfig.ARCH -> DeepSeekConfig.fromConfig(values);
                case "qwen2", "llama" -> DenseConfig.fromConfig(architecture, values);
                default -> throw new FathomException("architecture '" + architecture + "' is not supported");
            };
        } catch (FathomException e) {
            if (e.getMessage().startsWith(values.source())) throw e;
            throw new FathomException(values.source() + ": " + e.getMessage(), e); // name the file
        }
    }

    /** llama.cpp's architecture name. */
    String architecture();

    int vocabSize();

    int hiddenSize();

    int numHiddenLayers();

    int maxPositionEmbeddings();

    float rmsNormEps();

    int bosTokenId();

    int eosTokenId();

    /** KV cache floats per token and layer: the MLA latent plus rope key, or the keys and values of the KV heads. */
    int kvEntry();

    /** The KV cache's bytes per token (all layers, float32). */
    default long kvBytesPerToken() {
        return (long) numHiddenLayers() * kvEntry() * Float.BYTES;
    }

    /** One line on what the KV cache holds per token and layer. */
    default String kvLayout() {
        return switch (this) {
            case DeepSeekConfig c -> "MLA latent: " + c.numHiddenLayers() + " layers x (" + c.kvLoraRank() + " latent + "
                    + c.qkRopeHeadDim() + " rope) floats";
            case DenseConfig c -> "keys and values: 2 x " + c.numHiddenLayers() + " layers x " + c.numKeyValueHeads()
                    + " KV heads x " + c.headDim() + " floats";
        };
    }

    /** This config under HF names. */
    ConfigValues toConfig();
}
