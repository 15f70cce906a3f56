package dev.fathom.gguf;

import dev.fathom.tensor.TensorType;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.*;

/** Every kind of malformed GGUF gives a GgufFormatException that names the file and what was wrong. */
class MalformedGgufTest {
    @TempDir
    Path dir;

    /** Little-endian raw GGUF bytes, so tests can write exactly the (wrong) values they need. */
    static final class Raw {
        final ByteArrayOutputStream out = new ByteArrayOutputStream();

        Raw u32(long v) {
            ByteBuffer b = ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putInt((int) v);
            out.writeBytes(b.array());
            return this;
        }

        Raw u64(long v) {
            ByteBuffer b = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(v);
            out.writeBytes(b.array());
            return this;
        }

        Raw str(String s) {
            byte[] b = s.getBytes(StandardCharsets.UTF_8);
            u64(b.length);
            out.writeBytes(b);
            return this;
        }

        Raw header(long tensors, long kvs) {
            return u32(GgufFile.MAGIC).u32(3).u64(tensors).u64(kvs);
        }

        Raw tensorInfo(String name, int type, long offset, long... shape) {
            str(name).u32(shape.length);
            for (long d : shape) u64(d);
            return u32(type).u64(offset);
        }

        Raw padTo(int alignment) {
            while (out.size() % alignment != 0) out.write(0);
            return this;
        }

        Raw zeros(int n) {
            out.writeBytes(new byte[n]);
            return this;
        }

        byte[] bytes() {
            return out.toByteArray();
        }
    }

    private Path file(String name, byte[] bytes) throws Exception {
        Path p = dir.resolve(name);
        Files.write(p, bytes);
        return p;
    }

    private String failure(String name, byte[] bytes) throws Exception {
        Path p = file(name, bytes);
        GgufFormatException e = assertThrows(GgufFormatException.class, () -> GgufFile.open(p).close());
        assertTrue(e.getMessage().startsWith(p.toString() + ": "), "message names the file: " + e.getMessage());
        return e.getMessage();
    }

    /** A valid file: two F32 tensors of 32 and 64 values, one string and one array entry. */
    private static byte[] valid() {
        Raw r = new Raw().header(2, 2);
        r.str("general.name").u32(GgufValueType.STRING.id()).str("tiny");
        r.str("list").u32(GgufValueType.ARRAY.id()).u32(GgufValueType.INT32.id()).u64(3).u32(1).u32(2).u32(3);
        r.tensorInfo("a", 0, 0, 32).tensorInfo("b", 0, 128, 32, 2).padTo(32);
        return r.zeros(128 + 256).bytes();
    }

    @Test
    void validFileOpens() throws Exception {
        try (GgufFile f = GgufFile.open(file("ok.gguf", valid()))) {
            assertEquals(2, f.tensors().size());
            assertArrayEquals(new int[] {1, 2, 3}, f.metadata().getIntArray("list"));
            assertEquals(64, f.tensor("b").elementCount());
        }
    }

    @Test
    void everyTruncationIsReported() throws Exception {
        byte[] ok = valid();
        for (int len = 0; len < ok.length; len++) {
            String m = failure("cut" + len + ".gguf", java.util.Arrays.copyOf(ok, len));
            assertTrue(m.contains("truncated") || m.contains("past the end") || m.contains("impossible"), len + ": " + m);
        }
    }

    @Test
    void wrongMagic() throws Exception {
        byte[] b = valid();
        b[0] = 'X';
        assertTrue(failure("magic.gguf", b).contains("not a GGUF file"));
    }

    @Test
    void unsupportedVersion() throws Exception {
        assertTrue(failure("v1.gguf", new Raw().u32(GgufFile.MAGIC).u32(1).u64(0).u64(0).bytes()).contains("unsupported GGUF version 1"));
        assertTrue(failure("v9.gguf", new Raw().u32(GgufFile.MAGIC).u32(9).u64(0).u64(0).bytes()).contains("unsupported GGUF version 9"));
        assertTrue(failure("be.gguf", new Raw().u32(GgufFile.MAGIC).u32(3L << 24).u64(0).u64(0).bytes()).contains("big-endian"));
    }

