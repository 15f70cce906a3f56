package dev.fathom.cli;

import dev.fathom.engine.SamplingParams;
import dev.fathom.FathomException;
import dev.fathom.checkpoint.GenerationConfig;
import dev.fathom.engine.Engine;
import dev.fathom.engine.FinishReason;
import dev.fathom.engine.GenerationEvent;
import dev.fathom.engine.GenerationRequest;
import dev.fathom.engine.GenerationResult;
import dev.fathom.model.LoadedModel;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

import java.io.PrintWriter;
import java.util.Locale;
import java.util.concurrent.Callable;

@Command(name = "generate", mixinStandardHelpOptions = true,
        header = "Continues a prompt, streaming the text as it is generated.",
        description = "Continues a prompt, streaming the text to stdout as it is produced; stops at the end-of-text"
                + " token or after -n tokens. Prompt and generation speed go to stderr.")
final class GenerateCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Mixin
    ModelOption model;

    @Option(names = {"-p", "--prompt"}, required = true, paramLabel = "TEXT", description = "The prompt.")
    String prompt;

    @Option(names = {"-n", "--max-tokens"}, paramLabel = "N", defaultValue = "128", description = "Tokens to generate at most (default: ${DEFAULT-VALUE}).")
    int maxTokens;

    @Option(names = "--temp", paramLabel = "T",
            description = "Temperature; 0 = greedy (default: the model folder's generation_config.json, else " + SamplingParams.DEFAULT_TEMPERATURE + ").")
    Float temperature;

    @Option(names = "--top-k", paramLabel = "K", defaultValue = "" + SamplingParams.DEFAULT_TOP_K, description = "Top-k, 0 = off (default: ${DEFAULT-VALUE}).")
    int topK;

    @Option(names = "--top-p", paramLabel = "P",
            description = "Top-p, 1 = off (default: the model folder's generation_config.json, else " + SamplingParams.DEFAULT_TOP_P + ").")
    Float topP;

    @Option(names = "--min-p", paramLabel = "M", defaultValue = "" + SamplingParams.DEFAULT_MIN_P, description = "Min-p, 0 = off (default: ${DEFAULT-VALUE}).")
    float minP;

    @Option(names = "--seed", paramLabel = "S", description = "Random seed; the same seed gives the same text (default: random, printed).")
    Long seed;

    @Option(names = "--ctx", paramLabel = "N", defaultValue = "4096", description = "Context length: prompt plus continuation (default: ${DEFAULT-VALUE}).")
    int ctx;

    @Override
    public Integer call() throws Exception {
        PrintWriter out = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        if (maxTokens < 0) throw new FathomException("-n must be >= 0, got " + maxTokens);
        if (ctx <= 0) throw new FathomException("--ctx must be positive, got " + ctx);
        long s = seed != null ? seed : new java.security.SecureRandom().nextLong() >>> 1;
        try (LoadedModel m = model.load(err);
             Engine engine = new Engine(m.model(), m.tokenizer(), new Engine.Options(1, ctx, 0))) {
            ModelOption.warnContext(err, ctx, engine.contextLength());
            GenerationConfig recommended = m.checkpoint().generationConfig();
            SamplingParams params = new SamplingParams(recommended.temperature(temperature, SamplingParams.DEFAULT_TEMPERATURE), topK,
                    recommended.topP(topP, SamplingParams.DEFAULT_TOP_P), minP, s);
            int[] ids = engine.tokenizer().encode(prompt);
            long t0 = System.nanoTime();
            long[] started = {0};
            GenerationRequest request = GenerationRequest.greedy(ids, maxTokens).withSampling(params);
            GenerationResult r = engine.submit(request, e -> {
                if (e instanceof GenerationEvent.Started) {
                    started[0] = System.nanoTime();
                    out.print(prompt); // only once the prompt is accepted: a context error is not appended to it
                    out.flush();
                } else if (e instanceof GenerationEvent.Output o && !o.text().isEmpty()) {
                    out.print(o.text());
                    out.flush();
                }
            }).result().join();
            long t1 = System.nanoTime();
            out.println();
            out.flush();
            if (r.finishReason() == FinishReason.ERROR) throw new IllegalStateException("generation failed", r.error());
            String stop = switch (r.finishReason()) {
                case STOP -> "end of text";
                case LENGTH -> r.promptTokens() + r.completionTokens() >= engine.contextLength() ? "context full" : "max tokens";
                default -> r.finishReason().name().toLowerCase(Locale.ROOT);
            };
            err.printf(Locale.ROOT, "prompt: %d tokens, %.1f tokens/s | generation: %d tokens, %.1f tokens/s | stop: %s | seed %d%n",
                    r.promptTokens(), r.promptTokens() * 1e9 / Math.max(1, started[0] - t0), r.completionTokens(),
                    r.completionTokens() * 1e9 / Math.max(1, t1 - started[0]), stop, s);
        }
        return 0;
    }
}
