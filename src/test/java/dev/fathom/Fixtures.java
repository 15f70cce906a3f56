package dev.fathom;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.fathom.tensor.Tensor;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.List;

/**
 * Locates the shared fixtures ({@code shared/golden}, the reference outputs of llama.cpp and the float64 HF port).
 * Order: system property {@code fathom.shared}, environment {@code FATHOM_SHARED}, a {@code shared/} folder beside
 * the checkout or any folder above it, then {@code /work/shared}. A missing fixture fails the test: checks are never
 * skipped.
 */
public final class Fixtures {
    private static Path shared;

    private Fixtures() {}

    public static synchronized Path shared() {
        if (shared != null) return shared;
        for (String candidate : new String[] {System.getProperty("fathom.shared"), System.getenv("FATHOM_SHARED")}) {
            if (candidate != null && Files.isDirectory(Paths.get(candidate, "golden"))) return shared = Paths.get(candidate);
        }
        for (Path p = Paths.get("").toAbsolutePath(); p != null; p = p.getParent()) {
            if (Files.isDirectory(p.resolve("shared/golden"))) return shared = p.resolve("shared");
        }
        if (Files.isDirectory(Paths.get("/work/shared/golden"))) return shared = Paths.get("/work/shared");
        throw new IllegalStateException("cannot find the shared fixtures folder (shared/golden): set -Dfathom.shared or FATHOM_SHARED");
    }

    public static Path golden(String relative) {
        Path p = shared().resolve("golden").resolve(relative);
        if (!Files.exists(p)) throw new IllegalStateException("missing golden fixture " + p);
        return p;
    }

    public static float[] readF32(Path p) {
        try {
            java.nio.ByteBuffer b = java.nio.ByteBuffer.wrap(Files.readAllBytes(p)).order(java.nio.ByteOrder.LITTLE_ENDIAN);
            float[] out = new float[b.remaining() / 4];
            b.asFloatBuffer().get(out);
            return out;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    public static int[] readI32(Path p) {
        try {
            java.nio.ByteBuffer b = java.nio.ByteBuffer.wrap(Files.readAllBytes(p)).order(java.nio.ByteOrder.LITTLE_ENDIAN);
            int[] out = new int[b.remaining() / 4];
            b.asIntBuffer().get(out);
            return out;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Writes tensors (their stored bytes and dtype) as a safetensors file, shapes back in PyTorch order. */
    public static void writeSafetensors(Path out, List<Tensor> tensors) throws IOException {
        ObjectNode header = new ObjectMapper().createObjectNode();
        ByteArrayOutputStream data = new ByteArrayOutputStream();
        for (Tensor t : tensors) {
            ObjectNode e = header.putObject(t.name());
            e.put("dtype", t.type().name());
            var shape = e.putArray("shape");
            long[] s = t.shape();
            for (int i = s.length - 1; i >= 0; i--) shape.add(s[i]);
            var offs = e.putArray("data_offsets");
            offs.add(data.size());
            data.write(t.data().toArray(ValueLayout.JAVA_BYTE));
            offs.add(data.size());
        }
        byte[] h = header.toString().getBytes(StandardCharsets.UTF_8);
        ByteArrayOutputStream file = new ByteArrayOutputStream();
        file.writeBytes(ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(h.length).array());
        file.writeBytes(h);
        data.writeTo(file);
        Files.write(out, file.toByteArray());
    }
}
