package dev.fathom.kernel;

import javax.management.ObjectName;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.logging.Logger;

/**
 * Tells C2 to inline every method of this package into the kernels that call it, by adding a compiler directive
 * (JEP 165) to the running JVM through its DiagnosticCommand MBean, as {@code jcmd Compiler.directives_add} would.
 *
 * <p>Why: a kernel's vector helpers ({@code values}, {@code bytes}, ...) are called from both {@code dot} and
 * {@code decode}. When one of them is compiled on its own first (C1 code calls it out of line while it warms up),
 * C2 later refuses to inline it into the other ("already compiled into a medium method", the InlineSmallCode
 * heuristic); a vector returned from a method that is not inlined is boxed, so every vector operation allocates
 * and the product runs 3-5x slower. Which case happens depends on the order of compilation, so it varied from run
 * to run (a profiler attached made it happen every time). Forced inlining takes the heuristic out; the one limit
 * left, the parse-time node count, is kept by one vector body per loop and one {@code dot} call site.
 */
final class InliningDirective {
    private static final Logger LOG = Logger.getLogger(InliningDirective.class.getName());
    private static final String PACKAGE = InliningDirective.class.getPackageName().replace('.', '/');
    private static final String JSON = "[{match: \"" + PACKAGE + "/*.*\", c2: {Enable: true, inline: \"+" + PACKAGE + "/*.*\"}}]";

    private static boolean installed;

    private InliningDirective() {}

    /** Adds the directive once per JVM; returns whether the JVM holds it (false, with a warning, where it cannot). */
    static synchronized boolean install() {
        if (installed) return true;
        Path file = null;
        try {
            file = Files.createTempFile("fathom-inline", ".json");
            Files.writeString(file, JSON);
            Object reply = ManagementFactory.getPlatformMBeanServer().invoke(
                    new ObjectName("com.sun.management:type=DiagnosticCommand"), "compilerDirectivesAdd",
                    new Object[] {new String[] {file.toString()}}, new String[] {String[].class.getName()});
            installed = String.valueOf(reply).contains("1 compiler directives added");
            if (!installed) LOG.warning("the JVM did not take Fathom's kernel inlining directive (" + reply + ")");
        } catch (Exception | LinkageError e) {
            LOG.warning("could not add Fathom's kernel inlining directive (" + e.getMessage()
                    + "); kernels may run several times slower when C2 compiles their helpers alone");
        } finally {
            if (file != null) {
                try {
                    Files.deleteIfExists(file);
                } catch (java.io.IOException e) {
                    LOG.fine("could not delete " + file + ": " + e.getMessage());
                }
            }
        }
        return installed;
    }
}
