package dev.fathom.bench;

import dev.fathom.engine.Engine;
import dev.fathom.engine.GenerationEvent;
import dev.fathom.engine.GenerationRequest;
import dev.fathom.model.LoadedModel;

import java.nio.file.Path;
import java.util.Arrays;
import java.util.Locale;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The longest pause a running stream sees while a long prompt arrives, with the prompt prefilled in one piece and in
 * chunks: {@code PrefillStallBench MODEL [threads] [promptTokens] [chunk...]}, run with the test classpath
 * ({@code java --add-modules jdk.incubator.vector -cp target/test-classes:target/fathom.jar
 * dev.fathom.bench.PrefillStallBench model.gguf 2 4096 4096 256}). A chunk as long as the prompt is the whole-piece
 * case. Each configuration runs twice after a warm-up; the figures are of the second run.
 */
public final class PrefillStallBench {
    public static void main(String[] args) throws Exception {
        Path model = Path.of(args[0]);
        int threads = args.length > 1 ? Integer.parseInt(args[1]) : Runtime.getRuntime().availableProcessors();
        int promptTokens = args.length > 2 ? Integer.parseInt(args[2]) : 4096;
        int[] chunks = args.length > 3 ? Arrays.stream(args, 3, args.length).mapToInt(Integer::parseInt).toArray()
                : new int[] {(promptTokens + 63) / 64 * 64, 256};
        try (LoadedModel m = LoadedModel.open(model, threads)) {
            int ctx = Math.min(promptTokens + 64, m.model().maxContextLength());
            int[] prompt = new int[Math.min(promptTokens, ctx - 64)];
            for (int i = 0; i < prompt.length; i++) prompt[i] = 100 + (i * 7919) % 5000;
            for (int chunk : chunks) {
                for (int run = 0; run < 3; run++) {
                    long[] r = measure(m, new Engine.Options(2, ctx, 2, chunk), prompt);
                    if (run == 2) {
                        System.out.printf(Locale.ROOT, "prompt %d tokens, chunk %5d: longest gap of the running stream %7.1f ms"
                                        + " (median gap %.1f ms), long prompt's time to first token %7.1f ms%n",
                                prompt.length, chunk, r[0] / 1e6, r[1] / 1e6, r[2] / 1e6);
                    }
                }
            }
        }
    }

    /** {longest gap, median gap, the long prompt's time to its first token} in ns. */
    private static long[] measure(LoadedModel m, Engine.Options options, int[] prompt) {
        try (Engine e = new Engine(m.model(), m.tokenizer(), options)) {
            long[] gaps = new long[100_000];
            AtomicLong last = new AtomicLong(), count = new AtomicLong();
            var running = e.submit(GenerationRequest.greedy(new int[] {1, 2, 3, 4}, options.contextLength() - 8), ev -> {
                if (ev instanceof GenerationEvent.Output o && !o.tokens().isEmpty()) {
                    long now = System.nanoTime(), prev = last.getAndSet(now);
                    if (prev != 0 && count.get() < gaps.length) gaps[(int) count.getAndIncrement()] = now - prev;
                }
            });
            while (count.get() < 8) Thread.onSpinWait();
            long from = count.get();
            long t0 = System.nanoTime();
            long[] ttft = new long[1];
            e.submit(GenerationRequest.greedy(prompt, 1), ev -> {
                if (ev instanceof GenerationEvent.Started) ttft[0] = System.nanoTime() - t0;
            }).result().join();
            long to = count.get() + 2; // the gap the prefill caused ends with the stream's next token
            while (count.get() < to) Thread.onSpinWait();
            running.cancel();
            long[] during = Arrays.copyOfRange(gaps, (int) from, (int) to);
            long max = Arrays.stream(during).max().orElse(0);
            Arrays.sort(during);
            return new long[] {max, during[during.length / 2], ttft[0]};
        }
    }
}
