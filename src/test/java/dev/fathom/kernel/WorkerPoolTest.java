package dev.fathom.kernel;

import org.junit.jupiter.api.Test;

import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicIntegerArray;

import static org.junit.jupiter.api.Assertions.*;

class WorkerPoolTest {

    @Test
    void everyParticipantRunsEachJobOnce() {
        try (WorkerPool pool = new WorkerPool(3)) {
            AtomicIntegerArray seen = new AtomicIntegerArray(3);
            WorkerPool.Job job = new WorkerPool.Job() {
                @Override
                protected void run(int participant) {
                    seen.incrementAndGet(participant);
                }
            };
            for (int i = 0; i < 20_000; i++) pool.run(job);
            for (int p = 0; p < 3; p++) assertEquals(20_000, seen.get(p));
        }
    }

    @Test
    void aWorkersFailureReachesTheCaller() throws InterruptedException {
        try (WorkerPool pool = new WorkerPool(2)) {
            AtomicInteger calls = new AtomicInteger();
            WorkerPool.Job bad = new WorkerPool.Job() {
                @Override
                protected void run(int participant) {
                    calls.incrementAndGet();
                    if (participant == 1) throw new IllegalStateException("boom");
                }
            };
            assertThrows(IllegalStateException.class, () -> pool.run(bad));
            Thread.sleep(5); // let the worker park, then wake it again
            WorkerPool.Job ok = new WorkerPool.Job() {
                @Override
                protected void run(int participant) {
                    calls.incrementAndGet();
                }
            };
            Thread.sleep(300);
            pool.run(ok);
            assertEquals(4, calls.get());
        }
    }

    @Test
    void singleThreadPoolRunsOnTheCaller() {
        try (WorkerPool pool = new WorkerPool(1)) {
            Thread[] ran = new Thread[1];
            pool.run(new WorkerPool.Job() {
                @Override
                protected void run(int participant) {
                    ran[0] = Thread.currentThread();
                }
            });
            assertSame(Thread.currentThread(), ran[0]);
        }
        assertThrows(IllegalArgumentException.class, () -> new WorkerPool(0));
    }
}
