package dev.fathom.cli;

import dev.fathom.FathomException;
import dev.fathom.kernel.VectorSupport;
import dev.fathom.model.DemoModel;
import picocli.CommandLine.Option;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Path;

/**
 * The options shared by the commands that run a model: {@code -m/--model} (absent: the demo model) and
 * {@code -t/--threads}. Resolving them also checks, once, that the Vector API runs as SIMD code and warns loudly
 * if it does not.
 */
final class ModelOption {
    @Option(names = {"-m", "--model"}, paramLabel = "FILE", description = "A GGUF model file (default: the demo model).")
    Path model;

    @Option(names = {"-t", "--threads"}, paramLabel = "N", description = "Threads for the kernels (default: the number of cores).")
    Integer threads;

    Path resolve(PrintWriter log) throws IOException {
        String warning = VectorSupport.check();
        if (warning != null) {
            log.println("fathom: " + warning);
            log.flush();
        }
        return model != null ? model : DemoModel.ensure(log);
    }

    int threads() {
        int t = threads != null ? threads : Runtime.getRuntime().availableProcessors();
        if (t < 1) throw new FathomException("--threads must be at least 1, got " + t);
        return t;
    }
}
