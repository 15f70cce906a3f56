package dev.fathom.testmodel;

import dev.fathom.convert.QuantMix;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.fathom.Fixtures;
import dev.fathom.gguf.GgufFile;
import dev.fathom.model.DeepSeekConfig;
import dev.fathom.model.DenseConfig;
import dev.fathom.tensor.Tensor;
import dev.fathom.tensor.TensorType;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.*;

class TestModelWriterTest {
    @TempDir
    Path dir;

    /** The tiny presets have exactly the tensors (names, shapes) and hyper-parameters llama.cpp's converter wrote. */
    @ParameterizedTest
    @CsvSource({"v3-tiny, v3-tiny", "v2-lite-tiny, v2lite-tiny", "qwen2-tiny, qwen2-tiny", "llama-tiny, llama-tiny"})
    void tinyPresetsMatchTheGoldenModelsLayout(String preset, String golden) throws Exception {
        Path out = dir.resolve(golden + ".gguf");
        new TestModelWriter(Preset.fromCliName(preset), 0, QuantMix.F32, 7).prepare().write(out);
        try (GgufFile ours = GgufFile.open(out); GgufFile theirs = GgufFile.open(Fixtures.golden(golden + "/model.gguf"))) {
            assertEquals(theirs.tensors().keySet().stream().sorted().toList(), ours.tensors().keySet().stream().sorted().toList());
            for (Tensor t : theirs.tensors().values()) {
                long[] shape = t.shape();
                if (t.name().equals("token_embd.weight") || t.name().equals("output.weight")) shape[1] = 129280; // full vocabulary
                assertArrayEquals(shape, ours.tensor(t.name()).shape(), t.name());
            }
            String arch = theirs.metadata().getString("general.architecture");
            assertEquals(arch, ours.metadata().getString("general.architecture"));
            // Every hyper-parameter the converter wrote, we write with the same value (the vocabulary aside).
            for (var e : theirs.metadata().entries().entrySet()) {
                String k = e.getKey();
                if (!k.startsWith(arch + ".") || k.equals(arch + ".vocab_size") || k.equals(arch + ".context_length")) continue;
                assertTrue(ours.metadata().has(k), "missing " + k);
                assertEquals(e.getValue(), ours.metadata().get(k).orElseThrow(), k);
            }
            if (theirs.hasTensor("rope_freqs.weight")) {
                assertArrayEquals(theirs.tensor("rope_freqs.weight").toFloatArray(), ours.tensor("rope_freqs.weight").toFloatArray(), 1e-5f);
            }
        }
    }

    @Test
    void sameOptionsGiveTheSameBytesAndSeedsDiffer() throws Exception {
        Path a = dir.resolve("a.gguf"), b = dir.resolve("b.gguf"), c = dir.resolve("c.gguf");
        new TestModelWriter(Preset.V2_LITE_TINY, 2, QuantMix.Q4_0, 1).prepare().write(a);
        new TestModelWriter(Preset.V2_LITE_TINY, 2, QuantMix.Q4_0, 1).prepare().write(b);
        new TestModelWriter(Preset.V2_LITE_TINY, 2, QuantMix.Q4_0, 2).prepare().write(c);
        assertEquals(-1, Files.mismatch(a, b));
        assertNotEquals(-1, Files.mismatch(a, c));
        try (GgufFile f = GgufFile.open(a)) {
            assertEquals(2, f.metadata().getInt("deepseek2.block_count"));
            assertEquals(TensorType.Q4_0, f.tensor("blk.1.ffn_up_exps.weight").type());
            assertEquals(TensorType.F32, f.tensor("blk.1.ffn_gate_inp.weight").type(), "router stays F32");
            assertEquals(2, f.metadata().getInt("general.file_type"));
            float[] w = f.tensor("blk.0.attn_q.weight").toFloatArray();
            double sum = 0, sq = 0;
            for (float v : w) { sum += v; sq += v * v; }
            double std = Math.sqrt(sq / w.length - (sum / w.length) * (sum / w.length));
            assertEquals(0.02, std, 0.002, "initializer std");
            assertEquals(0, sum / w.length, 0.001);
        }
    }