    @Test
    void stringLengthPastEnd() throws Exception {
        byte[] b = new Raw().header(0, 1).u64(1L << 40).zeros(16).bytes();
        String m = failure("str.gguf", b);
        assertTrue(m.contains("metadata entry 0 key") && m.contains("string length 1099511627776") && m.contains("past the end"), m);
        byte[] v = new Raw().header(0, 1).str("general.name").u32(GgufValueType.STRING.id()).u64(-1).bytes();
        assertTrue(failure("strv.gguf", v).contains("metadata key 'general.name': string length 18446744073709551615"));
    }

    @Test
    void arrayLengthPastEnd() throws Exception {
        byte[] b = new Raw().header(0, 1).str("tokenizer.ggml.tokens").u32(GgufValueType.ARRAY.id())
                .u32(GgufValueType.STRING.id()).u64(1_000_000_000L).str("a").bytes();
        String m = failure("arr.gguf", b);
        assertTrue(m.contains("metadata key 'tokenizer.ggml.tokens': array of 1000000000 STRING elements") && m.contains("past the end"), m);
    }

    @Test
    void nestedArraysAreReadAndBounded() throws Exception {
        Raw r = new Raw().header(0, 1).str("nested").u32(GgufValueType.ARRAY.id()).u32(GgufValueType.ARRAY.id()).u64(2);
        r.u32(GgufValueType.UINT8.id()).u64(2).zeros(2);
        r.u32(GgufValueType.STRING.id()).u64(1).str("x");
        try (GgufFile f = GgufFile.open(file("nested.gguf", r.bytes()))) {
            GgufArray[] inner = (GgufArray[]) f.metadata().getArray("nested").values();
            assertEquals(2, inner.length);
            assertArrayEquals(new String[] {"x"}, (String[]) inner[1].values());
        }
        Raw deep = new Raw().header(0, 1).str("deep").u32(GgufValueType.ARRAY.id());
        for (int i = 0; i < 40; i++) deep.u32(GgufValueType.ARRAY.id()).u64(1);
        deep.zeros(64);
        assertTrue(failure("deep.gguf", deep.bytes()).contains("nested deeper"));
    }

    @Test
    void tensorOffsetPastEnd() throws Exception {
        byte[] b = new Raw().header(1, 0).tensorInfo("blk.0.attn_q.weight", 0, 4096, 32).padTo(32).zeros(128).bytes();
        String m = failure("off.gguf", b);
        assertTrue(m.contains("tensor 'blk.0.attn_q.weight'") && m.contains("runs past the end"), m);
    }

    @Test
    void tensorSizePastEnd() throws Exception {
        byte[] b = new Raw().header(1, 0).tensorInfo("token_embd.weight", 8, 0, 4096, 1000).padTo(32).zeros(1000).bytes();
        String m = failure("size.gguf", b);
        assertTrue(m.contains("tensor 'token_embd.weight' (Q8_0 [4096, 1000], 4352000 bytes") && m.contains("runs past the end"), m);
    }

    @Test
    void overlappingTensors() throws Exception {
        byte[] b = new Raw().header(2, 0).tensorInfo("a", 0, 0, 64).tensorInfo("b", 0, 256, 64).padTo(32).zeros(512).bytes();
        try (GgufFile f = GgufFile.open(file("fine.gguf", b))) {
            assertEquals(2, f.tensors().size());
        }
        byte[] o = new Raw().header(2, 0).tensorInfo("a", 0, 0, 64).tensorInfo("b", 0, 224, 64).padTo(32).zeros(512).bytes();
        String m = failure("overlap.gguf", o);
        assertTrue(m.contains("tensors 'a'") && m.contains("'b'") && m.contains("overlap"), m);
    }

