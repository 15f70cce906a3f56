package dev.fathom.kv;

import dev.fathom.FathomException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.*;

class PrefixCacheTest {
    private static final int T = KvBlockPool.BLOCK_TOKENS;
    private static final int LAYERS = 2, ENTRY = 3;
    private static final BlockHash ROOT = BlockHash.root(new byte[]{1, 2, 3}, "f32 test");

    private static int[] tokens(int n, int seed) {
        int[] t = new int[n];
        for (int i = 0; i < n; i++) t[i] = seed * 1000 + i;
        return t;
    }

    /** What a model would write for token id t at pos in layer l: a function of (prefix, t), here just of t and pos. */
    private static float value(int layer, int pos, int t, int e) {
        return t * 10f + layer * 0.5f + e * 0.125f + pos * 1e-3f;
    }

    /** Runs tokens[from ..] into the table as a model does: reserve, write every layer, commit. */
    private static void run(BlockTable table, int[] tokens, int from) {
        int n = tokens.length - from;
        table.reserve(from, n);
        for (int p = from; p < tokens.length; p++) {
            for (int l = 0; l < LAYERS; l++) {
                for (int e = 0; e < ENTRY; e++) table.block(p)[table.offset(l, p) + e] = value(l, p, tokens[p], e);
            }
        }
        table.commit(from, java.util.Arrays.copyOfRange(tokens, from, tokens.length));
    }

    private static void assertHolds(BlockTable table, int[] tokens, int upTo) {
        for (int p = 0; p < upTo; p++) {
            for (int l = 0; l < LAYERS; l++) {
                for (int e = 0; e < ENTRY; e++) {
                    assertEquals(value(l, p, tokens[p], e), table.block(p)[table.offset(l, p) + e], "pos " + p + " layer " + l);
                }
            }
        }
    }

    @Test
    void aNewSequenceStartsFromTheLongestCachedWholeBlockPrefix() {
        KvBlockPool pool = new KvBlockPool(LAYERS, ENTRY, 1000);
        PrefixCache cache = new PrefixCache(pool, ROOT, 1 << 20, null);
        int[] first = tokens(2 * T + 10, 1);
        BlockTable a = new BlockTable(pool, 1000, cache);
        run(a, first, 0);
        a.close();
        assertEquals(2, cache.stats().blocks(), "both full blocks registered, the partial third not");
        assertEquals(2, pool.blocksInUse(), "held by the cache alone");

        BlockTable b = new BlockTable(pool, 1000, cache);
        assertEquals(2 * T, b.attachCachedPrefix(first));
        assertEquals(2 * T, b.length());
        assertHolds(b, first, 2 * T);
        b.close();

        int[] exactly = tokens(2 * T, 1);
        BlockTable c = new BlockTable(pool, 1000, cache);
        assertEquals(T, c.attachCachedPrefix(exactly), "the last prompt token is always computed");
        c.close();

        int[] diverging = tokens(2 * T + 5, 1);
        diverging[T + 3] = -7; // inside the second block
        BlockTable d = new BlockTable(pool, 1000, cache);
        assertEquals(T, d.attachCachedPrefix(diverging));
        d.close();

        int[] other = tokens(3 * T, 2);
        BlockTable e = new BlockTable(pool, 1000, cache);
        assertEquals(0, e.attachCachedPrefix(other), "only a prefix from position 0 can hit");
        e.close();
        PrefixCache.Stats s = cache.stats();
        assertEquals(2 * T + T + T, s.hitTokens());
        assertEquals(first.length + exactly.length + diverging.length + other.length - s.hitTokens(), s.missTokens());
    }

    @Test
    void aCachedBlockIsNeverWrittenARewindingSequenceGetsItsOwnCopy() {
        KvBlockPool pool = new KvBlockPool(LAYERS, ENTRY, 1000);
        PrefixCache cache = new PrefixCache(pool, ROOT, 1 << 20, null);
        int[] prompt = tokens(T + 1, 1);
        BlockTable a = new BlockTable(pool, 1000, cache);
        run(a, prompt, 0);
        int shared = a.blockId(0);
        int[] rewritten = prompt.clone();
        rewritten[10] = 99;
        a.truncate(10);
        run(a, java.util.Arrays.copyOf(rewritten, T + 1), 10);
        assertNotEquals(shared, a.blockId(0), "the rewind copied the cached block");
        assertEquals(value(0, 10, 99, 0), a.block(10)[a.offset(0, 10)]);
        BlockTable b = new BlockTable(pool, 1000, cache);
        assertEquals(T, b.attachCachedPrefix(prompt));
        assertHolds(b, prompt, T);
        a.close();
        b.close();
        BlockTable c = new BlockTable(pool, 1000, cache);
        assertEquals(T, c.attachCachedPrefix(java.util.Arrays.copyOf(rewritten, T + 1)), "the rewritten block was registered too");
        assertHolds(c, java.util.Arrays.copyOf(rewritten, T + 1), T);
        c.close();
    }

