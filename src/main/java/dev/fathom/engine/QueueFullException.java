package dev.fathom.engine;

/** {@link Engine#submit} found the waiting queue full. */
public final class QueueFullException extends RuntimeException {
    public QueueFullException(String message) {
        super(message);
    }
}
