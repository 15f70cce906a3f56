package dev.fathom.gguf;

import dev.fathom.FathomException;
import dev.fathom.tensor.BlockFormat;
import dev.fathom.tensor.TensorType;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ThreadLocalRandom;
import java.util.function.Supplier;

/**
 * Writes a GGUF version 3 file: metadata, tensor infos, then each tensor's data aligned to
 * {@code general.alignment} (default 32), as llama.cpp's gguf writer does. Tensors are produced one row at a
 * time and encoded (quantised where the type needs it) as they are written, so a file far larger than the heap
 * can be written. The file appears under its final name only once complete.
 */
public final class GgufWriter {

    /** Produces the float values of one row of a tensor. */
    @FunctionalInterface
    public interface RowSource {
        void row(long rowIndex, float[] out);
    }

    /** Called as tensor data is written (after each chunk of rows and each tensor) with the bytes written so far and in all. */
    @FunctionalInterface
    public interface Progress {
        void update(String tensorName, long bytesDone, long bytesTotal);
    }

    private record Entry(String name, TensorType type, long[] shape, Supplier<RowSource> rows, MemorySegment encoded, long bytes) {}

    private final GgufMetadata metadata;
    private final long alignment;
    private final List<Entry> tensors = new ArrayList<>();
    private final Set<String> names = new HashSet<>();

    public GgufWriter(GgufMetadata metadata) {
        this.metadata = metadata;
        if (metadata.has(GgufFile.ALIGNMENT_KEY)) {
            long a = metadata.getLong(GgufFile.ALIGNMENT_KEY);
            if (a <= 0 || Long.bitCount(a) != 1) throw new FathomException(GgufFile.ALIGNMENT_KEY + " must be a power of two, got " + a);
            alignment = a;
        } else {
            alignment = GgufFile.DEFAULT_ALIGNMENT;
        }
    }

    /** Adds a tensor whose rows are computed by {@code rows} and encoded as {@code type}. */
    public GgufWriter addTensor(String name, TensorType type, long[] shape, RowSource rows) {
        return addTensor(name, type, shape, () -> rows);
    }

    /**
     * Adds a tensor whose row source is opened only when the tensor is written and dropped after it, so state a
     * source keeps (a decoded block of another tensor) lives for one tensor, not for the whole file.
     */
    public GgufWriter addTensor(String name, TensorType type, long[] shape, Supplier<RowSource> opener) {
        if (!type.format().canQuantize()) throw new FathomException("Fathom cannot write tensors of type " + type + " (tensor " + name + ")");
        return add(new Entry(name, type, shape.clone(), opener, null, checkShape(name, type, shape)));
    }

    /** Adds a tensor whose bytes are already encoded as {@code type} (copied unchanged). */
    public GgufWriter addTensor(String name, TensorType type, long[] shape, MemorySegment encoded) {
        long bytes = checkShape(name, type, shape);
        if (encoded.byteSize() != bytes) {
            throw new FathomException("tensor " + name + ": " + encoded.byteSize() + " bytes given, " + type + " " + java.util.Arrays.toString(shape) + " needs " + bytes);
        }
        return add(new Entry(name, type, shape.clone(), null, encoded, bytes));
    }

    private GgufWriter add(Entry e) {
        if (!names.add(e.name)) throw new FathomException("duplicate tensor name " + e.name);
        tensors.add(e);
        return this;
    }

    private static long checkShape(String name, TensorType type, long[] shape) {
        if (shape.length == 0 || shape.length > GgufFile.MAX_DIMS) throw new FathomException("tensor " + name + ": 1 to 4 dimensions needed");
        long n = 1;
        for (long d : shape) {
            if (d <= 0) throw new FathomException("tensor " + name + ": dimensions must be positive");
            n = Math.multiplyExact(n, d);
        }
        if (shape[0] % type.blockSize != 0) {
            throw new FathomException("tensor " + name + ": row length " + shape[0] + " is not a multiple of the " + type + " block size " + type.blockSize);
        }
        if (shape[0] > Integer.MAX_VALUE - 8) throw new FathomException("tensor " + name + ": rows longer than 2^31 are not supported");
        return type.bytesFor(n);
    }

