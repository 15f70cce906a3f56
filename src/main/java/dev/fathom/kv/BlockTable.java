package dev.fathom.kv;

import dev.fathom.FathomException;

import java.util.Arrays;

/**
 * One sequence's KV cache: the ids of the pool blocks that hold its positions, in order, and how many positions are
 * valid. Positions {@code [b * 64, (b + 1) * 64)} are in the table's block b. Writing into a block that another
 * table (or the {@link PrefixCache}) shares first replaces it with a private copy, so forks never see each other's
 * writes. With a prefix cache, the table records its token ids and registers each block it fills under the block's
 * chained hash, and a new table can start from cached blocks ({@link #attachCachedPrefix}). Not thread-safe: one
 * sequence is advanced by one caller at a time.
 */
public final class BlockTable implements AutoCloseable {
    private static final int T = KvBlockPool.BLOCK_TOKENS;

    private final KvBlockPool pool;
    private final int capacity;
    private final PrefixCache cache;
    private int[] blocks;
    /** Token ids of the positions (kept only with a cache) and the hashes of the first {@code hashed} blocks. */
    private int[] tokens = new int[0];
    private BlockHash[] hashes = new BlockHash[0];
    private int hashed;
    private int blockCount;
    private int length;
    private boolean closed;

    /** An empty table that may grow to {@code capacity} positions (the sequence's context length). */
    public BlockTable(KvBlockPool pool, int capacity) {
        this(pool, capacity, null);
    }

    /** An empty table whose full blocks are shared through {@code cache} (null: none). */
    public BlockTable(KvBlockPool pool, int capacity, PrefixCache cache) {
        if (capacity <= 0) throw new FathomException("context length must be positive, got " + capacity);
        if (cache != null && cache.pool() != pool) throw new IllegalArgumentException("the cache belongs to another pool");
        this.pool = pool;
        this.capacity = capacity;
        this.cache = cache;
        this.blocks = new int[Math.min((capacity + T - 1) / T, 16)];
    }

    public int capacity() {
        return capacity;
    }

    /** Valid positions: {@code 0 .. length - 1} are written for every layer. */
    public int length() {
        return length;
    }

    /** Blocks the table holds (the last may be partly filled). */
    public int blockCount() {
        return blockCount;
    }

    /** The pool id of block b. */
    public int blockId(int b) {
        return blocks[b];
    }

    /**
     * Makes positions {@code [start, start + n)} writable: {@code start} at most the valid length (smaller rewinds),
     * blocks allocated, shared blocks in the range copied.
     */
    public void reserve(int start, int n) {
        ensureOpen();
        if (start < 0 || start > length) {
            throw new FathomException("position " + start + " does not continue the sequence, which has " + length + " cached positions");
        }
        if (n < 0 || (long) start + n > capacity) {
            throw new FathomException("context length exceeded: positions " + start + ".." + ((long) start + n - 1)
                    + " do not fit a context of " + capacity + " tokens");
        }
        if (n == 0) return;
        hashed = Math.min(hashed, start / T); // a block being rewritten no longer holds what its hash says
        int last = (start + n - 1) / T;
        for (int b = start / T; b <= last; b++) {
            if (b == blockCount) {
                append(pool.allocate()); // may fail (pool full): then the table is unchanged
            } else if (pool.refCount(blocks[b]) > 1) {
                int own = pool.copyOf(blocks[b]);
                drop(blocks[b]);
                blocks[b] = own;
            }
        }
    }

    private void append(int id) {
        if (blockCount == blocks.length) blocks = Arrays.copyOf(blocks, Math.max(1, blocks.length * 2));
        blocks[blockCount++] = id;
    }

    /** Drops the table's reference to a block; a cached block only the cache still holds becomes evictable. */
    private void drop(int id) {
        if (pool.release(id) == 1 && cache != null) cache.released(id);
    }

    /**
     * Marks positions {@code < start + ids.length} valid after every layer of {@code ids} at {@code start ..} was
     * written; with a cache, blocks this fills are registered in it.
     */
    public void commit(int start, int[] ids) {
        commit(start, ids, 0, ids.length);
    }

