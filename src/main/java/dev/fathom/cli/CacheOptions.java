package dev.fathom.cli;

import dev.fathom.FathomException;
import dev.fathom.kv.DiskBlockStore;
import dev.fathom.kv.KvBlockPool;
import dev.fathom.kv.PrefixCache;
import dev.fathom.model.LoadedModel;
import picocli.CommandLine.Option;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;

/**
 * The prefix-cache options of the commands that keep a conversation or serve requests: how much memory and disk the
 * KV blocks of earlier requests may take. Applying them prints what was chosen.
 */
final class CacheOptions {
    static final long DEFAULT_DISK = 16L << 30;

    @Option(names = "--cache-mem", paramLabel = "SIZE", description = "Memory for the KV blocks of finished requests, kept to serve later prompts with the same prefix (e.g. 2g, 512m; 0 = share only between running requests; default: a quarter of the Java heap the running sequences leave).")
    String memory;

    @Option(names = "--cache-dir", paramLabel = "DIR", description = "Folder for KV blocks on disk, reused across restarts; one process per folder (default: a folder of the model's own under $FATHOM_CACHE/kv).")
    Path directory;

    @Option(names = "--cache-disk", paramLabel = "SIZE", description = "Disk space for KV blocks, least recently used files evicted first; 0 = no disk cache (default: serve 16g, at most half the free space; chat 0).")
    String disk;

    /**
     * Sets up the model's prefix cache for {@code parallel} sequences of {@code ctx} positions.
     *
     * @param defaultDisk the disk budget when --cache-disk is not given
     */
    PrefixCache apply(LoadedModel m, int parallel, int ctx, long defaultDisk, PrintWriter log) throws IOException {
        KvBlockPool pool = m.model().kvPool();
        long running = (long) parallel * Math.min(ctx, m.model().maxContextLength()) * (pool.blockBytes() / KvBlockPool.BLOCK_TOKENS);
        long mem = memory != null ? size("--cache-mem", memory) : Math.max(0, (Runtime.getRuntime().maxMemory() - running) / 4);
        long diskBytes = disk != null ? size("--cache-disk", disk) : defaultDisk;
        if (disk == null && directory != null && diskBytes == 0) diskBytes = DEFAULT_DISK; // a folder asks for a disk cache
        if (disk == null && diskBytes > 0) {
            Path probe = directory != null ? directory : dev.fathom.CacheDirectory.path();
            while (probe != null && !Files.exists(probe)) probe = probe.getParent();
            if (probe != null) diskBytes = Math.min(diskBytes, Files.getFileStore(probe).getUsableSpace() / 2);
        }
        PrefixCache cache = m.usePrefixCache(mem, directory, diskBytes);
        DiskBlockStore d = cache.disk();
        log.println("fathom: prefix cache: " + Format.bytes(mem) + " in memory (" + cache.maxUnusedBlocks() + " blocks of "
                + KvBlockPool.BLOCK_TOKENS + " tokens, " + Format.bytes(pool.blockBytes()) + " each; "
                + Format.bytes(pool.blockBytes() / KvBlockPool.BLOCK_TOKENS) + " per token, " + m.model().config().kvLayout() + ")"
                + (d == null ? ", no disk cache" : ", " + Format.bytes(d.budget()) + " on disk in " + d.directory()
                + " (" + d.stats().files() + " blocks there)"));
        log.flush();
        return cache;
    }

    /** Bytes from 1234, 512k, 64m, 2g, 1.5t (binary units). */
    static long size(String option, String text) {
        String t = text.trim().toLowerCase(Locale.ROOT);
        long unit = 1;
        if (!t.isEmpty()) {
            switch (t.charAt(t.length() - 1)) {
                case 'k' -> unit = 1L << 10;
                case 'm' -> unit = 1L << 20;
                case 'g' -> unit = 1L << 30;
                case 't' -> unit = 1L << 40;
                default -> {}
            }
        }
        String number = unit == 1 ? t : t.substring(0, t.length() - 1);
        try {
            double v = Double.parseDouble(number);
            if (v >= 0 && !Double.isInfinite(v) && number.matches("[0-9.]+")) return (long) (v * unit);
        } catch (NumberFormatException ignored) {
            // the message below says what is accepted
        }
        throw new FathomException(option + " must be a size such as 512m, 2g or 0, got \"" + text + "\"");
    }
}
