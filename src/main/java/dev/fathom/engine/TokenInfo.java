package dev.fathom.engine;

import java.util.List;

/**
 * One generated token.
 *
 * @param logprob the natural log of its probability (after penalties, before temperature and truncation), or NaN
 *                when the request asked for no log-probabilities
 * @param top     the most likely alternatives, most likely first (empty unless asked for)
 */
public record TokenInfo(int id, String text, byte[] bytes, float logprob, List<Alternative> top) {
    public record Alternative(int id, String text, byte[] bytes, float logprob) {}
}
