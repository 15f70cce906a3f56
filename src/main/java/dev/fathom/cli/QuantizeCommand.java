package dev.fathom.cli;

import dev.fathom.FathomException;
import dev.fathom.checkpoint.Checkpoint;
import dev.fathom.checkpoint.GgufCheckpoint;
import dev.fathom.convert.GgufRequantizer;
import dev.fathom.convert.QuantMix;
import dev.fathom.gguf.GgufWriter;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Callable;

@Command(name = "quantize", mixinStandardHelpOptions = true,
        header = "Requantises a GGUF model, as llama-quantize does.",
        description = "Requantises a GGUF model as llama-quantize does (no importance matrix): F32, F16, BF16, Q8_0, Q4_0, Q4_K or "
                + "Q6_K for every matrix, or the Q4_K_M mix with llama-quantize's per-tensor choices. Norms, biases and the MoE "
                + "router keep their type; the output is one file, written with a progress bar, rows streamed.")
final class QuantizeCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Parameters(index = "0", paramLabel = "IN", description = "The GGUF to read (or the first part of a split GGUF).")
    Path in;

    @Parameters(index = "1", paramLabel = "OUT", description = "The GGUF to write.")
    Path out;

    @Parameters(index = "2", paramLabel = "TYPE", description = "F32, F16, BF16, Q8_0, Q4_0, Q4_K, Q6_K or Q4_K_M.")
    String type;

    @Option(names = "--allow-requantize", description = "Also re-encode tensors that are already quantised (loses precision).")
    boolean allowRequantize;

    @Option(names = "--force", description = "Overwrite OUT if it exists.")
    boolean force;

    @Override
    public Integer call() throws Exception {
        QuantMix mix = QuantMix.fromName(type);
        if (Files.exists(out) && Files.exists(in) && Files.isSameFile(in, out)) throw new FathomException(out + ": is the input file");
        GgufOutput.checkTarget(out, "OUT", force);
        try (Checkpoint c = Checkpoint.open(in)) {
            if (!(c instanceof GgufCheckpoint g)) throw new FathomException(in + ": quantize reads GGUF files");
            GgufWriter w = GgufRequantizer.prepare(g, mix, allowRequantize);
            GgufOutput.write(w, out, "OUT", "quantizing");
            spec.commandLine().getErr().printf("wrote %s (%s, %s of tensor data, from %s)%n", out, mix.cliName(), Format.bytes(w.dataBytes()),
                    Format.bytes(c.fileBytes()));
        }
        return 0;
    }
}
