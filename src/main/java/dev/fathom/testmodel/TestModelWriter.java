package dev.fathom.testmodel;

import dev.fathom.convert.QuantMix;
import dev.fathom.FathomException;
import dev.fathom.chat.ChatTemplate;
import dev.fathom.checkpoint.GgufNames;
import dev.fathom.gguf.GgufMetadata;
import dev.fathom.gguf.GgufWriter;
import dev.fathom.model.DeepSeekConfig;
import dev.fathom.model.DenseConfig;
import dev.fathom.model.ModelConfig;
import dev.fathom.model.TensorLayout;
import dev.fathom.tensor.TensorType;
import dev.fathom.tokenizer.Tokenizer;

import java.util.Arrays;
import java.util.Locale;

/**
 * Writes a deterministic random-weight model as a GGUF of llama.cpp's {@code deepseek2}, {@code qwen2} or
 * {@code llama} architecture (the tensor names, shapes and metadata llama.cpp's converter produces; a Llama's
 * llama3 scaling as {@code rope_freqs}), with the real DeepSeek-V3 tokenizer that Fathom bundles (its token list
 * padded with {@code [PADn]} tokens up to a larger preset vocabulary) and, for the R1-Distill shapes, their chat
 * template. Such files exercise the real loading and compute paths at real sizes without downloading weights.
 *
 * <p>Weights are uniform with standard deviation 0.02 (DeepSeek's initializer_range), norms are 1, router biases 0.
 * Every row's values come from its own seed (model seed, tensor name, row), so the file is the same on every
 * machine and for any write order. Types follow a {@link QuantMix}; norms, biases, the router and its bias stay F32.
 */
public final class TestModelWriter {
    private static final float INIT_STD = 0.02f;
    /** llama.cpp's {@code LLAMA_TOKEN_TYPE_UNUSED}. */
    private static final int TOKEN_UNUSED = 5;

    private final Preset preset;
    private final int layers;
    private final QuantMix mix;
    private final long seed;

    /** @param layers the depth, or 0 for the preset's own */
    public TestModelWriter(Preset preset, int layers, QuantMix mix, long seed) {
        if (layers < 0) throw new FathomException("--layers must be positive, got " + layers);
        this.preset = preset;
        this.layers = layers;
        this.mix = mix;
        this.seed = seed;
    }

    public ModelConfig config() {
        return preset.config(Tokenizer.deepSeekV3Metadata().getArray("tokenizer.ggml.tokens").length(), layers);
    }

    /** Prepares the writer: metadata and every tensor with its row generator. Call {@code write} on the result. */
    public GgufWriter prepare() {
        GgufMetadata tokenizer = Tokenizer.deepSeekV3Metadata();
        ModelConfig c = config();
        GgufMetadata.Builder meta = GgufMetadata.builder();
        GgufNames.toGguf(c.architecture(), c.toConfig(), meta);
        meta.putString("general.name", "Fathom test model " + preset.cliName + " " + mix.cliName() + " seed " + seed);
        meta.putUint32("general.file_type", mix.fileType);
        if (mix.base.blockSize > 1) meta.putUint32("general.quantization_version", 2);
        for (var e : tokenizer.entries().entrySet()) {
            if (e.getKey().startsWith("tokenizer.") && !e.getKey().endsWith("_token_id")) meta.put(e.getKey(), e.getValue());
        }
        // BOS/EOS ids come from the tokenizer, which must agree with the config's.
        for (String k : new String[] {"tokenizer.ggml.bos_token_id", "tokenizer.ggml.eos_token_id", "tokenizer.ggml.padding_token_id"}) {
            tokenizer.get(k).ifPresent(v -> meta.put(k, v));
        }
        String[] tokens = tokenizer.getStringArray("tokenizer.ggml.tokens");
        if (c.vocabSize() > tokens.length) {
            int[] types = tokenizer.getIntArray("tokenizer.ggml.token_type");
            String[] t = Arrays.copyOf(tokens, c.vocabSize());
            int[] ty = Arrays.copyOf(types, c.vocabSize());
            for (int i = tokens.length; i < t.length; i++) {
                t[i] = "[PAD" + i + "]";
                ty[i] = TOKEN_UNUSED;
            }
            meta.putStrings("tokenizer.ggml.tokens", t);
            meta.putInt32s("tokenizer.ggml.token_type", ty);
        }
        if (c instanceof DenseConfig d) {
            meta.putString("tokenizer.chat_template", ChatTemplate.bundledSource(
                    d.architecture().equals("llama") ? "deepseek-r1-distill-llama.jinja" : "deepseek-r1-distill-qwen.jinja"));
        }
        GgufWriter w = new GgufWriter(meta.build());
        int experts = c instanceof DeepSeekConfig d ? d.nRoutedExperts() : 0;
        for (TensorLayout.Entry e : TensorLayout.of(c, c.architecture().equals("qwen2"))) {
            String name = GgufNames.tensor(e.name());
            long[] shape = e.shape();
            switch (e.kind()) {
                case WEIGHT, EXPERTS -> {
                    TensorType t = mix.typeOf(name, shape.length, shape[0], c.architecture(), c.numHiddenLayers(), experts, true); // always writes output.weight
                    w.addTensor(name, t, shape, randomRows(name));
                }
                case NORM -> w.addTensor(name, TensorType.F32, shape, (row, out) -> Arrays.fill(out, 1f));
                case ROUTER_BIAS -> w.addTensor(name, TensorType.F32, shape, (row, out) -> Arrays.fill(out, 0f));
                case ROPE_FREQS -> {
                    float[] div = ((DenseConfig) c).llama3Divisors();
                    w.addTensor(name, TensorType.F32, shape, (row, out) -> System.arraycopy(div, 0, out, 0, out.length));
                }
            }
        }
        return w;
    }

    /** Uniform rows of standard deviation {@link #INIT_STD}, each from its own seed (model seed, tensor name, row). */
    private GgufWriter.RowSource randomRows(String name) {
        long tensorSeed = mix(seed ^ mix(name.hashCode()));
        float amplitude = INIT_STD * (float) Math.sqrt(3); // uniform on [-a, a] has std a / sqrt(3)
        return (row, out) -> {
            long s = mix(tensorSeed + row * 0x9E3779B97F4A7C15L);
            for (int i = 0; i < out.length; i++) {
                s = s * 6364136223846793005L + 1442695040888963407L; // 64-bit LCG; the top 24 bits are well mixed
                out[i] = ((s >>> 40) * 0x1.0p-24f * 2f - 1f) * amplitude;
            }
        };
    }

    /** SplitMix64's finaliser. */
    private static long mix(long z) {
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }

    public String describe() {
        return String.format(Locale.ROOT, "%s, %s, seed %d%s", preset.cliName, mix.cliName(), seed, layers > 0 ? ", " + layers + " layers" : "");
    }
}
