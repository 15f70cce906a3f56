package dev.fathom.kv;

import dev.fathom.FathomException;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.FileTime;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.logging.Level;
import java.util.logging.Logger;
import java.util.zip.CRC32C;

/**
 * KV blocks on disk, one file per block named by its {@link BlockHash}, so that a restart hits on what the last run
 * cached. A file is written to a temporary name and renamed (never seen half-written) and holds:
 *
 * <pre>
 * "FATHOMKV" | u32 version | root hash (model and number format, 16 bytes) | block hash (16) |
 * u32 layers | u32 tokens (64) | u32 floats per token and layer | u32 dtype (0 = f32) | 64 x i32 token ids |
 * layers x 64 x entry f32 | u64 CRC-32C of everything before
 * </pre>
 *
 * little-endian. A file that is truncated, fails its checksum, or belongs to another model, format or layout is
 * counted, removed and treated as a miss. Files are evicted whole, least recently used first (by modification time,
 * which a hit refreshes), to stay within the byte budget. A lock file keeps a second process out of the directory.
 * Writes run on one background thread; a write that finds the queue full is dropped (the block simply stays
 * uncached).
 */
public final class DiskBlockStore implements AutoCloseable {
    private static final Logger LOG = Logger.getLogger(DiskBlockStore.class.getName());
    private static final byte[] MAGIC = "FATHOMKV".getBytes(java.nio.charset.StandardCharsets.US_ASCII);
    public static final int VERSION = 1;
    private static final int T = KvBlockPool.BLOCK_TOKENS;
    private static final int HEADER = 8 + 4 + 16 + 16 + 4 * 4 + 4 * T;
    private static final String SUFFIX = ".kvb";
    private static final int MAX_PENDING_WRITES = 64;

    /** What the store did so far, and what it holds now. */
    public record Stats(int files, long bytes, long reads, long writes, long rejected, long evictions, long droppedWrites) {}

    private final Path dir;
    private final BlockHash root;
    private final int layers, entry;
    private final long fileBytes;
    private final long budget;
    private final FileChannel lockChannel;
    private final FileLock lock;
    /** Files on disk, least recently used first. */
    private final LinkedHashMap<BlockHash, Long> files = new LinkedHashMap<>(16, 0.75f, true);
    /** Blocks queued for writing: readable from memory until their file exists. */
    private final Map<BlockHash, float[]> pending = new HashMap<>();
    private final ThreadPoolExecutor writer;
    private final AtomicLong reads = new AtomicLong(), writes = new AtomicLong(), rejected = new AtomicLong(),
            evictions = new AtomicLong(), dropped = new AtomicLong();
    private long bytes;
    /** Writes queued or running, their {@code done} not yet run. */
    private int inFlight;

    /**
     * Opens (creating) a cache directory for blocks of {@code layers x 64 x entry} floats under {@code root}.
     *
     * @param budget the most bytes of block files kept
     * @throws FathomException the directory cannot be used, or another process holds it
     */
    public DiskBlockStore(Path dir, BlockHash root, int layers, int entry, long budget) {
        if (budget < 0) throw new IllegalArgumentException("the disk budget must be >= 0");
        this.dir = dir;
        this.root = root;
        this.layers = layers;
        this.entry = entry;
        this.fileBytes = HEADER + (long) layers * T * entry * Float.BYTES + 8;
        this.budget = budget;
        try {
            Files.createDirectories(dir);
            lockChannel = FileChannel.open(dir.resolve("lock"), StandardOpenOption.CREATE, StandardOpenOption.WRITE);
        } catch (IOException e) {
            throw new FathomException("cannot use the KV cache directory " + dir + ": " + message(e));
        }
        FileLock l;
        try {
            l = lockChannel.tryLock();
        } catch (IOException | OverlappingFileLockException e) {
            l = null;
        }
        if (l == null) {
            closeQuietly(lockChannel);
            throw new FathomException("the KV cache directory " + dir + " is in use by another Fathom process: give each its own --cache-dir");
        }
        lock = l;
        scan();
        writer = new ThreadPoolExecutor(1, 1, 0, TimeUnit.SECONDS, new ArrayBlockingQueue<>(MAX_PENDING_WRITES), r -> {
            Thread t = new Thread(r, "fathom-kv-writer");
            t.setDaemon(true);
            return t;
        });
    }

    public Path directory() {
        return dir;
    }

    public long budget() {
        return budget;
    }

    /** The size of one block's file. */
    public long fileBytes() {
        return fileBytes;
    }

