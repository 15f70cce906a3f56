package dev.fathom.testmodel;

import dev.fathom.FathomException;
import dev.fathom.model.DeepSeekConfig;
import dev.fathom.model.DeepSeekConfig.RopeScaling;
import dev.fathom.model.DeepSeekConfig.ScoringFunc;
import dev.fathom.model.DeepSeekConfig.TopkMethod;
import dev.fathom.model.DenseConfig;
import dev.fathom.model.ModelConfig;

import java.util.Arrays;
import java.util.stream.Collectors;

/**
 * Model shapes for {@link TestModelWriter}: the published configs of DeepSeek-V2-Lite, V3 and the R1-Distill models,
 * and the golden tiny shapes. The vocabulary size is at least the bundled tokenizer's (the writer pads the token list
 * up to a larger preset vocabulary, as the real models pad theirs).
 */
public enum Preset {
    /** The golden v3-tiny shapes (hidden 64, 3 layers, 8 experts, sigmoid group-limited routing). */
    V3_TINY("v3-tiny"),
    /** The golden v2lite-tiny shapes (hidden 64, no q LoRA, softmax greedy routing, 2 shared experts). */
    V2_LITE_TINY("v2-lite-tiny"),
    /** DeepSeek-V2-Lite: 27 layers, hidden 2048, 64 routed experts (6 used) + 2 shared. */
    V2_LITE("v2-lite"),
    /** DeepSeek-V3 / R1: 61 layers, hidden 7168, 256 routed experts (8 used) + 1 shared. */
    V3("v3"),
    /** The golden qwen2-tiny shapes (hidden 64, 3 layers, 4 heads / 2 KV heads, q/k/v biases). */
    QWEN2_TINY("qwen2-tiny"),
    /** The golden llama-tiny shapes (hidden 64, 3 layers, 4 / 2 heads, llama3 rope scaling). */
    LLAMA_TINY("llama-tiny"),
    /** DeepSeek-R1-Distill-Qwen-1.5B (Qwen2): 28 layers, hidden 1536, 12 heads / 2 KV heads. */
    R1_DISTILL_QWEN_1_5B("r1-distill-qwen-1.5b"),
    /** DeepSeek-R1-Distill-Qwen-7B (Qwen2): 28 layers, hidden 3584, 28 heads / 4 KV heads. */
    R1_DISTILL_QWEN_7B("r1-distill-qwen-7b"),
    /** DeepSeek-R1-Distill-Llama-8B (Llama 3.1): 32 layers, hidden 4096, 32 heads / 8 KV heads. */
    R1_DISTILL_LLAMA_8B("r1-distill-llama-8b");

    public final String cliName;

    Preset(String cliName) {
        this.cliName = cliName;
    }

    public static Preset fromCliName(String name) {
        for (Preset p : values()) if (p.cliName.equals(name)) return p;
        throw new FathomException("unknown preset '" + name + "' (expected " + names() + ")");
    }

    public static String names() {
        return Arrays.stream(values()).map(p -> p.cliName).collect(Collectors.joining(", "));
    }

