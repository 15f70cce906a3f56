package dev.fathom.model;

/**
 * What the engine needs from a model: sequences with a KV cache, a prefill for prompts and a decode step for one
 * token per sequence. {@link Transformer} implements it for every architecture.
 */
public interface LanguageModel {

    /** One sequence's state: its KV cache. Not thread-safe; one sequence per caller at a time. */
    interface Sequence extends AutoCloseable {
        /** Number of positions already processed (cached). */
        int length();

        /** Positions this sequence can hold. */
        int capacity();

        /**
         * Starts an empty sequence from the longest cached whole-block prefix of {@code prompt} that leaves the last
         * token to compute.
         *
         * @return positions now cached (a multiple of 64; 0 when the model caches no prefixes)
         */
        default int attachCachedPrefix(int[] prompt) {
            return 0;
        }

        /** A new sequence sharing this one's cached positions (its blocks are shared, not copied). */
        Sequence fork();

        /** Rolls back to the first {@code length} positions (e.g. rejected speculative tokens). */
        void truncate(int length);

        /** Returns the sequence's KV blocks to the model; closing twice does nothing. */
        @Override
        void close();
    }

    int vocabSize();

    /** The longest context the model was built for. */
    int maxContextLength();

    Sequence newSequence(int contextLength);

    /**
     * Weight bytes one decode step reads (for MoE, the shared weights plus the chosen experts' share of the
     * expert tensors; one embedding row): the yardstick for decode against memory bandwidth.
     */
    long activeWeightBytesPerToken();

    /**
     * Runs {@code tokens} at positions {@code startPos ..} (startPos at most the cached length; smaller rewinds).
     *
     * @return the logits of every position ({@code allLogits}) or one row for the last position
     */
    float[][] forward(Sequence s, int[] tokens, int startPos, boolean allLogits);

    /** Runs one token at {@code pos}, writing its logits (length vocabSize) into {@code logits}. */
    void decode(Sequence s, int token, int pos, float[] logits);

    /**
     * One decode step for {@code count} sequences at once (continuous batching). Row i's logits must equal what
     * {@link #decode} gives for sequence i alone, bit for bit, whatever else is in the batch.
     */
    default void decodeBatch(Sequence[] seqs, int[] tokens, int[] positions, int count, float[][] logits) {
        for (int i = 0; i < count; i++) decode(seqs[i], tokens[i], positions[i], logits[i]);
    }
}