    /** {@link #commit(int, int[])} of one token (a decode step, without an array). */
    public void commit(int pos, int id) {
        if (cache != null) ensureTokens(pos + 1);
        commit(pos, null, id, 1);
    }

    private void ensureTokens(int n) {
        if (tokens.length < n) tokens = Arrays.copyOf(tokens, Math.min(capacity, Math.max(n, 2 * tokens.length)));
    }

    /** ids == null: one token, {@code from}. */
    private void commit(int start, int[] ids, int from, int count) {
        int n = start + count;
        if (start < 0 || start > length || n > blockCount * T) {
            throw new IllegalStateException("cannot commit positions " + start + ".." + (n - 1) + " into " + blockCount
                    + " blocks of a sequence of " + length);
        }
        length = n;
        if (cache == null) return;
        ensureTokens(n);
        if (ids == null) tokens[start] = from;
        else System.arraycopy(ids, from, tokens, start, count);
        for (int b = hashed; (b + 1) * T <= n; b++) {
            BlockHash h = (b == 0 ? cache.root() : hashes[b - 1]).next(tokens, b * T);
            setHash(b, h);
            cache.register(h, blocks[b], tokens, b * T);
        }
    }

    private void setHash(int b, BlockHash h) {
        if (hashes.length <= b) hashes = Arrays.copyOf(hashes, Math.max(b + 1, 2 * hashes.length));
        hashes[b] = h;
        hashed = b + 1;
    }

    /**
     * Starts an empty table from the cached blocks matching the longest whole-block prefix of {@code prompt} that
     * leaves its last token to compute (its logits are needed).
     *
     * @return the positions now cached (a multiple of 64; 0 without a cache)
     */
    public int attachCachedPrefix(int[] prompt) {
        ensureOpen();
        if (length != 0) throw new IllegalStateException("a cached prefix can only start an empty sequence");
        if (cache == null) return 0;
        int hit = cache.attach(this, prompt, Math.min(prompt.length - 1, capacity));
        if (hit > 0) {
            ensureTokens(prompt.length);
            System.arraycopy(prompt, 0, tokens, 0, hit);
        }
        return hit;
    }

    /** Appends a cached block (the cache took a reference for this table) holding the next 64 positions. */
    void adopt(int id, BlockHash h) {
        append(id);
        setHash(blockCount - 1, h);
        length = blockCount * T;
    }

    /** Rolls back to the first {@code newLength} positions; blocks no longer needed go back to the pool. */
    public void truncate(int newLength) {
        ensureOpen();
        if (newLength < 0 || newLength > length) {
            throw new FathomException("cannot truncate a sequence of " + length + " positions to " + newLength);
        }
        length = newLength;
        hashed = Math.min(hashed, newLength / T);
        int keep = (newLength + T - 1) / T;
        while (blockCount > keep) drop(blocks[--blockCount]);
    }

    /** A new table sharing this one's blocks (and its length): a common prefix computed once. */
    public BlockTable fork() {
        ensureOpen();
        BlockTable f = new BlockTable(pool, capacity, cache);
        f.blocks = Arrays.copyOf(blocks, Math.max(blocks.length, 1));
        f.blockCount = blockCount;
        f.length = length;
        f.tokens = tokens.clone();
        f.hashes = hashes.clone();
        f.hashed = hashed;
        for (int b = 0; b < blockCount; b++) pool.retain(blocks[b]);
        return f;
    }

    /** The floats of the block holding {@code pos}. */
    public float[] block(int pos) {
        return pool.data(blocks[pos / T]);
    }

    /** Offset of (layer, pos) within {@link #block(int)}. */
    public int offset(int layer, int pos) {
        return pool.offset(layer, pos);
    }

    private void ensureOpen() {
        if (closed) throw new IllegalStateException("the sequence was closed");
    }

    /** Returns every block to the pool; the table is unusable afterwards. Closing twice does nothing. */
    @Override
    public void close() {
        if (closed) return;
        closed = true;
        if (cache != null) cache.persist(hashes, hashed);
        while (blockCount > 0) drop(blocks[--blockCount]);
        length = 0;
    }
}