    @Test
    void unusedBlocksStayWithinTheMemoryBudgetLeastRecentlyUsedFirst() {
        KvBlockPool pool = new KvBlockPool(LAYERS, ENTRY, 1000);
        PrefixCache cache = new PrefixCache(pool, ROOT, 2 * pool.blockBytes(), null);
        for (int s = 1; s <= 4; s++) {
            BlockTable t = new BlockTable(pool, 1000, cache);
            run(t, tokens(T + 1, s), 0);
            if (s == 2) {
                // a running sequence's blocks are never evicted, whatever the budget
                BlockTable keep = new BlockTable(pool, 1000, cache);
                run(keep, tokens(3 * T, 9), 0);
                assertEquals(3, cache.stats().blocks() - 2);
                keep.close();
            }
            t.close();
        }
        PrefixCache.Stats s = cache.stats();
        assertEquals(2, s.unusedBlocks());
        assertEquals(2, s.blocks());
        assertEquals(5, s.evictions());
        assertEquals(2, pool.blocksInUse(), "evicted blocks went back to the pool");
        BlockTable hit = new BlockTable(pool, 1000, cache);
        assertEquals(T, hit.attachCachedPrefix(tokens(T + 1, 4)), "the most recent stays");
        hit.close();
        BlockTable miss = new BlockTable(pool, 1000, cache);
        assertEquals(0, miss.attachCachedPrefix(tokens(T + 1, 1)), "the oldest went");
        miss.close();
    }

    @Test
    void blocksOnDiskServeANewProcess(@TempDir Path dir) throws IOException {
        int[] prompt = tokens(3 * T + 1, 5);
        try (PrefixCache cache = diskCache(dir, 0)) {
            BlockTable t = new BlockTable(cache.pool(), 1000, cache);
            run(t, prompt, 0);
            t.close(); // the end of a request writes its blocks
        }
        assertEquals(3, blockFiles(dir).size());
        try (PrefixCache cache = diskCache(dir, 0)) {
            BlockTable t = new BlockTable(cache.pool(), 1000, cache);
            assertEquals(3 * T, t.attachCachedPrefix(prompt));
            assertHolds(t, prompt, 3 * T);
            t.close();
            assertEquals(3, cache.disk().stats().reads());
            assertEquals(0, cache.disk().stats().rejected());
        }
    }

    @Test
    void blocksEvictedFromMemoryGoToDisk(@TempDir Path dir) throws InterruptedException {
        try (PrefixCache cache = diskCache(dir, 1)) {
            for (int s = 1; s <= 3; s++) {
                BlockTable t = new BlockTable(cache.pool(), 1000, cache);
                run(t, tokens(T + 1, s), 0);
                t.close();
            }
            assertTrue(cache.disk().awaitWrites(10_000));
            assertEquals(1, cache.stats().blocks(), "a block joins the LRU when its write at the end of its request is done");
            BlockTable t = new BlockTable(cache.pool(), 1000, cache);
            assertEquals(T, t.attachCachedPrefix(tokens(T + 1, 1)), "read back from disk");
            assertHolds(t, tokens(T + 1, 1), T);
            t.close();
        }
    }

