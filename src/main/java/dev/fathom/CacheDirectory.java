package dev.fathom;

import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.function.UnaryOperator;

/**
 * Where Fathom keeps what it can recompute (the demo model, KV blocks on disk): {@code $FATHOM_CACHE}, else
 * {@code $XDG_CACHE_HOME/fathom}, else {@code $HOME/.cache/fathom}.
 */
public final class CacheDirectory {
    private CacheDirectory() {}

    public static Path path() {
        return of(System::getenv);
    }

    /** The cache folder for the given environment variables (a blank variable counts as unset). */
    public static Path of(UnaryOperator<String> env) {
        String fathom = env.apply("FATHOM_CACHE");
        if (fathom != null && !fathom.isBlank()) return Paths.get(fathom);
        String xdg = env.apply("XDG_CACHE_HOME");
        if (xdg != null && !xdg.isBlank()) return Paths.get(xdg, "fathom");
        String home = env.apply("HOME");
        return Paths.get(home != null && !home.isBlank() ? home : System.getProperty("user.home"), ".cache", "fathom");
    }
}
