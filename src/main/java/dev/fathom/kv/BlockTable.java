package dev.fathom.kv;

import dev.fathom.FathomException;

import java.util.Arrays;

/**
 * One sequence's KV cache: the ids of the pool blocks that hold its positions, in order, and how many positions are
 * valid. Positions {@code [b * 64, (b + 1) * 64)} are in the table's block b. Writing into a block that another
 * table shares first replaces it with a private copy, so forks never see each other's writes. Not thread-safe: one
 * sequence is advanced by one caller at a time.
 */
public final class BlockTable implements AutoCloseable {
    private static final int T = KvBlockPool.BLOCK_TOKENS;

    private final KvBlockPool pool;
    private final int capacity;
    private int[] blocks;
    private int blockCount;
    private int length;
    private boolean closed;

    /** An empty table that may grow to {@code capacity} positions (the sequence's context length). */
    public BlockTable(KvBlockPool pool, int capacity) {
        if (capacity <= 0) throw new FathomException("context length must be positive, got " + capacity);
        this.pool = pool;
        this.capacity = capacity;
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
        int last = (start + n - 1) / T;
        for (int b = start / T; b <= last; b++) {
            if (b == blockCount) {
                if (blockCount == blocks.length) blocks = Arrays.copyOf(blocks, blocks.length * 2);
                int id = pool.allocate(); // may fail (pool full): then the table is unchanged
                blocks[blockCount++] = id;
            } else if (pool.refCount(blocks[b]) > 1) {
                int own = pool.copyOf(blocks[b]);
                pool.release(blocks[b]);
                blocks[b] = own;
            }
        }
    }

    /** Marks positions {@code < n} valid (after every layer of them was written). */
    public void commit(int n) {
        if (n < 0 || n > blockCount * T) throw new IllegalStateException("cannot commit " + n + " positions into " + blockCount + " blocks");
        length = n;
    }

    /** Rolls back to the first {@code newLength} positions; blocks no longer needed go back to the pool. */
    public void truncate(int newLength) {
        ensureOpen();
        if (newLength < 0 || newLength > length) {
            throw new FathomException("cannot truncate a sequence of " + length + " positions to " + newLength);
        }
        length = newLength;
        int keep = (newLength + T - 1) / T;
        while (blockCount > keep) pool.release(blocks[--blockCount]);
    }

    /** A new table sharing this one's blocks (and its length): a common prefix computed once. */
    public BlockTable fork() {
        ensureOpen();
        BlockTable f = new BlockTable(pool, capacity);
        f.blocks = Arrays.copyOf(blocks, Math.max(blocks.length, 1));
        f.blockCount = blockCount;
        f.length = length;
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
        while (blockCount > 0) pool.release(blocks[--blockCount]);
        length = 0;
    }
}
