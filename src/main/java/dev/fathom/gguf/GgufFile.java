package dev.fathom.gguf;

import dev.fathom.FathomException;
import dev.fathom.tensor.MappedFile;
import dev.fathom.tensor.Tensor;
import dev.fathom.tensor.TensorType;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A GGUF file (versions 2 and 3), memory-mapped once; its tensors are zero-copy views into the mapping, so
 * files of any size (well beyond 2 GiB) cost no heap. Every length, count, offset and shape read from the
 * file is checked against the file's size before use: a malformed file gives a {@link GgufFormatException}
 * naming the field, never an out-of-bounds error or a huge allocation.
 *
 * <p>Layout (ggml/docs/gguf.md): magic "GGUF", version u32, tensor count u64, metadata count u64, metadata
 * entries, tensor infos, padding to {@code general.alignment}, then the tensor data.
 */
public final class GgufFile implements AutoCloseable {
    public static final int MAGIC = 0x46554747; // "GGUF" read as a little-endian u32
    public static final int DEFAULT_ALIGNMENT = 32;
    public static final String ALIGNMENT_KEY = "general.alignment";
    /** ggml's GGML_MAX_DIMS. */
    public static final int MAX_DIMS = 4;
    private static final int MAX_ARRAY_NESTING = 32;

    private final Path path;
    private final Arena arena;
    private final MemorySegment file;
    private final int version;
    private final GgufMetadata metadata;
    private final long alignment;
    private final long dataOffset;
    private final Map<String, Tensor> tensors;
    private final Map<String, Long> tensorOffsets;

