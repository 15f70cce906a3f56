package dev.fathom.model;

/** Attention scores, one buffer per worker-pool participant, grown (never shrunk) to the longest attention seen. */
final class ScoreBuffers {
    private final float[][] buffers;

    ScoreBuffers(int participants) {
        buffers = new float[participants][0];
    }

    /** Makes every buffer hold at least {@code floats} values (heads x positions of one unit of work). */
    void reserve(int floats) {
        for (int i = 0; i < buffers.length; i++) {
            if (buffers[i].length < floats) buffers[i] = new float[Math.max(floats, 2 * buffers[i].length)];
        }
    }

    float[] of(int participant) {
        return buffers[participant];
    }
}
