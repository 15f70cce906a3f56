package dev.fathom.checkpoint;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.fathom.FathomException;
import dev.fathom.chat.ChatTemplate;
import dev.fathom.gguf.GgufWriter;
import dev.fathom.safetensors.SafetensorsFile;
import dev.fathom.tensor.Tensor;
import dev.fathom.tensor.TensorType;
import dev.fathom.tokenizer.Tokenizer;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A Hugging Face model folder: {@code config.json}, the weights in {@code model.safetensors} or in shards listed by
 * {@code model.safetensors.index.json} (each shard mapped once, tensors used in place), {@code tokenizer.json} and
 * {@code tokenizer_config.json} (chat template), {@code generation_config.json} (recommended sampling). HF names map to the canonical ones; DeepSeek's {@code kv_b_proj} is
 * split at load into its per-head key part (transposed, as the absorbed attention multiplies by it) and value part,
 * the only weights copied. FP8 ({@code F8_E4M3}) weights get their {@code <name>_scale_inv} block grid attached and
 * are scanned for NaN codes. Llama and Qwen2 weights are in HF's rotate_half order (no permutation).
 */
public final class HfCheckpoint implements Checkpoint {
    private static final Map<String, String> ARCHITECTURES = Map.of(
            "DeepseekV2ForCausalLM", "deepseek2", "DeepseekV3ForCausalLM", "deepseek2",
            "Qwen2ForCausalLM", "qwen2", "LlamaForCausalLM", "llama");
    private static final Map<String, String> TOP = Map.of(
            "embed.weight", "model.embed_tokens.weight", "norm.weight", "model.norm.weight", "head.weight", "lm_head.weight");
    private static final Map<String, String> LAYER = new LinkedHashMap<>();

    static {
        String[][] pairs = {
                {"attn_norm", "input_layernorm"}, {"ffn_norm", "post_attention_layernorm"},
                {"attn.wq", "self_attn.q_proj"}, {"attn.wq_a", "self_attn.q_a_proj"}, {"attn.q_norm", "self_attn.q_a_layernorm"},
                {"attn.wq_b", "self_attn.q_b_proj"}, {"attn.wkv_a", "self_attn.kv_a_proj_with_mqa"},
                {"attn.kv_norm", "self_attn.kv_a_layernorm"}, {"attn.wkv_b", "self_attn.kv_b_proj"}, {"attn.wo", "self_attn.o_proj"},
                {"attn.wk", "self_attn.k_proj"}, {"attn.wv", "self_attn.v_proj"},
                {"ffn.w1", "mlp.gate_proj"}, {"ffn.w2", "mlp.down_proj"}, {"ffn.w3", "mlp.up_proj"},
                {"ffn.shared_experts.w1", "mlp.shared_experts.gate_proj"}, {"ffn.shared_experts.w2", "mlp.shared_experts.down_proj"},
                {"ffn.shared_experts.w3", "mlp.shared_experts.up_proj"}};
        for (String[] p : pairs) LAYER.put(p[0], p[1]);
    }

    private static final Pattern LAYER_NAME = Pattern.compile("layers\\.(\\d+)\\.(.+)\\.(weight|bias)");
    private static final Map<String, String> EXPERT = Map.of("w1", "gate_proj", "w2", "down_proj", "w3", "up_proj");
    private static final Pattern EXPERT_NAME = Pattern.compile("layers\\.(\\d+)\\.ffn\\.experts\\.(w[123])\\.weight");

    private final Path folder;
    private final List<SafetensorsFile> shards;
    private final Map<String, Tensor> tensors = new LinkedHashMap<>();
    private final Map<String, String> unsupported = new LinkedHashMap<>();
    private final Map<String, Tensor> derived = new LinkedHashMap<>();
    private final Arena arena = Arena.ofShared();
    private final String architecture;
    private final ConfigValues config;
    private final Tokenizer tokenizer;
    private final String template;
    private final SamplingDefaults sampling;

