package dev.fathom.cli;

import dev.fathom.FathomException;
import dev.fathom.gguf.GgufWriter;
import me.tongfei.progressbar.ConsoleProgressBarConsumer;
import me.tongfei.progressbar.ProgressBar;
import me.tongfei.progressbar.ProgressBarBuilder;
import me.tongfei.progressbar.ProgressBarStyle;

import java.io.IOException;
import java.nio.file.Path;

/** Writes a prepared GGUF with a progress bar on stderr; a write failure names the file asked for (testmodel, quantize). */
final class GgufOutput {
    private GgufOutput() {}

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
