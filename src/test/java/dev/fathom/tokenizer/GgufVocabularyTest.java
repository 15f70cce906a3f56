package dev.fathom.tokenizer;

import dev.fathom.Fixtures;
import dev.fathom.gguf.GgufArray;
import dev.fathom.gguf.GgufFile;
import dev.fathom.gguf.GgufMetadata;
import dev.fathom.gguf.MetadataValue;
import org.junit.jupiter.api.Test;

import java.util.Map;
import java.util.TreeMap;

import static org.junit.jupiter.api.Assertions.*;

/** The full DeepSeek-V3 tokenizer folder gives the tokenizer.ggml.* metadata llama.cpp's converter wrote for it. */
class GgufVocabularyTest {
    @Test
    void fullDeepSeekV3TokenizerIsWhatLlamaCppsConverterWrote() throws Exception {
        GgufMetadata.Builder b = GgufMetadata.builder();
        GgufVocabulary.fromHuggingFace(Fixtures.golden("tokenizer"), 129280, b); // V3's vocab_size: 128815 tokens padded with [PADn]
        GgufMetadata ours = b.build();
        try (GgufFile theirs = GgufFile.open(Fixtures.golden("tokenizer/deepseek-v3-vocab.gguf"))) {
            Map<String, MetadataValue> expected = new TreeMap<>(theirs.metadata().entries());
            expected.keySet().removeIf(k -> !k.startsWith("tokenizer.ggml."));
            Map<String, MetadataValue> actual = new TreeMap<>(ours.entries());
            assertEquals(expected.keySet(), actual.keySet());
            for (var e : expected.entrySet()) {
                MetadataValue v = actual.get(e.getKey());
                assertEquals(e.getValue().type(), v.type(), e.getKey());
                if (!(v.value() instanceof GgufArray)) assertEquals(e.getValue().value(), v.value(), e.getKey());
            }
            for (String k : new String[] {"tokenizer.ggml.tokens", "tokenizer.ggml.merges"}) {
                assertArrayEquals(theirs.metadata().getStringArray(k), ours.getStringArray(k), k);
            }
            assertArrayEquals(theirs.metadata().getIntArray("tokenizer.ggml.token_type"), ours.getIntArray("tokenizer.ggml.token_type"));
        }
    }
}
