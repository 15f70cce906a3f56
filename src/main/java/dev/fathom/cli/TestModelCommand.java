package dev.fathom.cli;

import dev.fathom.FathomException;
import dev.fathom.gguf.GgufWriter;
import dev.fathom.model.TestModelWriter;
import dev.fathom.tensor.TensorType;
import me.tongfei.progressbar.ProgressBar;
import me.tongfei.progressbar.ProgressBarBuilder;
import me.tongfei.progressbar.ProgressBarStyle;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.concurrent.Callable;

@Command(name = "testmodel", mixinStandardHelpOptions = true,
        description = {"Writes a deterministic random-weight DeepSeek model as a GGUF (llama.cpp architecture deepseek2)",
                "with the real DeepSeek-V3 tokenizer. v2-lite and v3 have the real DeepSeek-V2-Lite and V3 shapes;",
                "v3-tiny and v2-lite-tiny the golden tiny shapes. The same options always give the same file."})
final class TestModelCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Option(names = "--preset", required = true, paramLabel = "NAME", description = "v3-tiny, v2-lite-tiny, v2-lite or v3.")
    String preset;

    @Option(names = "--layers", paramLabel = "N", description = "Number of layers (default: the preset's).")
    int layers;

    @Option(names = "--type", paramLabel = "TYPE", defaultValue = "F32",
            description = "Type of the weight matrices: F32, F16, BF16, Q8_0 or Q4_0 (default: ${DEFAULT-VALUE}).")
    String type;

    @Option(names = "--seed", paramLabel = "S", defaultValue = "0", description = "Random seed (default: ${DEFAULT-VALUE}).")
    long seed;

    @Option(names = {"-o", "--out"}, required = true, paramLabel = "FILE", description = "The GGUF file to write.")
    Path out;

    @Override
    public Integer call() throws Exception {
        TensorType t;
        try {
            t = TensorType.valueOf(type.toUpperCase(java.util.Locale.ROOT));
        } catch (IllegalArgumentException e) {
            throw new FathomException("--type " + type + " is not a tensor type (F32, F16, BF16, Q8_0 or Q4_0)");
        }
        TestModelWriter writer = new TestModelWriter(TestModelWriter.Preset.fromCliName(preset), layers, t, seed);
        GgufWriter gguf = writer.prepare();
        PrintWriter err = spec.commandLine().getErr();
        long total = gguf.dataBytes();
        try (ProgressBar bar = new ProgressBarBuilder().setTaskName("writing").setInitialMax(total)
                .setStyle(ProgressBarStyle.ASCII).setUnit(" MiB", 1 << 20).showSpeed()
                .setConsumer(new me.tongfei.progressbar.ConsoleProgressBarConsumer(System.err)).build()) {
            gguf.write(out, (name, done, all) -> bar.stepTo(done));
        }
        err.printf("wrote %s (%s, %s of tensor data)%n", out, writer.describe(), Format.bytes(total));
        return 0;
    }
}
