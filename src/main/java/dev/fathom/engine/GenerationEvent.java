package dev.fathom.engine;

import java.util.List;

/**
 * What a running generation reports, in this order: {@link Started} once (the prompt is processed), then
 * {@link Output} any number of times, then exactly one {@link Finished} (also after a cancel or an error).
 * Listeners run on the engine thread and must return quickly (hand the event to another thread).
 */
public sealed interface GenerationEvent {
    /**
     * The request left the queue and its prompt went through the model; {@code cachedTokens} of it came from the
     * prefix cache.
     */
    record Started(int promptTokens, int cachedTokens, long queuedNanos) implements GenerationEvent {}

    /**
     * New output: the tokens sampled in this step (none for the final flush) and the text that became final —
     * whole characters only, with any text that may be the start of a stop string held back until it is decided.
     */
    record Output(String text, List<TokenInfo> tokens) implements GenerationEvent {}

    /** The end: the result, or the error that ended it ({@code result.finishReason() == ERROR}). */
    record Finished(GenerationResult result) implements GenerationEvent {}
}
