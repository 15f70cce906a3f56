package dev.fathom.cli;

import dev.fathom.Fixtures;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.*;

class FathomCliTest {
    @TempDir
    Path dir;

    record Run(int code, String out, String err) {}

    static Run run(String... args) {
        StringWriter out = new StringWriter(), err = new StringWriter();
        int code = FathomCli.execute(args, new PrintWriter(out, true), new PrintWriter(err, true));
        return new Run(code, out.toString(), err.toString());
    }

    @Test
    void inspectShowsArchitectureTensorsAndMemory() {
        Run r = run("inspect", Fixtures.golden("v3-tiny-q4_0/model.gguf").toString(), "--ctx", "1000");
        assertEquals(0, r.code, r.err);
        assertTrue(r.out.contains("architecture:  deepseek2"), r.out);
        assertTrue(r.out.matches("(?s).*kv_lora_rank +32\n.*"), r.out);
        assertTrue(r.out.matches("(?s).*Q4_0 +\\d+ tensors.*"), r.out);
        assertTrue(r.out.contains("16448 tokens"), r.out);
        // MLA: 3 layers x (32 + 16) floats x 4 bytes per token, 1000 tokens.
        assertTrue(r.out.contains("576 B per token, 36.00 KiB per 64-token block (MLA latent"), r.out);
    }

    @Test
    void inspectShowsADenseModelsOwnHyperParameters() {
        Run r = run("inspect", Fixtures.golden("qwen2-tiny/model.gguf").toString());
        assertEquals(0, r.code, r.err);
        assertTrue(r.out.contains("architecture:  qwen2"), r.out);
        assertTrue(r.out.matches("(?s).*num_key_value_heads +2\n.*"), r.out);
        // GQA: 3 layers x 2 (keys, values) x 2 KV heads x 16 floats x 4 bytes.
        assertTrue(r.out.contains("768 B per token") && r.out.contains("keys and values"), r.out);
    }

    @Test
    void malformedFileGivesExitCode2AndAClearMessage() throws Exception {
        Path bad = dir.resolve("bad.gguf");
        Files.write(bad, new byte[] {'G', 'G', 'U', 'F', 3, 0, 0, 0, 1});
        Run r = run("inspect", bad.toString());
        assertEquals(2, r.code);
        assertTrue(r.err.startsWith("fathom: " + bad + ": file is truncated"), r.err);
        assertFalse(r.err.contains("\tat "), "no stack trace");
        Run missing = run("inspect", dir.resolve("nope.gguf").toString());
        assertEquals(2, missing.code);
        assertTrue(missing.err.contains("nope.gguf: no such file"), missing.err);
    }

    @Test
    void unknownOptionGivesAShortUsageError() {
        Run r = run("inspect", "--bogus");
        assertEquals(2, r.code);
        assertTrue(r.err.contains("Unknown option: '--bogus'"), r.err);
        assertTrue(r.err.contains("Try 'fathom inspect --help'"), r.err);
        assertTrue(r.err.lines().count() <= 3, "short: " + r.err);
    }

    @Test
    void helpListsEverySubcommand() {
        Run r = run("--help");
        assertEquals(0, r.code);
        for (String sub : new String[] {"generate", "inspect", "tokenize", "logits", "testmodel"}) assertTrue(r.out.contains(sub), r.out);
        Run sub = run("testmodel", "--help");
        assertEquals(0, sub.code);
        assertTrue(sub.out.contains("--preset"), sub.out);
    }

    @Test
    void testmodelWritesAFileAndRejectsBadOptions() {
        Path out = dir.resolve("m.gguf");
        Run r = run("testmodel", "--preset", "v2-lite-tiny", "--layers", "2", "--type", "Q8_0", "--seed", "3", "--out", out.toString());
        assertEquals(0, r.code, r.err);
        assertTrue(Files.exists(out));
        Run inspect = run("inspect", out.toString());
        assertTrue(inspect.out.matches("(?s).*num_hidden_layers +2\n.*"), inspect.out);
        Run badPreset = run("testmodel", "--preset", "v9", "--out", out.toString());
        assertEquals(2, badPreset.code);
        assertTrue(badPreset.err.contains("unknown preset 'v9'"), badPreset.err);
        Run badType = run("testmodel", "--preset", "v3-tiny", "--type", "Q2_K", "--out", out.toString());
        assertEquals(2, badType.code);
        assertTrue(badType.err.contains("Q2_K"), badType.err);
    }

