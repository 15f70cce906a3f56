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

    static Stream<String> referenceCases() {
        return GoldenCase.allReferenceOnly();
    }

    /** DeepSeek's native FP8 checkpoints (e4m3 with 128x128 block scales) against the float64 reference on their dequantised weights. */
    @ParameterizedTest(name = "{0}/hf")
    @MethodSource("referenceCases")
    void fp8FolderMatchesReference(String name) throws Exception {
        GoldenCase.checkReference(name);
    }

    @org.junit.jupiter.api.Test
    void findsTheKnownCases() {
        var ref = GoldenCase.allReferenceOnly().toList();
        assertTrue(ref.contains("v3-tiny-fp8") && ref.contains("v3-small-fp8"), "FP8 cases not discovered: " + ref);
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
