package dev.fathom.cli;

import dev.fathom.FathomException;
import picocli.CommandLine;
import picocli.CommandLine.Command;

import java.io.IOException;
import java.io.PrintWriter;
import java.util.Locale;
import java.nio.file.AccessDeniedException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.FileSystemException;
import java.nio.file.NoSuchFileException;

/**
 * The {@code fathom} command. Exit codes: 0 success, 1 internal error (a bug: stack trace shown), 2 bad input
 * or usage (a one-paragraph message naming what was wrong, never a stack trace).
 */
@Command(name = "fathom", mixinStandardHelpOptions = true, versionProvider = FathomCli.Version.class,
        description = "Runs DeepSeek-architecture language models on the JVM.",
        subcommands = {GenerateCommand.class, ChatCommand.class, ServeCommand.class, BenchCommand.class, InspectCommand.class, TokenizeCommand.class, LogitsCommand.class, TestModelCommand.class, QuantizeCommand.class, ConvertCommand.class, CommandLine.HelpCommand.class})
public final class FathomCli {
    public static final int EXIT_BAD_INPUT = 2;

    public static void main(String[] args) {
        System.exit(execute(args, new PrintWriter(System.out, true), new PrintWriter(System.err, true)));
    }

    /** Runs the CLI with the given streams and returns the exit code (tests call this). */
    public static int execute(String[] args, PrintWriter out, PrintWriter err) {
        CommandLine cli = commandLine();
        cli.setOut(out);
        cli.setErr(err);
        return cli.execute(args);
    }

    static CommandLine commandLine() {
        CommandLine cli = new CommandLine(new FathomCli());
        cli.setParameterExceptionHandler((ex, args) -> {
            CommandLine cmd = ex.getCommandLine();
            PrintWriter err = cmd.getErr();
            err.println("fathom: " + ex.getMessage());
            err.println("Try '" + cmd.getCommandSpec().qualifiedName() + " --help' for more information.");
            return EXIT_BAD_INPUT;
        });
        cli.setExecutionExceptionHandler((ex, cmd, parseResult) -> {
            PrintWriter err = cmd.getErr();
            String message = userMessage(ex);
            if (message != null) {
                err.println("fathom: " + message);
                return EXIT_BAD_INPUT;
            }
            err.println("fathom: internal error (please report it):");
            ex.printStackTrace(err);
            return 1;
        });
        return cli;
    }

    /** The message to show for an error caused by the user's input, or null for a bug. */
    private static String userMessage(Exception ex) {
        if (ex instanceof FathomException) return ex.getMessage();
        if (ex instanceof NoSuchFileException e) return e.getFile() + ": no such file";
        if (ex instanceof AccessDeniedException e) return e.getFile() + ": permission denied";
        if (ex instanceof FileSystemException e) return e.getFile() + ": " + reason(e);
        if (ex instanceof IOException e) return reason(e);
        return null;
    }

    /** An I/O error in words, without Java's exception names. */
    static String reason(IOException e) {
        return switch (e) {
            case NoSuchFileException x -> "no such file or folder";
            case AccessDeniedException x -> "permission denied";
            case FileAlreadyExistsException x -> "a file is in the way";
            case FileSystemException x when x.getReason() != null -> x.getReason().toLowerCase(Locale.ROOT);
            default -> e.getMessage() != null ? e.getMessage() : e.getClass().getSimpleName();
        };
    }

    static final class Version implements CommandLine.IVersionProvider {
        @Override
        public String[] getVersion() {
            String v = FathomCli.class.getPackage().getImplementationVersion();
            return new String[] {"fathom " + (v == null ? "dev" : v) + " (Java " + Runtime.version() + ")"};
        }
    }
}
