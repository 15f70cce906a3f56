package dev.fathom.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.fathom.Fixtures;
import dev.fathom.cli.FathomCliTest.Run;
import dev.fathom.gguf.GgufFile;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.function.Consumer;

import static dev.fathom.cli.FathomCliTest.run;
import static org.junit.jupiter.api.Assertions.*;

class ConvertCommandTest {
    @TempDir
    Path dir;

    @Test
    void convertsAndRefusesToOverwriteWithoutForce() throws Exception {
        Path out = dir.resolve("qwen2.gguf");
        String folder = Fixtures.golden("qwen2-tiny/hf").toString();
        Run r = run("convert", folder, "--type", "Q8_0", "--out", out.toString());
        assertEquals(0, r.code(), r.err());
        assertTrue(r.err().contains("wrote " + out + " (Q8_0"), r.err());
        try (GgufFile f = GgufFile.open(out)) {
            assertEquals("qwen2", f.metadata().getString("general.architecture"));
        }
        byte[] first = Files.readAllBytes(out);

        Run again = run("convert", folder, "--type", "F16", "--out", out.toString());
        assertEquals(2, again.code());
        assertTrue(again.err().contains("--out " + out + ": exists (pass --force to overwrite it)"), again.err());
        assertArrayEquals(first, Files.readAllBytes(out));

        Run forced = run("convert", folder, "--type", "F16", "--out", out.toString(), "--force");
        assertEquals(0, forced.code(), forced.err());
        try (GgufFile f = GgufFile.open(out)) {
            assertEquals(1, f.metadata().getInt("general.file_type")); // MOSTLY_F16
        }
        try (var files = Files.list(dir)) {
            assertEquals(1, files.count(), "no temporary file left beside the output");
        }
    }

    @Test
    void badArgumentsAreClearErrors() throws Exception {
        Path out = dir.resolve("x.gguf");
        Run missing = run("convert", dir.resolve("nope").toString(), "--type", "F32", "--out", out.toString());
        assertEquals(2, missing.code());
        assertTrue(missing.err().contains("nope: no such folder"), missing.err());
        Run file = run("convert", Fixtures.golden("v3-tiny/model.gguf").toString(), "--type", "F32", "--out", out.toString());
        assertEquals(2, file.code());
        assertTrue(file.err().contains("is a file; convert reads Hugging Face model folders (fathom quantize"), file.err());
        Run type = run("convert", Fixtures.golden("v3-tiny/hf").toString(), "--type", "Q3_K", "--out", out.toString());
        assertEquals(2, type.code());
        assertTrue(type.err().contains("--type Q3_K is not supported"), type.err());
        Run folderOut = run("convert", Fixtures.golden("v3-tiny/hf").toString(), "--type", "F32", "--out", dir.toString());
        assertEquals(2, folderOut.code());
        assertTrue(folderOut.err().contains("--out " + dir + ": is a folder"), folderOut.err());
        assertFalse(Files.exists(out));
    }

    /** A config that does not fit the weights names the file, the tensor and both shapes; an existing output is left as it was. */
    @Test
    void badFoldersNameTheFileAndTheTensorOrField() throws Exception {
        Path out = Files.writeString(dir.resolve("kept.gguf"), "an earlier file");
        Run shape = run("convert", folderWith("shape", c -> c.put("intermediate_size", 256)).toString(), "--type", "F32",
                "--out", out.toString(), "--force");
        assertEquals(2, shape.code());
        assertTrue(shape.err().contains("shape: tensor 'layers.0.ffn.w1.weight' (model.layers.0.mlp.gate_proj.weight) has shape [64, 128], "
                + "the config needs [64, 256]"), shape.err());
        Run layers = run("convert", folderWith("layers", c -> c.put("num_hidden_layers", 4)).toString(), "--type", "F32",
                "--out", out.toString(), "--force");
        assertEquals(2, layers.code());
        assertTrue(layers.err().contains("layers: tensor 'model.layers.3.input_layernorm.weight' (layers.3.attn_norm.weight) is missing"),
                layers.err());
        Run field = run("convert", folderWith("field", c -> c.remove("num_attention_heads")).toString(), "--type", "F32",
                "--out", out.toString(), "--force");
        assertEquals(2, field.code());
        assertTrue(field.err().contains("config.json: config key 'num_attention_heads' is missing"), field.err());
        Run arch = run("convert", folderWith("arch", c -> c.putArray("architectures").add("MambaForCausalLM")).toString(), "--type", "F32",
                "--out", out.toString(), "--force");
        assertEquals(2, arch.code());
        assertTrue(arch.err().contains("config.json: architecture 'MambaForCausalLM' is not supported"), arch.err());
        for (Run r : new Run[] {shape, layers, field, arch}) assertFalse(r.err().contains("\tat "), "no stack trace: " + r.err());
        assertEquals("an earlier file", Files.readString(out));
        try (var files = Files.list(dir)) {
            assertEquals(0, files.filter(p -> p.getFileName().toString().endsWith(".part")).count());
        }
    }

    /** The golden qwen2-tiny folder with its config.json edited. */
    private Path folderWith(String name, Consumer<ObjectNode> edit) throws Exception {
        Path src = Fixtures.golden("qwen2-tiny/hf"), d = Files.createDirectories(dir.resolve(name));
        for (String f : new String[] {"model.safetensors", "tokenizer.json", "tokenizer_config.json"}) Files.copy(src.resolve(f), d.resolve(f));
        ObjectMapper json = new ObjectMapper();
        ObjectNode config = (ObjectNode) json.readTree(src.resolve("config.json").toFile());
        edit.accept(config);
        json.writeValue(d.resolve("config.json").toFile(), config);
        return d;
    }
}
