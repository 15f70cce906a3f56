package dev.fathom.checkpoint;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.fathom.FathomException;
import dev.fathom.Fixtures;
import dev.fathom.gguf.GgufFile;
import dev.fathom.gguf.GgufMetadata;
import dev.fathom.gguf.GgufWriter;
import dev.fathom.model.DenseConfig;
import dev.fathom.model.LoadedModel;
import dev.fathom.model.Transformer;
import dev.fathom.tensor.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.function.Predicate;

import static org.junit.jupiter.api.Assertions.*;

class GgufCheckpointTest {
    @TempDir
    Path dir;

    /** Writes {@code src} as a split of {@code parts} files named like llama-gguf-split's; returns the first. */
    private Path split(Path src, String name, int parts, int count) throws Exception {
        try (GgufFile f = GgufFile.open(src)) {
            List<Tensor> all = new ArrayList<>(f.tensors().values());
            int per = (all.size() + parts - 1) / parts;
            for (int i = 0; i < parts; i++) {
                GgufMetadata.Builder m = GgufMetadata.builder();
                if (i == 0) m.putAll(f.metadata());
                m.putUint32(GgufCheckpoint.SPLIT_NO, i).putUint32(GgufCheckpoint.SPLIT_COUNT, count)
                        .putInt32(GgufCheckpoint.SPLIT_TENSORS, all.size());
                GgufWriter w = new GgufWriter(m.build());
                for (Tensor t : all.subList(i * per, Math.min(all.size(), (i + 1) * per))) w.addTensor(t.name(), t.type(), t.shape(), t.data());
                w.write(dir.resolve(String.format(Locale.ROOT, "%s-%05d-of-%05d.gguf", name, i + 1, count)));
            }
        }
        return dir.resolve(String.format(Locale.ROOT, "%s-00001-of-%05d.gguf", name, count));
    }

    private static float[] lastLogits(Path model) throws Exception {
        try (LoadedModel m = LoadedModel.open(model, 2)) {
            Transformer t = m.model();
            int[] tokens = Fixtures.readI32(Fixtures.golden("v3-tiny/p2/tokens.i32"));
            return t.forward(t.newSequence(tokens.length), tokens, 0, false)[0];
        }
    }

    @Test
    void splitGgufLoadsAcrossPartsAndGivesTheSameBits() throws Exception {
        Path single = Fixtures.golden("v3-tiny/model.gguf");
        Path first = split(single, "v3", 3, 3);
        try (Checkpoint c = Checkpoint.open(first)) {
            assertTrue(c.format().contains("3 files"), c.format());
            try (GgufFile f = GgufFile.open(single)) {
                assertEquals(f.tensors().keySet(), c.storedTensors().keySet());
            }
        }
        assertArrayEquals(lastLogits(single), lastLogits(first));
    }

