package dev.fathom.cli;

import dev.fathom.FathomException;
import dev.fathom.gguf.GgufWriter;
import me.tongfei.progressbar.ConsoleProgressBarConsumer;
import me.tongfei.progressbar.ProgressBar;
import me.tongfei.progressbar.ProgressBarBuilder;
import me.tongfei.progressbar.ProgressBarStyle;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** Writes a prepared GGUF with a progress bar on stderr; a write failure names the file asked for (testmodel, quantize, convert). */
final class GgufOutput {
    private GgufOutput() {}

    /** Refuses a folder, and an existing file unless {@code force}; {@code option} names the file as the user gave it. */
    static void checkTarget(Path out, String option, boolean force) {
        if (Files.isDirectory(out)) throw new FathomException(option + " " + out + ": is a folder; give the file to write");
        if (Files.exists(out) && !force) throw new FathomException(option + " " + out + ": exists (pass --force to overwrite it)");
    }

    /** @param option how the user named the file ("--out FILE", "OUT"), for the error message */
    static void write(GgufWriter gguf, Path out, String option, String task) {
        try (ProgressBar bar = new ProgressBarBuilder().setTaskName(task).setInitialMax(gguf.dataBytes())
                .setStyle(ProgressBarStyle.ASCII).setUnit(" MiB", 1 << 20).showSpeed()
                .setConsumer(new ConsoleProgressBarConsumer(System.err)).build()) {
            gguf.write(out, (name, done, all) -> bar.stepTo(done));
        } catch (IOException e) {
            // the writer's temporary file is an implementation detail: name the file asked for
            throw new FathomException(option + " " + out + ": cannot write it (" + FathomCli.reason(e) + ")");
        }
    }
}
