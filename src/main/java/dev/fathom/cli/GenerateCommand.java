package dev.fathom.cli;

import dev.fathom.engine.Sampler;
import dev.fathom.engine.SamplingParams;
import dev.fathom.engine.TextGenerator;
import dev.fathom.gguf.GgufFile;
import dev.fathom.model.DeepSeekModel;
import dev.fathom.tokenizer.Tokenizer;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

import java.io.PrintWriter;
import java.util.Locale;
import java.util.concurrent.Callable;

@Command(name = "generate", mixinStandardHelpOptions = true,
        description = {"Continues a prompt, streaming the text to stdout as it is produced; stops at the end-of-text",
                "token or after -n tokens. Prompt and generation speed go to stderr."})
final class GenerateCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Mixin
    ModelOption model;

    @Option(names = {"-p", "--prompt"}, required = true, paramLabel = "TEXT", description = "The prompt.")
    String prompt;

    @Option(names = {"-n", "--max-tokens"}, paramLabel = "N", defaultValue = "128", description = "Tokens to generate at most (default: ${DEFAULT-VALUE}).")
    int maxTokens;

    @Option(names = "--temp", paramLabel = "T", defaultValue = "" + SamplingParams.DEFAULT_TEMPERATURE,
            description = "Temperature; 0 = greedy (default: ${DEFAULT-VALUE}).")
    float temperature;

    @Option(names = "--top-k", paramLabel = "K", defaultValue = "" + SamplingParams.DEFAULT_TOP_K, description = "Top-k, 0 = off (default: ${DEFAULT-VALUE}).")
    int topK;

    @Option(names = "--top-p", paramLabel = "P", defaultValue = "" + SamplingParams.DEFAULT_TOP_P, description = "Top-p, 1 = off (default: ${DEFAULT-VALUE}).")
    float topP;

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
        if (maxTokens < 0) throw new dev.fathom.FathomException("-n must be >= 0, got " + maxTokens);
        if (ctx <= 0) throw new dev.fathom.FathomException("--ctx must be positive, got " + ctx);
        long s = seed != null ? seed : new java.security.SecureRandom().nextLong() >>> 1;
        SamplingParams params = new SamplingParams(temperature, topK, topP, minP, s);
        try (GgufFile file = GgufFile.open(model.resolve(err));
             DeepSeekModel m = DeepSeekModel.load(file, model.threads())) {
            Tokenizer tokenizer = Tokenizer.fromGguf(file);
            int context = Math.min(ctx, m.config().maxPositionEmbeddings());
            int[] ids = tokenizer.encode(prompt);
            out.print(prompt);
            out.flush();
            TextGenerator.Result r = new TextGenerator(m, tokenizer).generate(ids, maxTokens, context,
                    new Sampler(params, m.config().vocabSize()), piece -> {
                        out.print(piece);
                        out.flush();
                    });
            out.println();
            out.flush();
            err.printf(Locale.ROOT, "prompt: %d tokens, %.1f tokens/s | generation: %d tokens, %.1f tokens/s | stop: %s | seed %d%n",
                    r.promptTokens(), r.promptTokensPerSecond(), r.generatedTokens(), r.generationTokensPerSecond(),
                    r.stopReason().name().toLowerCase(Locale.ROOT).replace('_', ' '), s);
        }
        return 0;
    }
}
