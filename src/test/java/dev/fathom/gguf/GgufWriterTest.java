package dev.fathom.gguf;

import dev.fathom.Fixtures;
import dev.fathom.tensor.Tensor;
import dev.fathom.tensor.TensorType;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.*;

class GgufWriterTest {
    @TempDir
    Path dir;

    @Test
    void metadataOfEveryTypeRoundTrips() throws Exception {
        GgufMetadata m = GgufMetadata.builder()
                .put("u8", new MetadataValue(GgufValueType.UINT8, (byte) 200))
                .put("i8", new MetadataValue(GgufValueType.INT8, (byte) -5))
                .put("u16", new MetadataValue(GgufValueType.UINT16, (short) 60000))
                .put("i16", new MetadataValue(GgufValueType.INT16, (short) -300))
                .putUint32("u32", -1)
                .putInt32("i32", -7)
                .putUint64("u64", 1L << 40)
                .put("i64", new MetadataValue(GgufValueType.INT64, -9L))
                .putFloat32("f32", 1.5f)
                .put("f64", new MetadataValue(GgufValueType.FLOAT64, Math.PI))
                .putBool("b", true)
                .putString("s", "héllo <｜User｜>")
                .putStrings("sa", "a", "", "日本")
                .putFloat32s("fa", 1f, -2f)
                .putArray("nested", new GgufArray(GgufValueType.ARRAY, new GgufArray[] {
                        new GgufArray(GgufValueType.BOOL, new boolean[] {true, false}),
                        new GgufArray(GgufValueType.UINT16, new short[] {1, 2, 3})}))
                .build();
        Path p = dir.resolve("meta.gguf");
        new GgufWriter(m).write(p);
        try (GgufFile f = GgufFile.open(p)) {
            GgufMetadata r = f.metadata();
            assertEquals(m.entries().keySet().stream().toList(), r.entries().keySet().stream().toList());
            for (Map.Entry<String, MetadataValue> e : m.entries().entrySet()) {
                MetadataValue got = r.get(e.getKey()).orElseThrow();
                assertEquals(e.getValue().type(), got.type(), e.getKey());
                if (got.value() instanceof GgufArray a) {
                    assertEquals(((GgufArray) e.getValue().value()).toString(), a.toString());
                } else {
                    assertEquals(e.getValue().value(), got.value(), e.getKey());
                }
            }
            assertEquals(4294967295L, r.getLong("u32"));
            assertEquals(60000, r.getInt("u16"));
            assertArrayEquals(new String[] {"a", "", "日本"}, r.getStringArray("sa"));
            assertEquals(0, f.tensors().size());
        }
    }

    /** Copying every tensor of a real llama.cpp file gives back the same metadata, layout and bytes. */
    @Test
    void copiesALlamaCppFileExactly() throws Exception {
        Path src = Fixtures.golden("v3-tiny-q4_0/model.gguf");
        Path out = dir.resolve("copy.gguf");
        try (GgufFile f = GgufFile.open(src)) {
            GgufWriter w = new GgufWriter(GgufMetadata.builder().putAll(f.metadata()).build());
            for (Tensor t : f.tensors().values()) w.addTensor(t.name(), t.type(), t.shape(), t.data());
            w.write(out);
            try (GgufFile g = GgufFile.open(out)) {
                assertEquals(f.fileSize(), g.fileSize());
                assertEquals(f.dataOffset(), g.dataOffset());
                for (Tensor t : f.tensors().values()) {
                    Tensor u = g.tensor(t.name());
                    assertEquals(f.tensorDataOffset(t.name()), g.tensorDataOffset(t.name()), t.name());
                    assertEquals(-1L, t.data().mismatch(u.data()), t.name());
                }
            }
            assertEquals(-1L, MemorySegment.ofArray(java.nio.file.Files.readAllBytes(src))
                    .mismatch(MemorySegment.ofArray(java.nio.file.Files.readAllBytes(out))), "byte-identical file");
        }
    }

    @Test
    void writesRowsAndReadsThemBack() throws Exception {
        Path p = dir.resolve("rows.gguf");
        GgufWriter w = new GgufWriter(GgufMetadata.builder().putString("general.architecture", "test").build());
        w.addTensor("x", TensorType.F32, new long[] {64, 3}, (row, out) -> {
            for (int i = 0; i < out.length; i++) out[i] = row * 1000 + i;
        });
        w.addTensor("y", TensorType.F32, new long[] {32}, (row, out) -> java.util.Arrays.fill(out, 0.5f));
        w.write(p);
        try (GgufFile f = GgufFile.open(p)) {
            float[] x = f.tensor("x").toFloatArray();
            assertEquals(192, x.length);
            assertEquals(2063f, x[191]);
            assertEquals(0.5f, f.tensor("y").toFloatArray()[31]);
            assertEquals(0, (f.dataOffset() + f.tensorDataOffset("y")) % 32);
        }
    }

    /** A row source given as an opener is opened once, when its tensor is written, not when it is added. */
    @Test
    void openedRowSourcesAreOpenedWhenWritten() throws Exception {
        java.util.List<String> opened = new java.util.ArrayList<>();
        GgufWriter w = new GgufWriter(GgufMetadata.builder().build());
        for (String name : new String[] {"a", "b"}) {
            w.addTensor(name, TensorType.F32, new long[] {4, 3}, () -> {
                opened.add(name);
                return (row, out) -> java.util.Arrays.fill(out, row + (name.equals("a") ? 0 : 10));
            });
        }
        assertEquals(java.util.List.of(), opened);
        Path p = dir.resolve("opened.gguf");
        w.write(p);
        assertEquals(java.util.List.of("a", "b"), opened);
        try (GgufFile f = GgufFile.open(p)) {
            assertArrayEquals(new float[] {10, 10, 10, 10, 11, 11, 11, 11, 12, 12, 12, 12}, f.tensor("b").toFloatArray());
        }
    }

    /** A write that fails part-way leaves an existing file as it was and no temporary file beside it. */
    @Test
    void aFailedWriteLeavesTheOldFile() throws Exception {
        Path p = java.nio.file.Files.writeString(dir.resolve("model.gguf"), "the old file");
        GgufWriter w = new GgufWriter(GgufMetadata.builder().build());
        w.addTensor("a", TensorType.F32, new long[] {4, 1 << 20}, (row, out) -> {
            if (row == 300_000) throw new IllegalStateException("source failed");
        });
        assertThrows(IllegalStateException.class, () -> w.write(p));
        assertEquals("the old file", java.nio.file.Files.readString(p));
        try (var files = java.nio.file.Files.list(dir)) {
            assertEquals(java.util.List.of(p), files.toList());
        }
    }

    /** The output gets the permissions any new file gets (the umask's), not a temporary file's owner-only ones. */
    @Test
    void theOutputHasTheDefaultPermissions() throws Exception {
        org.junit.jupiter.api.Assumptions.assumeTrue(dir.getFileSystem().supportedFileAttributeViews().contains("posix"));
        Path p = dir.resolve("model.gguf");
        new GgufWriter(GgufMetadata.builder().putString("k", "v").build()).write(p);
        Path plain = java.nio.file.Files.createFile(dir.resolve("plain"));
        assertEquals(java.nio.file.Files.getPosixFilePermissions(plain), java.nio.file.Files.getPosixFilePermissions(p));
    }
}
