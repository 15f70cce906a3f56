package dev.fathom.engine;

/** Why a generation ended. */
public enum FinishReason {
    /** An end-of-generation token or a stop string. */
    STOP,
    /** The token limit or the end of the context. */
    LENGTH,
    /** {@link Generation#cancel()}, or the engine closed. */
    CANCELLED,
    /** The model failed; {@link GenerationResult#error()} says why. */
    ERROR
}
