package dev.fathom.gguf;

import dev.fathom.FathomException;

import java.nio.file.Path;

/** A GGUF file that is malformed or uses something Fathom does not read; the message names file and field. */
public final class GgufFormatException extends FathomException {
    public GgufFormatException(Path file, String message) {
        super(file + ": " + message);
    }
}
