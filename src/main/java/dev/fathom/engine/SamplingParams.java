package dev.fathom.engine;

import dev.fathom.FathomException;

/**
 * How the next token is chosen from the logits. Temperature 0 is greedy (argmax, lowest id on ties). Otherwise
 * the candidates are cut as llama.cpp's default chain does — top-k, then top-p (nucleus, on the untempered
 * distribution), then min-p (tokens at least min_p times as likely as the best) — and one is drawn from the
 * remaining distribution at the given temperature. A seed makes the draw reproducible.
 *
 * @param topK 0 = no limit
 * @param topP 1 = no limit
 * @param minP 0 = no limit
 */
public record SamplingParams(float temperature, int topK, float topP, float minP, long seed) {
    public static final float DEFAULT_TEMPERATURE = 0.8f;
    public static final int DEFAULT_TOP_K = 40;
    public static final float DEFAULT_TOP_P = 0.95f;
    public static final float DEFAULT_MIN_P = 0.05f;

    public SamplingParams {
        if (!(temperature >= 0) || Float.isInfinite(temperature)) throw new FathomException("temperature must be >= 0, got " + temperature);
        if (topK < 0) throw new FathomException("top-k must be >= 0 (0 = off), got " + topK);
        if (!(topP > 0 && topP <= 1)) throw new FathomException("top-p must be in (0, 1], got " + topP);
        if (!(minP >= 0 && minP <= 1)) throw new FathomException("min-p must be in [0, 1], got " + minP);
    }

    public static SamplingParams greedy() {
        return new SamplingParams(0f, 0, 1f, 0f, 0);
    }

    public boolean isGreedy() {
        return temperature == 0f;
    }
}
