package dev.fathom.model;

import dev.fathom.Fixtures;
import dev.fathom.checkpoint.Checkpoint;
import dev.fathom.gguf.GgufFile;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.*;

/**
 * Checks a golden model folder (deepseek2, qwen2 or llama) against its golden data (golden README section 2):
 * every {@code pN/} prompt is prefilled (logits at every position), then the golden greedy tokens are fed one at
 * a time through the absorbed decode path. Which tolerances apply follows from the files present: {@code hf_*}
 * (an F32 model: llama.cpp and the float64 reference both within 1e-4) or {@code ref_*} (a quantised model run
 * with float activations: the dequantised float64 reference within 1e-4, llama.cpp within 0.1). A new folder
 * needs no new code.
 */
public final class GoldenCase {
    static final int TOP = 64;

    /** Every golden folder holding a model.gguf of an architecture Fathom runs (deepseek2, qwen2, llama). */
    static Stream<String> all() {
        Path golden = Fixtures.shared().resolve("golden");
        List<String> out = new ArrayList<>();
        try (Stream<Path> dirs = Files.list(golden)) {
            for (Path d : dirs.sorted().toList()) {
                Path gguf = d.resolve("model.gguf");
                if (!Files.isRegularFile(gguf)) continue;
                try (GgufFile f = GgufFile.open(gguf)) {
                    if (Checkpoint.ARCHITECTURES.contains(f.metadata().findString("general.architecture").orElse(""))) {
                        out.add(d.getFileName().toString());
                    }
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return out.stream();
    }

    /** The largest deviations seen, for the report. */
    public static final class Stats {
        double llamaTop, llamaLse, llamaLast, llamaLastRelRms, llamaGreedy, refTop, refLse;
        int argmaxChecked, greedyChecked;

        @Override
        public String toString() {
            return String.format(Locale.ROOT, "vs llama.cpp: top64 %.3g, lse %.3g, last_logits %.3g (rel RMS %.3g), "
                            + "greedy steps %.3g; vs reference: top64 %.3g, lse %.3g; argmax checked at %d positions, "
                            + "%d greedy tokens required equal",
                    llamaTop, llamaLse, llamaLast, llamaLastRelRms, llamaGreedy, refTop, refLse, argmaxChecked, greedyChecked);
        }
    }

    /**
     * Every golden folder with a Hugging Face copy of an F32 model ({@code hf/} beside prompts with float64 {@code hf_*}
     * references): v3-tiny, v2lite-tiny, qwen2-tiny, llama-tiny, v3-tiny-mtp (its main model).
     */
    public static Stream<String> allHf() {
        Path golden = Fixtures.shared().resolve("golden");
        try (Stream<Path> dirs = Files.list(golden)) {
            return dirs.sorted().filter(d -> Files.isRegularFile(d.resolve("hf/config.json"))
                    && Files.isRegularFile(d.resolve("p0/hf_topk_ids.i32"))).map(d -> d.getFileName().toString()).toList().stream();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Every golden folder that holds only a float64 reference ({@code ref_greedy.i32}, no llama.cpp files): the FP8 checkpoints. */
    public static Stream<String> allReferenceOnly() {
        Path golden = Fixtures.shared().resolve("golden");
        try (Stream<Path> dirs = Files.list(golden)) {
            return dirs.sorted().filter(d -> Files.isRegularFile(d.resolve("hf/config.json"))
                    && Files.isRegularFile(d.resolve("p0/ref_greedy.i32"))).map(d -> d.getFileName().toString()).toList().stream();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /**
     * A folder checked against its float64 reference only (README-wave2 section 2): within 1e-4 at the 64 reference ids
     * of every position and greedy step and over all of ref_last_logits, lse within 1e-4, the same argmax wherever the
     * reference's gap exceeds 2e-4, and free-running greedy reproduces ref_greedy.i32.
     */
    static Stats checkReference(String name) throws IOException {
        return checkReference(name, Fixtures.golden(name).resolve("hf"));
    }

    /** {@code model} (any file or folder holding golden folder {@code name}'s weights) against its float64 reference only. */
    public static Stats checkReference(String name, Path model) throws IOException {
        Path dir = Fixtures.golden(name);
        Stats st = new Stats();
        try (Checkpoint f = Checkpoint.open(model); Transformer t = Transformer.load(f, Runtime.getRuntime().availableProcessors())) {
            List<Path> prompts;
            try (Stream<Path> s = Files.list(dir)) {
                prompts = s.filter(p -> p.getFileName().toString().matches("p\\d+") && Files.isDirectory(p)).sorted().toList();
            }
            assertFalse(prompts.isEmpty(), "no pN folders in " + dir);
            for (Path p : prompts) {
                String where = name + "/" + p.getFileName();
                int[] tokens = Fixtures.readI32(p.resolve("tokens.i32"));
                int[] greedy = Fixtures.readI32(p.resolve("ref_greedy.i32"));
                int n = tokens.length;
                var seq = t.newSequence(n + greedy.length);
                float[][] logits = t.forward(seq, tokens, 0, true);
                int[] ids = Fixtures.readI32(p.resolve("ref_topk_ids.i32"));
                float[] vals = Fixtures.readF32(p.resolve("ref_topk_logits.f32"));
                float[] lse = Fixtures.readF32(p.resolve("ref_lse.f32"));
                for (int i = 0; i < n; i++) {
                    st.refTop = Math.max(st.refTop, compareTop(logits[i], ids, vals, i, 1e-4, where + " pos " + i));
                    double d = Math.abs(lse(logits[i]) - lse[i]);
                    st.refLse = Math.max(st.refLse, d);
                    assertTrue(d <= 1e-4, where + " pos " + i + ": lse differs by " + d);
                    if (vals[i * TOP] - vals[i * TOP + 1] > 2e-4) {
                        st.argmaxChecked++;
                        assertEquals(ids[i * TOP], argmax(logits[i]), where + " pos " + i + ": argmax");
                    }
                }
                float[] last = Fixtures.readF32(p.resolve("ref_last_logits.f32"));
                for (int v = 0; v < last.length; v++) {
                    double d = Math.abs(logits[n - 1][v] - last[v]);
                    st.llamaLast = Math.max(st.llamaLast, d);
                    assertTrue(d <= 1e-4, where + ": last logit " + v + " differs by " + d);
                }
                int[] gIds = Fixtures.readI32(p.resolve("ref_greedy_topk_ids.i32"));
                float[] gVals = Fixtures.readF32(p.resolve("ref_greedy_topk_logits.f32"));
                float[] row = logits[n - 1];
                for (int s = 0; s < greedy.length; s++) {
                    if (s > 0) {
                        float[] next = new float[row.length];
                        t.decode(seq, argmax(row), n + s - 1, next); // free-running: our own previous choice
                        row = next;
                    }
                    st.refTop = Math.max(st.refTop, compareTop(row, gIds, gVals, s, 1e-4, where + " greedy step " + s));
                    st.greedyChecked++;
                    assertEquals(greedy[s], argmax(row), where + ": greedy token " + s);
                }
            }
        }
        System.out.println(String.format(Locale.ROOT, "[golden] %s (%s) vs the float64 reference: top64 %.3g, lse %.3g, last_logits %.3g; "
                + "argmax checked at %d positions, %d greedy tokens required equal", name, model.getFileName(), st.refTop, st.refLse, st.llamaLast,
                st.argmaxChecked, st.greedyChecked));
        return st;
    }

    /** The folder's model.gguf against its golden data. */
    static Stats check(String name) throws IOException {
        return check(name, "model.gguf");
    }

    /** {@code model} (model.gguf or hf) of golden folder {@code name} against its golden data. */
    static Stats check(String name, String model) throws IOException {
        return check(name, Fixtures.golden(name).resolve(model));
    }

    /** {@code model} (any file or folder holding golden folder {@code name}'s weights) against its golden data. */
    public static Stats check(String name, Path model) throws IOException {
        Path dir = Fixtures.golden(name);
        Stats st = new Stats();
        try (Checkpoint f = Checkpoint.open(model); Transformer t = Transformer.load(f, Runtime.getRuntime().availableProcessors())) {
            List<Path> prompts;
            try (Stream<Path> s = Files.list(dir)) {
                prompts = s.filter(p -> p.getFileName().toString().matches("p\\d+") && Files.isDirectory(p)).sorted().toList();
            }
            assertFalse(prompts.isEmpty(), "no pN folders in " + dir);
            for (Path p : prompts) checkPrompt(t, name + "/" + p.getFileName(), p, st);
        }
        System.out.println("[golden] " + name + " (" + model.getFileName() + "): " + st);
        return st;
    }

    private static void checkPrompt(Transformer model, String where, Path p, Stats st) {
        boolean f32 = Files.exists(p.resolve("hf_topk_ids.i32"));
        String ref = f32 ? "hf_" : "ref_";
        assertTrue(Files.exists(p.resolve(ref + "topk_ids.i32")), where + ": neither hf_* nor ref_* reference files");
        double tolLlama = f32 ? 1e-4 : 0.1, tolLlamaLse = f32 ? 1e-4 : 0.02, llamaGapMin = f32 ? 2e-4 : 0.1;
        int vocab = model.config().vocabSize();

        int[] tokens = Fixtures.readI32(p.resolve("tokens.i32"));
        int[] greedy = Fixtures.readI32(p.resolve("greedy.i32"));
        int n = tokens.length;
        Transformer.State state = model.newSequence(n + greedy.length);
        float[][] logits = model.forward(state, tokens, 0, true);

        // Prompt positions vs llama.cpp.
        int[] ids = Fixtures.readI32(p.resolve("topk_ids.i32"));
        float[] vals = Fixtures.readF32(p.resolve("topk_logits.f32"));
        float[] lse = Fixtures.readF32(p.resolve("lse.f32"));
        assertEquals(n * TOP, ids.length, where + ": topk_ids size");
        for (int i = 0; i < n; i++) {
            st.llamaTop = Math.max(st.llamaTop, compareTop(logits[i], ids, vals, i, tolLlama, where + " pos " + i + " vs llama.cpp"));
            double d = Math.abs(lse(logits[i]) - lse[i]);
            st.llamaLse = Math.max(st.llamaLse, d);
            assertTrue(d <= tolLlamaLse, where + " pos " + i + ": lse differs from llama.cpp by " + d);
            float gap = vals[i * TOP] - vals[i * TOP + 1];
            if (gap > llamaGapMin) {
                st.argmaxChecked++;
                assertEquals(ids[i * TOP], argmax(logits[i]), where + " pos " + i + ": argmax vs llama.cpp (gap " + gap + ")");
            }
        }
        // Prompt positions vs the float64 reference.
        int[] rIds = Fixtures.readI32(p.resolve(ref + "topk_ids.i32"));
        float[] rVals = Fixtures.readF32(p.resolve(ref + "topk_logits.f32"));
        float[] rLse = Fixtures.readF32(p.resolve(ref + "lse.f32"));
        for (int i = 0; i < n; i++) {
            st.refTop = Math.max(st.refTop, compareTop(logits[i], rIds, rVals, i, 1e-4, where + " pos " + i + " vs " + ref + "reference"));
            double d = Math.abs(lse(logits[i]) - rLse[i]);
            st.refLse = Math.max(st.refLse, d);
            assertTrue(d <= 1e-4, where + " pos " + i + ": lse differs from the " + ref + "reference by " + d);
            float gap = rVals[i * TOP] - rVals[i * TOP + 1];
            if (gap > 2e-4) assertEquals(rIds[i * TOP], argmax(logits[i]), where + " pos " + i + ": argmax vs " + ref + "reference");
        }
        // The whole last row.
        float[] last = Fixtures.readF32(p.resolve("last_logits.f32"));
        assertEquals(vocab, last.length, where + ": last_logits size");
        double maxD = 0, se = 0, sg = 0;
        for (int v = 0; v < vocab; v++) {
            double d = logits[n - 1][v] - last[v];
            maxD = Math.max(maxD, Math.abs(d));
            se += d * d;
            sg += (double) last[v] * last[v];
        }
        double relRms = Math.sqrt(se / sg);
        st.llamaLast = Math.max(st.llamaLast, maxD);
        st.llamaLastRelRms = Math.max(st.llamaLastRelRms, relRms);
        if (f32) assertTrue(maxD <= 1e-4, where + ": last_logits max diff " + maxD);
        else assertTrue(relRms <= 0.02, where + ": last_logits relative RMS " + relRms);

        // Greedy steps: row 0 is the last prompt row; row s comes from decoding greedy[s-1] at position n+s-1.
        int[] gIds = Fixtures.readI32(p.resolve("greedy_topk_ids.i32"));
        float[] gVals = Fixtures.readF32(p.resolve("greedy_topk_logits.f32"));
        float[] row = logits[n - 1];
        float[] buf = new float[vocab];
        boolean mustMatch = true; // quantised: free-running greedy need only agree up to the first close call
        for (int s = 0; s < greedy.length; s++) {
            if (s > 0) {
                model.decode(state, greedy[s - 1], n + s - 1, buf);
                row = buf;
            }
            st.llamaGreedy = Math.max(st.llamaGreedy, compareTop(row, gIds, gVals, s, tolLlama, where + " greedy step " + s));
            float gap = gVals[s * TOP] - gVals[s * TOP + 1];
            if (!f32 && gap <= 0.1) mustMatch = false;
            if (mustMatch) {
                st.greedyChecked++;
                assertEquals(greedy[s], argmax(row), where + ": greedy token " + s);
            }
        }
    }

    /** Max |diff| at the 64 golden ids of row {@code r}; fails above {@code tol}. */
    private static double compareTop(float[] logits, int[] ids, float[] vals, int r, double tol, String where) {
        double max = 0;
        for (int j = 0; j < TOP; j++) {
            int id = ids[r * TOP + j];
            double d = Math.abs(logits[id] - vals[r * TOP + j]);
            if (!(d <= tol)) fail(where + ": logit of id " + id + " is " + logits[id] + ", golden " + vals[r * TOP + j]);
            max = Math.max(max, d);
        }
        return max;
    }

    static double lse(float[] x) {
        double m = Double.NEGATIVE_INFINITY;
        for (float v : x) m = Math.max(m, v);
        double s = 0;
        for (float v : x) s += Math.exp(v - m);
        return m + Math.log(s);
    }

    /** Index of the largest value, lowest index on ties. */
    static int argmax(float[] x) {
        int best = 0;
        for (int i = 1; i < x.length; i++) if (x[i] > x[best]) best = i;
        return best;
    }
}