    /** Every summary is a whole sentence and every description one string, wrapped by picocli, not by hand. */
    @Test
    void helpIsWrittenInWholeSentences() {
        Run r = run("--help");
        assertEquals(0, r.code);
        for (var sub : FathomCli.commandLine().getSubcommands().entrySet()) {
            if (sub.getKey().equals("help")) continue;
            var usage = sub.getValue().getCommandSpec().usageMessage();
            assertEquals(1, usage.header().length, sub.getKey());
            assertTrue(usage.header()[0].endsWith("."), sub.getKey() + ": " + usage.header()[0]);
            assertTrue(r.out.contains(usage.header()[0]), r.out);
            assertEquals(1, usage.description().length, sub.getKey() + ": one paragraph");
            assertTrue(usage.description()[0].endsWith("."), sub.getKey());
            assertEquals(0, run(sub.getKey(), "--help").code);
        }
    }

    /** A Hugging Face model folder is a model like a GGUF file. */
    @Test
    void aHuggingFaceFolderRuns() {
        Run r = run("generate", "-m", Fixtures.golden("qwen2-tiny/hf").toString(), "-p", "Hello", "-n", "3", "--temp", "0", "-t", "1");
        assertEquals(0, r.code, r.err);
        assertTrue(r.out.startsWith("Hello") && r.out.length() > "Hello\n".length(), r.out);
    }

    /** A folder that is not a model folder (no config.json), or a missing path, is a clear error before any work. */
    @Test
    void aModelFolderIsAClearErrorForEveryCommand() throws Exception {
        Files.writeString(dir.resolve("p.txt"), "Hi");
        String[][] commands = {{"generate", "-p", "x"}, {"chat"}, {"serve", "--port", "0"}, {"bench", "--no-bandwidth"},
                {"logits", "--prompt-file", dir.resolve("p.txt").toString(), "--out", dir.resolve("o").toString()}};
        for (String[] c : commands) {
            Run r = run(withModel(c, dir));
            assertEquals(2, r.code, c[0] + ": " + r.err);
            assertTrue(r.err.contains("-m " + dir + ": is a folder"), r.err);
            assertFalse(r.err.contains("Exception"), r.err);
            Run missing = run(withModel(c, dir.resolve("nope.gguf")));
            assertTrue(missing.err.contains("nope.gguf: no such file") && missing.code == 2, missing.err);
        }
    }

    private static String[] withModel(String[] command, Path model) {
        String[] args = java.util.Arrays.copyOf(command, command.length + 2);
        args[command.length] = "-m";
        args[command.length + 1] = model.toString();
        return args;
    }

    @Test
    void badOutPathsNameTheOptionNotJavasExceptions() throws Exception {
        Run folder = run("testmodel", "--preset", "v3-tiny", "--out", dir.toString());
        assertEquals(2, folder.code);
        assertTrue(folder.err.contains("--out " + dir + ": is a folder"), folder.err);
        Path file = Files.writeString(dir.resolve("file.txt"), "x");
        Path under = file.resolve("m.gguf");
        Run unwritable = run("testmodel", "--preset", "v3-tiny", "--out", under.toString());
        assertEquals(2, unwritable.code);
        assertTrue(unwritable.err.contains("fathom: --out " + under + ": cannot write it ("), unwritable.err);
        assertFalse(unwritable.err.contains("Exception") || unwritable.err.contains(".part"), unwritable.err);
        Path prompt = Files.writeString(dir.resolve("p.txt"), "Hi");
        Run logits = run("logits", "-m", Fixtures.golden("v3-tiny/model.gguf").toString(), "--prompt-file", prompt.toString(),
                "--out", file.toString());
        assertEquals(2, logits.code);
        assertTrue(logits.err.contains("--out " + file + ": is a file; --out takes a folder"), logits.err);
        assertFalse(logits.err.contains("Exception"), logits.err);
    }

    @Test
    void contextAndThreadsAboveWhatThereIsAreWarnedAbout() {
        int cores = Runtime.getRuntime().availableProcessors();
        Run r = run("generate", "-m", Fixtures.golden("v3-tiny/model.gguf").toString(), "-p", "Hi", "-n", "2", "--temp", "0",
                "--ctx", "100000000", "-t", Integer.toString(cores + 1));
        assertEquals(0, r.code, r.err);
        assertTrue(r.err.matches("(?s).*fathom: warning: --ctx 100000000 is above the model's maximum context; using \\d+ tokens\n.*"), r.err);
        assertTrue(r.err.contains("fathom: warning: --threads " + (cores + 1) + " is more than the " + cores + " cores"), r.err);
        Run quiet = run("generate", "-m", Fixtures.golden("v3-tiny/model.gguf").toString(), "-p", "Hi", "-n", "2", "--ctx", "64");
        assertFalse(quiet.err.contains("warning"), quiet.err);
    }
}
