package dev.fathom.kv;

import dev.fathom.FathomException;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.*;

class BlockTableTest {
    private static final int T = KvBlockPool.BLOCK_TOKENS;

    /** Writes a recognisable value for (layer 0, pos) the way a model does: reserve, write, commit. */
    private static void append(BlockTable t, int from, int n, float base) {
        t.reserve(from, n);
        for (int p = from; p < from + n; p++) t.block(p)[t.offset(0, p)] = base + p;
        t.commit(from, new int[n]);
    }

    private static float read(BlockTable t, int pos) {
        return t.block(pos)[t.offset(0, pos)];
    }

    @Test
    void blocksAreAllocatedPerSixtyFourPositionsAndReused() {
        KvBlockPool pool = new KvBlockPool(2, 3, 100);
        assertEquals(2 * T * 3, pool.blockFloats());
        BlockTable a = new BlockTable(pool, 1000);
        append(a, 0, T + 1, 0);
        assertEquals(2, a.blockCount());
        assertEquals(2, pool.blocksInUse());
        assertEquals(3, pool.offset(0, 1), "entries of one layer are consecutive");
        assertEquals((T + 1) * 3, pool.offset(1, 1), "then the next layer");
        a.close();
        assertEquals(0, pool.blocksInUse());
        BlockTable b = new BlockTable(pool, 1000);
        append(b, 0, 2 * T, 0);
        assertEquals(2, pool.blocksAllocated(), "freed blocks are reused, none new");
    }

    @Test
    void forksShareBlocksAndCopyOnWrite() {
        KvBlockPool pool = new KvBlockPool(1, 1, 100);
        BlockTable a = new BlockTable(pool, 1000);
        append(a, 0, T + 10, 0);
        BlockTable b = a.fork();
        assertEquals(2, pool.blocksInUse());
        assertEquals(2, pool.refCount(a.blockId(0)));
        append(b, T + 10, 1, 1000); // writes into the shared second block: b gets its own copy
        append(a, T + 10, 1, 2000);
        assertEquals(3, pool.blocksInUse());
        assertEquals(a.blockId(0), b.blockId(0));
        assertNotEquals(a.blockId(1), b.blockId(1));
        assertEquals(1000 + T + 10, read(b, T + 10));
        assertEquals(2000 + T + 10, read(a, T + 10));
        assertEquals(T + 9, read(b, T + 9), "the copy kept the shared prefix");
        a.close();
        assertEquals(1, pool.refCount(b.blockId(0)));
        b.close();
        assertEquals(0, pool.blocksInUse());
    }

    @Test
    void truncateRollsBackAndFreesWholeBlocks() {
        KvBlockPool pool = new KvBlockPool(1, 1, 100);
        BlockTable a = new BlockTable(pool, 1000);
        append(a, 0, 3 * T, 0);
        a.truncate(T + 5);
        assertEquals(T + 5, a.length());
        assertEquals(2, a.blockCount());
        assertEquals(2, pool.blocksInUse());
        append(a, T + 5, 1, 500);
        assertEquals(500 + T + 5, read(a, T + 5));
        a.truncate(0);
        assertEquals(0, a.blockCount());
        assertThrows(FathomException.class, () -> a.truncate(1));
    }

    @Test
    void limitsAreClearErrors() {
        KvBlockPool pool = new KvBlockPool(1, 1, 2);
        BlockTable a = new BlockTable(pool, 100);
        FathomException e = assertThrows(FathomException.class, () -> a.reserve(0, 101));
        assertTrue(e.getMessage().contains("context length exceeded"), e.getMessage());
        e = assertThrows(FathomException.class, () -> a.reserve(5, 1));
        assertTrue(e.getMessage().contains("does not continue"), e.getMessage());
        BlockTable b = new BlockTable(pool, 1000);
        e = assertThrows(FathomException.class, () -> b.reserve(0, 3 * T));
        assertTrue(e.getMessage().contains("KV cache is full"), e.getMessage());
        b.close();
        assertThrows(IllegalStateException.class, () -> b.reserve(0, 1));
    }
}