    /** The preset's config with at least {@code minVocab} tokens and, if {@code layers} > 0, that many layers. */
    public ModelConfig config(int minVocab, int layers) {
        RopeScaling yarn1 = new RopeScaling("yarn", 40f, 4096, 32f, 1f, 1f, 1f);
        RopeScaling yarn707 = new RopeScaling("yarn", 40f, 4096, 32f, 1f, 0.707f, 0.707f);
        DenseConfig.RopeScaling llama3 = new DenseConfig.RopeScaling("llama3", 8f, 1f, 4f, 8192, 32f, 1f);
        ModelConfig c = switch (this) {
            case V3_TINY -> new DeepSeekConfig(minVocab, 64, 128, 32, 3, 4, 96, 32, 32, 16, 16, 8, 1, 3, 4, 2, 2.5f, true,
                    ScoringFunc.SIGMOID, TopkMethod.NOAUX_TC, 1, 1e-6f, 10000f, 163840, yarn1, 0, 1);
            case V2_LITE_TINY -> new DeepSeekConfig(minVocab, 64, 128, 32, 3, 4, 0, 64, 32, 16, 32, 8, 2, 3, 1, 1, 1f, false,
                    ScoringFunc.SOFTMAX, TopkMethod.GREEDY, 1, 1e-6f, 10000f, 163840, yarn707, 0, 1);
            case V2_LITE -> new DeepSeekConfig(minVocab, 2048, 10944, 1408, 27, 16, 0, 512, 128, 64, 128, 64, 2, 6, 1, 1, 1f, false,
                    ScoringFunc.SOFTMAX, TopkMethod.GREEDY, 1, 1e-6f, 10000f, 163840, yarn707, 0, 1);
            case V3 -> new DeepSeekConfig(minVocab, 7168, 18432, 2048, 61, 128, 1536, 512, 128, 64, 128, 256, 1, 8, 8, 4, 2.5f, true,
                    ScoringFunc.SIGMOID, TopkMethod.NOAUX_TC, 3, 1e-6f, 10000f, 163840, yarn1, 0, 1);
            case QWEN2_TINY -> dense("qwen2", minVocab, 14400, 64, 128, 3, 4, 2, 1e-6f, 1e4f, 32768, null);
            case LLAMA_TINY -> dense("llama", minVocab, 14400, 64, 128, 3, 4, 2, 1e-5f, 5e5f, 131072, llama3);
            case R1_DISTILL_QWEN_1_5B -> dense("qwen2", minVocab, 151936, 1536, 8960, 28, 12, 2, 1e-6f, 10000f, 131072, null);
            case R1_DISTILL_QWEN_7B -> dense("qwen2", minVocab, 152064, 3584, 18944, 28, 28, 4, 1e-6f, 10000f, 131072, null);
            case R1_DISTILL_LLAMA_8B -> dense("llama", minVocab, 128256, 4096, 14336, 32, 32, 8, 1e-5f, 5e5f, 131072, llama3);
        };
        if (layers <= 0 || layers == c.numHiddenLayers()) return c;
        return switch (c) {
            case DeepSeekConfig d -> new DeepSeekConfig(d.vocabSize(), d.hiddenSize(), d.intermediateSize(), d.moeIntermediateSize(), layers,
                    d.numAttentionHeads(), d.qLoraRank(), d.kvLoraRank(), d.qkNopeHeadDim(), d.qkRopeHeadDim(), d.vHeadDim(),
                    d.nRoutedExperts(), d.nSharedExperts(), d.numExpertsPerTok(), d.nGroup(), d.topkGroup(),
                    d.routedScalingFactor(), d.normTopkProb(), d.scoringFunc(), d.topkMethod(),
                    Math.min(d.firstKDenseReplace(), layers), d.rmsNormEps(), d.ropeTheta(), d.maxPositionEmbeddings(),
                    d.ropeScaling(), d.bosTokenId(), d.eosTokenId());
            case DenseConfig d -> new DenseConfig(d.architecture(), d.vocabSize(), d.hiddenSize(), d.intermediateSize(), layers,
                    d.numAttentionHeads(), d.numKeyValueHeads(), d.headDim(), d.rmsNormEps(), d.ropeTheta(),
                    d.maxPositionEmbeddings(), d.ropeScaling(), d.tieWordEmbeddings(), d.bosTokenId(), d.eosTokenId());
        };
    }

    private static DenseConfig dense(String arch, int minVocab, int vocab, int hidden, int ffn, int layers, int heads, int kvHeads,
                                     float eps, float theta, int ctx, DenseConfig.RopeScaling scaling) {
        return new DenseConfig(arch, Math.max(minVocab, vocab), hidden, ffn, layers, heads, kvHeads, hidden / heads, eps, theta, ctx,
                scaling, false, 0, 1);
    }
}
