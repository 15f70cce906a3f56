package dev.fathom.engine;

import dev.fathom.FathomException;

import java.util.List;
import java.util.Objects;

/**
 * One generation for the {@link Engine}: the prompt's token ids and how to continue it.
 *
 * @param prompt           the prompt's token ids (not empty)
 * @param maxTokens        tokens to generate at most; the context may stop it earlier
 * @param sampling         temperature, top-k, top-p, min-p, seed
 * @param frequencyPenalty subtracted from a token's logit once per time it was generated (-2..2, OpenAI's rule)
 * @param presencePenalty  subtracted from a token's logit once if it was generated at all (-2..2)
 * @param stop             texts that end the generation; the text is cut before the first one found (at most 16)
 * @param topLogprobs      -1: no log-probabilities; 0: the chosen token's; N (up to 20): also the N most likely
 */
public record GenerationRequest(int[] prompt, int maxTokens, SamplingParams sampling, float frequencyPenalty,
                                float presencePenalty, List<String> stop, int topLogprobs) {
    public static final int MAX_STOP_STRINGS = 16;
    public static final int MAX_TOP_LOGPROBS = 20;

    public GenerationRequest {
        Objects.requireNonNull(prompt, "prompt");
        Objects.requireNonNull(sampling, "sampling");
        stop = stop == null ? List.of() : List.copyOf(stop);
        if (prompt.length == 0) throw new FathomException("the prompt is empty (no tokens)");
        if (maxTokens < 0) throw new FathomException("max tokens must be >= 0, got " + maxTokens);
        if (!(frequencyPenalty >= -2 && frequencyPenalty <= 2)) throw new FathomException("frequency penalty must be in [-2, 2], got " + frequencyPenalty);
        if (!(presencePenalty >= -2 && presencePenalty <= 2)) throw new FathomException("presence penalty must be in [-2, 2], got " + presencePenalty);
        if (stop.size() > MAX_STOP_STRINGS) throw new FathomException("at most " + MAX_STOP_STRINGS + " stop strings, got " + stop.size());
        for (String s : stop) if (s.isEmpty()) throw new FathomException("a stop string is empty");
        if (topLogprobs < -1 || topLogprobs > MAX_TOP_LOGPROBS) throw new FathomException("top logprobs must be in [0, " + MAX_TOP_LOGPROBS + "], got " + topLogprobs);
    }

    /** A greedy request with no penalties, stop strings or log-probabilities. */
    public static GenerationRequest greedy(int[] prompt, int maxTokens) {
        return new GenerationRequest(prompt, maxTokens, SamplingParams.greedy(), 0, 0, List.of(), -1);
    }

    public GenerationRequest withSampling(SamplingParams p) {
        return new GenerationRequest(prompt, maxTokens, p, frequencyPenalty, presencePenalty, stop, topLogprobs);
    }

    public GenerationRequest withStop(List<String> s) {
        return new GenerationRequest(prompt, maxTokens, sampling, frequencyPenalty, presencePenalty, s, topLogprobs);
    }

    public GenerationRequest withPenalties(float frequency, float presence) {
        return new GenerationRequest(prompt, maxTokens, sampling, frequency, presence, stop, topLogprobs);
    }

    public GenerationRequest withTopLogprobs(int n) {
        return new GenerationRequest(prompt, maxTokens, sampling, frequencyPenalty, presencePenalty, stop, n);
    }
}
