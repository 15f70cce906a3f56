package dev.fathom.chat;

import java.util.ArrayList;
import java.util.List;

/**
 * Splits the output of a reasoning model (DeepSeek-R1 and its distills) into reasoning and content, as the OpenAI-style
 * {@code reasoning_content} / {@code content} pair, streaming.
 * <p>
 * Text between {@code <think>} and {@code </think>} is reasoning, the rest content. When the prompt already opened
 * {@code <think>} (the R1 templates end the generation prompt with {@code "<think>\n"}; see
 * {@link #startsInReasoning}), the output starts as reasoning and only the closing tag appears. Rules:
 * <ul>
 *   <li>Before any reasoning, only {@code <think>} is a tag (text before it is content); inside reasoning only
 *       {@code </think>} is (a nested {@code <think>} is reasoning text); after {@code </think>} nothing is a tag: the
 *       rest is content, a later {@code <think>} included. The tags themselves are in neither part.</li>
 *   <li>Whitespace right after {@code </think>} (R1 writes {@code "</think>\n\n"}) is dropped from the content.</li>
 *   <li>Text that may be the start of the awaited tag (e.g. {@code "</thi"}) is held back until the next text
 *       settles it, so a partial tag never reaches a delta; {@link #finish} releases what is left, and reasoning
 *       never closed stays reasoning.</li>
 * </ul>
 * Each {@link #feed} call is one token: it counts as a reasoning token when any of it was reasoning or a tag. Not
 * thread-safe: one parser per generation.
 */
public final class ReasoningParser {
    public static final String OPEN = "<think>";
    public static final String CLOSE = "</think>";

    /** Which part of the answer a piece of text belongs to. */
    public enum Kind { REASONING, CONTENT }

    /** A piece of new text of one kind. */
    public record Delta(Kind kind, String text) {}

    /** The whole output, split. */
    public record Result(String reasoning, String content) {}

    private enum State { BEFORE, REASONING, AFTER }

    private State state;
    private final StringBuilder held = new StringBuilder();
    private final StringBuilder reasoning = new StringBuilder();
    private final StringBuilder content = new StringBuilder();
    private boolean contentStarted; // after </think>: leading whitespace is dropped until the first other character
    private int reasoningTokens;
    private int tokens;

    /** @param startsInReasoning whether the prompt left {@code <think>} open (see {@link #startsInReasoning}) */
    public ReasoningParser(boolean startsInReasoning) {
        state = startsInReasoning ? State.REASONING : State.BEFORE;
    }

    /** Whether output continuing {@code renderedPrompt} starts inside reasoning: the prompt's last think tag is an open one. */
    public static boolean startsInReasoning(String renderedPrompt) {
        return renderedPrompt.lastIndexOf(OPEN) > renderedPrompt.lastIndexOf(CLOSE);
    }

    /** Splits a complete output. */
    public static Result parse(String output, boolean startsInReasoning) {
        ReasoningParser p = new ReasoningParser(startsInReasoning);
        p.feed(output);
        p.finish();
        return new Result(p.reasoning(), p.content());
    }

    /** Takes the text of the next token; returns the new text that is settled, in order, adjacent kinds merged. */
    public List<Delta> feed(String tokenText) {
        tokens++;
        List<Delta> out = new ArrayList<>(2);
        boolean reasoningToken = state == State.REASONING;
        held.append(tokenText);
        while (!held.isEmpty()) {
            if (state == State.AFTER) {
                emitContent(out, held.toString());
                held.setLength(0);
                break;
            }
            String tag = state == State.BEFORE ? OPEN : CLOSE;
            int at = held.indexOf(tag);
            if (at >= 0) {
                emit(out, held.substring(0, at));
                held.delete(0, at + tag.length());
                state = state == State.BEFORE ? State.REASONING : State.AFTER;
                reasoningToken = true;
                continue;
            }
            int keep = partialTagSuffix(held, tag);
            emit(out, held.substring(0, held.length() - keep));
            held.delete(0, held.length() - keep);
            break;
        }
        if (reasoningToken) reasoningTokens++;
        return out;
    }

    /** The end of the output: releases held text (as reasoning when reasoning was never closed). */
    public List<Delta> finish() {
        List<Delta> out = new ArrayList<>(1);
        emit(out, held.toString());
        held.setLength(0);
        return out;
    }

    /** Whether the output is inside reasoning now (opened and not yet closed). */
    public boolean inReasoning() {
        return state == State.REASONING;
    }

    /** All reasoning text settled so far. */
    public String reasoning() {
        return reasoning.toString();
    }

    /** All content text settled so far. */
    public String content() {
        return content.toString();
    }

    /** Tokens fed that were reasoning (partly or wholly, tags included). */
    public int reasoningTokens() {
        return reasoningTokens;
    }

    /** Tokens fed in all. */
    public int tokens() {
        return tokens;
    }

    private void emit(List<Delta> out, String text) {
        if (state == State.REASONING) add(out, Kind.REASONING, text);
        else if (state == State.AFTER) emitContent(out, text);
        else add(out, Kind.CONTENT, text);
    }

    private void emitContent(List<Delta> out, String text) {
        if (!contentStarted) {
            text = text.stripLeading();
            if (text.isEmpty()) return;
            contentStarted = true;
        }
        add(out, Kind.CONTENT, text);
    }

    private void add(List<Delta> out, Kind kind, String text) {
        if (text.isEmpty()) return;
        (kind == Kind.REASONING ? reasoning : content).append(text);
        if (!out.isEmpty() && out.getLast().kind() == kind) {
            out.set(out.size() - 1, new Delta(kind, out.getLast().text() + text));
        } else {
            out.add(new Delta(kind, text));
        }
    }

    /** Length of the longest end of {@code s} that is a proper start of {@code tag}. */
    private static int partialTagSuffix(CharSequence s, String tag) {
        for (int k = Math.min(tag.length() - 1, s.length()); k > 0; k--) {
            if (tag.startsWith(s.subSequence(s.length() - k, s.length()).toString())) return k;
        }
        return 0;
    }
}
