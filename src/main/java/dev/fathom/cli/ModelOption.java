package dev.fathom.cli;

import dev.fathom.FathomException;
import dev.fathom.kernel.VectorSupport;
import dev.fathom.model.LoadedModel;
import dev.fathom.testmodel.DemoModel;
import picocli.CommandLine.Option;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * The options shared by the commands that run a model: {@code -m/--model} (absent: the demo model) and
 * {@code -t/--threads}. Resolving them also checks, once, that the Vector API runs as SIMD code and warns loudly
 * if it does not.
 */
final class ModelOption {
    @Option(names = {"-m", "--model"}, paramLabel = "FILE", description = "A GGUF model file, or the first part of a split GGUF (default: the demo model).")
    Path model;

    @Option(names = {"-t", "--threads"}, paramLabel = "N", description = "Threads for the kernels (default: the number of cores).")
    Integer threads;

    Path resolve(PrintWriter log) throws IOException {
        String warning = VectorSupport.check();
        if (warning != null) log.println("fathom: " + warning);
        int cores = Runtime.getRuntime().availableProcessors();
        if (threads() > cores) {
            log.println("fathom: warning: --threads " + threads() + " is more than the " + cores + " cores; the kernels will not be faster and may be slower");
        }
        log.flush();
        // fail before any slow work (bench's bandwidth probe, serve's port) with a message naming the path
        if (model != null && Files.isDirectory(model) && !Files.isRegularFile(model.resolve("config.json"))) {
            throw new FathomException("-m " + model + ": is a folder without config.json; give a GGUF file or a Hugging Face model folder");
        }
        if (model != null && !Files.exists(model)) throw new FathomException("-m " + model + ": no such file");
        return model != null ? model : DemoModel.ensure(log);
    }

    /** Warns when --ctx asked for more than the model holds (the engine then uses the model's maximum). */
    static void warnContext(PrintWriter log, int asked, int used) {
        if (asked <= used) return;
        log.println("fathom: warning: --ctx " + asked + " is above the model's maximum context; using " + used + " tokens");
        log.flush();
    }

    /** Opens the model (the one loading path every command uses). */
    LoadedModel load(PrintWriter log) throws IOException {
        return LoadedModel.open(resolve(log), threads());
    }

    int threads() {
        int t = threads != null ? threads : Runtime.getRuntime().availableProcessors();
        if (t < 1) throw new FathomException("--threads must be at least 1, got " + t);
        return t;
    }
}
