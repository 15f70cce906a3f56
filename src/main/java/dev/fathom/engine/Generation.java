package dev.fathom.engine;

import java.util.concurrent.CompletableFuture;
import java.util.function.Consumer;

/**
 * A handle on a submitted request: its {@link #result()} completes when it finishes (also when cancelled or
 * failed: the future itself never fails), and {@link #cancel()} stops it at once — a queued request leaves the
 * queue, a running one leaves the batch before the next step and its sequence memory is released.
 */
public final class Generation {
    private final Engine engine;
    final long id;
    final GenerationRequest request;
    final Consumer<GenerationEvent> listener;
    final long submittedNanos = System.nanoTime();
    final CompletableFuture<GenerationResult> result = new CompletableFuture<>();
    volatile boolean cancelled;

    Generation(Engine engine, long id, GenerationRequest request, Consumer<GenerationEvent> listener) {
        this.engine = engine;
        this.id = id;
        this.request = request;
        this.listener = listener;
    }

    public long id() {
        return id;
    }

    public GenerationRequest request() {
        return request;
    }

    /** Completes with the result once the generation ends, whatever the reason. */
    public CompletableFuture<GenerationResult> result() {
        return result;
    }

    public boolean isDone() {
        return result.isDone();
    }

    /** Stops the generation (no effect once it has finished). */
    public void cancel() {
        if (result.isDone()) return;
        cancelled = true;
        engine.cancel(this);
    }
}
