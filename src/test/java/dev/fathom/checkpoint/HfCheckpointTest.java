package dev.fathom.checkpoint;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.fathom.FathomException;
import dev.fathom.Fixtures;
import dev.fathom.model.LoadedModel;
import dev.fathom.model.Transformer;
import dev.fathom.safetensors.SafetensorsFile;
import dev.fathom.tensor.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

class HfCheckpointTest {
    @TempDir
    Path dir;

    private static byte[] concat(byte[]... parts) {
        ByteArrayOutputStream o = new ByteArrayOutputStream();
        for (byte[] p : parts) o.writeBytes(p);
        return o.toByteArray();
    }

    private static float[] lastLogits(Path model) throws Exception {
        try (LoadedModel m = LoadedModel.open(model, 2)) {
            Transformer t = m.model();
            int[] tokens = Fixtures.readI32(Fixtures.golden("qwen2-tiny/p2/tokens.i32"));
            return t.forward(t.newSequence(tokens.length), tokens, 0, false)[0];
        }
    }

    /** A folder sharded into two files with model.safetensors.index.json gives the single file's bits. */
    @Test
    void shardedFolderGivesTheSameBits() throws Exception {
        Path src = Fixtures.golden("qwen2-tiny/hf");
        Path sharded = Files.createDirectories(dir.resolve("sharded"));
        for (String f : new String[] {"config.json", "tokenizer.json", "tokenizer_config.json"}) Files.copy(src.resolve(f), sharded.resolve(f));
        ObjectNode index = new ObjectMapper().createObjectNode();
        ObjectNode map = index.putObject("weight_map");
        try (SafetensorsFile s = SafetensorsFile.open(src.resolve("model.safetensors"))) {
            List<Tensor> all = new ArrayList<>(s.tensors().values());
            List<Tensor> a = all.subList(0, all.size() / 2), b = all.subList(all.size() / 2, all.size());
            Fixtures.writeSafetensors(sharded.resolve("model-00001-of-00002.safetensors"), a);
            Fixtures.writeSafetensors(sharded.resolve("model-00002-of-00002.safetensors"), b);
            for (Tensor t : a) map.put(t.name(), "model-00001-of-00002.safetensors");
            for (Tensor t : b) map.put(t.name(), "model-00002-of-00002.safetensors");
        }
        Files.writeString(sharded.resolve("model.safetensors.index.json"), index.toString());
        try (Checkpoint c = Checkpoint.open(sharded)) {
            assertEquals("qwen2", c.architecture());
            assertTrue(c.format().contains("2 safetensors files"), c.format());
            assertTrue(c.chatTemplate().isPresent());
        }
        assertArrayEquals(lastLogits(src), lastLogits(sharded));
        Files.delete(sharded.resolve("model-00002-of-00002.safetensors"));
        FathomException e = assertThrows(FathomException.class, () -> Checkpoint.open(sharded));
        assertTrue(e.getMessage().contains("shard model-00002-of-00002.safetensors is missing"), e.getMessage());
    }

    @Test
    void malformedSafetensorsAreClearErrors() throws Exception {
        Path f = dir.resolve("bad.safetensors");
        Files.write(f, new byte[] {1, 2, 3});
        assertTrue(assertThrows(FathomException.class, () -> SafetensorsFile.open(f)).getMessage().contains("truncated"));
        Files.write(f, concat(ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(1000).array(), new byte[10]));
        assertTrue(assertThrows(FathomException.class, () -> SafetensorsFile.open(f)).getMessage().contains("does not fit"));
        byte[] h = "{\"w\": {\"dtype\": \"F32\", \"shape\": [2, 2], \"data_offsets\": [0, 64]}}".getBytes(StandardCharsets.UTF_8);
        Files.write(f, concat(ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(h.length).array(), h, new byte[16]));
        FathomException e = assertThrows(FathomException.class, () -> SafetensorsFile.open(f));
        assertTrue(e.getMessage().contains("tensor 'w'") && e.getMessage().contains("outside"), e.getMessage());
        byte[] j = "{not json".getBytes(StandardCharsets.UTF_8);
        Files.write(f, concat(ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(j.length).array(), j));
        assertTrue(assertThrows(FathomException.class, () -> SafetensorsFile.open(f)).getMessage().contains("not valid JSON"));
    }

    /** An FP8 weight holding a NaN code (0x7F / 0xFF, never written by a quantiser) is an error at load, naming it. */
    @Test
    void fp8NaNCodesAreAnErrorAtLoad() throws Exception {
        Path src = Fixtures.golden("v3-tiny-fp8/hf");
        Path d = Files.createDirectories(dir.resolve("nan"));
        for (String f : new String[] {"config.json", "tokenizer.json", "tokenizer_config.json"}) Files.copy(src.resolve(f), d.resolve(f));
        byte[] bytes = Files.readAllBytes(src.resolve("model.safetensors"));
        long headerLength = ByteBuffer.wrap(bytes, 0, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
        var header = new ObjectMapper().readTree(new String(bytes, 8, (int) headerLength, StandardCharsets.UTF_8));
        String name = "model.layers.1.self_attn.o_proj.weight";
        assertEquals("F8_E4M3", header.get(name).get("dtype").asText());
        long at = 8 + headerLength + header.get(name).get("data_offsets").get(0).asLong() + 5;
        bytes[(int) at] = (byte) 0xFF;
        Files.write(d.resolve("model.safetensors"), bytes);
        FathomException e = assertThrows(FathomException.class, () -> Checkpoint.open(d));
        assertTrue(e.getMessage().contains(name) && e.getMessage().contains("NaN code at element 5"), e.getMessage());
    }

    @Test
    void unsupportedFolderArchitectureIsNamed() throws Exception {
        Path d = Files.createDirectories(dir.resolve("mamba"));
        Files.writeString(d.resolve("config.json"), "{\"architectures\": [\"MambaForCausalLM\"]}");
        Files.write(d.resolve("model.safetensors"), concat(ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(2).array(), "{}".getBytes()));
        FathomException e = assertThrows(FathomException.class, () -> Checkpoint.open(d));
        assertTrue(e.getMessage().contains("'MambaForCausalLM'") && e.getMessage().contains("Qwen2ForCausalLM"), e.getMessage());
    }
}
