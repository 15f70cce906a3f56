package dev.fathom.safetensors;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.fathom.FathomException;
import dev.fathom.tensor.MappedFile;
import dev.fathom.tensor.Tensor;
import dev.fathom.tensor.TensorType;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Collections;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * A safetensors file (huggingface/safetensors: a little-endian u64 header length, a JSON header
 * {@code {name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {...}}}, then the data), memory-mapped once;
 * its tensors are zero-copy views, files beyond 2 GiB work. Shapes are turned into ggml order (innermost first), so a
 * PyTorch {@code [out, in]} weight is a tensor of {@code out} rows of {@code in} values. Every offset and size is
 * checked against the file; dtypes Fathom does not compute with are listed in {@link #unsupported()}.
 */
public final class SafetensorsFile implements AutoCloseable {
    private static final long MAX_HEADER = 100L << 20;

    private final Path path;
    private final Arena arena;
    private final Map<String, Tensor> tensors;
    private final Map<String, String> unsupported;

    private SafetensorsFile(Path path, Arena arena, MemorySegment file) {
        this.path = path;
        this.arena = arena;
        if (file.byteSize() < 8) throw error("file is truncated (no header length)");
        long n = file.get(ValueLayout.JAVA_LONG_UNALIGNED.withOrder(java.nio.ByteOrder.LITTLE_ENDIAN), 0);
        if (n <= 0 || n > MAX_HEADER || 8 + n > file.byteSize()) {
            throw error("header length " + Long.toUnsignedString(n) + " does not fit the file of " + file.byteSize() + " bytes");
        }
        JsonNode header;
        try {
            header = new ObjectMapper().readTree(new String(file.asSlice(8, n).toArray(ValueLayout.JAVA_BYTE), StandardCharsets.UTF_8));
        } catch (IOException e) {
            throw error("header is not valid JSON (" + (e instanceof com.fasterxml.jackson.core.JsonProcessingException j ? j.getOriginalMessage() : e.getMessage()) + ")");
        }
        if (header == null || !header.isObject()) throw error("header is not a JSON object");
        long data = 8 + n, dataBytes = file.byteSize() - data;
        Map<String, Tensor> ts = new LinkedHashMap<>();
        Map<String, String> other = new LinkedHashMap<>();
        for (Iterator<Map.Entry<String, JsonNode>> it = header.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            String name = e.getKey();
            if (name.equals("__metadata__")) continue;
            JsonNode t = e.getValue();
            String where = "tensor '" + name + "'";
            String dtype = t.path("dtype").asText("");
            JsonNode shapeNode = t.path("shape"), offs = t.path("data_offsets");
            if (!shapeNode.isArray() || !offs.isArray() || offs.size() != 2) throw error(where + ": needs dtype, shape and data_offsets");
            long[] shape = new long[shapeNode.size()];
            long elements = 1;
            for (int i = 0; i < shape.length; i++) {
                long d = shapeNode.get(shape.length - 1 - i).asLong(-1); // ggml order: innermost first
                if (d < 0) throw error(where + ": bad shape " + shapeNode);
                shape[i] = d;
                elements = Math.multiplyExact(elements, Math.max(d, 1));
            }
            long begin = offs.get(0).asLong(-1), end = offs.get(1).asLong(-1);
            if (begin < 0 || end < begin || end > dataBytes) {
                throw error(where + ": data_offsets " + offs + " lie outside the " + dataBytes + " data bytes");
            }
            TensorType type = switch (dtype) {
                case "F32" -> TensorType.F32;
                case "F16" -> TensorType.F16;
                case "BF16" -> TensorType.BF16;
                case "F8_E4M3" -> TensorType.F8_E4M3;
                default -> null;
            };
            if (type == null) {
                other.put(name, dtype);
                continue;
            }
            long bytes = elements * type.bytesPerBlock;
            if (end - begin != bytes) throw error(where + ": " + (end - begin) + " bytes, its shape " + shapeNode + " and " + dtype + " need " + bytes);
            ts.put(name, new Tensor(name, type, shape.length == 0 ? new long[] {1} : shape, file.asSlice(data + begin, bytes)));
        }
        this.tensors = Collections.unmodifiableMap(ts);
        this.unsupported = Collections.unmodifiableMap(other);
    }

    private FathomException error(String what) {
        return new FathomException(path + ": " + what);
    }

    /** Maps and parses {@code path}; a malformed file is a {@link FathomException} naming the file and the field. */
    public static SafetensorsFile open(Path path) throws IOException {
        MappedFile file = MappedFile.open(path);
        try {
            return new SafetensorsFile(path, file.arena(), file.segment());
        } catch (RuntimeException e) {
            file.close();
            throw e;
        }
    }

    public Path path() {
        return path;
    }

    /** The tensors of supported dtypes (F32, F16, BF16, F8_E4M3), in header order. */
    public Map<String, Tensor> tensors() {
        return tensors;
    }

    /** Tensors of other dtypes (name to dtype), e.g. F8_E4M3 weights. */
    public Map<String, String> unsupported() {
        return unsupported;
    }

    @Override
    public void close() {
        arena.close();
    }
}
