package dev.fathom.model;

import dev.fathom.FathomException;
import dev.fathom.gguf.GgufMetadata;
import dev.fathom.gguf.GgufWriter;
import dev.fathom.tensor.TensorType;
import dev.fathom.tokenizer.Tokenizer;

import java.util.Locale;

/**
 * Writes a deterministic random-weight DeepSeek model as a GGUF of llama.cpp's {@code deepseek2} architecture
 * (the tensor names, shapes and metadata llama.cpp's converter produces), with the real DeepSeek-V3 tokenizer
 * that Fathom bundles. The presets carry real shapes ({@link Preset#V2_LITE}, {@link Preset#V3}) or tiny ones;
 * {@code layers} trims the depth. Such files exercise the real loading and compute paths at real sizes without
 * downloading weights.
 *
 * <p>Weights are uniform with standard deviation 0.02 (DeepSeek's initializer_range), norms are 1, router biases 0.
 * Every row's values come from its own seed (model seed, tensor name, row), so the file is the same on every
 * machine and for any write order. 1-D tensors, the router and its bias stay F32 as llama-quantize keeps them.
 */
public final class TestModelWriter {
    private static final float INIT_STD = 0.02f;

    /** Model shapes. The real presets use DeepSeek's published configs; the vocabulary is always DeepSeek-V3's. */
    public enum Preset {
        /** The golden v3-tiny shapes (hidden 64, 3 layers, 8 experts, sigmoid group-limited routing). */
        V3_TINY("v3-tiny"),
        /** The golden v2lite-tiny shapes (hidden 64, no q LoRA, softmax greedy routing, 2 shared experts). */
        V2_LITE_TINY("v2-lite-tiny"),
        /** DeepSeek-V2-Lite: 27 layers, hidden 2048, 64 routed experts (6 used) + 2 shared. */
        V2_LITE("v2-lite"),
        /** DeepSeek-V3 / R1: 61 layers, hidden 7168, 256 routed experts (8 used) + 1 shared. */
        V3("v3");

        public final String cliName;

        Preset(String cliName) {
            this.cliName = cliName;
        }

        public static Preset fromCliName(String name) {
            for (Preset p : values()) if (p.cliName.equals(name)) return p;
            throw new FathomException("unknown preset '" + name + "' (expected v3-tiny, v2-lite-tiny, v2-lite or v3)");
        }

        /** The preset's config with {@code vocabSize} tokens and, if {@code layers} > 0, that many layers. */
        public DeepSeekConfig config(int vocabSize, int layers) {
            DeepSeekConfig.RopeScaling yarn1 = new DeepSeekConfig.RopeScaling("yarn", 40f, 4096, 32f, 1f, 1f, 1f);
            DeepSeekConfig.RopeScaling yarn707 = new DeepSeekConfig.RopeScaling("yarn", 40f, 4096, 32f, 1f, 0.707f, 0.707f);
            DeepSeekConfig c = switch (this) {
                case V3_TINY -> new DeepSeekConfig(vocabSize, 64, 128, 32, 3, 4, 96, 32, 32, 16, 16, 8, 1, 3, 4, 2, 2.5f, true,
                        DeepSeekConfig.ScoringFunc.SIGMOID, DeepSeekConfig.TopkMethod.NOAUX_TC, 1, 1e-6f, 10000f, 163840, yarn1, 0, 1);
                case V2_LITE_TINY -> new DeepSeekConfig(vocabSize, 64, 128, 32, 3, 4, 0, 64, 32, 16, 32, 8, 2, 3, 1, 1, 1f, false,
                        DeepSeekConfig.ScoringFunc.SOFTMAX, DeepSeekConfig.TopkMethod.GREEDY, 1, 1e-6f, 10000f, 163840, yarn707, 0, 1);
                case V2_LITE -> new DeepSeekConfig(vocabSize, 2048, 10944, 1408, 27, 16, 0, 512, 128, 64, 128, 64, 2, 6, 1, 1, 1f, false,
                        DeepSeekConfig.ScoringFunc.SOFTMAX, DeepSeekConfig.TopkMethod.GREEDY, 1, 1e-6f, 10000f, 163840, yarn707, 0, 1);
                case V3 -> new DeepSeekConfig(vocabSize, 7168, 18432, 2048, 61, 128, 1536, 512, 128, 64, 128, 256, 1, 8, 8, 4, 2.5f, true,
                        DeepSeekConfig.ScoringFunc.SIGMOID, DeepSeekConfig.TopkMethod.NOAUX_TC, 3, 1e-6f, 10000f, 163840, yarn1, 0, 1);
            };
            if (layers <= 0 || layers == c.numHiddenLayers()) return c;
            return new DeepSeekConfig(c.vocabSize(), c.hiddenSize(), c.intermediateSize(), c.moeIntermediateSize(), layers,
                    c.numAttentionHeads(), c.qLoraRank(), c.kvLoraRank(), c.qkNopeHeadDim(), c.qkRopeHeadDim(), c.vHeadDim(),
                    c.nRoutedExperts(), c.nSharedExperts(), c.numExpertsPerTok(), c.nGroup(), c.topkGroup(),
                    c.routedScalingFactor(), c.normTopkProb(), c.scoringFunc(), c.topkMethod(),
                    Math.min(c.firstKDenseReplace(), layers), c.rmsNormEps(), c.ropeTheta(), c.maxPositionEmbeddings(),
                    c.ropeScaling(), c.bosTokenId(), c.eosTokenId());
        }
    }

