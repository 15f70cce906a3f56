package dev.fathom.testmodel;

import dev.fathom.convert.QuantMix;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.function.UnaryOperator;

/**
 * The model Fathom runs when none is given: a small random-weight DeepSeek-V3-shaped model with the real
 * DeepSeek-V3 tokenizer, written by {@link TestModelWriter} on first use and cached under
 * {@code $FATHOM_CACHE}, else {@code $XDG_CACHE_HOME/fathom}, else {@code $HOME/.cache/fathom}.
 */
public final class DemoModel {
    public static final Preset PRESET = Preset.V3_TINY;
    public static final QuantMix TYPE = QuantMix.Q8_0;
    public static final long SEED = 42;
    /** Bump when the writer's output changes, so an old cached file is not reused. */
    private static final String FILE_NAME = "demo-v3-tiny-q8_0-v1.gguf";

    private DemoModel() {}

    public static Path cacheDir() {
        return cacheDir(System::getenv);
    }

    /** The cache folder for the given environment variables. */
    static Path cacheDir(UnaryOperator<String> env) {
        String fathom = env.apply("FATHOM_CACHE");
        if (fathom != null && !fathom.isBlank()) return Paths.get(fathom);
        String xdg = env.apply("XDG_CACHE_HOME");
        if (xdg != null && !xdg.isBlank()) return Paths.get(xdg, "fathom");
        String home = env.apply("HOME");
        return Paths.get(home != null && !home.isBlank() ? home : System.getProperty("user.home"), ".cache", "fathom");
    }

    /** The demo model's path, writing it first if it is not cached yet (progress goes to {@code log}). */
    public static Path ensure(PrintWriter log) throws IOException {
        Path path = cacheDir().resolve(FILE_NAME);
        if (Files.isRegularFile(path)) return path;
        log.println("fathom: writing the demo model (" + PRESET.cliName + ", " + TYPE + ") to " + path + " ...");
        log.flush();
        new TestModelWriter(PRESET, 0, TYPE, SEED).prepare().write(path);
        return path;
    }
}