    /** Indexes the files there, oldest first; leftovers of interrupted writes are removed. */
    private void scan() {
        record Found(BlockHash hash, long mtime) {}
        List<Found> found = new ArrayList<>();
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(dir)) {
            for (Path p : ds) {
                String name = p.getFileName().toString();
                if (name.endsWith(".tmp")) {
                    Files.deleteIfExists(p);
                } else if (name.length() == 32 + SUFFIX.length() && name.endsWith(SUFFIX)) {
                    BlockHash h = parse(name.substring(0, 32));
                    if (h != null) found.add(new Found(h, Files.getLastModifiedTime(p).toMillis()));
                }
            }
        } catch (IOException e) {
            throw new FathomException("cannot read the KV cache directory " + dir + ": " + message(e));
        }
        found.sort((a, b) -> Long.compare(a.mtime, b.mtime));
        synchronized (this) {
            for (Found f : found) files.put(f.hash, fileBytes);
            bytes = (long) files.size() * fileBytes;
        }
    }

    private static BlockHash parse(String hex) {
        try {
            return new BlockHash(Long.parseUnsignedLong(hex.substring(0, 16), 16), Long.parseUnsignedLong(hex.substring(16), 16));
        } catch (NumberFormatException e) {
            return null;
        }
    }

    private Path file(BlockHash h) {
        return dir.resolve(h.hex() + SUFFIX);
    }

    /** Whether the block is on disk or queued for writing (a read may still find it invalid). */
    public synchronized boolean contains(BlockHash h) {
        return pending.containsKey(h) || files.containsKey(h);
    }

    /**
     * Reads block h into {@code dest} (a pool block's floats) after checking its file against the tokens it must hold.
     *
     * @return false when there is no valid file (a bad one is counted and removed)
     */
    public boolean read(BlockHash h, int[] tokens, int from, float[] dest) {
        synchronized (this) {
            float[] queued = pending.get(h);
            if (queued != null) {
                System.arraycopy(queued, 0, dest, 0, dest.length);
                return true;
            }
            if (!files.containsKey(h)) return false;
        }
        Path p = file(h);
        String problem;
        try (FileChannel ch = FileChannel.open(p, StandardOpenOption.READ)) {
            long size = ch.size();
            if (size != fileBytes) {
                problem = "is " + size + " bytes, a block of this model takes " + fileBytes;
            } else {
                ByteBuffer b = ByteBuffer.allocate((int) size).order(ByteOrder.LITTLE_ENDIAN);
                while (b.hasRemaining() && ch.read(b) >= 0) {}
                b.flip();
                problem = check(b, h, tokens, from);
                if (problem == null) {
                    b.position(HEADER);
                    b.asFloatBuffer().get(dest, 0, layers * T * entry);
                }
            }
        } catch (IOException e) {
            problem = "cannot be read: " + message(e);
        }
        if (problem != null) {
            reject(h, p, problem);
            return false;
        }
        reads.incrementAndGet();
        try {
            Files.setLastModifiedTime(p, FileTime.fromMillis(System.currentTimeMillis())); // LRU order across restarts
        } catch (IOException ignored) {
            // the order is a hint; a read-only time stamp does not make the block wrong
        }
        synchronized (this) {
            files.get(h); // access order: most recently used
        }
        return true;
    }

    /** Why the file's bytes are not block h for these tokens, or null when they are. */
    private String check(ByteBuffer b, BlockHash h, int[] tokens, int from) {
        CRC32C crc = new CRC32C();
        crc.update(b.slice(0, b.limit() - 8));
        if (b.getLong(b.limit() - 8) != crc.getValue()) return "fails its checksum";
        byte[] magic = new byte[MAGIC.length];
        b.get(magic);
        if (!Arrays.equals(magic, MAGIC)) return "is not a Fathom KV block file";
        int version = b.getInt();
        if (version != VERSION) return "has format version " + version + ", this Fathom writes " + VERSION;
        if (b.getLong() != root.hi() || b.getLong() != root.lo()) return "belongs to another model or KV number format";
        if (b.getLong() != h.hi() || b.getLong() != h.lo()) return "holds another block than its name says";
        int l = b.getInt(), t = b.getInt(), e = b.getInt(), dtype = b.getInt();
        if (l != layers || t != T || e != entry || dtype != 0) {
            return "has layout " + l + "x" + t + "x" + e + " dtype " + dtype + ", expected " + layers + "x" + T + "x" + entry + " f32";
        }
        for (int i = 0; i < T; i++) if (b.getInt() != tokens[from + i]) return "holds other tokens than its hash";
        return null;
    }

    private void reject(BlockHash h, Path p, String problem) {
        rejected.incrementAndGet();
        LOG.warning("ignoring KV cache file " + p + ": it " + problem + "; removing it");
        synchronized (this) {
            files.remove(h);
            bytes = (long) files.size() * fileBytes;
        }
        try {
            Files.deleteIfExists(p);
        } catch (IOException e) {
            LOG.log(Level.FINE, "cannot remove " + p, e);
        }
    }

    /**
     * Queues block h for writing. {@code data} must not change until {@code done} runs (the caller holds a
     * reference to its block); {@code done} runs once, after the write, or at once when the write is dropped.
     */
    public void writeAsync(BlockHash h, int[] tokens, float[] data, Runnable done) {
        synchronized (this) {
            if (pending.containsKey(h) || files.containsKey(h) || writer.isShutdown()) {
                done.run();
                return;
            }
            pending.put(h, data);
            inFlight++;
        }
        try {
            writer.execute(() -> {
                try {
                    write(h, tokens, data);
                } finally {
                    finished(h, done);
                }
            });
        } catch (RejectedExecutionException e) {
            dropped.incrementAndGet();
            finished(h, done);
        }
    }

    /** Writes block h on the caller's thread unless it is on disk or queued (closing: nothing waits on it then). */
    public void writeNow(BlockHash h, int[] tokens, float[] data) {
        if (!contains(h)) write(h, tokens, data);
    }

    /** The data stops being readable from memory before its block may be released and reused. */
    private void finished(BlockHash h, Runnable done) {
        synchronized (this) {
            pending.remove(h);
        }
        try {
            done.run();
        } finally {
            synchronized (this) {
                inFlight--;
                notifyAll();
            }
        }
    }

    /** Waits until every queued write is done (or the timeout passed); returns whether they are. */
    public synchronized boolean awaitWrites(long timeoutMillis) throws InterruptedException {
        long end = System.currentTimeMillis() + timeoutMillis;
        while (inFlight > 0) {
            long left = end - System.currentTimeMillis();
            if (left <= 0) return false;
            wait(left);
        }
        return true;
    }

    private void write(BlockHash h, int[] tokens, float[] data) {
        ByteBuffer b = ByteBuffer.allocate((int) fileBytes).order(ByteOrder.LITTLE_ENDIAN);
        b.put(MAGIC).putInt(VERSION).putLong(root.hi()).putLong(root.lo()).putLong(h.hi()).putLong(h.lo());
        b.putInt(layers).putInt(T).putInt(entry).putInt(0);
        for (int i = 0; i < T; i++) b.putInt(tokens[i]);
        b.asFloatBuffer().put(data, 0, layers * T * entry);
        b.position(b.position() + layers * T * entry * Float.BYTES);
        CRC32C crc = new CRC32C();
        crc.update(b.array(), 0, b.position());
        b.putLong(crc.getValue());
        b.flip();
        Path target = file(h);
        Path tmp = dir.resolve(h.hex() + "." + Thread.currentThread().threadId() + ".tmp");
        try {
            try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.CREATE, StandardOpenOption.TRUNCATE_EXISTING, StandardOpenOption.WRITE)) {
                while (b.hasRemaining()) ch.write(b);
            }
            try {
                Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            } catch (AtomicMoveNotSupportedException e) {
                Files.move(tmp, target, StandardCopyOption.REPLACE_EXISTING);
            }
        } catch (IOException e) {
            LOG.warning("cannot write KV cache file " + target + ": " + message(e));
            try {
                Files.deleteIfExists(tmp);
            } catch (IOException ignored) {
                // a leftover .tmp is removed at the next start
            }
            return;
        }
        writes.incrementAndGet();
        List<BlockHash> evict = new ArrayList<>();
        synchronized (this) {
            files.put(h, fileBytes);
            bytes = (long) files.size() * fileBytes;
            var it = files.keySet().iterator();
            while (bytes > budget && it.hasNext()) {
                evict.add(it.next());
                it.remove();
                bytes -= fileBytes;
            }
        }
        for (BlockHash old : evict) {
            evictions.incrementAndGet();
            try {
                Files.deleteIfExists(file(old));
            } catch (IOException e) {
                LOG.log(Level.FINE, "cannot remove " + file(old), e);
            }
        }
    }

    public synchronized Stats stats() {
        return new Stats(files.size(), bytes, reads.get(), writes.get(), rejected.get(), evictions.get(), dropped.get());
    }

    /** Finishes the queued writes (at most 30 s) and releases the directory. */
    @Override
    public void close() {
        synchronized (this) {
            if (writer.isShutdown()) return;
            writer.shutdown();
        }
        try {
            if (!writer.awaitTermination(30, TimeUnit.SECONDS)) LOG.warning("KV cache writes still running after 30 s; leaving them");
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        try {
            lock.release();
        } catch (IOException ignored) {
            // closing the channel releases it too
        }
        closeQuietly(lockChannel);
    }

    private static void closeQuietly(FileChannel ch) {
        try {
            ch.close();
        } catch (IOException ignored) {
            // nothing left to do with it
        }
    }

    private static String message(IOException e) {
        return e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
    }
}
