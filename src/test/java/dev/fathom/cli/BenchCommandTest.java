package dev.fathom.cli;

import dev.fathom.Fixtures;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.PrimitiveIterator;
import java.util.stream.LongStream;

import static org.junit.jupiter.api.Assertions.*;

class BenchCommandTest {
    private static int warmUp(long... timings) {
        PrimitiveIterator.OfLong it = LongStream.of(timings).iterator();
        return BenchCommand.warmUp(it::nextLong);
    }

    @Test
    void warmUpRunsUntilTwoTimingsAgree() {
        assertEquals(2, warmUp(100, 103));
        assertEquals(4, warmUp(1000, 400, 300, 290), "the JIT settles after the first runs");
        assertEquals(5, warmUp(100, 200, 100, 200, 196));
    }

    @Test
    void warmUpStopsAtItsCaps() {
        long[] jumpy = LongStream.range(0, 2L * BenchCommand.WARM_UP_MAX_RUNS).map(i -> i % 2 == 0 ? 100 : 200).toArray();
        assertEquals(BenchCommand.WARM_UP_MAX_RUNS, warmUp(jumpy));
        long slow = BenchCommand.WARM_UP_MAX_NS / 2;
        assertEquals(2, warmUp(slow, 2 * slow, slow), "at most the time cap");
    }

    @Test
    void benchSaysHowItWarmedUp() {
        FathomCliTest.Run r = FathomCliTest.run("bench", "-m", Fixtures.golden("v3-tiny/model.gguf").toString(),
                "-p", "8", "-n", "4", "-r", "2", "--no-bandwidth", "-t", "1");
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().matches("(?s).*\nwarm-up \\(not counted\\): until two runs in a row agreed within 5%.*: pp8 \\d+ runs? tg4 \\d+ runs?\n.*"), r.out());
        assertEquals(List.of(), r.out().lines().filter(l -> l.contains("| pp8 ") && l.contains("NaN")).toList());
    }
}
