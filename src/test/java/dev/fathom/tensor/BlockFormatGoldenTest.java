package dev.fathom.tensor;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.fathom.Fixtures;
import dev.fathom.gguf.GgufFile;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.*;

/**
 * Every type in shared/golden/quants/manifest.json: decoding must match ggml's to_float bit for bit, and for
 * types Fathom can write, encoding the original data must give the bytes llama-quantize wrote. A type added to
 * the golden set is picked up from the manifest with no change here.
 */
class BlockFormatGoldenTest {
    private static JsonNode manifest;

    static synchronized JsonNode manifest() {
        if (manifest == null) {
            try {
                manifest = new ObjectMapper().readTree(Fixtures.golden("quants/manifest.json").toFile());
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
        return manifest;
    }

    static List<String> goldenTypes() {
        List<String> types = new ArrayList<>();
        for (Map.Entry<String, JsonNode> e : manifest().get("types").properties()) types.add(e.getKey());
        assertFalse(types.isEmpty(), "the quants manifest lists no types");
        return types;
    }

    static List<String> quantisableGoldenTypes() {
        return goldenTypes().stream().filter(t -> TensorType.valueOf(t).isSupported() && TensorType.valueOf(t).format().canQuantize()).toList();
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("goldenTypes")
    void dequantisesBitExactly(String typeName) throws IOException {
        TensorType type = TensorType.valueOf(typeName);
        JsonNode entry = manifest().get("types").get(typeName);
        try (GgufFile f = GgufFile.open(Fixtures.golden("quants/" + entry.get("gguf").asText()))) {
            for (Map.Entry<String, JsonNode> te : entry.get("tensors").properties()) {
                String name = te.getKey();
                Tensor t = f.tensor(manifest().get("tensors").get(name).get("gguf_name").asText());
                assertEquals(type, t.type(), name);
                assertEquals(te.getValue().get("ggml_type_id").asInt(), type.ggmlId, name);
                float[] expected = Fixtures.readF32(Fixtures.golden("quants/" + te.getValue().get("dequant_file").asText()));
                assertEquals(t.elementCount(), expected.length, name);

                assertBitsEqual(expected, 0, t.toFloatArray(), 0, expected.length, typeName + " tensor " + name + " (whole)");

                int cols = Math.toIntExact(t.rowLength());
                float[] row = new float[cols];
                for (long r = 0; r < t.rowCount(); r++) {
                    t.dequantizeRow(r, row);
                    assertBitsEqual(expected, Math.toIntExact(r * cols), row, 0, cols, typeName + " tensor " + name + " row " + r);
                }
            }
        }
    }

    @Test
    void kQuantEncodersAreCheckedAgainstTheGolden() {
        // quantisesByteExactly picks its types from the manifest and canQuantize(); make sure the K-quants are among them.
        assertTrue(quantisableGoldenTypes().containsAll(List.of("Q4_K", "Q5_K", "Q6_K")), quantisableGoldenTypes().toString());
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("quantisableGoldenTypes")
    void quantisesByteExactly(String typeName) throws IOException {
        TensorType type = TensorType.valueOf(typeName);
        BlockFormat format = type.format();
        JsonNode entry = manifest().get("types").get(typeName);
        try (GgufFile f = GgufFile.open(Fixtures.golden("quants/" + entry.get("gguf").asText()));
             Arena arena = Arena.ofConfined()) {
            for (Map.Entry<String, JsonNode> te : entry.get("tensors").properties()) {
                String name = te.getKey();
                Tensor t = f.tensor(manifest().get("tensors").get(name).get("gguf_name").asText());
                float[] original = Fixtures.readF32(Fixtures.golden("quants/original_" + name + ".f32"));
                assertEquals(t.elementCount(), original.length, name);

                // Whole tensor in one call.
                MemorySegment whole = arena.allocate(t.data().byteSize());
                format.quantize(original, 0, original.length, whole, 0);
                assertBytesEqual(t, whole, typeName + " tensor " + name + " (whole)");

                // Row by row, at row offsets (what a writer does).
                MemorySegment rows = arena.allocate(t.data().byteSize());
                int cols = Math.toIntExact(t.rowLength());
                for (long r = 0; r < t.rowCount(); r++) {
                    format.quantize(original, Math.toIntExact(r * cols), cols, rows, r * t.rowBytes());
                }
                assertBytesEqual(t, rows, typeName + " tensor " + name + " (by row)");
            }
        }
    }

    static void assertBitsEqual(float[] expected, int expectedOffset, float[] actual, int actualOffset, int n, String what) {
        for (int i = 0; i < n; i++) {
            float e = expected[expectedOffset + i];
            float a = actual[actualOffset + i];
            if (Float.floatToRawIntBits(e) != Float.floatToRawIntBits(a)) {
                fail(what + ": value " + i + " is " + a + " (0x" + Integer.toHexString(Float.floatToRawIntBits(a)) + "), ggml gives "
                        + e + " (0x" + Integer.toHexString(Float.floatToRawIntBits(e)) + ")");
            }
        }
    }

    static void assertBytesEqual(Tensor golden, MemorySegment actual, String what) {
        long at = golden.data().mismatch(actual);
        if (at >= 0) {
            long block = at / golden.type().bytesPerBlock;
            fail(what + ": byte " + at + " (block " + block + ", byte " + at % golden.type().bytesPerBlock + " of it) is "
                    + (at < actual.byteSize() ? actual.get(java.lang.foreign.ValueLayout.JAVA_BYTE, at) & 0xFF : "missing")
                    + ", llama-quantize wrote " + (at < golden.data().byteSize() ? golden.data().get(java.lang.foreign.ValueLayout.JAVA_BYTE, at) & 0xFF : "nothing"));
        }
    }
}
