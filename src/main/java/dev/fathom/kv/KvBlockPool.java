package dev.fathom.kv;

import dev.fathom.FathomException;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * The KV cache's storage: blocks of {@link #BLOCK_TOKENS} consecutive positions, each holding every layer of those
 * positions ({@code [layer][token in block][entry]}, {@code entry} floats per token and layer: the MLA latent plus
 * rope key, or the keys and values of the KV heads). A block is owned by the pool, not by a sequence: sequences hold
 * block ids in a {@link BlockTable}, and a block shared by several sequences (a common prefix) is reference-counted
 * and never written while shared (a writer gets its own copy first). A block is therefore a self-contained slice of a
 * prefix, the unit that can be shared, cached and written to disk.
 *
 * <p>Allocation and release are synchronised (the engine thread and callers may free sequences); the float data is
 * read by attention on worker threads while no allocation touches it. Freed blocks are reused, so a steady load
 * allocates nothing.
 */
public final class KvBlockPool {
    public static final int BLOCK_TOKENS = 64;

    private final int layers;
    private final int entry;
    private final int maxBlocks;
    private final List<float[]> data = new ArrayList<>();
    private int[] refs = new int[16];
    private int[] free = new int[16];
    private int freeCount;

    /**
     * @param entry     floats per token and layer
     * @param maxBlocks the most blocks alive at once (allocating more is a clear error)
     */
    public KvBlockPool(int layers, int entry, int maxBlocks) {
        if (layers <= 0 || entry <= 0) throw new IllegalArgumentException("layers and entry must be positive");
        if (maxBlocks <= 0) throw new IllegalArgumentException("maxBlocks must be positive");
        this.layers = layers;
        this.entry = entry;
        this.maxBlocks = maxBlocks;
    }

    public int layers() {
        return layers;
    }

    /** Floats per token and layer. */
    public int entry() {
        return entry;
    }

    public int blockFloats() {
        return layers * BLOCK_TOKENS * entry;
    }

    public long blockBytes() {
        return (long) blockFloats() * Float.BYTES;
    }

    /** Offset of (layer, pos) within its block's data. */
    public int offset(int layer, int pos) {
        return (layer * BLOCK_TOKENS + pos % BLOCK_TOKENS) * entry;
    }

    /** A new block with reference count 1; its contents are undefined until written. */
    public synchronized int allocate() {
        if (freeCount > 0) {
            int id = free[--freeCount];
            refs[id] = 1;
            return id;
        }
        if (data.size() >= maxBlocks) {
            throw new FathomException("the KV cache is full: " + maxBlocks + " blocks of " + BLOCK_TOKENS + " tokens in use");
        }
        int id = data.size();
        data.add(new float[blockFloats()]);
        if (id >= refs.length) refs = Arrays.copyOf(refs, refs.length * 2);
        refs[id] = 1;
        return id;
    }

    /** A new block holding a copy of {@code id}'s contents (copy-on-write of a shared block). */
    public int copyOf(int id) {
        int c = allocate();
        System.arraycopy(data(id), 0, data(c), 0, blockFloats());
        return c;
    }

    public synchronized void retain(int id) {
        check(id);
        refs[id]++;
    }

    /** Drops one reference; the block is free for reuse when none is left. Returns the references left. */
    public synchronized int release(int id) {
        check(id);
        if (--refs[id] == 0) {
            if (freeCount == free.length) free = Arrays.copyOf(free, free.length * 2);
            free[freeCount++] = id;
        }
        return refs[id];
    }

    public synchronized int refCount(int id) {
        return id >= 0 && id < data.size() ? refs[id] : 0;
    }

    private void check(int id) {
        if (id < 0 || id >= data.size() || refs[id] <= 0) throw new IllegalStateException("KV block " + id + " is not allocated");
    }

    /** The block's floats (do not keep the array past the block's release). */
    public float[] data(int id) {
        return data.get(id);
    }

    /** Blocks referenced by at least one sequence. */
    public synchronized int blocksInUse() {
        return data.size() - freeCount;
    }

    /** Blocks allocated so far (in use or free for reuse). */
    public synchronized int blocksAllocated() {
        return data.size();
    }
}