    @Test
    void splitErrorsNameThePart() throws Exception {
        Path single = Fixtures.golden("v3-tiny/model.gguf");
        Path first = split(single, "gone", 3, 3);
        Files.delete(dir.resolve("gone-00003-of-00003.gguf"));
        FathomException e = assertThrows(FathomException.class, () -> Checkpoint.open(first));
        assertTrue(e.getMessage().contains("part 3 of 3 is missing") && e.getMessage().contains("gone-00003-of-00003.gguf"), e.getMessage());

        Path ok = split(single, "mix", 3, 3);
        // A part of another split (2 parts) put in place of part 2.
        split(single, "other", 2, 2);
        Files.copy(dir.resolve("other-00002-of-00002.gguf"), dir.resolve("mix-00002-of-00003.gguf"), java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        e = assertThrows(FathomException.class, () -> Checkpoint.open(ok));
        assertTrue(e.getMessage().contains("does not belong to this split"), e.getMessage());

        e = assertThrows(FathomException.class, () -> Checkpoint.open(dir.resolve("mix-00003-of-00003.gguf")));
        assertTrue(e.getMessage().contains("open the first part"), e.getMessage());
    }

    /** Copies v3-tiny, dropping or replacing tensors. */
    private Path edited(String name, Predicate<Tensor> keep, Map<String, long[]> reshape) throws Exception {
        Path out = dir.resolve(name + ".gguf");
        try (GgufFile f = GgufFile.open(Fixtures.golden("v3-tiny/model.gguf"))) {
            GgufWriter w = new GgufWriter(f.metadata());
            for (Tensor t : f.tensors().values()) {
                if (!keep.test(t)) continue;
                long[] shape = reshape.getOrDefault(t.name(), t.shape());
                w.addTensor(t.name(), t.type(), shape, t.data());
            }
            w.write(out);
        }
        return out;
    }

    @Test
    void tensorsThatDoNotMatchTheMetadataAreClearErrors() throws Exception {
        Path missing = edited("missing", t -> !t.name().equals("blk.1.attn_kv_a_mqa.weight"), Map.of());
        FathomException e = assertThrows(FathomException.class, () -> LoadedModel.open(missing, 1));
        assertTrue(e.getMessage().contains("blk.1.attn_kv_a_mqa.weight") && e.getMessage().contains("missing"), e.getMessage());
        // Same bytes, another shape: 48 x 64 read as 64 x 48.
        Path wrong = edited("wrong", t -> true, Map.of("blk.0.attn_kv_a_mqa.weight", new long[] {48, 64}));
        e = assertThrows(FathomException.class, () -> LoadedModel.open(wrong, 1));
        assertTrue(e.getMessage().contains("blk.0.attn_kv_a_mqa.weight") && e.getMessage().contains("[48, 64]")
                && e.getMessage().contains("[64, 48]"), e.getMessage());
    }

    @Test
    void headCountsThatDoNotDivideAreClearErrors() throws Exception {
        Path out = dir.resolve("heads.gguf");
        try (GgufFile f = GgufFile.open(Fixtures.golden("qwen2-tiny/model.gguf"))) {
            GgufWriter w = new GgufWriter(GgufMetadata.builder().putAll(f.metadata()).putUint32("qwen2.attention.head_count_kv", 3).build());
            for (Tensor t : f.tensors().values()) w.addTensor(t.name(), t.type(), t.shape(), t.data());
            w.write(out);
        }
        FathomException e = assertThrows(FathomException.class, () -> LoadedModel.open(out, 1));
        assertTrue(e.getMessage().contains("num_attention_heads = 4 is not a multiple of num_key_value_heads = 3"), e.getMessage());
    }

    @Test
    void unsupportedArchitectureIsNamed() throws Exception {
        Path out = dir.resolve("mamba.gguf");
        try (GgufFile f = GgufFile.open(Fixtures.golden("v3-tiny/model.gguf"))) {
            new GgufWriter(GgufMetadata.builder().putAll(f.metadata()).putString("general.architecture", "mamba").build()).write(out);
        }
        FathomException e = assertThrows(FathomException.class, () -> Checkpoint.open(out));
        assertTrue(e.getMessage().contains("'mamba'") && e.getMessage().contains("deepseek2, qwen2, llama"), e.getMessage());
    }

    /** qwen2 / llama metadata translate to the golden hf/config.json values; llama's rope_freqs equal the llama3 formula. */
    @ParameterizedTest
    @ValueSource(strings = {"qwen2-tiny", "llama-tiny"})
    @SuppressWarnings("unchecked")
    void denseConfigsMatchHf(String name) throws Exception {
        Path json = Fixtures.golden(name + "/hf/config.json");
        DenseConfig hf = DenseConfig.fromConfig(name.startsWith("qwen2") ? "qwen2" : "llama",
                new ConfigValues(json.toString(), new ObjectMapper().readValue(json.toFile(), Map.class)));
        try (Checkpoint c = Checkpoint.open(Fixtures.golden(name + "/model.gguf"))) {
            DenseConfig g = DenseConfig.fromConfig(c.architecture(), c.config());
            // GGUF carries llama3 scaling as rope_freqs, not as keys (as llama.cpp's converter writes it).
            assertEquals(new DenseConfig(hf.architecture(), hf.vocabSize(), hf.hiddenSize(), hf.intermediateSize(), hf.numHiddenLayers(),
                    hf.numAttentionHeads(), hf.numKeyValueHeads(), hf.headDim(), hf.rmsNormEps(), hf.ropeTheta(),
                    hf.maxPositionEmbeddings(), null, hf.tieWordEmbeddings(), g.bosTokenId(), g.eosTokenId()), g);
            assertEquals(name.startsWith("llama"), c.ropePermuted());
            if (hf.ropeScaling() != null) {
                float[] stored = c.tensor("rope.freqs").toFloatArray();
                assertArrayEquals(stored, hf.llama3Divisors(), "the converter's float32 bits");
            }
        }
    }
}
