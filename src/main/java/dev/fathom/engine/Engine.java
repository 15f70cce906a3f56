package dev.fathom.engine;

import dev.fathom.FathomException;
import dev.fathom.model.LanguageModel;
import dev.fathom.tokenizer.StreamDecoder;
import dev.fathom.tokenizer.Tokenizer;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Consumer;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * Continuous batching over one model: requests wait in a bounded queue, join the running batch between steps, and
 * every step runs one {@link LanguageModel#decodeBatch} over all active sequences; a sequence leaves the batch as
 * soon as it finishes or is cancelled. At most {@link Options#parallel()} sequences run at once. A new request
 * starts from the longest prefix of its prompt the model's prefix cache holds, and the rest of its prompt is
 * prefilled in chunks of {@link Options#prefillChunk()} tokens, one chunk between two decode steps, so a long prompt
 * does not stall the running streams. Each request has its own sampler (own random stream), and {@code decodeBatch}
 * gives each row what a lone {@code decode} would, so a request's output does not depend on what else is in the
 * batch, nor on how its prompt was chunked or cached (chunks and cached prefixes are whole 64-row groups).
 *
 * <p>One engine thread does all model work; {@link #submit} and {@link Generation#cancel} may be called from any
 * thread. Listeners are called on the engine thread (or on the cancelling thread for a request still queued).
 *
 * <pre>{@code
 * try (Engine engine = new Engine(model, tokenizer, new Engine.Options(8, 4096, 64))) {
 *     Generation g = engine.submit(GenerationRequest.greedy(tokenizer.encode("Hello"), 32),
 *             e -> { if (e instanceof GenerationEvent.Output o) System.out.print(o.text()); });
 *     GenerationResult r = g.result().join();
 * }
 * }</pre>
 */
public final class Engine implements AutoCloseable {
    private static final Logger LOG = Logger.getLogger(Engine.class.getName());

    /**
     * @param parallel      sequences decoded together at most
     * @param contextLength positions per sequence (prompt plus output)
     * @param maxQueue      requests that may wait for a slot; one more is refused with {@link QueueFullException}
     * @param prefillChunk  prompt tokens prefilled between two decode steps (a multiple of 64)
     */
    public record Options(int parallel, int contextLength, int maxQueue, int prefillChunk) {
        public static final int DEFAULT_PREFILL_CHUNK = 256;

        public Options {
            if (parallel < 1) throw new FathomException("parallel must be >= 1, got " + parallel);
            if (contextLength < 1) throw new FathomException("the context length must be >= 1, got " + contextLength);
            if (maxQueue < 0) throw new FathomException("the queue size must be >= 0, got " + maxQueue);
            if (prefillChunk < 64 || prefillChunk % 64 != 0) {
                throw new FathomException("the prefill chunk must be a positive multiple of 64, got " + prefillChunk);
            }
        }

        public Options(int parallel, int contextLength, int maxQueue) {
            this(parallel, contextLength, maxQueue, DEFAULT_PREFILL_CHUNK);
        }
    }

    private final LanguageModel model;
    private final Tokenizer tokenizer;
    private final Options options;
    private final LanguageModel.Sequence[] stepSeqs;
    private final int[] stepTokens, stepPositions;
    private final float[][] stepLogits;
    private final int contextLength;
    private final ReentrantLock lock = new ReentrantLock();
    private final Condition wake = lock.newCondition();
    private final ArrayDeque<Generation> queue = new ArrayDeque<>();
    private final List<Active> active = new ArrayList<>();
    /** Admitted requests whose prompt is still being prefilled, in arrival order. */
    private final ArrayDeque<Active> prefilling = new ArrayDeque<>();
    private final AtomicLong ids = new AtomicLong();
    private final Thread thread;
    /** Requests taken from the queue and not finished yet (the batch plus those being admitted). */
    private final AtomicInteger running = new AtomicInteger();
    private volatile long steps;
    private boolean closed;

    public Engine(LanguageModel model, Tokenizer tokenizer, Options options) {
        if (tokenizer.vocabSize() > model.vocabSize()) {
            throw new FathomException("the tokenizer has " + tokenizer.vocabSize() + " tokens but the model only "
                    + model.vocabSize() + " embedding rows: they do not belong together");
        }
        this.model = model;
        this.tokenizer = tokenizer;
        this.options = options;
        this.stepSeqs = new LanguageModel.Sequence[options.parallel()];
        this.stepTokens = new int[options.parallel()];
        this.stepPositions = new int[options.parallel()];
        this.stepLogits = new float[options.parallel()][];
        this.contextLength = Math.min(options.contextLength(), model.maxContextLength());
        this.thread = Thread.ofPlatform().name("fathom-engine").daemon(true).start(this::run);
    }

    public LanguageModel model() {
        return model;
    }

    public Tokenizer tokenizer() {
        return tokenizer;
    }

    /** Positions per sequence: the configured context, at most the model's. */
    public int contextLength() {
        return contextLength;
    }

    public Options options() {
        return options;
    }

    /** Requests waiting for a slot. */
    public int queueLength() {
        lock.lock();
        try {
            return queue.size();
        } finally {
            lock.unlock();
        }
    }

    /** Sequences in the running batch. */
    public int activeCount() {
        return running.get();
    }

    /** Batched decode steps run so far. */
    public long steps() {
        return steps;
    }

    /**
     * Queues a request.
     *
     * @param listener receives the request's events (on the engine thread: keep it short)
     * @throws PromptTooLongException the prompt does not fit in the context
     * @throws QueueFullException     {@link Options#maxQueue()} requests are already waiting
     * @throws FathomException        the engine is closed, or a token id is outside the vocabulary
     */
    public Generation submit(GenerationRequest request, Consumer<GenerationEvent> listener) {
        if (request.prompt().length > contextLength) throw new PromptTooLongException(request.prompt().length, contextLength);
        int vocab = model.vocabSize();
        for (int t : request.prompt()) {
            if (t < 0 || t >= vocab) throw new FathomException("token id " + t + " is outside the vocabulary (0.." + (vocab - 1) + ")");
        }
        Generation g = new Generation(this, ids.incrementAndGet(), request, listener == null ? e -> {} : listener);
        lock.lock();
        try {
            if (closed) throw new FathomException("the engine is closed");
            int free = options.parallel() - running.get();
            if (queue.size() >= options.maxQueue() + Math.max(0, free)) {
                throw new QueueFullException("the queue is full (" + queue.size() + " requests waiting, at most " + options.maxQueue() + ")");
            }
            queue.add(g);
            wake.signal();
        } finally {
            lock.unlock();
        }
        return g;
    }

    /** Submits and waits for the result. */
    public GenerationResult generate(GenerationRequest request) {
        return submit(request, null).result().join();
    }

    void cancel(Generation g) {
        boolean wasQueued;
        lock.lock();
        try {
            wasQueued = queue.remove(g);
            wake.signal();
        } finally {
            lock.unlock();
        }
        if (wasQueued) finish(g, unstarted(g, System.nanoTime() - g.submittedNanos));
    }

    @Override
    public void close() {
        lock.lock();
        try {
            closed = true;
            wake.signal();
        } finally {
            lock.unlock();
        }
        try {
            thread.join();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    // ------------------------------------------------------------------------------------ engine thread

    /** One running sequence. */
    private final class Active {
        final Generation g;
        final GenerationRequest r;
        final Sampler sampler;
        final StreamDecoder decoder = tokenizer.newDecoder();
        final Map<Integer, Integer> counts = new HashMap<>();
        final List<TokenInfo> tokens = new ArrayList<>();
        final StringBuilder text = new StringBuilder();
        final StringBuilder pending = new StringBuilder();
        final int maxStop;
        final long queuedNanos;
        LanguageModel.Sequence seq;
        float[] logits;
        /** Prompt positions in the KV cache: from the prefix cache, then prefilled chunk by chunk. */
        int cached, prefilled;
        int pos;
        int nextToken;
        boolean ended;

        Active(Generation g, long queuedNanos) {
            this.g = g;
            this.r = g.request;
            this.sampler = new Sampler(r.sampling(), model.vocabSize());
            this.queuedNanos = queuedNanos;
            int m = 0;
            for (String s : r.stop()) m = Math.max(m, s.length());
            this.maxStop = m;
        }
    }

    private void run() {
        List<Generation> admitted = new ArrayList<>();
        while (true) {
            admitted.clear();
            lock.lock();
            try {
                while (!closed && queue.isEmpty() && active.isEmpty() && prefilling.isEmpty()) wake.awaitUninterruptibly();
                if (closed) break;
                while (running.get() < options.parallel() && !queue.isEmpty()) {
                    admitted.add(queue.poll());
                    running.incrementAndGet();
                }
            } finally {
                lock.unlock();
            }
            try {
                for (Generation g : admitted) admit(g);
                dropCancelled();
                if (!prefilling.isEmpty()) prefillChunk(prefilling.peek());
                if (!active.isEmpty()) step();
            } catch (RuntimeException | Error e) {
                // A bug must not leave requests waiting forever: fail what is running and keep serving.
                LOG.log(Level.SEVERE, "engine step failed", e);
                for (Active a : active) end(a, FinishReason.ERROR, e);
                for (Active a : prefilling) end(a, FinishReason.ERROR, e);
                active.clear();
                prefilling.clear();
            }
        }
        List<Generation> left;
        lock.lock();
        try {
            left = new ArrayList<>(queue);
            queue.clear();
        } finally {
            lock.unlock();
        }
        for (Active a : active) end(a, FinishReason.CANCELLED, null);
        for (Active a : prefilling) end(a, FinishReason.CANCELLED, null);
        active.clear();
        prefilling.clear();
        for (Generation g : left) finish(g, unstarted(g, 0));
    }

    /** The result of a request cancelled before it started. */
    private static GenerationResult unstarted(Generation g, long queuedNanos) {
        return new GenerationResult("", List.of(), FinishReason.CANCELLED, g.request.prompt().length, 0, 0, queuedNanos, null);
    }

    private void admit(Generation g) {
        long queued = System.nanoTime() - g.submittedNanos;
        if (g.cancelled) {
            running.decrementAndGet();
            finish(g, unstarted(g, queued));
            return;
        }
        Active a = new Active(g, queued);
        try {
            a.seq = model.newSequence(contextLength);
            a.cached = a.seq.attachCachedPrefix(a.r.prompt());
            a.prefilled = a.cached;
        } catch (RuntimeException | OutOfMemoryError e) {
            LOG.log(Level.SEVERE, "starting request " + g.id + " failed", e);
            end(a, FinishReason.ERROR, e);
            return;
        }
        prefilling.add(a);
    }

    /** Runs the next chunk of a's prompt; after the last one, a starts generating. */
    private void prefillChunk(Active a) {
        int[] prompt = a.r.prompt();
        int n = Math.min(options.prefillChunk(), prompt.length - a.prefilled);
        float[] logits;
        try {
            logits = model.forward(a.seq, Arrays.copyOfRange(prompt, a.prefilled, a.prefilled + n), a.prefilled, false)[0];
        } catch (RuntimeException | OutOfMemoryError e) {
            LOG.log(Level.SEVERE, "prefill failed for request " + a.g.id, e);
            prefilling.remove(a);
            end(a, FinishReason.ERROR, e);
            return;
        }
        a.prefilled += n;
        if (a.prefilled < prompt.length) return;
        prefilling.remove(a);
        a.logits = logits;
        a.pos = prompt.length;
        if (!emit(a, new GenerationEvent.Started(prompt.length, a.cached, a.queuedNanos))) return;
        if (a.r.maxTokens() == 0) {
            end(a, FinishReason.LENGTH, null);
            return;
        }
        if (!nextOrFail(a)) active.add(a);
    }

    /** {@link #next}, ending the request with an error if sampling or decoding its text fails. */
    private boolean nextOrFail(Active a) {
        try {
            return next(a);
        } catch (RuntimeException e) {
            LOG.log(Level.SEVERE, "sampling failed for request " + a.g.id, e);
            end(a, FinishReason.ERROR, e);
            return true;
        }
    }

    private void dropCancelled() {
        prefilling.removeIf(a -> {
            if (a.g.cancelled) end(a, FinishReason.CANCELLED, null);
            return a.g.cancelled;
        });
        for (int i = active.size() - 1; i >= 0; i--) {
            Active a = active.get(i);
            if (a.g.cancelled) {
                active.remove(i);
                end(a, FinishReason.CANCELLED, null);
            }
        }
    }

    private void step() {
        int n = active.size();
        LanguageModel.Sequence[] seqs = stepSeqs;
        int[] tokens = stepTokens;
        int[] positions = stepPositions;
        float[][] logits = stepLogits;
        for (int i = 0; i < n; i++) {
            Active a = active.get(i);
            seqs[i] = a.seq;
            tokens[i] = a.nextToken;
            positions[i] = a.pos;
            logits[i] = a.logits;
        }
        try {
            model.decodeBatch(seqs, tokens, positions, n, logits);
        } catch (RuntimeException | OutOfMemoryError e) {
            LOG.log(Level.SEVERE, "decode step failed for " + n + " sequences", e);
            for (Active a : active) end(a, FinishReason.ERROR, e);
            active.clear();
            return;
        }
        steps++;
        for (int i = n - 1; i >= 0; i--) {
            Active a = active.get(i);
            a.pos++;
            if (nextOrFail(a)) active.remove(i);
        }
    }

    /** Samples the next token from a.logits and reports it; returns true when the sequence has finished. */
    private boolean next(Active a) {
        if (a.g.cancelled) {
            end(a, FinishReason.CANCELLED, null);
            return true;
        }
        float[] logits = a.logits;
        GenerationRequest r = a.r;
        if (r.frequencyPenalty() != 0 || r.presencePenalty() != 0) {
            for (Map.Entry<Integer, Integer> e : a.counts.entrySet()) {
                logits[e.getKey()] -= e.getValue() * r.frequencyPenalty() + r.presencePenalty();
            }
        }
        int token = a.sampler.sample(logits);
        if (tokenizer.isEndOfGeneration(token)) {
            return finishText(a, FinishReason.STOP);
        }
        TokenInfo info = r.topLogprobs() >= 0 ? Logprobs.of(tokenizer, logits, token, r.topLogprobs()) : new TokenInfo(token, null, null, Float.NaN, List.of());
        a.tokens.add(info);
        if (r.frequencyPenalty() != 0 || r.presencePenalty() != 0) a.counts.merge(token, 1, Integer::sum);
        a.pending.append(a.decoder.next(token));
        int stopAt = findStop(a);
        if (stopAt >= 0) {
            a.pending.setLength(stopAt);
            if (!emitText(a, a.pending.length(), List.of(info))) return true;
            end(a, FinishReason.STOP, null);
            return true;
        }
        if (!emitText(a, a.pending.length() - heldBack(a), List.of(info))) return true;
        if (a.tokens.size() >= r.maxTokens() || a.pos >= contextLength) return finishText(a, FinishReason.LENGTH);
        a.nextToken = token;
        return false;
    }

    /** Emits the held-back text, then ends. Returns true. */
    private boolean finishText(Active a, FinishReason reason) {
        a.decoder.reset(); // a character cut by the last token (-n, context) is dropped, not shown as U+FFFD
        int stopAt = findStop(a);
        if (stopAt >= 0) {
            a.pending.setLength(stopAt);
            reason = FinishReason.STOP;
        }
        if (a.pending.length() > 0 && !emitText(a, a.pending.length(), List.of())) return true;
        end(a, reason, null);
        return true;
    }

    /** Index in a.pending of the earliest stop string, or -1. */
    private static int findStop(Active a) {
        int best = -1;
        for (String s : a.r.stop()) {
            int i = a.pending.indexOf(s);
            if (i >= 0 && (best < 0 || i < best)) best = i;
        }
        return best;
    }

    /** Length of the longest tail of a.pending that is a proper prefix of a stop string (it may still become one). */
    private static int heldBack(Active a) {
        int len = a.pending.length();
        for (int k = Math.min(len, a.maxStop - 1); k > 0; k--) {
            for (String s : a.r.stop()) {
                if (s.length() > k && startsWith(a.pending, len - k, s, k)) return k;
            }
        }
        return 0;
    }

    private static boolean startsWith(StringBuilder sb, int from, String s, int k) {
        for (int i = 0; i < k; i++) if (sb.charAt(from + i) != s.charAt(i)) return false;
        return true;
    }

    /** Releases pending[0, upTo) as an Output event. Returns false if the listener failed (the request then ended). */
    private boolean emitText(Active a, int upTo, List<TokenInfo> tokens) {
        String out = a.pending.substring(0, upTo);
        a.pending.delete(0, upTo);
        a.text.append(out);
        return emit(a, new GenerationEvent.Output(out, tokens));
    }

    private boolean emit(Active a, GenerationEvent e) {
        try {
            a.g.listener.accept(e);
            return true;
        } catch (RuntimeException | Error ex) { // an Error thrown before the request joined the batch would leave it unfinished
            LOG.log(Level.WARNING, "listener of request " + a.g.id + " failed; cancelling it", ex);
            a.g.cancelled = true;
            end(a, FinishReason.CANCELLED, null);
            return false;
        }
    }

    private void end(Active a, FinishReason reason, Throwable error) {
        if (a.ended) return;
        a.ended = true;
        running.decrementAndGet();
        if (a.seq != null) a.seq.close(); // its KV blocks go back to the model's pool
        a.seq = null;
        a.logits = null;
        finish(a.g, new GenerationResult(a.text.toString(), List.copyOf(a.tokens), reason, a.r.prompt().length,
                a.cached, a.tokens.size(), a.queuedNanos, error));
    }

    private static void finish(Generation g, GenerationResult result) {
        if (g.result.isDone()) return;
        try {
            g.listener.accept(new GenerationEvent.Finished(result));
        } catch (RuntimeException ex) {
            LOG.log(Level.WARNING, "listener of request " + g.id + " failed on finish", ex);
        }
        g.result.complete(result);
    }
}