    @Test
    void shapeOverflow() throws Exception {
        byte[] b = new Raw().header(1, 0).tensorInfo("big", 0, 0, 1L << 32, 1L << 32, 1L << 8).padTo(32).zeros(64).bytes();
        String m = failure("shape.gguf", b);
        assertTrue(m.contains("tensor 'big'") && m.contains("overflows"), m);
        byte[] neg = new Raw().header(1, 0).tensorInfo("neg", 0, 0, -32).padTo(32).zeros(64).bytes();
        assertTrue(failure("neg.gguf", neg).contains("dimension 0 = 18446744073709551584 is too large"));
    }

    @Test
    void otherTensorInfoErrors() throws Exception {
        assertTrue(failure("dims.gguf", new Raw().header(1, 0).str("t").u32(5).zeros(64).bytes()).contains("5 dimensions, at most 4"));
        assertTrue(failure("type.gguf", new Raw().header(1, 0).tensorInfo("t", 77, 0, 32).padTo(32).zeros(128).bytes())
                .contains("tensor 't': unknown tensor type id 77"));
        assertTrue(failure("align.gguf", new Raw().header(1, 0).tensorInfo("t", 0, 4, 32).padTo(32).zeros(256).bytes())
                .contains("not a multiple of the alignment 32"));
        assertTrue(failure("block.gguf", new Raw().header(1, 0).tensorInfo("t", 8, 0, 33).padTo(32).zeros(256).bytes())
                .contains("row length 33 is not a multiple of the Q8_0 block size 32"));
        assertTrue(failure("dup.gguf", new Raw().header(2, 0).tensorInfo("t", 0, 0, 32).tensorInfo("t", 0, 128, 32).padTo(32).zeros(256).bytes())
                .contains("duplicate tensor name 't'"));
        assertTrue(failure("count.gguf", new Raw().header(1L << 50, 0).zeros(64).bytes()).contains("tensor count"));
        assertTrue(failure("vtype.gguf", new Raw().header(0, 1).str("k").u32(99).zeros(8).bytes()).contains("metadata key 'k': unknown value type 99"));
        assertTrue(failure("bool.gguf", new Raw().header(0, 1).str("k").u32(GgufValueType.BOOL.id()).u32(7).bytes()).contains("expected 0 or 1"));
        assertTrue(failure("dupkey.gguf", new Raw().header(0, 2).str("k").u32(GgufValueType.UINT8.id()).zeros(1)
                .str("k").u32(GgufValueType.UINT8.id()).zeros(1).bytes()).contains("duplicate metadata key 'k'"));
        assertTrue(failure("alignkey.gguf", new Raw().header(0, 1).str("general.alignment").u32(GgufValueType.UINT32.id()).u32(24).bytes())
                .contains("power-of-two"));
    }

    @Test
    void unsupportedTypeIsReportedByNameOnUse() throws Exception {
        byte[] b = new Raw().header(1, 0).tensorInfo("w", TensorType.IQ2_XXS.ggmlId, 0, 256).padTo(32).zeros(128).bytes();
        try (GgufFile f = GgufFile.open(file("iq2.gguf", b))) {
            var e = assertThrows(dev.fathom.FathomException.class, () -> f.tensor("w").toFloatArray());
            assertTrue(e.getMessage().contains("IQ2_XXS"), e.getMessage());
        }
    }

    /** Random corruption either still parses or gives a GgufFormatException; never another exception or a hang. */
    @Test
    void randomCorruptionNeverEscapes() throws Exception {
        byte[] ok = valid();
        Random rnd = new Random(42);
        for (int i = 0; i < 2000; i++) {
            byte[] b = ok.clone();
            int flips = 1 + rnd.nextInt(4);
            for (int k = 0; k < flips; k++) b[rnd.nextInt(200)] = (byte) rnd.nextInt(256);
            Path p = file("fuzz.gguf", b);
            try (GgufFile f = GgufFile.open(p)) {
                assertNotNull(f.metadata());
            } catch (GgufFormatException expected) {
                assertTrue(expected.getMessage().startsWith(p.toString()));
            }
        }
    }
}
