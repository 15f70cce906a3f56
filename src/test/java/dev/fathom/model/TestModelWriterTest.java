package dev.fathom.model;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.fathom.Fixtures;
import dev.fathom.gguf.GgufFile;
import dev.fathom.tensor.Tensor;
import dev.fathom.tensor.TensorType;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.*;

class TestModelWriterTest {
    @TempDir
    Path dir;

    /** The tiny presets have exactly the tensors (names, order, shapes) llama.cpp's converter wrote for the golden models. */
    @Test
    void tinyPresetsMatchTheGoldenModelsLayout() throws Exception {
        check(TestModelWriter.Preset.V3_TINY, "v3-tiny");
        check(TestModelWriter.Preset.V2_LITE_TINY, "v2lite-tiny");
    }

    private void check(TestModelWriter.Preset preset, String golden) throws Exception {
        Path out = dir.resolve(golden + ".gguf");
        new TestModelWriter(preset, 0, TensorType.F32, 7).prepare().write(out);
        try (GgufFile ours = GgufFile.open(out); GgufFile theirs = GgufFile.open(Fixtures.golden(golden + "/model.gguf"))) {
            List<String> names = new ArrayList<>(ours.tensors().keySet());
            List<String> expected = new ArrayList<>(theirs.tensors().keySet());
            assertEquals(expected.stream().sorted().toList(), names.stream().sorted().toList());
            for (Tensor t : theirs.tensors().values()) {
                long[] shape = t.shape();
                if (t.name().equals("token_embd.weight") || t.name().equals("output.weight")) shape[1] = 129280; // full vocabulary
                assertArrayEquals(shape, ours.tensor(t.name()).shape(), t.name());
            }
            DeepSeekConfig mine = DeepSeekConfig.fromGguf(ours.metadata());
            DeepSeekConfig ref = DeepSeekConfig.fromGguf(theirs.metadata());
            assertEquals(ref.hiddenSize(), mine.hiddenSize());
            assertEquals(129280, mine.vocabSize());
            // Every hyper-parameter the converter wrote, we write with the same value (the vocabulary aside).
            for (var e : theirs.metadata().entries().entrySet()) {
                String k = e.getKey();
                if (!k.startsWith("deepseek2.") || k.equals("deepseek2.vocab_size")) continue;
                assertTrue(ours.metadata().has(k), "missing " + k);
                assertEquals(e.getValue(), ours.metadata().get(k).orElseThrow(), k);
            }
        }
    }

    @Test
    void sameOptionsGiveTheSameBytesAndSeedsDiffer() throws Exception {
        Path a = dir.resolve("a.gguf"), b = dir.resolve("b.gguf"), c = dir.resolve("c.gguf");
        new TestModelWriter(TestModelWriter.Preset.V2_LITE_TINY, 2, TensorType.Q4_0, 1).prepare().write(a);
        new TestModelWriter(TestModelWriter.Preset.V2_LITE_TINY, 2, TensorType.Q4_0, 1).prepare().write(b);
        new TestModelWriter(TestModelWriter.Preset.V2_LITE_TINY, 2, TensorType.Q4_0, 2).prepare().write(c);
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

    /** The real presets: DeepSeek-V2-Lite and V3 published shapes. */
    @Test
    void realPresetShapes() throws Exception {
        ObjectMapper json = new ObjectMapper();
        DeepSeekConfig lite = TestModelWriter.Preset.V2_LITE.config(129280, 0);
        assertEquals(27, lite.numHiddenLayers());
        assertEquals(2048, lite.hiddenSize());
        assertEquals(0, lite.qLoraRank());
        assertEquals(64, lite.nRoutedExperts());
        assertEquals(6, lite.numExpertsPerTok());
        assertEquals(1408, lite.moeIntermediateSize());
        DeepSeekConfig v3 = TestModelWriter.Preset.V3.config(129280, 4);
        assertEquals(4, v3.numHiddenLayers());
        assertEquals(3, v3.firstKDenseReplace());
        assertEquals(7168, v3.hiddenSize());
        assertEquals(256, v3.nRoutedExperts());
        assertEquals(1536, v3.qLoraRank());
        assertEquals(1, TestModelWriter.Preset.V3.config(129280, 1).firstKDenseReplace(), "trimmed below the dense layers");
        // The tiny presets equal the golden hf/config.json apart from the vocabulary.
        JsonNode hf = json.readTree(Fixtures.golden("v3-tiny/hf/config.json").toFile());
        DeepSeekConfig tiny = TestModelWriter.Preset.V3_TINY.config(16448, 0);
        for (Map.Entry<String, Integer> e : Map.of("hidden_size", tiny.hiddenSize(), "q_lora_rank", tiny.qLoraRank(),
                "kv_lora_rank", tiny.kvLoraRank(), "n_group", tiny.nGroup(), "topk_group", tiny.topkGroup(),
                "moe_intermediate_size", tiny.moeIntermediateSize(), "n_shared_experts", tiny.nSharedExperts()).entrySet()) {
            assertEquals(hf.get(e.getKey()).asInt(), e.getValue(), e.getKey());
        }
    }
}