    private GgufFile(Path path, Arena arena, MemorySegment file) {
        this.path = path;
        this.arena = arena;
        this.file = file;
        Reader r = new Reader(path, file);
        r.need(4, "the magic number");
        int magic = r.u32();
        if (magic != MAGIC) {
            throw new GgufFormatException(path, String.format("not a GGUF file: magic is 0x%08x, expected 0x%08x (\"GGUF\")", magic, MAGIC));
        }
        r.need(4, "the version");
        int v = r.u32();
        if (v == 2 || v == 3) {
            version = v;
        } else if (Integer.reverseBytes(v) == 2 || Integer.reverseBytes(v) == 3) {
            throw new GgufFormatException(path, "big-endian GGUF (version " + Integer.reverseBytes(v) + ") is not supported");
        } else {
            throw new GgufFormatException(path, "unsupported GGUF version " + Integer.toUnsignedString(v) + " (Fathom reads versions 2 and 3)");
        }
        r.need(16, "the tensor and metadata counts");
        long tensorCount = r.u64();
        long kvCount = r.u64();
        // Each metadata entry takes at least 8 (key length) + 4 (type) + 1 bytes; each tensor info at least 8+4+4+8.
        r.checkCount(kvCount, 13, "metadata entry count");
        r.checkCount(tensorCount, 24, "tensor count");

        LinkedHashMap<String, MetadataValue> kv = new LinkedHashMap<>();
        for (long i = 0; i < kvCount; i++) {
            String where = "metadata entry " + i;
            String key = r.string(where + " key");
            where = "metadata key '" + key + "'";
            r.need(4, where + " type");
            int typeId = r.u32();
            GgufValueType type = GgufValueType.fromId(typeId);
            if (type == null) throw new GgufFormatException(path, where + ": unknown value type " + Integer.toUnsignedString(typeId));
            MetadataValue value = r.value(type, where, 0);
            if (kv.put(key, value) != null) throw new GgufFormatException(path, "duplicate metadata key '" + key + "'");
        }
        metadata = new GgufMetadata(path.toString(), kv);

        long align = DEFAULT_ALIGNMENT;
        if (kv.containsKey(ALIGNMENT_KEY)) {
            MetadataValue a = kv.get(ALIGNMENT_KEY);
            Long l = a.asLong();
            if (l == null || l <= 0 || Long.bitCount(l) != 1) {
                throw new GgufFormatException(path, "metadata key '" + ALIGNMENT_KEY + "' must be a power-of-two integer, got " + a.display());
            }
            align = l;
        }
        alignment = align;

        record Info(String name, TensorType type, long[] shape, long offset, long bytes) {}
        List<Info> infos = new ArrayList<>();
        Map<String, Info> byName = new LinkedHashMap<>();
        for (long i = 0; i < tensorCount; i++) {
            String name = r.string("tensor info " + i + " name");
            String where = "tensor '" + name + "'";
            r.need(4, where + " dimension count");
            int nDims = r.u32();
            if (nDims < 0 || nDims > MAX_DIMS) {
                throw new GgufFormatException(path, where + ": " + Integer.toUnsignedString(nDims) + " dimensions, at most " + MAX_DIMS + " allowed");
            }
            r.need(8L * nDims, where + " shape");
            long[] shape = new long[nDims];
            long elements = 1;
            for (int d = 0; d < nDims; d++) {
                shape[d] = r.u64();
                if (shape[d] < 0) {
                    throw new GgufFormatException(path, where + ": dimension " + d + " = " + Long.toUnsignedString(shape[d]) + " is too large");
                }
                if (shape[d] != 0 && elements > Long.MAX_VALUE / shape[d]) {
                    throw new GgufFormatException(path, where + ": shape " + shapeString(shape, d + 1) + " overflows a 64-bit element count");
                }
                elements *= shape[d];
            }
            r.need(12, where + " type and offset");
            int typeId = r.u32();
            TensorType type = TensorType.fromGgmlId(typeId);
            if (type == null) {
                throw new GgufFormatException(path, where + ": unknown tensor type id " + Integer.toUnsignedString(typeId));
            }
            long offset = r.u64();
            long rowLength = nDims == 0 ? 1 : shape[0];
            if (rowLength % type.blockSize != 0) {
                throw new GgufFormatException(path, where + ": row length " + rowLength + " is not a multiple of the "
                        + type + " block size " + type.blockSize);
            }
            long bytes = elements / type.blockSize * type.bytesPerBlock;
            if (elements / type.blockSize > Long.MAX_VALUE / type.bytesPerBlock) {
                throw new GgufFormatException(path, where + ": shape " + shapeString(shape, nDims) + " overflows a 64-bit byte size");
            }
            if (offset < 0 || offset % alignment != 0) {
                throw new GgufFormatException(path, where + ": data offset " + Long.toUnsignedString(offset)
                        + " is not a multiple of the alignment " + alignment);
            }
            Info info = new Info(name, type, shape, offset, bytes);
            if (byName.put(name, info) != null) throw new GgufFormatException(path, "duplicate tensor name '" + name + "'");
            infos.add(info);
        }
        long dataStart = alignUp(r.pos, alignment);
        if (tensorCount > 0 && dataStart > file.byteSize()) {
            throw new GgufFormatException(path, "file is truncated: the tensor data section would start at byte "
                    + dataStart + " but the file has " + file.byteSize() + " bytes");
        }
        dataOffset = dataStart;
        long dataSize = Math.max(0, file.byteSize() - dataStart);

        List<Info> sorted = new ArrayList<>(infos);
        sorted.sort(Comparator.comparingLong(Info::offset));
        Info previous = null;
        for (Info t : sorted) {
            if (t.offset > dataSize || t.bytes > dataSize - t.offset) {
                throw new GgufFormatException(path, "tensor '" + t.name + "' (" + t.type + " " + shapeString(t.shape, t.shape.length)
                        + ", " + t.bytes + " bytes at data offset " + t.offset + ") runs past the end of the file: the data section has "
                        + dataSize + " bytes (file truncated?)");
            }
            if (previous != null && t.bytes > 0 && previous.offset + previous.bytes > t.offset) {
                throw new GgufFormatException(path, "tensors '" + previous.name + "' (bytes " + previous.offset + ".."
                        + (previous.offset + previous.bytes) + ") and '" + t.name + "' (from byte " + t.offset + ") overlap");
            }
            if (t.bytes > 0) previous = t;
        }

        LinkedHashMap<String, Tensor> ts = new LinkedHashMap<>();
        LinkedHashMap<String, Long> offs = new LinkedHashMap<>();
        for (Info t : infos) {
            MemorySegment data = file.asSlice(dataStart + t.offset, t.bytes);
            ts.put(t.name, new Tensor(t.name, t.type, t.shape, data));
            offs.put(t.name, t.offset);
        }
        tensors = Collections.unmodifiableMap(ts);
        tensorOffsets = Collections.unmodifiableMap(offs);
    }

