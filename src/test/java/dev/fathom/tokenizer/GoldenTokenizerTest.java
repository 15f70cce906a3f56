package dev.fathom.tokenizer;

import dev.fathom.Fixtures;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** Every golden file of shared/golden against every tokenizer source that should reproduce it. */
class GoldenTokenizerTest {

    /** (tokenizer: GGUF file, tokenizer.json or model folder; golden file; expect Hugging Face ids). */
    static Stream<Arguments> cases() {
        return Stream.of(
                Arguments.of("tokenizer/tokenizer.json", "tokenizer/tokenizer_golden.json", true),
                Arguments.of("tokenizer/deepseek-v3-vocab.gguf", "tokenizer/tokenizer_golden.json", false),
                Arguments.of("tokenizer/deepseek-v3-vocab.gguf", "tokenizer/tokenizer_golden.jsonl", false),
                Arguments.of("v3-tiny/model.gguf", "tokenizer/truncated-16k/tokenizer_golden.json", false),
                Arguments.of("v3-tiny/hf/tokenizer.json", "tokenizer/truncated-16k/tokenizer_golden.json", true),
                Arguments.of("v3-tiny/hf", "tokenizer/truncated-16k/tokenizer_golden.jsonl", true),
                Arguments.of("v2lite-tiny/model.gguf", "tokenizer/truncated-16k/tokenizer_golden.json", false),
                Arguments.of("v2lite-tiny/hf", "tokenizer/truncated-16k/tokenizer_golden.json", true),
                Arguments.of("qwen2-tiny/model.gguf", "tokenizer/more/qwen2-tiny/tokenizer_golden.json", false),
                Arguments.of("qwen2-tiny/hf", "tokenizer/more/qwen2-tiny/tokenizer_golden.json", true),
                Arguments.of("llama-tiny/model.gguf", "tokenizer/more/llama-tiny/tokenizer_golden.json", false),
                Arguments.of("llama-tiny/hf", "tokenizer/more/llama-tiny/tokenizer_golden.json", true),
                Arguments.of("v3-small-fp8/hf", "tokenizer/more/v3-small-fp8/tokenizer_golden.json", true));
    }

    @ParameterizedTest(name = "{0} vs {1}")
    @MethodSource("cases")
    void golden(String tokenizer, String golden, boolean hfSemantics) {
        Tokenizer t = Tokenizer.load(Fixtures.golden(tokenizer));
        assertEquals(204, GoldenCheck.check(t, Fixtures.golden(golden), hfSemantics));
    }

    @Test
    void bundledDeepSeekV3MatchesGolden() {
        Tokenizer t = Tokenizer.deepSeekV3();
        assertEquals(129280, t.vocabSize());
        assertEquals(204, GoldenCheck.check(t, Fixtures.golden("tokenizer/tokenizer_golden.json"), false));
    }
}