    private final Preset preset;
    private final int layers;
    private final TensorType type;
    private final long seed;

    /**
     * @param layers the depth, or 0 for the preset's own
     * @param type   the type of every matrix (F32, F16, BF16, Q8_0 or Q4_0); norms and router stay F32
     */
    public TestModelWriter(Preset preset, int layers, TensorType type, long seed) {
        if (layers < 0) throw new FathomException("--layers must be positive, got " + layers);
        if (!type.isSupported() || !type.format().canQuantize()) {
            throw new FathomException("test models can be written as F32, F16, BF16, Q8_0 or Q4_0, not " + type);
        }
        this.preset = preset;
        this.layers = layers;
        this.type = type;
        this.seed = seed;
    }

    public DeepSeekConfig config(GgufMetadata tokenizer) {
        return preset.config(tokenizer.getArray("tokenizer.ggml.tokens").length(), layers);
    }

    /** Prepares the writer: metadata and every tensor with its row generator. Call {@code write} on the result. */
    public GgufWriter prepare() {
        GgufMetadata tokenizer = Tokenizer.deepSeekV3Metadata();
        DeepSeekConfig c = config(tokenizer);
        GgufMetadata.Builder meta = GgufMetadata.builder();
        c.toGguf(meta);
        meta.putString("general.name", "Fathom test model " + preset.cliName + " " + type + " seed " + seed);
        meta.putUint32("general.file_type", fileType(type));
        if (type.blockSize > 1) meta.putUint32("general.quantization_version", 2);
        for (var e : tokenizer.entries().entrySet()) {
            if (e.getKey().startsWith("tokenizer.") && !e.getKey().endsWith("_token_id")) meta.put(e.getKey(), e.getValue());
        }
        // BOS/EOS ids come from the tokenizer, which must agree with the config's.
        for (String k : new String[] {"tokenizer.ggml.bos_token_id", "tokenizer.ggml.eos_token_id", "tokenizer.ggml.padding_token_id"}) {
            tokenizer.get(k).ifPresent(v -> meta.put(k, v));
        }
        GgufWriter w = new GgufWriter(meta.build());
        long h = c.hiddenSize();
        long heads = c.numAttentionHeads();
        matrix(w, "token_embd.weight", h, c.vocabSize());
        for (int i = 0; i < c.numHiddenLayers(); i++) {
            String p = "blk." + i + ".";
            ones(w, p + "attn_norm.weight", h);
            if (c.qLoraRank() > 0) {
                matrix(w, p + "attn_q_a.weight", h, c.qLoraRank());
                ones(w, p + "attn_q_a_norm.weight", c.qLoraRank());
                matrix(w, p + "attn_q_b.weight", c.qLoraRank(), heads * c.qkHeadDim());
            } else {
                matrix(w, p + "attn_q.weight", h, heads * c.qkHeadDim());
            }
            matrix(w, p + "attn_kv_a_mqa.weight", h, c.kvLoraRank() + c.qkRopeHeadDim());
            ones(w, p + "attn_kv_a_norm.weight", c.kvLoraRank());
            matrix(w, p + "attn_k_b.weight", c.qkNopeHeadDim(), c.kvLoraRank(), heads);
            matrix(w, p + "attn_v_b.weight", c.kvLoraRank(), c.vHeadDim(), heads);
            matrix(w, p + "attn_output.weight", heads * c.vHeadDim(), h);
            ones(w, p + "ffn_norm.weight", h);
            if (!c.isMoeLayer(i)) {
                matrix(w, p + "ffn_gate.weight", h, c.intermediateSize());
                matrix(w, p + "ffn_up.weight", h, c.intermediateSize());
                matrix(w, p + "ffn_down.weight", c.intermediateSize(), h);
            } else {
                long e = c.nRoutedExperts();
                long f = c.moeIntermediateSize();
                random(w, p + "ffn_gate_inp.weight", TensorType.F32, h, e);
                if (c.scoringFunc() == DeepSeekConfig.ScoringFunc.SIGMOID) {
                    w.addTensor(p + "exp_probs_b.bias", TensorType.F32, new long[] {e}, (row, out) -> java.util.Arrays.fill(out, 0f));
                }
                matrix(w, p + "ffn_gate_exps.weight", h, f, e);
                matrix(w, p + "ffn_up_exps.weight", h, f, e);
                matrix(w, p + "ffn_down_exps.weight", f, h, e);
                if (c.nSharedExperts() > 0) {
                    long fs = f * c.nSharedExperts();
                    matrix(w, p + "ffn_gate_shexp.weight", h, fs);
                    matrix(w, p + "ffn_up_shexp.weight", h, fs);
                    matrix(w, p + "ffn_down_shexp.weight", fs, h);
                }
            }
        }
        ones(w, "output_norm.weight", h);
        matrix(w, "output.weight", h, c.vocabSize());
        return w;
    }

