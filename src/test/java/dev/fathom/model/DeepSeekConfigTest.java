package dev.fathom.model;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.fathom.FathomException;
import dev.fathom.Fixtures;
import dev.fathom.gguf.GgufFile;
import dev.fathom.gguf.GgufMetadata;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.*;

class DeepSeekConfigTest {

    /** The HF config.json mapping (test-side; the record's field names are exactly these keys in camelCase). */
    static DeepSeekConfig fromHfJson(Path configJson) throws Exception {
        JsonNode j = new ObjectMapper().readTree(configJson.toFile());
        JsonNode rs = j.get("rope_scaling");
        DeepSeekConfig.RopeScaling scaling = rs == null || rs.isNull() ? null : new DeepSeekConfig.RopeScaling(
                rs.has("type") ? rs.get("type").asText() : rs.get("rope_type").asText(),
                (float) rs.get("factor").asDouble(), rs.get("original_max_position_embeddings").asInt(),
                (float) rs.path("beta_fast").asDouble(32), (float) rs.path("beta_slow").asDouble(1),
                (float) rs.path("mscale").asDouble(1), (float) rs.path("mscale_all_dim").asDouble(0));
        return new DeepSeekConfig(
                j.get("vocab_size").asInt(), j.get("hidden_size").asInt(), j.get("intermediate_size").asInt(),
                j.get("moe_intermediate_size").asInt(), j.get("num_hidden_layers").asInt(),
                j.get("num_attention_heads").asInt(), j.path("q_lora_rank").asInt(0), j.get("kv_lora_rank").asInt(),
                j.get("qk_nope_head_dim").asInt(), j.get("qk_rope_head_dim").asInt(), j.get("v_head_dim").asInt(),
                j.get("n_routed_experts").asInt(), j.get("n_shared_experts").asInt(), j.get("num_experts_per_tok").asInt(),
                j.path("n_group").asInt(1), j.path("topk_group").asInt(1),
                (float) j.path("routed_scaling_factor").asDouble(1), j.path("norm_topk_prob").asBoolean(false),
                DeepSeekConfig.ScoringFunc.fromHf(j.path("scoring_func").asText("softmax")),
                DeepSeekConfig.TopkMethod.fromHf(j.path("topk_method").asText("greedy")),
                j.get("first_k_dense_replace").asInt(), (float) j.get("rms_norm_eps").asDouble(),
                (float) j.get("rope_theta").asDouble(), j.get("max_position_embeddings").asInt(), scaling,
                j.path("bos_token_id").asInt(-1), j.path("eos_token_id").asInt(-1));
    }

    @ParameterizedTest
    @ValueSource(strings = {"v3-tiny", "v2lite-tiny"})
    void ggufMatchesHfConfigAndRoundTrips(String name) throws Exception {
        DeepSeekConfig hf = fromHfJson(Fixtures.golden(name + "/hf/config.json"));
        try (GgufFile f = GgufFile.open(Fixtures.golden(name + "/model.gguf"))) {
            DeepSeekConfig c = DeepSeekConfig.fromGguf(f.metadata());
            assertEquals(hf, c);
            assertEquals(c, DeepSeekConfig.fromGguf(c.toGguf(GgufMetadata.builder()).build()));
            // toGguf writes the same values llama.cpp's converter wrote.
            GgufMetadata written = c.toGguf(GgufMetadata.builder()).build();
            for (var e : written.entries().entrySet()) {
                assertEquals(f.metadata().entries().get(e.getKey()), e.getValue(), e.getKey());
            }
        }
    }

    @Test
    void syntheticConfigsRoundTrip() {
        // DeepSeek-V2 style: softmax, group-limited greedy, no q-LoRA; and a model without rope scaling or MoE.
        DeepSeekConfig v2 = new DeepSeekConfig(102400, 5120, 12288, 1536, 60, 128, 1536, 512, 128, 64, 128, 160, 2, 6,
                8, 3, 16f, false, DeepSeekConfig.ScoringFunc.SOFTMAX, DeepSeekConfig.TopkMethod.GROUP_LIMITED_GREEDY, 1,
                1e-6f, 10000f, 163840, new DeepSeekConfig.RopeScaling("yarn", 40f, 4096, 32f, 1f, 0.707f, 0.707f), 100000, 100001);
        assertEquals(v2, DeepSeekConfig.fromGguf(v2.toGguf(GgufMetadata.builder()).build()));
        DeepSeekConfig dense = new DeepSeekConfig(1000, 64, 128, 0, 2, 4, 0, 32, 16, 8, 16, 0, 0, 0, 1, 1, 1f, false,
                DeepSeekConfig.ScoringFunc.SOFTMAX, DeepSeekConfig.TopkMethod.GREEDY, 2, 1e-5f, 5e5f, 4096, null, -1, -1);
        assertEquals(dense, DeepSeekConfig.fromGguf(dense.toGguf(GgufMetadata.builder()).build()));
        for (float m : new float[] {0.707f, 1f, 0.5f, 1.25f, 0.1f}) {
            assertEquals(m, DeepSeekConfig.mscaleFromLogMultiplier(DeepSeekConfig.logMultiplier(m)));
        }
    }

    @Test
    void knownValues() throws Exception {
        try (GgufFile f = GgufFile.open(Fixtures.golden("v3-tiny/model.gguf"))) {
            DeepSeekConfig c = DeepSeekConfig.fromGguf(f.metadata());
            assertEquals(96, c.qLoraRank());
            assertEquals(DeepSeekConfig.TopkMethod.NOAUX_TC, c.topkMethod());
            assertEquals(DeepSeekConfig.ScoringFunc.SIGMOID, c.scoringFunc());
            assertEquals(1.0f, c.ropeScaling().mscaleAllDim());
        }
        try (GgufFile f = GgufFile.open(Fixtures.golden("v2lite-tiny/model.gguf"))) {
            DeepSeekConfig c = DeepSeekConfig.fromGguf(f.metadata());
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
            FathomException e = assertThrows(FathomException.class, () -> DeepSeekConfig.fromGguf(m));
            assertTrue(e.getMessage().contains("deepseek2.attention.kv_lora_rank"), e.getMessage());
            GgufMetadata g = GgufMetadata.builder().putAll(f.metadata()).putUint32("deepseek2.expert_gating_func", 7).build();
            e = assertThrows(FathomException.class, () -> DeepSeekConfig.fromGguf(g));
            assertTrue(e.getMessage().contains("deepseek2.expert_gating_func"), e.getMessage());
            GgufMetadata a = GgufMetadata.builder().putAll(f.metadata()).putString("general.architecture", "llama").build();
            e = assertThrows(FathomException.class, () -> DeepSeekConfig.fromGguf(a));
            assertTrue(e.getMessage().contains("general.architecture"), e.getMessage());
        }
    }
}
