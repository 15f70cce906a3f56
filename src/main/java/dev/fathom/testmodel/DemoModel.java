package dev.fathom.testmodel;

import dev.fathom.CacheDirectory;
import dev.fathom.convert.QuantMix;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * The model Fathom runs when none is given: a small random-weight DeepSeek-V3-shaped model with the real
 * DeepSeek-V3 tokenizer, written by {@link TestModelWriter} on first use and kept in the {@link CacheDirectory}.
 */
public final class DemoModel {
    public static final Preset PRESET = Preset.V3_TINY;
    public static final QuantMix TYPE = QuantMix.Q8_0;
    public static final long SEED = 42;
    /** Bump when the writer's output changes, so an old cached file is not reused. */
    private static final String FILE_NAME = "demo-v3-tiny-q8_0-v1.gguf";

    private DemoModel() {}

    /** The demo model's path, writing it first if it is not cached yet (progress goes to {@code log}). */
    public static Path ensure(PrintWriter log) throws IOException {
        Path path = CacheDirectory.path().resolve(FILE_NAME);
        if (Files.isRegularFile(path)) return path;
        log.println("fathom: writing the demo model (" + PRESET.cliName + ", " + TYPE + ") to " + path + " ...");
        log.flush();
        new TestModelWriter(PRESET, 0, TYPE, SEED).prepare().write(path);
        return path;
    }
}
