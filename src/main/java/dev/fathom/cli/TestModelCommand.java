package dev.fathom.cli;

import dev.fathom.FathomException;
import dev.fathom.gguf.GgufWriter;
import dev.fathom.testmodel.Preset;
import dev.fathom.convert.QuantMix;
import dev.fathom.testmodel.TestModelWriter;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Callable;

@Command(name = "testmodel", mixinStandardHelpOptions = true,
        header = "Writes a deterministic random-weight test model as a GGUF.",
        description = "Writes a deterministic random-weight model as a GGUF (llama.cpp architecture deepseek2, qwen2 or llama) "
                + "with the real DeepSeek-V3 tokenizer. v2-lite, v3, r1-distill-qwen-1.5b, r1-distill-qwen-7b and r1-distill-llama-8b "
                + "have the real models' shapes; v3-tiny, v2-lite-tiny, qwen2-tiny and llama-tiny the golden tiny shapes. "
                + "The same options always give the same file.")
final class TestModelCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Option(names = "--preset", required = true, paramLabel = "NAME",
            description = "v3-tiny, v2-lite-tiny, v2-lite, v3, qwen2-tiny, llama-tiny, r1-distill-qwen-1.5b, r1-distill-qwen-7b or r1-distill-llama-8b.")
    String preset;

    @Option(names = "--layers", paramLabel = "N", description = "Number of layers (default: the preset's).")
    Integer layers;

    @Option(names = "--type", paramLabel = "TYPE", defaultValue = "F32",
            description = "Weight types: F32, F16, BF16, Q8_0, Q4_0, Q4_K or Q6_K for every matrix, or the Q4_K_M mix "
                    + "as llama-quantize lays it out (default: ${DEFAULT-VALUE}).")
    String type;

    @Option(names = "--seed", paramLabel = "S", defaultValue = "0", description = "Random seed (default: ${DEFAULT-VALUE}).")
    long seed;

    @Option(names = {"-o", "--out"}, required = true, paramLabel = "FILE", description = "The GGUF file to write.")
    Path out;

    @Override
    public Integer call() throws Exception {
        if (layers != null && layers < 1) throw new FathomException("--layers must be at least 1, got " + layers);
        if (Files.isDirectory(out)) throw new FathomException("--out " + out + ": is a folder; give the file to write, e.g. " + out.resolve(preset + ".gguf"));
        TestModelWriter writer = new TestModelWriter(Preset.fromCliName(preset), layers == null ? 0 : layers, QuantMix.fromName(type), seed);
        GgufWriter gguf = writer.prepare();
        PrintWriter err = spec.commandLine().getErr();
        GgufOutput.write(gguf, out, "--out", "writing");
        err.printf("wrote %s (%s, %s of tensor data)%n", out, writer.describe(), Format.bytes(gguf.dataBytes()));
        return 0;
    }
}
