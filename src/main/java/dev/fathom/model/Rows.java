package dev.fathom.model;

import dev.fathom.kv.BlockTable;

/**
 * The rows of one forward pass, one row = (sequence, token, position): a prompt chunk is consecutive positions of
 * one sequence, a continuous-batching step one row per sequence. Parts read their inputs and write their outputs at
 * a fixed stride per row; a row's result never depends on the other rows.
 */
final class Rows {
    int n;
    final BlockTable[] caches;
    final int[] tokens;
    final int[] positions;
    /** cos / sin of each row's rope angles (one per rotated pair). */
    final float[][] cos, sin;

    Rows(int max, int pairs) {
        caches = new BlockTable[max];
        tokens = new int[max];
        positions = new int[max];
        cos = new float[max][pairs];
        sin = new float[max][pairs];
    }

    /** One past the largest position of the rows: the most cached positions any row attends over. */
    int maxPositions() {
        int m = 0;
        for (int r = 0; r < n; r++) m = Math.max(m, positions[r] + 1);
        return m;
    }
}
