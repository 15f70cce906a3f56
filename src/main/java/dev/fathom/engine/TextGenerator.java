package dev.fathom.engine;

import dev.fathom.FathomException;
import dev.fathom.model.LanguageModel;
import dev.fathom.tokenizer.StreamDecoder;
import dev.fathom.tokenizer.Tokenizer;

import java.util.function.Consumer;

/**
 * Generates a continuation of one prompt: the prompt runs through the model's prefill path, then tokens are
 * sampled and fed back one at a time through the decode path (the latent cache), each piece of text streamed
 * as soon as it forms whole characters. Stops at an end-of-generation token, after {@code maxTokens}, or when
 * the context is full.
 */
public final class TextGenerator {
    public enum StopReason { END_OF_TEXT, MAX_TOKENS, CONTEXT_FULL }

    public record Result(int promptTokens, long promptNanos, int generatedTokens, long generationNanos, StopReason stopReason) {
        public double promptTokensPerSecond() {
            return promptTokens * 1e9 / Math.max(1, promptNanos);
        }

        public double generationTokensPerSecond() {
            return generatedTokens * 1e9 / Math.max(1, generationNanos);
        }
    }

    private final LanguageModel model;
    private final Tokenizer tokenizer;

    public TextGenerator(LanguageModel model, Tokenizer tokenizer) {
        this.model = model;
        this.tokenizer = tokenizer;
    }

    /**
     * @param contextLength positions available to prompt and continuation together
     * @param text          receives the continuation piece by piece
     */
    public Result generate(int[] prompt, int maxTokens, int contextLength, Sampler sampler, Consumer<String> text) {
        if (prompt.length == 0) throw new FathomException("the prompt is empty (no tokens)");
        if (prompt.length > contextLength) {
            throw new FathomException("the prompt has " + prompt.length + " tokens but the context holds " + contextLength
                    + " (raise --ctx, at most " + model.maxContextLength() + " for this model)");
        }
        LanguageModel.Sequence state = model.newSequence(contextLength);
        long t0 = System.nanoTime();
        float[] logits = model.forward(state, prompt, 0, false)[0];
        long t1 = System.nanoTime();
        StreamDecoder decoder = tokenizer.newDecoder();
        int pos = prompt.length;
        int generated = 0;
        StopReason reason = StopReason.MAX_TOKENS;
        while (generated < maxTokens) {
            int token = sampler.sample(logits);
            if (tokenizer.isEndOfGeneration(token)) {
                reason = StopReason.END_OF_TEXT;
                break;
            }
            generated++;
            String piece = decoder.next(token);
            if (!piece.isEmpty()) text.accept(piece);
            if (generated == maxTokens) break;
            if (pos == contextLength) {
                reason = StopReason.CONTEXT_FULL;
                break;
            }
            model.decode(state, token, pos++, logits);
        }
        String rest = decoder.flush();
        if (!rest.isEmpty()) text.accept(rest);
        return new Result(prompt.length, t1 - t0, generated, System.nanoTime() - t1, reason);
    }
}
