package dev.fathom.bench;

import dev.fathom.engine.Engine;
import dev.fathom.engine.GenerationEvent;
import dev.fathom.engine.GenerationRequest;
import dev.fathom.engine.GenerationResult;
import dev.fathom.kv.KvBlockPool;
import dev.fathom.model.LoadedModel;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Locale;

/**
 * Time to first token for a prompt whose first tokens are in the context cache, against the same prompt computed
 * cold: {@code ContextCacheBench MODEL [threads] [promptTokens] [cachedTokens] [runs] [cacheDir]}, run with the test
 * classpath ({@code java --add-modules jdk.incubator.vector -cp target/test-classes:target/fathom.jar
 * dev.fathom.bench.ContextCacheBench model.gguf 2 2048 1984 3}).
 *
 * <p>Each run uses its own prompt pair: prompt A (computed cold, its blocks cached) and prompt B, which shares A's
 * first {@code cachedTokens} tokens and differs after. B's time to first token is measured from memory; then the
 * model and its cache are closed (the blocks written to the folder) and opened again, so that B's prefix can only
 * come from disk. The folder's files were just written, so the operating system's page cache is warm.
 */
public final class ContextCacheBench {
    public static void main(String[] args) throws Exception {
        Path model = Path.of(args[0]);
        int threads = args.length > 1 ? Integer.parseInt(args[1]) : Runtime.getRuntime().availableProcessors();
        int promptTokens = args.length > 2 ? Integer.parseInt(args[2]) : 2048;
        int cachedTokens = args.length > 3 ? Integer.parseInt(args[3]) : 1984;
        int runs = args.length > 4 ? Integer.parseInt(args[4]) : 3;
        boolean ownDir = args.length <= 5;
        Path dir = ownDir ? Files.createTempDirectory("fathom-kv-bench") : Path.of(args[5]);
        long mem = 4L << 30, disk = 64L << 30;
        int ctx = promptTokens + 64;
        long[] cold = new long[runs], fromMemory = new long[runs], fromDisk = new long[runs];
        long fileBytes;
        try (LoadedModel m = LoadedModel.open(model, threads)) {
            vocab = Math.min(20000, m.tokenizer().vocabSize());
            fileBytes = m.usePrefixCache(mem, dir, disk).disk().fileBytes();
            try (Engine e = new Engine(m.model(), m.tokenizer(), new Engine.Options(1, ctx, 1))) {
                ttft(e, prompt(promptTokens, cachedTokens, 999, false), 0); // warm-up: the JIT compiles the prefill path
                for (int r = 0; r < runs; r++) {
                    cold[r] = ttft(e, prompt(promptTokens, cachedTokens, r, false), 0);
                    fromMemory[r] = ttft(e, prompt(promptTokens, cachedTokens, r, true), cachedTokens);
                }
            }
        }
        try (LoadedModel m = LoadedModel.open(model, threads)) { // a restart: nothing in memory
            m.usePrefixCache(mem, dir, disk);
            try (Engine e = new Engine(m.model(), m.tokenizer(), new Engine.Options(1, ctx, 1))) {
                ttft(e, prompt(promptTokens, cachedTokens, 998, false), 0); // the same warm-up as before
                for (int r = 0; r < runs; r++) fromDisk[r] = ttft(e, prompt(promptTokens, cachedTokens, r, true), cachedTokens);
            }
        }
        System.out.printf(Locale.ROOT, "%s, %d threads: time to first token for a %d-token prompt, %d of its tokens cached (%d runs)%n",
                model.getFileName(), threads, promptTokens, cachedTokens, runs);
        System.out.printf(Locale.ROOT, "  cold        %s%n", ms(cold));
        System.out.printf(Locale.ROOT, "  from memory %s  -> %.1fx faster%n", ms(fromMemory), median(cold) / (double) median(fromMemory));
        System.out.printf(Locale.ROOT, "  from disk   %s  -> %.1fx faster (after closing and reopening the model and its cache)%n",
                ms(fromDisk), median(cold) / (double) median(fromDisk));
        System.out.printf(Locale.ROOT, "  disk: %d bytes per %d-token block file = %.0f bytes per cached token (%s)%n",
                fileBytes, KvBlockPool.BLOCK_TOKENS, fileBytes / (double) KvBlockPool.BLOCK_TOKENS, ownDir ? "a temporary folder, removed" : dir);
        if (ownDir) {
            try (var files = Files.walk(dir)) {
                for (Path p : files.sorted(java.util.Comparator.reverseOrder()).toList()) Files.delete(p);
            }
        }
    }

    /** Prompt A of run r, or its partner B: the same first {@code shared} tokens, other tokens after. */
    private static int vocab = 20000;

    static int[] prompt(int length, int shared, int run, boolean partner) {
        int[] p = new int[length];
        for (int i = 0; i < length; i++) {
            int salt = i < shared || !partner ? run : run + 500;
            p[i] = 100 + (int) Math.floorMod(i * 7919L + salt * 104729L, vocab - 100);
        }
        return p;
    }

    /** Nanoseconds from submitting to the first generated token; checks the expected cache hit. */
    static long ttft(Engine e, int[] prompt, int expectedHit) {
        long t0 = System.nanoTime();
        long[] first = {0};
        GenerationResult r = e.submit(GenerationRequest.greedy(prompt, 1), ev -> {
            if (ev instanceof GenerationEvent.Output o && !o.tokens().isEmpty() && first[0] == 0) first[0] = System.nanoTime();
        }).result().join();
        if (r.cachedTokens() != expectedHit) {
            throw new IllegalStateException("expected " + expectedHit + " cached tokens, the engine found " + r.cachedTokens());
        }
        return first[0] - t0;
    }

    private static long median(long[] v) {
        long[] s = v.clone();
        Arrays.sort(s);
        return s[s.length / 2];
    }

    private static String ms(long[] v) {
        StringBuilder sb = new StringBuilder();
        for (long x : v) sb.append(String.format(Locale.ROOT, "%9.1f", x / 1e6));
        return sb.append(String.format(Locale.ROOT, " ms (median %.1f)", median(v) / 1e6)).toString();
    }

    private ContextCacheBench() {}
}
