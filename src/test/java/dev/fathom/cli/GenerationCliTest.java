package dev.fathom.cli;

import dev.fathom.Fixtures;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;

import static dev.fathom.cli.FathomCliTest.run;
import static org.junit.jupiter.api.Assertions.*;

class GenerationCliTest {
    @TempDir
    Path dir;

    /** `fathom logits` writes the golden format; on v3-tiny it reproduces llama.cpp's tokens, logits and greedy tokens. */
    @Test
    void logitsMatchTheGoldenReference() throws Exception {
        Path golden = Fixtures.golden("v3-tiny/p0");
        Path out = dir.resolve("out");
        FathomCliTest.Run r = run("logits", "-m", Fixtures.golden("v3-tiny/model.gguf").toString(),
                "--prompt-file", golden.resolve("prompt.txt").toString(), "--out", out.toString(), "--greedy", "32");
        assertEquals(0, r.code(), r.err());
        int[] tokens = Fixtures.readI32(out.resolve("tokens.i32"));
        assertArrayEquals(Fixtures.readI32(golden.resolve("tokens.i32")), tokens);
        float[] logits = Fixtures.readF32(out.resolve("logits.f32"));
        int vocab = 16448;
        assertEquals((long) tokens.length * vocab, logits.length);
        int[] topIds = Fixtures.readI32(golden.resolve("topk_ids.i32"));
        float[] topLogits = Fixtures.readF32(golden.resolve("topk_logits.f32"));
        for (int i = 0; i < topIds.length; i++) {
            int pos = i / 64;
            assertEquals(topLogits[i], logits[pos * vocab + topIds[i]], 1e-4, "position " + pos + " id " + topIds[i]);
        }
        assertArrayEquals(Fixtures.readI32(golden.resolve("greedy.i32")), Fixtures.readI32(out.resolve("greedy.i32")));
    }

    @Test
    void sameSeedSameTextAndGreedyIsDeterministic() {
        String model = Fixtures.golden("v3-tiny/model.gguf").toString();
        FathomCliTest.Run a = run("generate", "-m", model, "-p", "Once upon a time", "-n", "24", "--seed", "7", "--temp", "1.5");
        FathomCliTest.Run b = run("generate", "-m", model, "-p", "Once upon a time", "-n", "24", "--seed", "7", "--temp", "1.5");
        FathomCliTest.Run c = run("generate", "-m", model, "-p", "Once upon a time", "-n", "24", "--seed", "8", "--temp", "1.5");
        assertEquals(0, a.code(), a.err());
        assertEquals(a.out(), b.out());
        assertNotEquals(a.out(), c.out(), "another seed gives another text");
        assertTrue(a.out().startsWith("Once upon a time"));
        assertTrue(a.err().contains("generation: 24 tokens"), a.err());
        FathomCliTest.Run g1 = run("generate", "-m", model, "-p", "Once upon a time", "-n", "10", "--temp", "0", "--seed", "1");
        FathomCliTest.Run g2 = run("generate", "-m", model, "-p", "Once upon a time", "-n", "10", "--temp", "0", "--seed", "2");
        assertEquals(g1.out(), g2.out(), "greedy ignores the seed");
    }

    /** A folder's generation_config.json sets the sampling the user did not give (here temperature 0: greedy, whatever the seed). */
    @Test
    void generationConfigGivesTheDefaultSampling() throws Exception {
        Path src = Fixtures.golden("v3-tiny/hf"), folder = Files.createDirectories(dir.resolve("v3-tiny"));
        try (var files = Files.list(src)) {
            for (Path f : files.toList()) Files.copy(f, folder.resolve(f.getFileName()));
        }
        Files.writeString(folder.resolve("generation_config.json"), "{\"do_sample\": true, \"temperature\": 0.0, \"top_p\": 0.95}");
        String[] args = {"generate", "-m", folder.toString(), "-p", "Once upon a time", "-n", "12"};
        FathomCliTest.Run a = run(concat(args, "--seed", "1")), b = run(concat(args, "--seed", "2"));
        assertEquals(0, a.code(), a.err());
        assertEquals(a.out(), b.out(), "the model's temperature 0 is greedy");
        assertEquals(a.out(), run("generate", "-m", Fixtures.golden("v3-tiny/model.gguf").toString(), "-p", "Once upon a time", "-n", "12",
                "--temp", "0").out());
        assertNotEquals(a.out(), run(concat(args, "--seed", "1", "--temp", "1.5")).out(), "the user's --temp wins");
    }

    private static String[] concat(String[] a, String... b) {
        String[] r = java.util.Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, r, a.length, b.length);
        return r;
    }

    @Test
    void contextLimitsGiveClearErrorsOrStops() {
        String model = Fixtures.golden("v3-tiny/model.gguf").toString();
        FathomCliTest.Run tooLong = run("generate", "-m", model, "-p", "one two three four five six seven", "--ctx", "4");
        assertEquals(2, tooLong.code());
        assertTrue(tooLong.err().contains("the prompt has") && tooLong.err().contains("the context holds 4"), tooLong.err());
        assertEquals("", tooLong.out(), "the prompt is not printed before the error");
        FathomCliTest.Run full = run("generate", "-m", model, "-p", "Hi", "--ctx", "8", "-n", "100", "--temp", "0");
        assertEquals(0, full.code(), full.err());
        assertTrue(full.err().contains("stop: context full"), full.err());
        assertTrue(full.out().startsWith("Hi") && full.out().endsWith("\n"), "the text ends with a newline: " + full.out());
    }

    @Test
    void tokenizeJsonlAndPieces() throws Exception {
        String model = Fixtures.golden("v3-tiny/model.gguf").toString();
        FathomCliTest.Run one = run("tokenize", "-m", model, "Hello world");
        assertEquals(0, one.code(), one.err());
        assertTrue(one.out().trim().matches("\\[0(,\\d+)+\\]"), one.out());
        FathomCliTest.Run pieces = run("tokenize", "-m", model, "--pieces", "<｜User｜>");
        assertTrue(pieces.out().contains("{\"id\":16387,\"piece\":\"<｜User｜>\"}"), pieces.out());
        FathomCliTest.Run neither = run("tokenize", "-m", model);
        assertEquals(2, neither.code());
        Path jsonl = dir.resolve("in.jsonl");
        Files.writeString(jsonl, "{\"text\": \"Hello world\"}\n{\"text\": \"\"}\n");
        var in = System.in;
        try (var stream = Files.newInputStream(jsonl)) {
            System.setIn(stream);
            FathomCliTest.Run lines = run("tokenize", "-m", model, "--jsonl");
            assertEquals(0, lines.code(), lines.err());
            assertEquals(one.out().trim() + "\n[0]", lines.out().trim());
        } finally {
            System.setIn(in);
        }
        Files.writeString(jsonl, "{\"text\": \"ok\"}\nnot json\n");
        try (var stream = Files.newInputStream(jsonl)) {
            System.setIn(stream);
            FathomCliTest.Run bad = run("tokenize", "-m", model, "--jsonl");
            assertEquals(2, bad.code());
            assertTrue(bad.err().contains("stdin line 2: not valid JSON"), bad.err());
        } finally {
            System.setIn(in);
        }
    }
}
