package dev.fathom.tensor;

import dev.fathom.gguf.GgufFile;
import dev.fathom.gguf.GgufMetadata;
import dev.fathom.gguf.GgufWriter;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;

import static dev.fathom.tensor.BlockFormatGoldenTest.assertBitsEqual;
import static org.junit.jupiter.api.Assertions.*;

/**
 * IQ4_XS against llama.cpp's own quantiser and to_float (src/test/resources/golden/iq4_xs, see its README): shared/golden
 * has no IQ4_XS, so this golden lives with the tests.
 */
class BlockFormatIQ4_XSGoldenTest {
    @TempDir
    Path dir;

    @ParameterizedTest(name = "{0}")
    @CsvSource({"a, 16, 256", "b, 8, 512"})
    void dequantisesBitExactly(String name, int rows, int cols) {
        float[] expected = floats(name + ".dequant.f32");
        MemorySegment bytes = MemorySegment.ofArray(resource(name + ".iq4_xs"));
        assertEquals(rows * cols, expected.length);
        assertEquals(TensorType.IQ4_XS.bytesFor((long) rows * cols), bytes.byteSize());

        float[] whole = new float[expected.length];
        TensorType.IQ4_XS.format().dequantize(bytes, 0, whole, 0, whole.length);
        assertBitsEqual(expected, 0, whole, 0, whole.length, "IQ4_XS tensor " + name + " (whole)");
        long rowBytes = TensorType.IQ4_XS.bytesFor(cols);
        float[] row = new float[cols + 3];
        for (int r = 0; r < rows; r++) {
            TensorType.IQ4_XS.format().dequantize(bytes, r * rowBytes, row, 3, cols);
            assertBitsEqual(expected, r * cols, row, 3, cols, "IQ4_XS tensor " + name + " row " + r);
        }
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource({"a, 16, 256", "b, 8, 512"})
    void quantisesByteExactly(String name, int rows, int cols) {
        float[] original = floats(name + ".f32");
        MemorySegment expected = MemorySegment.ofArray(resource(name + ".iq4_xs"));
        MemorySegment whole = MemorySegment.ofArray(new byte[(int) expected.byteSize()]);
        TensorType.IQ4_XS.format().quantize(original, 0, original.length, whole, 0);
        assertBytesEqual(expected, whole, "IQ4_XS tensor " + name + " (whole)");

        long rowBytes = TensorType.IQ4_XS.bytesFor(cols);
        MemorySegment byRow = MemorySegment.ofArray(new byte[(int) expected.byteSize() + 5]);
        for (int r = 0; r < rows; r++) TensorType.IQ4_XS.format().quantize(original, r * cols, cols, byRow, 5 + r * rowBytes);
        assertBytesEqual(expected, byRow.asSlice(5), "IQ4_XS tensor " + name + " (by row, odd offset)");
    }

    /** A GGUF holding llama.cpp's IQ4_XS bytes loads, and its tensors decode to the golden. */
    @ParameterizedTest(name = "{0}")
    @CsvSource({"a, 16, 256", "b, 8, 512"})
    void loadsFromGguf(String name, int rows, int cols) throws IOException {
        Path p = dir.resolve(name + ".gguf");
        new GgufWriter(GgufMetadata.builder().putString("general.architecture", "quant-test").build())
                .addTensor(name, TensorType.IQ4_XS, new long[] {cols, rows}, MemorySegment.ofArray(resource(name + ".iq4_xs")))
                .write(p);
        float[] expected = floats(name + ".dequant.f32");
        try (GgufFile f = GgufFile.open(p)) {
            Tensor t = f.tensor(name);
            assertEquals(TensorType.IQ4_XS, t.type());
            assertEquals(rows, t.rowCount());
            assertBitsEqual(expected, 0, t.toFloatArray(), 0, expected.length, "IQ4_XS tensor " + name + " from GGUF");
            float[] row = new float[cols];
            for (int r = 0; r < rows; r++) {
                t.dequantizeRow(r, row);
                assertBitsEqual(expected, r * cols, row, 0, cols, "IQ4_XS tensor " + name + " from GGUF, row " + r);
            }
        }
    }

    private static void assertBytesEqual(MemorySegment expected, MemorySegment actual, String what) {
        long at = expected.mismatch(actual);
        if (at >= 0) {
            fail(what + ": byte " + at + " (block " + at / 136 + ", byte " + at % 136 + " of it) is "
                    + (at < actual.byteSize() ? actual.get(ValueLayout.JAVA_BYTE, at) & 0xFF : "missing")
                    + ", llama.cpp wrote " + (at < expected.byteSize() ? expected.get(ValueLayout.JAVA_BYTE, at) & 0xFF : "nothing"));
        }
    }

    private static float[] floats(String file) {
        ByteBuffer b = ByteBuffer.wrap(resource(file)).order(ByteOrder.LITTLE_ENDIAN);
        float[] out = new float[b.remaining() / 4];
        b.asFloatBuffer().get(out);
        return out;
    }

    private static byte[] resource(String file) {
        try (InputStream in = BlockFormatIQ4_XSGoldenTest.class.getResourceAsStream("/golden/iq4_xs/" + file)) {
            if (in == null) throw new IllegalStateException("missing test resource golden/iq4_xs/" + file);
            return in.readAllBytes();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
