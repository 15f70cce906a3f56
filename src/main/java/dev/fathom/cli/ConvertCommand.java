package dev.fathom.cli;

import dev.fathom.FathomException;
import dev.fathom.checkpoint.HfCheckpoint;
import dev.fathom.convert.GgufConverter;
import dev.fathom.convert.QuantMix;
import dev.fathom.gguf.GgufWriter;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Callable;

@Command(name = "convert", mixinStandardHelpOptions = true,
        header = "Converts a Hugging Face folder to a GGUF that llama.cpp loads.",
        description = "Converts a Hugging Face model folder (safetensors: BF16, F16, F32 or DeepSeek's FP8 with block scales; "
                + "DeepSeek-V2/V3/R1, Qwen2, Llama) to a GGUF as llama.cpp's convert_hf_to_gguf.py writes it, quantised as "
                + "llama-quantize would: F32, F16, BF16, Q8_0, Q4_0, Q4_K or Q6_K for every matrix, or the Q4_K_M mix. "
                + "Tensors are converted one at a time, row by row, straight into the output (memory stays bounded); the "
                + "file appears under its name only once complete.")
final class ConvertCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Parameters(index = "0", paramLabel = "FOLDER", description = "The Hugging Face model folder (config.json, *.safetensors, tokenizer.json).")
    Path folder;

    @Option(names = "--type", required = true, paramLabel = "TYPE", description = "F32, F16, BF16, Q8_0, Q4_0, Q4_K, Q6_K or Q4_K_M.")
    String type;

    @Option(names = {"-o", "--out"}, required = true, paramLabel = "FILE", description = "The GGUF file to write.")
    Path out;

    @Option(names = "--force", description = "Overwrite FILE if it exists.")
    boolean force;

    @Override
    public Integer call() throws Exception {
        QuantMix mix = QuantMix.fromName(type);
        if (!Files.isDirectory(folder)) {
            throw new FathomException("FOLDER " + folder + (Files.exists(folder)
                    ? ": is a file; convert reads Hugging Face model folders (fathom quantize requantises a GGUF)" : ": no such folder"));
        }
        GgufOutput.checkTarget(out, "--out", force);
        PrintWriter err = spec.commandLine().getErr();
        try (HfCheckpoint in = HfCheckpoint.open(folder)) {
            GgufWriter w = GgufConverter.prepare(in, mix);
            int mtp = in.config().getInt("num_nextn_predict_layers", 0);
            if (mtp > 0) err.println("fathom: the " + mtp + " multi-token-prediction layer(s) are not written (llama.cpp's deepseek2 has none)");
            GgufOutput.write(w, out, "--out", "converting");
            err.printf("wrote %s (%s, %s of tensor data, from %s of safetensors)%n", out, mix.cliName(), Format.bytes(w.dataBytes()),
                    Format.bytes(in.fileBytes()));
        }
        return 0;
    }
}
