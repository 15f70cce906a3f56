package dev.fathom.model;

import dev.fathom.checkpoint.Checkpoint;
import dev.fathom.tensor.Tensor;

/**
 * The model's view of a checkpoint while it is built: tensors by canonical name with their shapes checked against
 * the config (errors name the tensor and both shapes), small vectors decoded once, and the weight bytes one decode
 * step reads (every matrix; the chosen share of the experts; one embedding row unless the head is tied to it).
 */
final class Weights {
    private final Checkpoint checkpoint;
    private long activeBytes;

    Weights(Checkpoint checkpoint) {
        this.checkpoint = checkpoint;
    }

    boolean has(String name) {
        return checkpoint.has(name);
    }

    /** A matrix or stacked tensor (shape in ggml order), used in place. */
    Tensor matrix(String name, long... shape) {
        Tensor t = checkpoint.tensor(name, shape);
        activeBytes += t.data().byteSize();
        return t;
    }

    /** {@code count} experts of [in, out] each, of which {@code used} run per token. */
    Tensor[] experts(String name, int count, int used, long in, long out) {
        Tensor[] t = checkpoint.experts(name, count, in, out);
        long bytes = 0;
        for (Tensor e : t) bytes += e.data().byteSize();
        activeBytes += bytes / count * used;
        return t;
    }

    /** A 1-D tensor (norm weights, biases), decoded once. */
    float[] vector(String name, int n) {
        return matrix(name, n).toFloatArray();
    }

    /** As {@link #vector}, or null when the checkpoint has no such tensor (optional biases). */
    float[] optionalVector(String name, int n) {
        return has(name) ? vector(name, n) : null;
    }

    /** The embedding: a decode step reads one row of it. */
    Tensor embedding(int vocab, int hidden) {
        Tensor t = checkpoint.tensor("embed.weight", hidden, vocab);
        activeBytes += t.rowBytes();
        return t;
    }

    /** The output head, or the embedding itself when the checkpoint has none (tied): then it is read whole. */
    Tensor head(Tensor embedding, int vocab, int hidden) {
        if (has("head.weight")) return matrix("head.weight", hidden, vocab);
        activeBytes += embedding.data().byteSize() - embedding.rowBytes();
        return embedding;
    }

    long activeBytes() {
        return activeBytes;
    }
}