    /** Q4_K_M as llama-quantize lays it out: Q6_K head, attn_v / ffn_down on use_more_bits layers, fallbacks by row length. */
    @Test
    void q4KMixFollowsLlamaQuantize() throws Exception {
        Path q = dir.resolve("qwen.gguf");
        // use_more_bits over 8 layers picks 0, 3, 6, 7.
        for (int l = 0; l < 8; l++) {
            TensorType expected = l == 0 || l == 3 || l == 6 || l == 7 ? TensorType.Q6_K : TensorType.Q4_K;
            assertEquals(expected, QuantMix.Q4_K_M.typeOf("blk." + l + ".attn_v.weight", 2, 1536, "qwen2", 8, 0, true), "attn_v " + l);
            assertEquals(expected, QuantMix.Q4_K_M.typeOf("blk." + l + ".ffn_down.weight", 2, 8960, "qwen2", 8, 0, true), "ffn_down " + l);
            assertEquals(TensorType.Q4_K, QuantMix.Q4_K_M.typeOf("blk." + l + ".attn_q.weight", 2, 1536, "qwen2", 8, 0, true));
        }
        assertEquals(TensorType.Q6_K, QuantMix.Q4_K_M.typeOf("output.weight", 2, 1536, "qwen2", 8, 0, true));
        assertEquals(TensorType.Q4_K, QuantMix.Q4_K_M.typeOf("token_embd.weight", 2, 1536, "qwen2", 8, 0, true));
        // Tied embeddings (no output.weight): token_embd is the output head and gets its type, as llama-quantize's has_output.
        assertEquals(TensorType.Q6_K, QuantMix.Q4_K_M.typeOf("token_embd.weight", 2, 1536, "qwen2", 8, 0, false));
        assertEquals(TensorType.Q8_0, QuantMix.Q4_K_M.typeOf("token_embd.weight", 2, 896, "qwen2", 24, 0, false));
        assertEquals(TensorType.F32, QuantMix.Q4_K_M.typeOf("blk.0.attn_q.bias", 1, 1536, "qwen2", 8, 0, true));
        // The golden tiny models (3 layers: only layer 2 gets more bits; row length 64 takes the fallbacks).
        assertEquals(TensorType.Q8_0, QuantMix.Q4_K_M.typeOf("output.weight", 2, 64, "llama", 3, 0, true));
        assertEquals(TensorType.Q5_0, QuantMix.Q4_K_M.typeOf("blk.1.attn_v.weight", 2, 64, "llama", 3, 0, true));
        assertEquals(TensorType.Q8_0, QuantMix.Q4_K_M.typeOf("blk.2.attn_v.weight", 2, 64, "llama", 3, 0, true));
        assertEquals(TensorType.Q8_0, QuantMix.Q4_K_M.typeOf("blk.2.ffn_down.weight", 2, 128, "llama", 3, 0, true));
        // deepseek2 with 8 experts: attn_output Q5_K (then Q5_1 at row length 64), split MLA tensors untouched.
        assertEquals(TensorType.Q5_1, QuantMix.Q4_K_M.typeOf("blk.1.attn_output.weight", 2, 64, "deepseek2", 3, 8, true));
        assertEquals(TensorType.Q5_0, QuantMix.Q4_K_M.typeOf("blk.2.attn_v_b.weight", 3, 32, "deepseek2", 3, 8, true));
        assertEquals(TensorType.Q8_0, QuantMix.Q4_K_M.typeOf("blk.2.ffn_down_exps.weight", 3, 32, "deepseek2", 3, 8, true));
        assertEquals(TensorType.F32, QuantMix.Q4_K_M.typeOf("blk.1.ffn_gate_inp.weight", 2, 64, "deepseek2", 3, 8, true));

        new TestModelWriter(Preset.QWEN2_TINY, 0, QuantMix.Q4_K_M, 1).prepare().write(q);
        try (GgufFile f = GgufFile.open(q)) {
            assertEquals(15, f.metadata().getInt("general.file_type"));
            assertEquals(TensorType.Q8_0, f.tensor("blk.2.attn_v.weight").type());
            assertEquals(TensorType.Q5_0, f.tensor("blk.0.attn_v.weight").type());
            assertEquals(TensorType.F32, f.tensor("blk.0.attn_q.bias").type());
        }
    }

