package dev.fathom.cli;

import dev.fathom.FathomException;
import dev.fathom.engine.Sampler;
import dev.fathom.model.LoadedModel;
import dev.fathom.model.Transformer;
import dev.fathom.model.LanguageModel;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

import java.io.BufferedOutputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Callable;

@Command(name = "logits", mixinStandardHelpOptions = true,
        header = "Writes the logits of every prompt position, for comparison.",
        description = "Writes the logits of every prompt position in the format of the golden reference data, so any"
                + " reference can be compared: DIR/tokens.i32 (int32) and DIR/logits.f32 (float32, n_tokens x n_vocab),"
                + " little-endian. The prompt is tokenized as llama.cpp does (BOS per the metadata, special tokens parsed)."
                + " --greedy N also writes DIR/greedy.i32: N greedy tokens decoded one at a time through the latent cache.")
final class LogitsCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Mixin
    ModelOption model;

    @Option(names = "--prompt-file", required = true, paramLabel = "F", description = "UTF-8 file holding the exact prompt text.")
    Path promptFile;

    @Option(names = "--out", required = true, paramLabel = "DIR", description = "Output folder (created if missing).")
    Path out;

    @Option(names = "--greedy", paramLabel = "N", defaultValue = "0", description = "Also decode N greedy tokens (default: ${DEFAULT-VALUE}).")
    int greedy;

    @Override
    public Integer call() throws Exception {
        if (greedy < 0) throw new FathomException("--greedy must be >= 0, got " + greedy);
        if (Files.exists(out) && !Files.isDirectory(out)) throw new FathomException("--out " + out + ": is a file; --out takes a folder");
        String text = Files.readString(promptFile);
        try (LoadedModel loaded = model.load(spec.commandLine().getErr())) {
            Transformer m = loaded.model();
            int[] tokens = loaded.tokenizer().encode(text);
            int ctx = tokens.length + greedy;
            if (ctx > m.maxContextLength()) {
                throw new FathomException("prompt (" + tokens.length + " tokens) plus --greedy " + greedy
                        + " exceeds the model's context of " + m.maxContextLength());
            }
            LanguageModel.Sequence state = m.newSequence(ctx);
            float[][] logits = m.forward(state, tokens, 0, true);
            Files.createDirectories(out);
            writeInts(out.resolve("tokens.i32"), tokens);
            try (DataOutputStream o = stream(out.resolve("logits.f32"))) {
                ByteBuffer row = ByteBuffer.allocate(m.config().vocabSize() * 4).order(ByteOrder.LITTLE_ENDIAN);
                for (float[] l : logits) {
                    row.clear();
                    row.asFloatBuffer().put(l);
                    o.write(row.array());
                }
            }
            if (greedy > 0) {
                int[] chosen = new int[greedy];
                float[] last = logits[logits.length - 1];
                for (int i = 0; i < greedy; i++) {
                    chosen[i] = Sampler.argmax(last);
                    if (i + 1 < greedy) m.decode(state, chosen[i], tokens.length + i, last);
                }
                writeInts(out.resolve("greedy.i32"), chosen);
            }
            spec.commandLine().getErr().printf("wrote %d x %d logits to %s%n", tokens.length, m.config().vocabSize(), out);
        }
        return 0;
    }

    private static DataOutputStream stream(Path p) throws IOException {
        OutputStream o = Files.newOutputStream(p);
        return new DataOutputStream(new BufferedOutputStream(o, 1 << 16));
    }

    private static void writeInts(Path p, int[] values) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(values.length * 4).order(ByteOrder.LITTLE_ENDIAN);
        b.asIntBuffer().put(values);
        Files.write(p, b.array());
    }
}
