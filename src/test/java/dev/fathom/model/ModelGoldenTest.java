package dev.fathom.model;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertTrue;

/** Every golden model folder (v3-tiny, v2lite-tiny, v3-tiny-q8_0, v3-tiny-q4_0, qwen2-tiny, llama-tiny, and any added later). */
class ModelGoldenTest {

    static Stream<String> cases() {
        return GoldenCase.all();
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void matchesGolden(String name) throws Exception {
        GoldenCase.check(name);
    }

    static Stream<String> hfCases() {
        return GoldenCase.allHf();
    }

    /** The Hugging Face folders (BF16 safetensors) give the same results as their GGUFs, within the same tolerances. */
    @ParameterizedTest(name = "{0}/hf")
    @MethodSource("hfCases")
    void hfFolderMatchesGolden(String name) throws Exception {
        GoldenCase.check(name, "hf");
    }

    @org.junit.jupiter.api.Test
    void findsTheKnownCases() {
        var hf = GoldenCase.allHf().toList();
        for (String n : new String[] {"v3-tiny", "v2lite-tiny", "qwen2-tiny", "llama-tiny", "v3-tiny-mtp"}) {
            assertTrue(hf.contains(n), "golden hf case " + n + " not discovered: " + hf);
        }
        var names = GoldenCase.all().toList();
        for (String n : new String[] {"v3-tiny", "v2lite-tiny", "v3-tiny-q8_0", "v3-tiny-q4_0", "qwen2-tiny", "llama-tiny"}) {
            assertTrue(names.contains(n), "golden case " + n + " not discovered: " + names);
        }
    }
}
