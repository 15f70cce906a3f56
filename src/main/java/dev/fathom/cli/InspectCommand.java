package dev.fathom.cli;

import dev.fathom.checkpoint.Checkpoint;
import dev.fathom.kv.KvBlockPool;
import dev.fathom.model.MemoryEstimate;
import dev.fathom.model.ModelConfig;
import dev.fathom.testmodel.DemoModel;
import dev.fathom.tokenizer.Tokenizer;
import dev.fathom.tensor.Tensor;
import dev.fathom.tensor.TensorType;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.EnumMap;
import java.util.Map;
import java.util.concurrent.Callable;

@Command(name = "inspect", mixinStandardHelpOptions = true,
        header = "Shows what a model file holds and the memory a run needs.",
        description = "Shows what a model file holds: architecture, hyper-parameters, tokenizer, tensors by type,"
                + " and the memory a run will need. Without FILE, inspects the bundled demo model (made on first use).")
final class InspectCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Parameters(index = "0", arity = "0..1", paramLabel = "FILE", description = "A GGUF file or the first part of a split GGUF (default: the demo model).")
    Path file;

    @Option(names = "--ctx", paramLabel = "N", description = "Context length for the memory estimate (default: the model's, at most 4096).")
    Integer ctx;

    @Option(names = "--metadata", description = "Print every metadata entry.")
    boolean allMetadata;

    @Option(names = "--tensors", description = "Print every tensor with its type, shape and size.")
    boolean allTensors;

    @Override
    public Integer call() throws Exception {
        PrintWriter out = spec.commandLine().getOut();
        Path path = file != null ? file : DemoModel.ensure(spec.commandLine().getErr());
        try (Checkpoint f = Checkpoint.open(path)) {
            ModelConfig config = ModelConfig.of(f.architecture(), f.config());
            out.printf("file:          %s (%s)%n", path, Format.bytes(f.fileBytes()));
            out.printf("format:        %s%n", f.format());
            out.printf("architecture:  %s%n", f.architecture());
            out.printf("name:          %s%n", f.name());
            out.println("hyper-parameters (Hugging Face config names):");
            for (var e : config.toConfig().asMap().entrySet()) out.printf("  %-36s %s%n", e.getKey(), e.getValue());
            Tokenizer tok = f.tokenizer();
            out.printf("tokenizer:     %d tokens, bos %s, eos %s, adds BOS: %s%n", tok.vocabSize(),
                    tok.bosId() == Tokenizer.NO_TOKEN ? "-" : tok.bosId(), tok.eosId() == Tokenizer.NO_TOKEN ? "-" : tok.eosId(),
                    tok.addBosByDefault() ? "yes" : "no");
            out.println("chat template: " + (f.chatTemplate().isPresent() ? "yes" : "no"));
            var sampling = f.samplingDefaults();
            out.println("sampling:      " + (sampling.equals(dev.fathom.checkpoint.SamplingDefaults.NONE) ? "no recommendation in the file"
                    : "recommended temperature " + sampling.temperature() + ", top_p " + sampling.topP() + ", top_k " + sampling.topK()
                    + " (used where a request or option gives none)"));

            Map<TensorType, long[]> byType = new EnumMap<>(TensorType.class); // count, elements, bytes
            long params = 0;
            for (Tensor t : f.storedTensors().values()) {
                long[] s = byType.computeIfAbsent(t.type(), k -> new long[3]);
                s[0]++;
                s[1] += t.elementCount();
                s[2] += t.data().byteSize();
                params += t.elementCount();
            }
            out.printf("tensors:       %d, %s parameters%n", f.storedTensors().size(), Format.count(params));
            for (var e : byType.entrySet()) {
                long[] s = e.getValue();
                out.printf("  %-8s %5d tensors %12s params %12s%s%n", e.getKey(), s[0], Format.count(s[1]), Format.bytes(s[2]),
                        e.getKey().isSupported() ? "" : "   (not supported by Fathom)");
            }
            if (allTensors) {
                for (Tensor t : f.storedTensors().values()) {
                    out.printf("  %-40s %-7s %-24s %12s%n", t.name(), t.type(), java.util.Arrays.toString(t.shape()), Format.bytes(t.data().byteSize()));
                }
            }
            int n = ctx != null ? ctx : Math.min(config.maxPositionEmbeddings(), 4096);
            MemoryEstimate mem = MemoryEstimate.of(f, n);
            out.printf("KV cache:      %s per token, %s per %d-token block (%s)%n", Format.bytes(mem.kvBytesPerToken()),
                    Format.bytes(mem.kvBytesPerBlock()), KvBlockPool.BLOCK_TOKENS, mem.kvLayout());
            out.printf("memory (ctx %d): weights %s memory-mapped + KV cache %s = %s%n", n,
                    Format.bytes(mem.weightBytes()), Format.bytes(mem.kvBytes()), Format.bytes(mem.totalBytes()));
            if (allMetadata) {
                out.println("metadata:");
                for (var e : f.metadata().entrySet()) out.printf("  %-48s %s%n", e.getKey(), e.getValue());
            }
        }
        return 0;
    }
}
