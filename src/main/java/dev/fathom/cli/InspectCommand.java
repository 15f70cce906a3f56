package dev.fathom.cli;

import dev.fathom.gguf.GgufFile;
import dev.fathom.gguf.GgufMetadata;
import dev.fathom.gguf.MetadataValue;
import dev.fathom.model.DemoModel;
import dev.fathom.model.MemoryEstimate;
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
        description = {"Shows what a GGUF model file holds: architecture, hyper-parameters, tokenizer, tensors by type,",
                "and the memory a run will need. Without FILE, inspects the bundled demo model (made on first use)."})
final class InspectCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Parameters(index = "0", arity = "0..1", paramLabel = "FILE", description = "A GGUF file (default: the demo model).")
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
        try (GgufFile f = GgufFile.open(path)) {
            GgufMetadata m = f.metadata();
            String arch = m.findString("general.architecture").orElse("(none)");
            out.printf("file:          %s (%s)%n", path, Format.bytes(f.fileSize()));
            out.printf("format:        GGUF v%d, %d metadata entries, %d tensors, alignment %d%n",
                    f.version(), m.entries().size(), f.tensors().size(), f.alignment());
            out.printf("architecture:  %s%n", arch);
            m.findString("general.name").ifPresent(n -> out.printf("name:          %s%n", n));

            out.println("hyper-parameters:");
            for (Map.Entry<String, MetadataValue> e : m.entries().entrySet()) {
                if (e.getKey().startsWith(arch + ".")) {
                    out.printf("  %-44s %s%n", e.getKey().substring(arch.length() + 1), e.getValue().display());
                }
            }
            if (m.has("tokenizer.ggml.tokens")) {
                out.printf("tokenizer:     %s, pre-tokenizer %s, %d tokens, %d merges, bos %s, eos %s%n",
                        m.findString("tokenizer.ggml.model").orElse("?"), m.findString("tokenizer.ggml.pre").orElse("default"),
                        m.getArray("tokenizer.ggml.tokens").length(),
                        m.has("tokenizer.ggml.merges") ? m.getArray("tokenizer.ggml.merges").length() : 0,
                        m.has("tokenizer.ggml.bos_token_id") ? m.getLong("tokenizer.ggml.bos_token_id") : "-",
                        m.has("tokenizer.ggml.eos_token_id") ? m.getLong("tokenizer.ggml.eos_token_id") : "-");
            }
            if (m.has("tokenizer.chat_template")) out.println("chat template: yes");

            Map<TensorType, long[]> byType = new EnumMap<>(TensorType.class); // count, elements, bytes
            long params = 0;
            for (Tensor t : f.tensors().values()) {
                long[] s = byType.computeIfAbsent(t.type(), k -> new long[3]);
                s[0]++;
                s[1] += t.elementCount();
                s[2] += t.data().byteSize();
                params += t.elementCount();
            }
            out.printf("tensors:       %d, %s parameters%n", f.tensors().size(), Format.count(params));
            for (var e : byType.entrySet()) {
                long[] s = e.getValue();
                out.printf("  %-8s %5d tensors %12s params %12s%s%n", e.getKey(), s[0], Format.count(s[1]), Format.bytes(s[2]),
                        e.getKey().isSupported() ? "" : "   (not supported by Fathom)");
            }
            if (allTensors) {
                for (Tensor t : f.tensors().values()) {
                    out.printf("  %-40s %-7s %-24s %12s%n", t.name(), t.type(), java.util.Arrays.toString(t.shape()), Format.bytes(t.data().byteSize()));
                }
            }
            int modelCtx = m.getInt(arch + ".context_length", 4096);
            int n = ctx != null ? ctx : Math.min(modelCtx, 4096);
            MemoryEstimate mem = MemoryEstimate.of(f, n);
            out.printf("memory (ctx %d): weights %s memory-mapped + KV cache %s (%s per token; %s) = %s%n", n,
                    Format.bytes(mem.weightBytes()), Format.bytes(mem.kvBytes()), Format.bytes(mem.kvBytesPerToken()),
                    mem.kvLayout(), Format.bytes(mem.totalBytes()));
            if (allMetadata) {
                out.println("metadata:");
                for (var e : m.entries().entrySet()) out.printf("  %-48s %-8s %s%n", e.getKey(), e.getValue().type(), e.getValue().display());
            }
        }
        return 0;
    }
}
