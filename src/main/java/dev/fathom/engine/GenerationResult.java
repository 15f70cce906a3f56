package dev.fathom.engine;

import java.util.List;

/**
 * A finished generation.
 *
 * @param text             the whole output text (cut before a stop string)
 * @param tokens           every generated token (log-probabilities filled when asked for); an end-of-generation
 *                         token is not included
 * @param promptTokens     tokens in the prompt
 * @param cachedTokens     of those, tokens whose KV came from the prefix cache (a multiple of 64)
 * @param completionTokens tokens generated (= tokens.size())
 * @param queuedNanos      time spent waiting in the queue
 * @param error            the failure, for {@link FinishReason#ERROR}
 */
public record GenerationResult(String text, List<TokenInfo> tokens, FinishReason finishReason, int promptTokens,
                               int cachedTokens, int completionTokens, long queuedNanos, Throwable error) {}
