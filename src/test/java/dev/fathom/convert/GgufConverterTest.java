package dev.fathom.convert;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.fathom.Fixtures;
import dev.fathom.checkpoint.GgufCheckpoint;
import dev.fathom.checkpoint.HfCheckpoint;
import dev.fathom.gguf.GgufFile;
import dev.fathom.gguf.MetadataValue;
import dev.fathom.model.GoldenCase;
import dev.fathom.model.LoadedModel;
import dev.fathom.model.Transformer;
import dev.fathom.safetensors.SafetensorsFile;
import dev.fathom.tensor.Tensor;
import dev.fathom.tensor.TensorType;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.*;

/**
 * Converting the golden Hugging Face folders gives the GGUFs llama.cpp's converter wrote (metadata, tensor names,
 * shapes and values, the Llama permutation and rope_freqs included), which Fathom reads back within the golden
 * tolerances; the quantised types are llama-quantize's bytes.
 */
class GgufConverterTest {
    @TempDir
    Path dir;

    private Path convert(String name, QuantMix mix) throws Exception {
        Path out = dir.resolve(name + "-" + mix.cliName() + ".gguf");
        try (HfCheckpoint in = HfCheckpoint.open(Fixtures.golden(name + "/hf"))) {
            GgufConverter.prepare(in, mix).write(out);
        }
        return out;
    }

