package dev.fathom.server;

/**
 * Splits a chat answer's streamed text into reasoning ({@code <think>…</think>}) and content. Placeholder until
 * the chat package's reasoning parser is merged: it passes everything through as content.
 */
final class Reasoning {
    record Part(String reasoning, String content) {}

    private final boolean enabled;

    private Reasoning(boolean enabled) {
        this.enabled = enabled;
    }

    static Reasoning forPrompt(boolean reasoningModel, String prompt) {
        return new Reasoning(false);
    }

    boolean enabled() {
        return enabled;
    }

    boolean inReasoning() {
        return false;
    }

    Part feed(String text) {
        return new Part("", text);
    }

    Part flush() {
        return new Part("", "");
    }
}
