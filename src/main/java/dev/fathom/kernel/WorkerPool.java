package dev.fathom.kernel;

import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;

/**
 * A fixed set of daemon worker threads that run one {@link Job} at a time together with the calling thread.
 * Dispatch allocates nothing: the caller publishes the job by bumping a volatile generation counter; workers spin
 * briefly on it (decode issues hundreds of products per token, so the next one usually comes within microseconds)
 * and then park. The caller works as participant 0 and waits for the others the same way.
 * {@link #run} is serialised: one job at a time, whoever calls.
 */
public final class WorkerPool implements AutoCloseable {
    /** Parallel work: {@link #run(int)} is called once on each participant, 0 being the calling thread. */
    public abstract static class Job {
        protected abstract void run(int participant);
    }

    private static final long SPIN_NANOS = 200_000;

    private final Worker[] workers;
    private final AtomicInteger pending = new AtomicInteger();
    private volatile int generation;
    private volatile boolean closed;
    private volatile Thread caller;
    private volatile boolean callerParked;
    private volatile Throwable failure;
    private Job job;

    /** A pool of {@code threads} participants: the caller plus {@code threads - 1} workers. */
    public WorkerPool(int threads) {
        if (threads < 1) throw new IllegalArgumentException("threads must be at least 1: " + threads);
        workers = new Worker[threads - 1];
        for (int i = 0; i < workers.length; i++) {
            workers[i] = new Worker(i + 1);
            workers[i].thread.start();
        }
    }

    /** Participants in a job: the worker threads plus the caller. */
    public int threads() {
        return workers.length + 1;
    }

    /** Runs {@code job} on every participant and returns when all are done; rethrows a participant's failure. */
    public synchronized void run(Job job) {
        if (closed) throw new IllegalStateException("worker pool closed");
        if (workers.length == 0) {
            job.run(0);
            return;
        }
        this.job = job;
        failure = null;
        caller = Thread.currentThread();
        pending.set(workers.length);
        generation++; // volatile write publishes job and the reset state
        for (Worker w : workers) {
            if (w.parked) LockSupport.unpark(w.thread);
        }
        Throwable own = null;
        try {
            job.run(0);
        } catch (Throwable t) {
            own = t;
        }
        if (pending.get() != 0) {
            long deadline = System.nanoTime() + SPIN_NANOS;
            int spins = 0;
            while (pending.get() != 0) {
                if ((++spins & 63) != 0 || System.nanoTime() < deadline) {
                    Thread.onSpinWait();
                } else {
                    callerParked = true;
                    if (pending.get() != 0) LockSupport.park(this);
                    callerParked = false;
                }
            }
        }
        this.job = null;
        Throwable t = own != null ? own : failure;
        if (t instanceof RuntimeException e) throw e;
        if (t instanceof Error e) throw e;
        if (t != null) throw new RuntimeException(t);
    }

    /** Stops the workers (they are daemons, so an unclosed pool does not keep the JVM alive). */
    @Override
    public void close() {
        closed = true;
        for (Worker w : workers) LockSupport.unpark(w.thread);
    }

    private final class Worker implements Runnable {
        final int participant;
        final Thread thread;
        volatile boolean parked;

        Worker(int participant) {
            this.participant = participant;
            thread = new Thread(this, "fathom-kernel-" + participant);
            thread.setDaemon(true);
        }

        @Override
        public void run() {
            int seen = 0;
            while (true) {
                long deadline = System.nanoTime() + SPIN_NANOS;
                int spins = 0;
                while (generation == seen) {
                    if (closed) return;
                    if ((++spins & 63) != 0 || System.nanoTime() < deadline) {
                        Thread.onSpinWait();
                    } else {
                        parked = true;
                        if (generation == seen && !closed) LockSupport.park(WorkerPool.this);
                        parked = false;
                    }
                }
                seen = generation;
                if (closed) return;
                try {
                    job.run(participant);
                } catch (Throwable t) {
                    failure = t;
                }
                if (pending.decrementAndGet() == 0 && callerParked) LockSupport.unpark(caller);
            }
        }
    }
}
