package dev.fathom;

/**
 * An error caused by what the user gave Fathom (a file, an option, a request), with a message that says
 * which input, which part of it and what was expected. The CLI prints the message and exits with code 2;
 * it never shows a stack trace for these.
 */
public class FathomException extends RuntimeException {
    public FathomException(String message) {
        super(message);
    }

    public FathomException(String message, Throwable cause) {
        super(message, cause);
    }
}
