package dev.fathom.kv;

import java.util.Arrays;
import java.util.HashMap;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Full KV blocks kept for reuse by later requests, found by their {@link BlockHash}. Every full 64-token block a
 * sequence commits is registered (the cache takes a reference, so the block is never written again: a sequence that
 * rewinds into it gets a copy); a new sequence starts from the longest chain of registered blocks that matches its
 * tokens from position 0. Blocks no sequence uses any more stay in memory in least-recently-used order within
 * {@code memoryBudget} bytes; older ones are evicted, to the {@link DiskBlockStore} when there is one, which is
 * also where a miss in memory is looked up. Blocks are written to disk in the background when evicted and when
 * the sequence that made them ends.
 *
 * <p>Thread-safe: the engine thread attaches and registers, closing sequences and disk writes release.
 */
public final class PrefixCache implements AutoCloseable {
    private static final int T = KvBlockPool.BLOCK_TOKENS;

    /** What the cache did so far; memory figures are current. */
    public record Stats(long hitTokens, long missTokens, int blocks, int unusedBlocks, long bytes, long evictions) {}

    private static final class Entry {
        final BlockHash hash;
        final int block;
        final int[] tokens;

        Entry(BlockHash hash, int block, int[] tokens) {
            this.hash = hash;
            this.block = block;
            this.tokens = tokens;
        }
    }

    private final KvBlockPool pool;
    private final BlockHash root;
    private final long maxUnused;
    private final DiskBlockStore disk;
    private final Map<BlockHash, Entry> byHash = new HashMap<>();
    private final Map<Integer, Entry> byBlock = new HashMap<>();
    /** Entries only the cache references, least recently used first. */
    private final LinkedHashMap<Integer, Entry> unused = new LinkedHashMap<>();
    private long hitTokens, missTokens, evictions;

    /**
     * @param root         {@link BlockHash#root} of the model and the pool's number format
     * @param memoryBudget bytes of blocks kept in memory that no sequence uses (0 = share only between running ones)
     * @param disk         where evicted blocks go and misses are looked up; null = memory only
     */
    public PrefixCache(KvBlockPool pool, BlockHash root, long memoryBudget, DiskBlockStore disk) {
        if (memoryBudget < 0) throw new IllegalArgumentException("the memory budget must be >= 0");
        this.pool = pool;
        this.root = root;
        this.maxUnused = memoryBudget / pool.blockBytes();
        this.disk = disk;
    }

    public KvBlockPool pool() {
        return pool;
    }

    public BlockHash root() {
        return root;
    }

    /** The disk store, or null. */
    public DiskBlockStore disk() {
        return disk;
    }

    /** Blocks that may stay cached without a user. */
    public long maxUnusedBlocks() {
        return maxUnused;
    }

    /**
     * Gives an empty table the longest cached prefix of {@code tokens} that fits in {@code limit} positions, in
     * whole blocks, from memory or disk, and counts the hit and the miss of a prompt of {@code tokens.length}.
     *
     * @return positions now cached in the table (a multiple of 64)
     */
    synchronized int attach(BlockTable table, int[] tokens, int limit) {
        BlockHash h = root;
        int b = 0;
        for (; (b + 1) * T <= limit; b++) {
            h = h.next(tokens, b * T);
            Entry e = byHash.get(h);
            if (e == null) e = load(h, tokens, b * T);
            else if (!Arrays.equals(e.tokens, 0, T, tokens, b * T, (b + 1) * T)) e = null; // a 128-bit collision: never reuse it
            if (e == null) break;
            unused.remove(e.block);
            pool.retain(e.block);
            table.adopt(e.block, h);
        }
        hitTokens += (long) b * T;
        missTokens += tokens.length - (long) b * T;
        return b * T;
    }

    /** A block from disk into a new pool block, registered; null when the disk has no valid copy. */
    private Entry load(BlockHash h, int[] tokens, int from) {
        if (disk == null || !disk.contains(h)) return null;
        int id = pool.allocate();
        if (!disk.read(h, tokens, from, pool.data(id))) {
            pool.release(id);
            return null;
        }
        return put(h, id, Arrays.copyOfRange(tokens, from, from + T)); // the cache's reference is the allocation's
    }

    private Entry put(BlockHash h, int id, int[] tokens) {
        Entry e = new Entry(h, id, tokens);
        byHash.put(h, e);
        byBlock.put(id, e);
        return e;
    }

    /** Registers a table's block b, just filled with {@code tokens[b*64 ..]}, under h (first registration wins). */
    synchronized void register(BlockHash h, int id, int[] tokens, int from) {
        if (byHash.containsKey(h) || byBlock.containsKey(id)) return;
        pool.retain(id);
        put(h, id, Arrays.copyOfRange(tokens, from, from + T));
    }

    /** Called after a table dropped a reference to block id: when only the cache holds it, it becomes evictable. */
    synchronized void released(int id) {
        Entry e = byBlock.get(id);
        if (e == null || pool.refCount(id) != 1) return;
        unused.put(id, e);
        trim();
    }

    /** Writes registered blocks the disk lacks (a sequence ended); the write holds its own reference meanwhile. */
    synchronized void persist(BlockHash[] hashes, int count) {
        if (disk == null) return;
        for (int b = 0; b < count; b++) {
            Entry e = byHash.get(hashes[b]);
            if (e == null || disk.contains(e.hash)) continue;
            pool.retain(e.block);
            int id = e.block;
            disk.writeAsync(e.hash, e.tokens, pool.data(id), () -> releaseFromWriter(id));
        }
    }

    private void releaseFromWriter(int id) {
        if (pool.release(id) == 1) released(id);
    }

    private void trim() {
        Iterator<Entry> it = unused.values().iterator();
        while (unused.size() > maxUnused && it.hasNext()) {
            Entry e = it.next();
            it.remove();
            evict(e);
            evictions++;
        }
    }

    /** Forgets an unused entry; its block goes to disk first when the disk lacks it. */
    private void evict(Entry e) {
        byHash.remove(e.hash);
        byBlock.remove(e.block);
        int id = e.block;
        if (disk != null && !disk.contains(e.hash)) {
            disk.writeAsync(e.hash, e.tokens, pool.data(id), () -> pool.release(id)); // the cache's reference passes to the write
        } else {
            pool.release(id);
        }
    }

    public synchronized Stats stats() {
        return new Stats(hitTokens, missTokens, byHash.size(), unused.size(), (long) byHash.size() * pool.blockBytes(), evictions);
    }

    /**
     * Drops every unused block from memory and closes the disk store. Blocks the disk lacks are written first, on
     * this thread: the background writer's bounded queue would drop most of a large cache.
     */
    @Override
    public void close() {
        synchronized (this) {
            for (Entry e : unused.values()) {
                if (disk != null) disk.writeNow(e.hash, e.tokens, pool.data(e.block));
                byHash.remove(e.hash);
                byBlock.remove(e.block);
                pool.release(e.block);
            }
            unused.clear();
        }
        if (disk != null) disk.close();
    }
}