    /** Parses a GGUF held in memory (e.g. a bundled resource); {@code name} is used in error messages. */
    public static GgufFile fromBytes(Path name, byte[] bytes) {
        return new GgufFile(name, null, MemorySegment.ofArray(bytes));
    }

    /** Maps and parses {@code path}. Throws {@link GgufFormatException} (a {@link FathomException}) if malformed. */
    public static GgufFile open(Path path) throws IOException {
        MappedFile file = MappedFile.open(path);
        try {
            return new GgufFile(path, file.arena(), file.segment());
        } catch (RuntimeException e) {
            file.close();
            throw e;
        }
    }

    public Path path() {
        return path;
    }

    public int version() {
        return version;
    }

    public GgufMetadata metadata() {
        return metadata;
    }

    public long alignment() {
        return alignment;
    }

    /** Byte offset of the tensor data section in the file. */
    public long dataOffset() {
        return dataOffset;
    }

    /** Byte offset of a tensor's data within the data section, as stored in its tensor info. */
    public long tensorDataOffset(String name) {
        Long off = tensorOffsets.get(name);
        if (off == null) throw new FathomException(path + ": no tensor named '" + name + "'");
        return off;
    }

    public long fileSize() {
        return file.byteSize();
    }

    /** All tensors, in file order. */
    public Map<String, Tensor> tensors() {
        return tensors;
    }

    public boolean hasTensor(String name) {
        return tensors.containsKey(name);
    }

    /** The tensor named {@code name}; a clear error naming the file when it is absent. */
    public Tensor tensor(String name) {
        Tensor t = tensors.get(name);
        if (t == null) throw new FathomException(path + ": tensor '" + name + "' is missing");
        return t;
    }

    @Override
    public void close() {
        if (arena != null) arena.close();
    }

    static long alignUp(long x, long alignment) {
        return (x + alignment - 1) / alignment * alignment;
    }

    private static String shapeString(long[] shape, int n) {
        StringBuilder sb = new StringBuilder("[");
        for (int i = 0; i < n; i++) {
            if (i > 0) sb.append(", ");
            sb.append(Long.toUnsignedString(shape[i]));
        }
        return sb.append(']').toString();
    }

    /** A bounds-checked little-endian cursor over the mapped file. */
    private static final class Reader {
        private static final ValueLayout.OfInt I32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
        private static final ValueLayout.OfLong I64 = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
        private static final ValueLayout.OfShort I16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
        private static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
        private static final ValueLayout.OfDouble F64 = ValueLayout.JAVA_DOUBLE_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

        final Path path;
        final MemorySegment seg;
        long pos;

        Reader(Path path, MemorySegment seg) {
            this.path = path;
            this.seg = seg;
        }

        long remaining() {
            return seg.byteSize() - pos;
        }

        /** Fails unless {@code n} more bytes exist; {@code what} names the field being read. */
        void need(long n, String what) {
            if (n < 0 || n > remaining()) {
                throw new GgufFormatException(path, "file is truncated: " + what + " needs " + (n < 0 ? Long.toUnsignedString(n) : n)
                        + " bytes at offset " + pos + " but the file has " + seg.byteSize() + " bytes");
            }
        }

        /** Fails when {@code count} items of at least {@code minBytes} each cannot fit in the rest of the file. */
        void checkCount(long count, long minBytes, String what) {
            if (count < 0 || count > remaining() / minBytes) {
                throw new GgufFormatException(path, what + " " + Long.toUnsignedString(count) + " is impossible: only "
                        + remaining() + " bytes follow offset " + pos + " (file truncated or corrupt?)");
            }
        }

        int u32() {
            int v = seg.get(I32, pos);
            pos += 4;
            return v;
        }

        long u64() {
            long v = seg.get(I64, pos);
            pos += 8;
            return v;
        }

        String string(String what) {
            need(8, what + " length");
            long len = u64();
            if (len < 0 || len > remaining()) {
                throw new GgufFormatException(path, what + ": string length " + Long.toUnsignedString(len) + " at offset " + (pos - 8)
                        + " runs past the end of the file (" + seg.byteSize() + " bytes)");
            }
            if (len > Integer.MAX_VALUE - 8) throw new GgufFormatException(path, what + ": string of " + len + " bytes is too long");
            byte[] bytes = new byte[(int) len];
            MemorySegment.copy(seg, ValueLayout.JAVA_BYTE, pos, bytes, 0, bytes.length);
            pos += len;
            return new String(bytes, StandardCharsets.UTF_8);
        }

