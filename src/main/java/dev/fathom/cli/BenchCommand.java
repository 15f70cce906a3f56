package dev.fathom.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.fathom.FathomException;
import dev.fathom.kernel.MemoryBandwidth;
import dev.fathom.model.LoadedModel;
import dev.fathom.model.Transformer;
import dev.fathom.model.LanguageModel;
import dev.fathom.tensor.Tensor;
import dev.fathom.tensor.TensorType;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.Callable;
import java.util.function.LongSupplier;

@Command(name = "bench", mixinStandardHelpOptions = true,
        header = "Measures prompt processing and generation speed, like llama-bench.",
        description = "Measures prompt processing (ppN: N prompt tokens in one prefill) and generation (tgN: N tokens"
                + " decoded one at a time) like llama-bench, with the same field names in -o json, so the two can be"
                + " compared on the same file. Also measures the machine's memory read bandwidth, the limit of decode."
                + " Each test is first run, uncounted, until two runs in a row agree within 5%% (the JIT has settled).")
final class BenchCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Mixin
    ModelOption model;

    @Option(names = {"-p", "--n-prompt"}, split = ",", paramLabel = "N", defaultValue = "512",
            description = "Prompt sizes, comma-separated (default: ${DEFAULT-VALUE}).")
    List<Integer> prompts;

    @Option(names = {"-n", "--n-gen"}, split = ",", paramLabel = "N", defaultValue = "128",
            description = "Generation lengths, comma-separated (default: ${DEFAULT-VALUE}).")
    List<Integer> gens;

    @Option(names = {"-r", "--repetitions"}, paramLabel = "N", defaultValue = "5", description = "Repetitions of each test (default: ${DEFAULT-VALUE}).")
    int repetitions;

    @Option(names = {"-o", "--output"}, paramLabel = "FORMAT", defaultValue = "md", description = "md (a table), json or jsonl (default: ${DEFAULT-VALUE}).")
    String output;

    @Option(names = "--no-bandwidth", description = "Skip the memory bandwidth measurement.")
    boolean noBandwidth;

    /** Warm-up ends when two runs in a row agree within this fraction (the JIT has settled), or at a cap. */
    static final double WARM_UP_AGREE = 0.05;
    static final int WARM_UP_MAX_RUNS = 50;
    static final long WARM_UP_MAX_NS = 30_000_000_000L;

    record Test(String name, int nPrompt, int nGen, int warmUpRuns, double[] samplesNs) {
        int tokens() {
            return nPrompt + nGen;
        }

        double[] tokensPerSecond() {
            double[] ts = new double[samplesNs.length];
            for (int i = 0; i < ts.length; i++) ts[i] = tokens() * 1e9 / samplesNs[i];
            return ts;
        }
    }

    @Override
    public Integer call() throws Exception {
        if (!List.of("md", "json", "jsonl").contains(output)) throw new FathomException("-o must be md, json or jsonl, got " + output);
        if (repetitions < 1) throw new FathomException("-r must be at least 1");
        for (int n : prompts) if (n < 0) throw new FathomException("-p sizes must be >= 0");
        for (int n : gens) if (n < 0) throw new FathomException("-n lengths must be >= 0");
        int nThreads = model.threads();
        PrintWriter out = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        Path path = model.resolve(err);
        double bandwidth = noBandwidth ? 0 : MemoryBandwidth.measure(1L << 30, nThreads, 5);
        try (LoadedModel loaded = LoadedModel.open(path, nThreads)) {
            Transformer m = loaded.model();
            long params = 0, bytes = 0;
            Map<TensorType, Long> byType = new EnumMap<>(TensorType.class);
            for (Tensor t : loaded.checkpoint().storedTensors().values()) {
                params += t.elementCount();
                bytes += t.data().byteSize();
                byType.merge(t.type(), t.data().byteSize(), Long::sum);
            }
            String type = byType.entrySet().stream().max(Map.Entry.comparingByValue()).map(e -> e.getKey().name()).orElse("?");
            String arch = loaded.checkpoint().architecture();
            String modelType = arch + " " + Format.count(params) + " " + type;

            SplittableRandom random = new SplittableRandom(1234);
            List<Test> tests = new ArrayList<>();
            for (int n : prompts) if (n > 0) tests.add(run(m, "pp" + n, n, 0, random));
            for (int n : gens) if (n > 0) tests.add(run(m, "tg" + n, 0, n, random));

            switch (output) {
                case "md" -> table(out, modelType, bytes, params, nThreads, tests, bandwidth, m.activeWeightBytesPerToken());
                default -> {
                    json(out, output.equals("jsonl"), path, modelType, bytes, params, nThreads, tests);
                    err.println(warmUpLine(tests)); // stdout stays llama-bench's JSON
                }
            }
        }
        return 0;
    }

    private Test run(LanguageModel m, String name, int nPrompt, int nGen, SplittableRandom random) {
        int n = nPrompt + nGen;
        int[] tokens = new int[n];
        for (int i = 0; i < n; i++) tokens[i] = random.nextInt(m.vocabSize());
        float[] logits = new float[m.vocabSize()];
        LongSupplier once = () -> {
            try (LanguageModel.Sequence s = m.newSequence(n)) {
                long t0 = System.nanoTime();
                if (nPrompt > 0) {
                    m.forward(s, tokens, 0, false);
                } else {
                    for (int i = 0; i < nGen; i++) m.decode(s, tokens[i], i, logits);
                }
                return System.nanoTime() - t0;
            }
        };
        int warmUpRuns = warmUp(once);
        double[] samples = new double[repetitions];
        for (int r = 0; r < repetitions; r++) samples[r] = once.getAsLong();
        return new Test(name, nPrompt, nGen, warmUpRuns, samples);
    }

    /**
     * Runs {@code once} (a timing in ns) until two runs in a row agree within {@link #WARM_UP_AGREE}, at most
     * {@link #WARM_UP_MAX_RUNS} runs or {@link #WARM_UP_MAX_NS}; returns the number of runs.
     */
    static int warmUp(LongSupplier once) {
        long previous = once.getAsLong(), spent = previous;
        int runs = 1;
        while (runs < WARM_UP_MAX_RUNS && spent < WARM_UP_MAX_NS) {
            long t = once.getAsLong();
            runs++;
            spent += t;
            if (Math.abs(t - previous) <= WARM_UP_AGREE * Math.min(t, previous)) break;
            previous = t;
        }
        return runs;
    }

    /** How warm-up was done, in words. */
    static String warmUpLine(List<Test> tests) {
        StringBuilder sb = new StringBuilder("warm-up (not counted): until two runs in a row agreed within ")
                .append(Math.round(WARM_UP_AGREE * 100)).append("%, at most ").append(WARM_UP_MAX_RUNS).append(" runs or ")
                .append(WARM_UP_MAX_NS / 1_000_000_000L).append(" s:");
        for (Test t : tests) sb.append(' ').append(t.name()).append(' ').append(t.warmUpRuns()).append(t.warmUpRuns() == 1 ? " run" : " runs");
        return sb.toString();
    }

    private static double mean(double[] x) {
        double s = 0;
        for (double v : x) s += v;
        return s / x.length;
    }

    private static double stddev(double[] x) {
        if (x.length < 2) return 0;
        double m = mean(x), s = 0;
        for (double v : x) s += (v - m) * (v - m);
        return Math.sqrt(s / (x.length - 1));
    }

    private void table(PrintWriter out, String modelType, long bytes, long params, int nThreads, List<Test> tests,
                       double bandwidth, long activeBytes) {
        out.println("| model                          |       size |     params | backend    | threads |            test |                  t/s |");
        out.println("| ------------------------------ | ---------: | ---------: | ---------- | ------: | --------------: | -------------------: |");
        for (Test t : tests) {
            double[] ts = t.tokensPerSecond();
            out.printf(Locale.ROOT, "| %-30s | %10s | %10s | %-10s | %7d | %15s | %20s |%n", modelType, Format.bytes(bytes),
                    Format.count(params), "Java", nThreads, t.name(), String.format(Locale.ROOT, "%.2f ± %.2f", mean(ts), stddev(ts)));
        }
        out.println();
        out.println(warmUpLine(tests));
        if (bandwidth > 0) {
            out.printf(Locale.ROOT, "memory read bandwidth: %.1f GB/s (%d threads, 1 GiB sum)%n", bandwidth / 1e9, nThreads);
        }
        out.printf(Locale.ROOT, "weights read per generated token: %s%n", Format.bytes(activeBytes));
        out.printf(Locale.ROOT, "memory: Java heap peak %s, process peak RSS %s (weights are memory-mapped, not on the heap)%n",
                Format.bytes(heapPeak()), peakRss());
        for (Test t : tests) {
            if (t.nGen() == 0) continue;
            double gbps = mean(t.tokensPerSecond()) * activeBytes / 1e9;
            out.printf(Locale.ROOT, "%s streams %.1f GB/s of weights%s%n", t.name(), gbps,
                    bandwidth > 0 ? String.format(Locale.ROOT, " = %.0f%% of the measured bandwidth", 100 * gbps * 1e9 / bandwidth) : "");
        }
    }

    /** Peak use of the heap memory pools since start-up. */
    private static long heapPeak() {
        long peak = 0;
        for (var pool : java.lang.management.ManagementFactory.getMemoryPoolMXBeans()) {
            if (pool.getType() == java.lang.management.MemoryType.HEAP) peak += pool.getPeakUsage().getUsed();
        }
        return peak;
    }

    /** The process's peak resident set (VmHWM, Linux), or "n/a". */
    private static String peakRss() {
        try {
            for (String line : java.nio.file.Files.readAllLines(Path.of("/proc/self/status"))) {
                if (line.startsWith("VmHWM:")) {
                    return Format.bytes(Long.parseLong(line.replaceAll("[^0-9]", "")) * 1024);
                }
            }
        } catch (java.io.IOException | NumberFormatException e) {
            // not Linux: no figure
        }
        return "n/a";
    }

    private void json(PrintWriter out, boolean lines, Path path, String modelType, long bytes, long params, int nThreads,
                      List<Test> tests) throws Exception {
        ObjectMapper json = new ObjectMapper();
        ArrayNode all = json.createArrayNode();
        for (Test t : tests) {
            ObjectNode o = json.createObjectNode();
            o.put("build_commit", "fathom");
            o.put("cpu_info", System.getProperty("os.arch"));
            o.put("backends", "Java");
            o.put("model_filename", path.toString());
            o.put("model_type", modelType);
            o.put("model_size", bytes);
            o.put("model_n_params", params);
            o.put("n_threads", nThreads);
            o.put("n_prompt", t.nPrompt());
            o.put("n_gen", t.nGen());
            o.put("n_depth", 0);
            o.put("test_time", Instant.now().toString());
            o.put("avg_ns", (long) mean(t.samplesNs()));
            o.put("stddev_ns", (long) stddev(t.samplesNs()));
            double[] ts = t.tokensPerSecond();
            o.put("avg_ts", mean(ts));
            o.put("stddev_ts", stddev(ts));
            ArrayNode sn = o.putArray("samples_ns");
            for (double v : t.samplesNs()) sn.add((long) v);
            ArrayNode st = o.putArray("samples_ts");
            for (double v : ts) st.add(v);
            if (lines) out.println(json.writeValueAsString(o));
            else all.add(o);
        }
        if (!lines) out.println(json.writerWithDefaultPrettyPrinter().writeValueAsString(all));
    }
}