    /** v3-tiny, v2lite-tiny, qwen2-tiny, llama-tiny and v3-tiny-mtp (its main model): BF16 folders with llama.cpp golden data. */
    static Stream<String> hfCases() {
        return GoldenCase.allHf();
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("hfCases")
    void f32ConversionIsTheGoldenGgufAndMatchesTheGoldenLogits(String name) throws Exception {
        Path out = convert(name, QuantMix.F32);
        Path golden = Fixtures.shared().resolve("golden").resolve(name).resolve("model.gguf");
        try (GgufFile ours = GgufFile.open(out)) {
            if (Files.isRegularFile(golden)) {
                try (GgufFile theirs = GgufFile.open(golden)) {
                    assertSameMetadata(theirs, ours);
                    assertEquals(new TreeMap<>(theirs.tensors()).keySet(), new TreeMap<>(ours.tensors()).keySet());
                    for (Tensor t : theirs.tensors().values()) {
                        Tensor o = ours.tensor(t.name());
                        assertArrayEquals(t.shape(), o.shape(), t.name());
                        assertEquals(TensorType.F32, o.type(), t.name());
                        float[] x = t.toFloatArray(), y = o.toFloatArray();
                        for (int i = 0; i < x.length; i++) {
                            if (x[i] != y[i]) fail(t.name() + " element " + i + ": " + y[i] + ", llama.cpp's " + x[i]); // bf16 values, exact in F32
                        }
                    }
                }
            } else { // v3-tiny-mtp: llama.cpp's converter drops the nextn layer
                assertFalse(ours.tensors().keySet().stream().anyMatch(n -> n.startsWith("blk.3.")), ours.tensors().keySet().toString());
            }
        }
        GoldenCase.check(name, out);
    }

    /** Everything but the name (the folder's) is as llama.cpp's converter wrote it, arrays (tokens, merges) and the template included. */
    private static void assertSameMetadata(GgufFile theirs, GgufFile ours) {
        Map<String, MetadataValue> a = new TreeMap<>(theirs.metadata().entries()), b = new TreeMap<>(ours.metadata().entries());
        a.remove("general.name");
        b.remove("general.name");
        assertEquals(a.keySet(), b.keySet());
        for (var e : a.entrySet()) {
            MetadataValue v = b.get(e.getKey());
            assertEquals(e.getValue().type(), v.type(), e.getKey());
            if (v.value() instanceof dev.fathom.gguf.GgufArray arr) {
                assertEquals(e.getValue().value().toString(), arr.toString(), e.getKey());
                assertEquals(((dev.fathom.gguf.GgufArray) e.getValue().value()).length(), arr.length(), e.getKey());
            } else {
                assertEquals(e.getValue().value(), v.value(), e.getKey());
            }
        }
        assertArrayEquals(theirs.metadata().getStringArray("tokenizer.ggml.tokens"), ours.metadata().getStringArray("tokenizer.ggml.tokens"));
        assertArrayEquals(theirs.metadata().getStringArray("tokenizer.ggml.merges"), ours.metadata().getStringArray("tokenizer.ggml.merges"));
        assertArrayEquals(theirs.metadata().getIntArray("tokenizer.ggml.token_type"), ours.metadata().getIntArray("tokenizer.ggml.token_type"));
    }

    static Stream<String> fp8Cases() {
        return GoldenCase.allReferenceOnly();
    }

    /** DeepSeek's FP8 folders (e4m3 with 128x128 block scales, partial edge blocks) decode into a GGUF within 1e-4 of the reference. */
    @ParameterizedTest(name = "{0}")
    @MethodSource("fp8Cases")
    void fp8ConversionMatchesTheReference(String name) throws Exception {
        GoldenCase.checkReference(name, convert(name, QuantMix.F32));
    }

    /** Q8_0 and Q4_0 of v3-tiny are the bytes llama-quantize --pure wrote (golden v3-tiny-q8_0 / -q4_0), and run within their tolerances. */
    @Test
    void q8_0AndQ4_0AreLlamaQuantizesBytes() throws Exception {
        for (QuantMix mix : new QuantMix[] {QuantMix.Q8_0, QuantMix.Q4_0}) {
            String golden = "v3-tiny-" + mix.cliName().toLowerCase(java.util.Locale.ROOT);
            Path out = convert("v3-tiny", mix);
            assertSameTensorBytes(Fixtures.golden(golden + "/model.gguf"), out);
            GoldenCase.check(golden, out);
        }
    }

    /** Q4_K_M straight from the folder is what `fathom quantize` makes of the golden F32 GGUF: the same mix, the same bytes. */
    @ParameterizedTest(name = "{0}")
    @MethodSource("hfCases")
    void q4KmIsWhatQuantizeMakesOfTheGoldenGguf(String name) throws Exception {
        Path gguf = Fixtures.shared().resolve("golden").resolve(name).resolve("model.gguf");
        if (!Files.isRegularFile(gguf)) return; // v3-tiny-mtp: no GGUF to compare with
        Path requantized = dir.resolve(name + "-requantized.gguf");
        try (GgufCheckpoint in = GgufCheckpoint.open(gguf)) {
            GgufRequantizer.prepare(in, QuantMix.Q4_K_M, true).write(requantized); // token_embd is Q8_0 there, exactly the bf16 values
        }
        assertSameTensorBytes(requantized, convert(name, QuantMix.Q4_K_M));
    }

    /**
     * Tied embeddings (qwen2-tiny without lm_head.weight, tie_word_embeddings true): no output.weight is written, as
     * llama.cpp's converter does, the GGUF gives the folder's logits bit for bit, and Q4_K_M gives token_embd the
     * output head's type (Q8_0: rows of 64 are no multiple of 256), as llama-quantize does without an output.weight.
     */
    @Test
    void tiedEmbeddingsWriteNoOutputHead() throws Exception {
        Path src = Fixtures.golden("qwen2-tiny/hf"), tied = Files.createDirectories(dir.resolve("tied"));
        for (String f : new String[] {"tokenizer.json", "tokenizer_config.json"}) Files.copy(src.resolve(f), tied.resolve(f));
        ObjectMapper json = new ObjectMapper();
        ObjectNode config = (ObjectNode) json.readTree(src.resolve("config.json").toFile());
        json.writeValue(tied.resolve("config.json").toFile(), config.put("tie_word_embeddings", true));
        try (SafetensorsFile s = SafetensorsFile.open(src.resolve("model.safetensors"))) {
            Fixtures.writeSafetensors(tied.resolve("model.safetensors"),
                    s.tensors().values().stream().filter(t -> !t.name().equals("lm_head.weight")).toList());
        }
        Path f32 = dir.resolve("tied-f32.gguf"), q4km = dir.resolve("tied-q4km.gguf");
        try (HfCheckpoint in = HfCheckpoint.open(tied)) {
            GgufConverter.prepare(in, QuantMix.F32).write(f32);
            GgufConverter.prepare(in, QuantMix.Q4_K_M).write(q4km);
        }
        try (GgufFile a = GgufFile.open(f32); GgufFile b = GgufFile.open(q4km)) {
            assertFalse(a.tensors().containsKey("output.weight"));
            assertEquals(TensorType.Q8_0, b.tensor("token_embd.weight").type());
        }
        int[] tokens = Fixtures.readI32(Fixtures.golden("qwen2-tiny/p2/tokens.i32"));
        assertArrayEquals(lastLogits(tied, tokens), lastLogits(f32, tokens));
    }

    private static float[] lastLogits(Path model, int[] tokens) throws Exception {
        try (LoadedModel m = LoadedModel.open(model, 2)) {
            Transformer t = m.model();
            return t.forward(t.newSequence(tokens.length), tokens, 0, false)[0];
        }
    }

    private static void assertSameTensorBytes(Path expected, Path actual) throws Exception {
        try (GgufFile a = GgufFile.open(expected); GgufFile b = GgufFile.open(actual)) {
            assertEquals(new TreeMap<>(a.tensors()).keySet(), new TreeMap<>(b.tensors()).keySet());
            for (Tensor t : a.tensors().values()) {
                Tensor o = b.tensor(t.name());
                assertEquals(t.type(), o.type(), t.name());
                assertArrayEquals(t.shape(), o.shape(), t.name());
                assertEquals(-1, t.data().mismatch(o.data()), t.name());
            }
            assertEquals(a.metadata().getInt("general.file_type"), b.metadata().getInt("general.file_type"));
        }
    }
}