    /** Total bytes of tensor data, padding included. */
    public long dataBytes() {
        long total = 0;
        for (Entry e : tensors) total = GgufFile.alignUp(total, alignment) + e.bytes;
        return total;
    }

    public void write(Path out) throws IOException {
        write(out, (name, done, total) -> {});
    }

    public void write(Path out, Progress progress) throws IOException {
        Path dir = out.toAbsolutePath().getParent();
        if (dir != null) Files.createDirectories(dir);
        Path tmp = createPartFile(dir, out.getFileName().toString());
        try {
            try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.WRITE, StandardOpenOption.TRUNCATE_EXISTING)) {
                writeTo(ch, progress);
            }
            Files.move(tmp, out, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        } finally {
            Files.deleteIfExists(tmp);
        }
    }

    /**
     * A new, empty {@code NAME.RANDOM.part} in {@code dir}, created with the default permissions (the umask's) rather than
     * {@link Files#createTempFile}'s owner-only ones, which the renamed output would otherwise keep.
     */
    private static Path createPartFile(Path dir, String name) throws IOException {
        for (int attempt = 0; ; attempt++) {
            Path p = (dir == null ? Path.of(".") : dir).resolve(name + "." + Long.toUnsignedString(ThreadLocalRandom.current().nextLong(), 36) + ".part");
            try {
                return Files.createFile(p);
            } catch (FileAlreadyExistsException e) {
                if (attempt == 100) throw e;
            }
        }
    }

    private void writeTo(FileChannel ch, Progress progress) throws IOException {
        ChannelOut o = new ChannelOut(ch);
        o.u32(GgufFile.MAGIC);
        o.u32(3);
        o.u64(tensors.size());
        o.u64(metadata.entries().size());
        for (var kv : metadata.entries().entrySet()) {
            o.string(kv.getKey());
            o.u32(kv.getValue().type().id());
            o.value(kv.getValue().type(), kv.getValue().value());
        }
        long offset = 0;
        for (Entry e : tensors) {
            offset = GgufFile.alignUp(offset, alignment);
            o.string(e.name);
            o.u32(e.shape.length);
            for (long d : e.shape) o.u64(d);
            o.u32(e.type.ggmlId);
            o.u64(offset);
            offset += e.bytes;
        }
        o.padTo(alignment);
        long dataStart = o.position();
        long total = dataBytes();
        for (Entry e : tensors) {
            o.padTo(alignment, dataStart);
            if (e.encoded != null) {
                o.segment(e.encoded);
            } else {
                try (Arena arena = Arena.ofConfined()) { // one tensor's chunk: freed before the next, whatever the tensor count
                    int rowLength = (int) e.shape[0];
                    long rows = 1;
                    for (int i = 1; i < e.shape.length; i++) rows *= e.shape[i];
                    long rowBytes = e.type.bytesFor(rowLength);
                    BlockFormat format = e.type.format();
                    RowSource source = e.rows.get();
                    float[] values = new float[rowLength];
                    // Encode several rows per write so small rows do not mean many small writes.
                    int rowsPerChunk = (int) Math.max(1, Math.min(rows, (1 << 20) / rowBytes));
                    MemorySegment chunk = arena.allocate(rowBytes * rowsPerChunk);
                    for (long r = 0; r < rows; ) {
                        int n = (int) Math.min(rowsPerChunk, rows - r);
                        for (int k = 0; k < n; k++) {
                            source.row(r + k, values);
                            format.quantize(values, 0, rowLength, chunk, k * rowBytes);
                        }
                        o.segment(chunk.asSlice(0, n * rowBytes));
                        r += n;
                        if (r < rows) progress.update(e.name, o.position() - dataStart, total); // large tensors move the bar too
                    }
                }
            }
            progress.update(e.name, o.position() - dataStart, total);
        }
        o.flush();
    }

    /** Little-endian buffered output on a channel. */
    private static final class ChannelOut {
        private final FileChannel ch;
        private final ByteBuffer buf = ByteBuffer.allocateDirect(1 << 20).order(ByteOrder.LITTLE_ENDIAN);
        private final MemorySegment bufSegment = MemorySegment.ofBuffer(buf); // the whole buffer, from index 0
        private long flushed;

        ChannelOut(FileChannel ch) {
            this.ch = ch;
        }

        long position() {
            return flushed + buf.position();
        }

        void ensure(int n) throws IOException {
            if (buf.remaining() < n) flush();
        }

        void flush() throws IOException {
            buf.flip();
            while (buf.hasRemaining()) flushed += ch.write(buf);
            buf.clear();
        }

        void u8(int v) throws IOException {
            ensure(1);
            buf.put((byte) v);
        }

        void u16(short v) throws IOException {
            ensure(2);
            buf.putShort(v);
        }

        void u32(int v) throws IOException {
            ensure(4);
            buf.putInt(v);
        }

        void u64(long v) throws IOException {
            ensure(8);
            buf.putLong(v);
        }

        void bytes(byte[] b) throws IOException {
            for (int off = 0; off < b.length; ) {
                ensure(1);
                int n = Math.min(buf.remaining(), b.length - off);
                buf.put(b, off, n);
                off += n;
            }
        }

        void string(String s) throws IOException {
            byte[] b = s.getBytes(StandardCharsets.UTF_8);
            u64(b.length);
            bytes(b);
        }

        void segment(MemorySegment s) throws IOException {
            for (long off = 0; off < s.byteSize(); ) {
                ensure(1);
                int n = (int) Math.min(buf.remaining(), s.byteSize() - off);
                MemorySegment.copy(s, off, bufSegment, buf.position(), n);
                buf.position(buf.position() + n);
                off += n;
            }
        }

        void padTo(long alignment) throws IOException {
            padTo(alignment, 0);
        }

        /** Pads with zero bytes until (position - base) is a multiple of alignment. */
        void padTo(long alignment, long base) throws IOException {
            long pad = GgufFile.alignUp(position() - base, alignment) - (position() - base);
            for (long i = 0; i < pad; i++) u8(0);
        }

        void value(GgufValueType type, Object v) throws IOException {
            switch (type) {
                case UINT8, INT8 -> u8((Byte) v);
                case UINT16, INT16 -> u16((Short) v);
                case UINT32, INT32 -> u32((Integer) v);
                case UINT64, INT64 -> u64((Long) v);
                case FLOAT32 -> u32(Float.floatToRawIntBits((Float) v));
                case FLOAT64 -> u64(Double.doubleToRawLongBits((Double) v));
                case BOOL -> u8((Boolean) v ? 1 : 0);
                case STRING -> string((String) v);
                case ARRAY -> array((GgufArray) v);
            }
        }

        void array(GgufArray a) throws IOException {
            u32(a.elementType().id());
            u64(a.length());
            switch (a.values()) {
                case byte[] x -> bytes(x);
                case short[] x -> { for (short e : x) u16(e); }
                case int[] x -> { for (int e : x) u32(e); }
                case long[] x -> { for (long e : x) u64(e); }
                case float[] x -> { for (float e : x) u32(Float.floatToRawIntBits(e)); }
                case double[] x -> { for (double e : x) u64(Double.doubleToRawLongBits(e)); }
                case boolean[] x -> { for (boolean e : x) u8(e ? 1 : 0); }
                case String[] x -> { for (String e : x) string(e); }
                case GgufArray[] x -> { for (GgufArray e : x) array(e); }
                default -> throw new IllegalStateException("unexpected array " + a.values().getClass());
            }
        }
    }
}