    @SuppressWarnings("unchecked")
    private HfCheckpoint(Path folder, List<SafetensorsFile> shards) throws IOException {
        this.folder = folder;
        this.shards = shards;
        Path configJson = folder.resolve("config.json");
        if (!Files.isRegularFile(configJson)) throw new FathomException(folder + ": no config.json (expected a Hugging Face model folder)");
        Map<String, Object> c;
        try {
            c = new ObjectMapper().readValue(configJson.toFile(), Map.class);
        } catch (IOException e) {
            throw new FathomException(configJson + ": not valid JSON: " + e.getMessage(), e);
        }
        this.config = new ConfigValues(configJson.toString(), c);
        Object archs = c.get("architectures");
        String hfArch = archs instanceof List<?> l && !l.isEmpty() ? String.valueOf(l.get(0)) : "(none)";
        String arch = ARCHITECTURES.get(hfArch);
        if (arch == null) {
            throw new FathomException(configJson + ": architecture '" + hfArch + "' is not supported; Fathom runs "
                    + String.join(", ", new TreeSet<>(ARCHITECTURES.keySet())));
        }
        this.architecture = arch;
        for (SafetensorsFile s : shards) {
            for (Tensor t : s.tensors().values()) {
                if (tensors.put(t.name(), t) != null) throw new FathomException(s.path() + ": tensor '" + t.name() + "' is also in another shard");
            }
            unsupported.putAll(s.unsupported());
        }
        int block = blockSize(c);
        for (Map.Entry<String, Tensor> e : tensors.entrySet()) {
            if (e.getValue().type() == TensorType.F8_E4M3) e.setValue(withScales(e.getValue(), block));
        }
        Path tok = folder.resolve("tokenizer.json");
        if (!Files.isRegularFile(tok)) throw new FathomException(folder + ": no tokenizer.json");
        this.tokenizer = Tokenizer.fromHuggingFace(tok);
        String t = null;
        if (Files.isRegularFile(folder.resolve("tokenizer_config.json"))) {
            try {
                t = ChatTemplate.fromTokenizerConfig(folder).source();
            } catch (FathomException e) {
                t = null; // no template: the loader reports it when one is needed
            }
        }
        this.template = t;
        this.sampling = SamplingDefaults.fromGenerationConfig(folder);
    }

    /** {@code quantization_config.weight_block_size} (DeepSeek-V3: [128, 128]); square blocks only. */
    private int blockSize(Map<String, Object> c) {
        if (!config.has("quantization_config")) return 128;
        Object b = config.get("quantization_config.weight_block_size");
        if (b instanceof List<?> l && l.size() == 2 && l.get(0) instanceof Number r && l.get(1) instanceof Number k && r.intValue() == k.intValue()
                && r.intValue() > 0) {
            return r.intValue();
        }
        throw new FathomException(config.source() + ": quantization_config.weight_block_size = " + b + " is not supported (square blocks, e.g. [128, 128])");
    }

    /**
     * An FP8 weight with its {@code <name>_scale_inv} grid ([ceil(rows / block), ceil(cols / block)] float32) attached;
     * a missing or misshapen grid and NaN codes (never written by a quantiser) are errors naming the tensor.
     */
    private Tensor withScales(Tensor t, int block) {
        String sn = t.name() + "_scale_inv";
        Tensor s = tensors.get(sn);
        long rb = (t.rowCount() + block - 1) / block, cb = (t.rowLength() + block - 1) / block;
        if (s == null) throw new FathomException(folder + ": FP8 tensor '" + t.name() + "' has no '" + sn + "'");
        if (s.type() != TensorType.F32 || !java.util.Arrays.equals(s.shape(), new long[] {cb, rb})) {
            throw new FathomException(folder + ": tensor '" + sn + "' is " + s.type() + " " + java.util.Arrays.toString(s.shape())
                    + " (ggml order), expected F32 [" + cb + ", " + rb + "] for the " + block + "x" + block + " blocks of '" + t.name() + "'");
        }
        long nan = dev.fathom.tensor.F8_E4M3.firstNaN(t.data(), 0, t.data().byteSize());
        if (nan >= 0) {
            throw new FathomException(folder + ": FP8 tensor '" + t.name() + "' holds a NaN code at element " + nan
                    + " (row " + nan / t.rowLength() + ", column " + nan % t.rowLength() + ")");
        }
        return new Tensor(t.name(), t.type(), t.shape(), t.data(), new dev.fathom.tensor.BlockScales(s.data(), (int) rb, (int) cb, block));
    }