    /** The real presets: DeepSeek-V2-Lite, V3 and the R1-Distill published shapes. */
    @Test
    void realPresetShapes() throws Exception {
        DeepSeekConfig lite = (DeepSeekConfig) Preset.V2_LITE.config(129280, 0);
        assertEquals(27, lite.numHiddenLayers());
        assertEquals(2048, lite.hiddenSize());
        assertEquals(0, lite.qLoraRank());
        assertEquals(64, lite.nRoutedExperts());
        assertEquals(6, lite.numExpertsPerTok());
        assertEquals(1408, lite.moeIntermediateSize());
        DeepSeekConfig v3 = (DeepSeekConfig) Preset.V3.config(129280, 4);
        assertEquals(4, v3.numHiddenLayers());
        assertEquals(3, v3.firstKDenseReplace());
        assertEquals(7168, v3.hiddenSize());
        assertEquals(256, v3.nRoutedExperts());
        assertEquals(1536, v3.qLoraRank());
        assertEquals(1, ((DeepSeekConfig) Preset.V3.config(129280, 1)).firstKDenseReplace(), "trimmed below the dense layers");
        DenseConfig q7 = (DenseConfig) Preset.R1_DISTILL_QWEN_7B.config(129280, 8);
        assertEquals("qwen2", q7.architecture());
        assertEquals(8, q7.numHiddenLayers());
        assertEquals(3584, q7.hiddenSize());
        assertEquals(18944, q7.intermediateSize());
        assertEquals(28, q7.numAttentionHeads());
        assertEquals(4, q7.numKeyValueHeads());
        assertEquals(152064, q7.vocabSize());
        DenseConfig l8 = (DenseConfig) Preset.R1_DISTILL_LLAMA_8B.config(129280, 0);
        assertEquals("llama", l8.architecture());
        assertEquals(32, l8.numHiddenLayers());
        assertEquals(8, l8.numKeyValueHeads());
        assertEquals("llama3", l8.ropeScaling().type());
        assertEquals(129280, l8.vocabSize(), "at least the bundled tokenizer's vocabulary");
        // The tiny presets equal the golden hf/config.json apart from the vocabulary.
        ObjectMapper json = new ObjectMapper();
        JsonNode hf = json.readTree(Fixtures.golden("v3-tiny/hf/config.json").toFile());
        DeepSeekConfig tiny = (DeepSeekConfig) Preset.V3_TINY.config(16448, 0);
        for (Map.Entry<String, Integer> e : Map.of("hidden_size", tiny.hiddenSize(), "q_lora_rank", tiny.qLoraRank(),
                "kv_lora_rank", tiny.kvLoraRank(), "n_group", tiny.nGroup(), "topk_group", tiny.topkGroup(),
                "moe_intermediate_size", tiny.moeIntermediateSize(), "n_shared_experts", tiny.nSharedExperts()).entrySet()) {
            assertEquals(hf.get(e.getKey()).asInt(), e.getValue(), e.getKey());
        }
    }

    @Test
    void demoModelCacheFollowsFathomCacheThenXdgThenHome() {
        java.util.Map<String, String> env = new java.util.HashMap<>(java.util.Map.of("FATHOM_CACHE", "/f", "XDG_CACHE_HOME", "/x", "HOME", "/h"));
        assertEquals(java.nio.file.Path.of("/f"), dev.fathom.CacheDirectory.of(env::get));
        env.put("FATHOM_CACHE", " ");
        assertEquals(java.nio.file.Path.of("/x/fathom"), dev.fathom.CacheDirectory.of(env::get), "a blank variable counts as unset");
        env.remove("XDG_CACHE_HOME");
        assertEquals(java.nio.file.Path.of("/h/.cache/fathom"), dev.fathom.CacheDirectory.of(env::get));
        env.remove("HOME");
        assertEquals(java.nio.file.Path.of(System.getProperty("user.home"), ".cache", "fathom"), dev.fathom.CacheDirectory.of(env::get));
    }
}