        MetadataValue value(GgufValueType type, String where, int depth) {
            if (type == GgufValueType.ARRAY) return new MetadataValue(type, array(where, depth));
            if (type == GgufValueType.STRING) return new MetadataValue(type, string(where));
            need(type.size, where + " value");
            Object v = switch (type) {
                case UINT8, INT8 -> seg.get(ValueLayout.JAVA_BYTE, pos);
                case UINT16, INT16 -> seg.get(I16, pos);
                case UINT32, INT32 -> seg.get(I32, pos);
                case UINT64, INT64 -> seg.get(I64, pos);
                case FLOAT32 -> seg.get(F32, pos);
                case FLOAT64 -> seg.get(F64, pos);
                case BOOL -> {
                    byte b = seg.get(ValueLayout.JAVA_BYTE, pos);
                    if (b != 0 && b != 1) throw new GgufFormatException(path, where + ": boolean byte is " + b + ", expected 0 or 1");
                    yield b == 1;
                }
                default -> throw new IllegalStateException();
            };
            pos += type.size;
            return new MetadataValue(type, v);
        }

        GgufArray array(String where, int depth) {
            if (depth >= MAX_ARRAY_NESTING) throw new GgufFormatException(path, where + ": arrays nested deeper than " + MAX_ARRAY_NESTING);
            need(12, where + " array header");
            int typeId = u32();
            GgufValueType et = GgufValueType.fromId(typeId);
            if (et == null) throw new GgufFormatException(path, where + ": unknown array element type " + Integer.toUnsignedString(typeId));
            long count = u64();
            long minBytes = et.size > 0 ? et.size : (et == GgufValueType.STRING ? 8 : 12);
            if (count < 0 || count > remaining() / minBytes) {
                throw new GgufFormatException(path, where + ": array of " + Long.toUnsignedString(count) + " " + et
                        + " elements at offset " + (pos - 8) + " runs past the end of the file (" + seg.byteSize() + " bytes)");
            }
            int n = (int) count; // fits: count <= file size / minBytes, and we check the int range below
            if (count > Integer.MAX_VALUE - 8) throw new GgufFormatException(path, where + ": array of " + count + " elements is too long");
            Object values = switch (et) {
                case UINT8, INT8 -> {
                    byte[] a = new byte[n];
                    MemorySegment.copy(seg, ValueLayout.JAVA_BYTE, pos, a, 0, n);
                    yield a;
                }
                case UINT16, INT16 -> {
                    short[] a = new short[n];
                    MemorySegment.copy(seg, I16, pos, a, 0, n);
                    yield a;
                }
                case UINT32, INT32 -> {
                    int[] a = new int[n];
                    MemorySegment.copy(seg, I32, pos, a, 0, n);
                    yield a;
                }
                case UINT64, INT64 -> {
                    long[] a = new long[n];
                    MemorySegment.copy(seg, I64, pos, a, 0, n);
                    yield a;
                }
                case FLOAT32 -> {
                    float[] a = new float[n];
                    MemorySegment.copy(seg, F32, pos, a, 0, n);
                    yield a;
                }
                case FLOAT64 -> {
                    double[] a = new double[n];
                    MemorySegment.copy(seg, F64, pos, a, 0, n);
                    yield a;
                }
                case BOOL -> {
                    boolean[] a = new boolean[n];
                    for (int i = 0; i < n; i++) {
                        byte b = seg.get(ValueLayout.JAVA_BYTE, pos + i);
                        if (b != 0 && b != 1) throw new GgufFormatException(path, where + ": element " + i + " is " + b + ", expected 0 or 1");
                        a[i] = b == 1;
                    }
                    yield a;
                }
                case STRING -> {
                    String[] a = new String[n];
                    for (int i = 0; i < n; i++) a[i] = string(where + " element " + i);
                    yield a;
                }
                case ARRAY -> {
                    GgufArray[] a = new GgufArray[n];
                    for (int i = 0; i < n; i++) a[i] = array(where + " element " + i, depth + 1);
                    yield a;
                }
            };
            if (et.size > 0) pos += count * et.size;
            return new GgufArray(et, values);
        }
    }
}
