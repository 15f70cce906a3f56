package dev.fathom.cli;

import dev.fathom.model.DemoModel;
import picocli.CommandLine.Option;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Path;

/** The {@code -m/--model} option shared by the commands that run a model; absent, the demo model is used. */
final class ModelOption {
    @Option(names = {"-m", "--model"}, paramLabel = "FILE", description = "A GGUF model file (default: the demo model).")
    Path model;

    Path resolve(PrintWriter log) throws IOException {
        return model != null ? model : DemoModel.ensure(log);
    }
}