    private void matrix(GgufWriter w, String name, long... shape) {
        random(w, name, type, shape);
    }

    private void random(GgufWriter w, String name, TensorType t, long... shape) {
        long tensorSeed = mix(seed ^ mix(name.hashCode()));
        float amplitude = INIT_STD * (float) Math.sqrt(3); // uniform on [-a, a] has std a / sqrt(3)
        w.addTensor(name, t, shape, (row, out) -> {
            long s = mix(tensorSeed + row * 0x9E3779B97F4A7C15L);
            for (int i = 0; i < out.length; i++) {
                s = s * 6364136223846793005L + 1442695040888963407L; // 64-bit LCG; the top 24 bits are well mixed
                out[i] = ((s >>> 40) * 0x1.0p-24f * 2f - 1f) * amplitude;
            }
        });
    }

    private static void ones(GgufWriter w, String name, long n) {
        w.addTensor(name, TensorType.F32, new long[] {n}, (row, out) -> java.util.Arrays.fill(out, 1f));
    }

    /** SplitMix64's finaliser. */
    private static long mix(long z) {
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }

    /** llama.cpp's {@code llama_ftype} for a model whose matrices are all {@code t}. */
    static int fileType(TensorType t) {
        return switch (t) {
            case F32 -> 0;
            case F16 -> 1;
            case Q4_0 -> 2;
            case Q4_1 -> 3;
            case Q8_0 -> 7;
            case Q5_0 -> 8;
            case Q5_1 -> 9;
            case BF16 -> 32;
            default -> throw new FathomException("no llama.cpp file type for " + t);
        };
    }

    public String describe() {
        return String.format(Locale.ROOT, "%s, %s, seed %d%s", preset.cliName, type, seed, layers > 0 ? ", " + layers + " layers" : "");
    }
}