    /** Opens a model folder and maps its safetensors shards. */
    public static HfCheckpoint open(Path folder) throws IOException {
        List<Path> files = new ArrayList<>();
        Path index = folder.resolve("model.safetensors.index.json");
        if (Files.isRegularFile(index)) {
            JsonNode map = new ObjectMapper().readTree(index.toFile()).path("weight_map");
            if (!map.isObject()) throw new FathomException(index + ": no 'weight_map' object");
            TreeSet<String> names = new TreeSet<>();
            map.elements().forEachRemaining(n -> names.add(n.asText()));
            for (String n : names) {
                Path p = folder.resolve(n);
                if (!Files.isRegularFile(p)) throw new FathomException(index + ": shard " + n + " is missing (expected " + p + ")");
                files.add(p);
            }
        } else if (Files.isRegularFile(folder.resolve("model.safetensors"))) {
            files.add(folder.resolve("model.safetensors"));
        } else {
            throw new FathomException(folder + ": no model.safetensors or model.safetensors.index.json");
        }
        List<SafetensorsFile> shards = new ArrayList<>();
        try {
            for (Path p : files) shards.add(SafetensorsFile.open(p));
            return new HfCheckpoint(folder, shards);
        } catch (IOException | RuntimeException e) {
            for (SafetensorsFile s : shards) s.close();
            throw e;
        }
    }

    /** The HF name of a canonical name, or null when HF has no such tensor (rope.freqs, the split MLA parts). */
    static String hfName(String canonical) {
        String top = TOP.get(canonical);
        if (top != null) return top;
        Matcher m = LAYER_NAME.matcher(canonical);
        if (!m.matches()) return null;
        String p = "model.layers." + m.group(1) + ".", part = m.group(2), suffix = m.group(3);
        if (part.equals("ffn.gate")) return p + (suffix.equals("weight") ? "mlp.gate.weight" : "mlp.gate.e_score_correction_bias");
        String name = LAYER.get(part);
        return name == null ? null : p + name + "." + suffix;
    }

    @Override
    public SamplingDefaults samplingDefaults() {
        return sampling;
    }

    @Override
    public String source() {
        return folder.toString();
    }

    /** The model folder (its tokenizer files, for writers that carry them over). */
    public Path folder() {
        return folder;
    }

    @Override
    public String format() {
        String f = "Hugging Face folder, " + shards.size() + " safetensors file" + (shards.size() == 1 ? "" : "s") + ", " + tensors.size() + " tensors";
        if (!unsupported.isEmpty()) {
            f += " + " + unsupported.size() + " of dtype " + String.join("/", new TreeSet<>(unsupported.values())) + " (not computed yet)";
        }
        return f;
    }

    @Override
    public String architecture() {
        return architecture;
    }

    @Override
    public ConfigValues config() {
        return config;
    }

    @Override
    public String name() {
        return folder.toAbsolutePath().normalize().getFileName().toString();
    }

    @Override
    public Tokenizer tokenizer() {
        return tokenizer;
    }

    @Override
    public Optional<String> chatTemplate() {
        return Optional.ofNullable(template);
    }

    @Override
    public boolean ropePermuted() {
        return false;
    }

    private static final Pattern KV_B = Pattern.compile("layers\\.(\\d+)\\.attn\\.w([kv])_b\\.weight");

    @Override
    public boolean has(String name) {
        Matcher kv = KV_B.matcher(name);
        if (kv.matches()) return tensors.containsKey("model.layers." + kv.group(1) + ".self_attn.kv_b_proj.weight");
        String hf = hfName(name);
        return hf != null && (tensors.containsKey(hf) || unsupported.containsKey(hf));
    }