    @Test
    void corruptTruncatedAndForeignFilesAreRejectedRemovedAndMiss(@TempDir Path dir) throws IOException {
        int[] prompt = tokens(3 * T + 1, 6);
        try (PrefixCache cache = diskCache(dir, 0)) {
            BlockTable t = new BlockTable(cache.pool(), 1000, cache);
            run(t, prompt, 0);
            t.close();
        }
        BlockHash h0 = ROOT.next(prompt, 0), h1 = h0.next(prompt, T), h2 = h1.next(prompt, 2 * T);
        Path f0 = dir.resolve(h0.hex() + ".kvb"), f1 = dir.resolve(h1.hex() + ".kvb"), f2 = dir.resolve(h2.hex() + ".kvb");
        byte[] b1 = Files.readAllBytes(f1);
        b1[200] ^= 1;
        Files.write(f1, b1); // a flipped bit in the data
        try (PrefixCache cache = diskCache(dir, 0)) {
            BlockTable t = new BlockTable(cache.pool(), 1000, cache);
            assertEquals(T, t.attachCachedPrefix(prompt), "the chain stops at the corrupt block");
            t.close();
            assertEquals(1, cache.disk().stats().rejected());
        }
        assertTrue(Files.exists(f0));
        assertFalse(Files.exists(f1), "the corrupt file was removed");

        byte[] b0 = Files.readAllBytes(f0);
        Files.write(f0, java.util.Arrays.copyOf(b0, b0.length - 100)); // truncated
        try (PrefixCache cache = diskCache(dir, 0)) {
            BlockTable t = new BlockTable(cache.pool(), 1000, cache);
            assertEquals(0, t.attachCachedPrefix(prompt));
            t.close();
            assertEquals(1, cache.disk().stats().rejected());
        }
        assertFalse(Files.exists(f0));

        // a file of another model under the name this model's chain expects
        BlockHash otherRoot = BlockHash.root(new byte[]{9}, "f32 test");
        try (PrefixCache other = new PrefixCache(new KvBlockPool(LAYERS, ENTRY, 1000), otherRoot, 0,
                new DiskBlockStore(dir.resolve("other"), otherRoot, LAYERS, ENTRY, 1 << 30))) {
            BlockTable t = new BlockTable(other.pool(), 1000, other);
            run(t, prompt, 0);
            t.close();
        }
        Files.move(dir.resolve("other").resolve(otherRoot.next(prompt, 0).hex() + ".kvb"), f0);
        try (PrefixCache cache = diskCache(dir, 0)) {
            BlockTable t = new BlockTable(cache.pool(), 1000, cache);
            assertEquals(0, t.attachCachedPrefix(prompt));
            t.close();
            assertEquals(1, cache.disk().stats().rejected());
            assertTrue(Files.exists(f2), "valid files stay");
        }
    }

    @Test
    void theDiskBudgetEvictsWholeFilesOldestFirst(@TempDir Path dir) throws IOException {
        KvBlockPool pool = new KvBlockPool(LAYERS, ENTRY, 1000);
        long file;
        try (DiskBlockStore probe = new DiskBlockStore(dir.resolve("probe"), ROOT, LAYERS, ENTRY, 0)) {
            file = probe.fileBytes();
        }
        try (PrefixCache cache = new PrefixCache(pool, ROOT, 0, new DiskBlockStore(dir, ROOT, LAYERS, ENTRY, 2 * file))) {
            for (int s = 1; s <= 3; s++) {
                BlockTable t = new BlockTable(pool, 1000, cache);
                run(t, tokens(T + 1, s), 0);
                t.close();
            }
            cache.disk().close(); // waits for the writes
            assertEquals(2, cache.disk().stats().files());
            assertEquals(1, cache.disk().stats().evictions());
        }
        assertEquals(2, blockFiles(dir).size());
        assertFalse(Files.exists(dir.resolve(ROOT.next(tokens(T + 1, 1), 0).hex() + ".kvb")), "the oldest went");
    }

    @Test
    void twoProcessesCannotShareADirectory(@TempDir Path dir) {
        try (DiskBlockStore a = new DiskBlockStore(dir, ROOT, LAYERS, ENTRY, 1 << 20)) {
            FathomException e = assertThrows(FathomException.class, () -> new DiskBlockStore(dir, ROOT, LAYERS, ENTRY, 1 << 20));
            assertTrue(e.getMessage().contains(dir.toString()) && e.getMessage().contains("in use"), e.getMessage());
        }
        new DiskBlockStore(dir, ROOT, LAYERS, ENTRY, 1 << 20).close(); // free again once closed
    }

    @Test
    void hashesChainOverModelAndPrefix() {
        int[] t = tokens(2 * T, 1);
        BlockHash a = ROOT.next(t, 0);
        assertEquals(a, ROOT.next(t.clone(), 0));
        assertNotEquals(a, BlockHash.root(new byte[]{1, 2, 3}, "f16 test").next(t, 0), "the number format is part of it");
        assertNotEquals(a.next(t, T), ROOT.next(t, T), "a block's hash depends on its prefix");
    }

    private static PrefixCache diskCache(Path dir, int memoryBlocks) {
        KvBlockPool pool = new KvBlockPool(LAYERS, ENTRY, 1000);
        return new PrefixCache(pool, ROOT, memoryBlocks * pool.blockBytes(), new DiskBlockStore(dir, ROOT, LAYERS, ENTRY, 1L << 30));
    }

    private static List<Path> blockFiles(Path dir) throws IOException {
        try (Stream<Path> s = Files.list(dir)) {
            return s.filter(p -> p.toString().endsWith(".kvb")).toList();
        }
    }
}
