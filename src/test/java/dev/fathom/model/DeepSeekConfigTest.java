package dev.fathom.model;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.fathom.FathomException;
import dev.fathom.Fixtures;
import dev.fathom.checkpoint.ConfigValues;
import dev.fathom.checkpoint.GgufNames;
import dev.fathom.gguf.GgufFile;
import dev.fathom.gguf.GgufMetadata;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.nio.file.Path;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.*;

class DeepSeekConfigTest {

    @SuppressWarnings("unchecked")
    static ConfigValues configJson(Path configJson) throws Exception {
        return new ConfigValues(configJson.toString(), new ObjectMapper().readValue(configJson.toFile(), Map.class));
    }

    static DeepSeekConfig fromGguf(GgufMetadata m) {
        return DeepSeekConfig.fromConfig(GgufNames.config(m, "test metadata"));
    }

    static GgufMetadata toGguf(DeepSeekConfig c) {
        return GgufNames.toGguf(DeepSeekConfig.ARCH, c.toConfig(), GgufMetadata.builder()).build();
    }

    /** The GGUF metadata, translated to HF names, gives the record config.json gives; writing it back gives the converter's values. */
    @ParameterizedTest
    @ValueSource(strings = {"v3-tiny", "v2lite-tiny"})
    void ggufMatchesHfConfigAndRoundTrips(String name) throws Exception {
        DeepSeekConfig hf = DeepSeekConfig.fromConfig(configJson(Fixtures.golden(name + "/hf/config.json")));
        try (GgufFile f = GgufFile.open(Fixtures.golden(name + "/model.gguf"))) {
            DeepSeekConfig c = fromGguf(f.metadata());
            assertEquals(hf, c);
            assertEquals(c, fromGguf(toGguf(c)));
            assertEquals(c, DeepSeekConfig.fromConfig(c.toConfig()));
            for (var e : toGguf(c).entries().entrySet()) {
                assertEquals(f.metadata().entries().get(e.getKey()), e.getValue(), e.getKey());
            }
        }
    }

    @Test
    void syntheticConfigsRoundTrip() {
        // DeepSeek-V2 style: softmax, group-limited greedy; and a model without rope scaling or MoE.
        DeepSeekConfig v2 = new DeepSeekConfig(102400, 5120, 12288, 1536, 60, 128, 1536, 512, 128, 64, 128, 160, 2, 6,
                8, 3, 16f, false, DeepSeekConfig.ScoringFunc.SOFTMAX, DeepSeekConfig.TopkMethod.GROUP_LIMITED_GREEDY, 1,
                1e-6f, 10000f, 163840, new DeepSeekConfig.RopeScaling("yarn", 40f, 4096, 32f, 1f, 0.707f, 0.707f), 100000, 100001);
        assertEquals(v2, fromGguf(toGguf(v2)));
        DeepSeekConfig dense = new DeepSeekConfig(1000, 64, 128, 0, 2, 4, 0, 32, 16, 8, 16, 0, 0, 0, 1, 1, 1f, false,
                DeepSeekConfig.ScoringFunc.SOFTMAX, DeepSeekConfig.TopkMethod.GREEDY, 2, 1e-5f, 5e5f, 4096, null, -1, -1);
        assertEquals(dense, fromGguf(toGguf(dense)));
        // Dense models keep linear and YaRN scaling through GGUF keys (llama3 goes to the rope_freqs tensor instead).
        for (String type : new String[] {"linear", "yarn"}) {
            DenseConfig qwen = new DenseConfig("qwen2", 1000, 64, 128, 2, 4, 2, 16, 1e-6f, 1e6f, 131072,
                    new DenseConfig.RopeScaling(type, 4f, 1f, 4f, type.equals("yarn") ? 32768 : 131072, 32f, 1f), false, 0, 1);
            // llama.cpp's qwen2 has no vocab_size key: the vocabulary is the token list's length
            String[] tokens = java.util.stream.IntStream.range(0, 1000).mapToObj(i -> "t" + i).toArray(String[]::new);
            DenseConfig back = DenseConfig.fromConfig("qwen2", GgufNames.config(GgufNames.toGguf("qwen2", qwen.toConfig(),
                    GgufMetadata.builder().putStrings("tokenizer.ggml.tokens", tokens)).build(), "test metadata"));
            assertEquals(qwen, back);
        }
        for (float m : new float[] {0.707f, 1f, 0.5f, 1.25f, 0.1f}) {
            assertEquals(m, GgufNames.mscaleFromLogMultiplier(GgufNames.logMultiplier(m)));
        }
    }

    @Test
    void knownValues() throws Exception {
        try (GgufFile f = GgufFile.open(Fixtures.golden("v3-tiny/model.gguf"))) {
            DeepSeekConfig c = fromGguf(f.metadata());
            assertEquals(96, c.qLoraRank());
            assertEquals(DeepSeekConfig.TopkMethod.NOAUX_TC, c.topkMethod());
            assertEquals(DeepSeekConfig.ScoringFunc.SIGMOID, c.scoringFunc());
            assertEquals(1.0f, c.ropeScaling().mscaleAllDim());
            assertEquals(3L * (32 + 16) * 4, c.kvBytesPerToken(), "MLA: layers x (latent + rope) floats");
        }
        try (GgufFile f = GgufFile.open(Fixtures.golden("v2lite-tiny/model.gguf"))) {
            DeepSeekConfig c = fromGguf(f.metadata());
            assertEquals(0, c.qLoraRank());
            assertEquals(DeepSeekConfig.TopkMethod.GREEDY, c.topkMethod());
            assertEquals(0.707f, c.ropeScaling().mscaleAllDim());
            assertEquals(0.707f, c.ropeScaling().mscale());
        }
    }

    @Test
    void errorsNameTheKey() throws Exception {
        try (GgufFile f = GgufFile.open(Fixtures.golden("v3-tiny/model.gguf"))) {
            GgufMetadata m = GgufMetadata.builder().putAll(f.metadata()).remove("deepseek2.attention.kv_lora_rank").build();
            FathomException e = assertThrows(FathomException.class, () -> fromGguf(m));
            assertTrue(e.getMessage().contains("deepseek2.attention.kv_lora_rank"), e.getMessage());
            GgufMetadata g = GgufMetadata.builder().putAll(f.metadata()).putUint32("deepseek2.expert_gating_func", 7).build();
            e = assertThrows(FathomException.class, () -> fromGguf(g));
            assertTrue(e.getMessage().contains("deepseek2.expert_gating_func"), e.getMessage());
            GgufMetadata a = GgufMetadata.builder().putAll(f.metadata()).putString("general.architecture", "mamba").build();
            e = assertThrows(FathomException.class, () -> fromGguf(a));
            assertTrue(e.getMessage().contains("'mamba'") && e.getMessage().contains("deepseek2, qwen2, llama"), e.getMessage());
        }
    }
}