    @Override
    public synchronized Tensor tensor(String name) {
        Matcher kv = KV_B.matcher(name);
        if (kv.matches()) return derived.computeIfAbsent(name, n -> splitKvB(Integer.parseInt(kv.group(1)), kv.group(2).equals("k")));
        String hf = hfName(name);
        return stored(hf != null ? hf : name, name);
    }

    private Tensor stored(String hf, String canonical) {
        Tensor t = tensors.get(hf);
        if (t != null) return t;
        if (unsupported.containsKey(hf)) {
            throw new FathomException(folder + ": tensor '" + hf + "' has dtype " + unsupported.get(hf) + ", which Fathom does not compute with yet");
        }
        throw new FathomException(folder + ": tensor '" + hf + "' (" + canonical + ") is missing");
    }

    /**
     * One part of DeepSeek's {@code kv_b_proj}, split as {@link KvBSplit} describes, copied in the weight's element
     * type (values exact); an FP8 weight's parts are float32, as they do not keep its 128x128 blocks.
     */
    private Tensor splitKvB(int layer, boolean key) {
        String canonical = "layers." + layer + ".attn.wkv_b.weight", hf = hfName(canonical);
        Tensor w = stored(hf, canonical);
        KvBSplit split = KvBSplit.of(w, config.getInt("num_attention_heads"), config.getInt("qk_nope_head_dim"), config.getInt("v_head_dim"),
                folder + ": tensor '" + hf + "'");
        TensorType type = w.type().blockSize != 1 || w.scales() != null ? TensorType.F32 : w.type();
        long[] shape = key ? split.keyShape() : split.valueShape();
        GgufWriter.RowSource rows = key ? split.keyRows() : split.valueRows();
        int rowLength = (int) shape[0];
        long rowBytes = type.bytesFor(rowLength), rowCount = shape[1] * shape[2];
        MemorySegment out = arena.allocate(rowCount * rowBytes, 64);
        float[] values = new float[rowLength];
        for (long r = 0; r < rowCount; r++) {
            rows.row(r, values);
            type.format().quantize(values, 0, rowLength, out, r * rowBytes);
        }
        return new Tensor(hf + (key ? " (key part)" : " (value part)"), type, shape, out);
    }

    /** One tensor per expert: {@code model.layers.N.mlp.experts.E.{gate,down,up}_proj.weight}. */
    @Override
    public Tensor[] experts(String name, int count, long in, long out) {
        Matcher m = EXPERT_NAME.matcher(name);
        if (!m.matches()) throw new IllegalArgumentException("not an expert tensor name: " + name);
        Tensor[] r = new Tensor[count];
        for (int e = 0; e < count; e++) {
            String hf = "model.layers." + m.group(1) + ".mlp.experts." + e + "." + EXPERT.get(m.group(2)) + ".weight";
            Tensor t = stored(hf, name + " expert " + e);
            if (!java.util.Arrays.equals(t.shape(), new long[] {in, out})) {
                throw new FathomException(folder + ": tensor '" + hf + "' has shape " + java.util.Arrays.toString(t.shape())
                        + " (ggml order), the config needs " + java.util.Arrays.toString(new long[] {in, out}));
            }
            r[e] = t;
        }
        return r;
    }

    @Override
    public Map<String, Tensor> storedTensors() {
        return tensors;
    }

    @Override
    public Map<String, String> metadata() {
        Map<String, String> m = new LinkedHashMap<>();
        config.asMap().forEach((k, v) -> m.put(k, String.valueOf(v)));
        return m;
    }

    @Override
    public long fileBytes() {
        long n = 0;
        for (SafetensorsFile s : shards) {
            try {
                n += Files.size(s.path());
            } catch (IOException e) {
                throw new FathomException(s.path() + ": cannot read its size: " + e.getMessage(), e);
            }
        }
        return n;
    }

    @Override
    public void close() {
        for (SafetensorsFile s : shards) s.close();
        arena.close();
    }
}
