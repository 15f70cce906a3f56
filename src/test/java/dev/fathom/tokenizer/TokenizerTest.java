package dev.fathom.tokenizer;

import dev.fathom.FathomException;
import dev.fathom.Fixtures;
import dev.fathom.gguf.GgufMetadata;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

class TokenizerTest {
    private static Tokenizer v3Tiny;
    private static Tokenizer qwen2;

    private static synchronized Tokenizer v3() {
        if (v3Tiny == null) v3Tiny = Tokenizer.load(Fixtures.golden("v3-tiny/model.gguf"));
        return v3Tiny;
    }

    private static synchronized Tokenizer qwen() {
        if (qwen2 == null) qwen2 = Tokenizer.load(Fixtures.golden("qwen2-tiny/hf"));
        return qwen2;
    }

    private static int byteToken(Tokenizer t, int b) {
        int id = t.tokenId(String.valueOf(ByteLevel.BYTE_TO_CHAR[b]));
        assertTrue(id >= 0, "no token for byte " + b);
        return id;
    }

    // ------------------------------------------------------------------------------------- vocabulary / BOS

    @Test
    void vocabularyInfoFromGguf() {
        Tokenizer t = v3();
        assertEquals(16448, t.vocabSize());
        assertEquals(PreTokenizer.DEEPSEEK_V3, t.preTokenizer());
        assertEquals(0, t.bosId());
        assertEquals(1, t.eosId());
        assertEquals(1, t.eotId());
        assertTrue(t.isEndOfGeneration(1));
        assertFalse(t.isEndOfGeneration(16387));
        assertTrue(t.addBosByDefault());
        assertEquals("<｜User｜>", t.tokenText(16387));
        assertEquals(16387, t.tokenId("<｜User｜>"));
        assertEquals(TokenType.CONTROL, t.tokenType(16387));
        assertEquals(TokenType.NORMAL, t.tokenType(100));
        assertEquals(TokenType.UNUSED, t.tokenType(16447));
        assertEquals(Tokenizer.NO_TOKEN, t.tokenId("no such token text"));
        assertArrayEquals(" world".getBytes(StandardCharsets.UTF_8), t.tokenBytes(t.tokenId("Ġworld")));
        assertThrows(FathomException.class, () -> t.tokenText(16448));
        assertThrows(FathomException.class, () -> t.decode(new int[] {-1}));
    }

    @Test
    void vocabularyInfoFromModelFolder() {
        Tokenizer t = qwen();
        assertEquals(14339, t.bosId());
        assertEquals(14336, t.eosId());
        assertTrue(t.addBosByDefault());
        assertEquals(java.text.Normalizer.Form.NFC, t.normalization());
        assertEquals(PreTokenizer.QWEN2, t.preTokenizer());
        assertEquals(TokenType.USER_DEFINED, t.tokenType(t.tokenId("<think>")));
        assertEquals(TokenType.CONTROL, t.tokenType(t.tokenId("<｜User｜>")));
    }

    @Test
    void bosFollowsMetadata() {
        Tokenizer t = v3();
        int[] plain = t.encode("Hello world", false, true);
        int[] withBos = t.encode("Hello world");
        assertEquals(plain.length + 1, withBos.length);
        assertEquals(0, withBos[0]);
        assertEquals(14339, qwen().encode("Hi")[0]);
        assertEquals(0, t.encode("", false, true).length);
        assertArrayEquals(new int[] {0}, t.encode("", true, true));
    }

    @Test
    void specialTokensOnlyWithParseSpecial() {
        Tokenizer t = v3();
        assertArrayEquals(new int[] {16387}, t.encode("<｜User｜>", false, true));
        assertTrue(t.encode("<｜User｜>", false, false).length > 1);
        // user-defined added tokens (<think>) are matched even without parseSpecial, as in llama.cpp and HF
        int think = qwen().tokenId("<think>");
        assertArrayEquals(new int[] {think}, qwen().encode("<think>", false, false));
    }

    // -------------------------------------------------------------------------------------------- decoding

    @Test
    void decodeRendersControlTokensOnRequest() {
        Tokenizer t = v3();
        int[] ids = t.encode("<｜User｜>Hi<｜Assistant｜>", true, true);
        assertEquals("<｜begin▁of▁sentence｜><｜User｜>Hi<｜Assistant｜>", t.decode(ids));
        assertEquals("Hi", t.decode(ids, false));
    }

    @Test
    void streamingDecoderHoldsBackPartialCharacters() {
        Tokenizer t = v3();
        String text = "naïve 😀 中文 🙂🙂 done";
        int[] ids = t.encode(text, false, true);
        StreamDecoder d = t.newDecoder();
        StringBuilder sb = new StringBuilder();
        int heldBack = 0;
        for (int id : ids) {
            String s = d.next(id);
            assertFalse(s.contains("\uFFFD"), "emitted a broken character for token " + id);
            if (!s.isEmpty()) assertFalse(Character.isHighSurrogate(s.charAt(s.length() - 1)), "half a surrogate pair");
            if (s.isEmpty() && d.pendingBytes() > 0) heldBack++;
            sb.append(s);
        }
        assertEquals(0, d.pendingBytes(), "nothing held back at the end");
        assertEquals(text, sb.toString());
        assertTrue(heldBack > 0, "the 16k vocabulary should split some character across tokens");
    }

    @Test
    void streamingDecoderByteByByte() {
        Tokenizer t = v3();
        StreamDecoder d = t.newDecoder();
        byte[] emoji = "😀".getBytes(StandardCharsets.UTF_8);
        assertEquals("", d.next(byteToken(t, emoji[0] & 0xFF)));
        assertEquals("", d.next(byteToken(t, emoji[1] & 0xFF)));
        assertEquals("", d.next(byteToken(t, emoji[2] & 0xFF)));
        assertEquals(3, d.pendingBytes());
        assertEquals("😀", d.next(byteToken(t, emoji[3] & 0xFF)));
        byte[] cjk = "中".getBytes(StandardCharsets.UTF_8);
        assertEquals("a", d.next(t.tokenId("a")));
        assertEquals("", d.next(byteToken(t, cjk[0] & 0xFF)));
        assertEquals("", d.next(byteToken(t, cjk[1] & 0xFF)));
        assertEquals("中", d.next(byteToken(t, cjk[2] & 0xFF)));
        // bytes that can never complete a character are not held back
        assertEquals("\uFFFD", d.next(byteToken(t, 0xFF)));
        assertEquals("", d.next(byteToken(t, 0xE4)));
        assertEquals("\uFFFDa", d.next(t.tokenId("a")));
        assertEquals("", d.next(byteToken(t, 0xE0)));
        assertEquals("\uFFFD\uFFFD", d.next(byteToken(t, 0x80))); // E0 80 is never valid
        // an incomplete character at the end of the stream
        assertEquals("", d.next(byteToken(t, 0xF0)));
        assertEquals(1, d.pendingBytes());
        d.reset();
        assertEquals(0, d.pendingBytes());
    }

    @Test
    void streamingDecoderWithoutSpecialTokens() {
        Tokenizer t = v3();
        StreamDecoder d = t.newDecoder(false);
        assertEquals("", d.next(t.eosId()));
        assertEquals("a", d.next(t.tokenId("a")));
        assertEquals("<｜end▁of▁sentence｜>", t.newDecoder(true).next(t.eosId()));
    }

    // ---------------------------------------------------------------------------------------- pre-tokenisers

    @Test
    void deepSeekLlmSplitting() {
        // No deepseek-llm (V2) golden exists in shared/golden (v2lite-tiny uses the V3 tokenizer): hand-checked
        // against the regex sequence [\r\n] | \s?[cased letters]+ | \s?[ASCII/fullwidth punct]+ | \s+$ | CJK+ | \p{N}+.
        PreTokenizer p = PreTokenizer.DEEPSEEK_LLM;
        assertEquals(List.of("Hello", ",", " world", "!", " ", "123", "\n"), p.split("Hello, world! 123\n"));
        // every regex also splits the pieces the earlier ones matched, and [!-/:-~] covers ASCII letters, so ASCII
        // runs are cut away from non-ASCII letters (llama.cpp and HF Split-sequence semantics alike)
        assertEquals(List.of("na", "ï", "ve", " caf", "é"), p.split("naïve café"));
        assertEquals(List.of("中文", "abc"), p.split("中文abc"));
        assertEquals(List.of("a", " ", " b"), p.split("a  b"));
        assertEquals(List.of("end", "   "), p.split("end   "));
        assertEquals(List.of("x", "\r", "\n", "12345"), p.split("x\r\n12345"));
        assertEquals(List.of("\u2126", "hm"), p.split("\u2126hm"));
        assertEquals(List.of("\u00e9\u00e8"), p.split("\u00e9\u00e8"));
        // U+2126 OHM SIGN is a cased letter, but U+0800..U+4E00 of the CJK regex isolates it again
        assertEquals(List.of("\u2126", "\u00e9"), p.split("\u2126\u00e9"));
        assertEquals(List.of("ῒ"), p.split("\u1FD2"));
        assertEquals(List.of("deepseek-llm"), List.of(p.ggufName()));
    }

    @Test
    void deepSeekV3Splitting() {
        PreTokenizer p = PreTokenizer.DEEPSEEK_V3;
        assertEquals(List.of("abc", "123", "4", " def"), p.split("abc1234 def"));
        assertEquals(List.of("中文テスト", " ok"), p.split("中文テスト ok"));
        // U+00A0 is White_Space but not L/P/S, so it prefixes the next word
        assertEquals(List.of("word", "\u00A0nbsp"), p.split("word\u00A0nbsp"));
        assertEquals(List.of("a", "  ", " b"), p.split("a   b"));
        assertEquals(List.of("'s", " it"), p.split("'s it"));
    }

    @Test
    void llama3AndQwen2Splitting() {
        assertEquals(List.of("DON", "'T", " ", "123", "45"), PreTokenizer.LLAMA3.split("DON'T 12345"));
        assertEquals(List.of("DON", "'T", " ", "1", "2", "3"), PreTokenizer.QWEN2.split("DON'T 123"));
        assertTrue(PreTokenizer.LLAMA3.ignoresMerges());
        assertEquals(PreTokenizer.LLAMA3, PreTokenizer.forGgufName("llama3"));
        assertEquals(PreTokenizer.QWEN2, PreTokenizer.forGgufName("deepseek-r1-qwen")); // bartowski's R1-Distill-Qwen GGUFs
    }

    // ------------------------------------------------------------------------------------------------ errors

    private static GgufMetadata.Builder minimalGguf() {
        return GgufMetadata.builder()
                .putString("tokenizer.ggml.model", "gpt2")
                .putString("tokenizer.ggml.pre", "deepseek-v3")
                .putStrings("tokenizer.ggml.tokens", "a", "b", "ab")
                .putInt32s("tokenizer.ggml.token_type", 1, 1, 1)
                .putStrings("tokenizer.ggml.merges", "a b");
    }

    @Test
    void tinyGgufVocabulary() {
        Tokenizer t = Tokenizer.fromGguf(minimalGguf().build());
        assertArrayEquals(new int[] {2, 2, 0}, t.encode("ababa", false, true));
        assertEquals(Tokenizer.NO_TOKEN, t.bosId());
        assertFalse(t.addBosByDefault());
        FathomException e = assertThrows(FathomException.class, () -> t.encode("a", true, true));
        assertTrue(e.getMessage().contains("BOS"), e.getMessage());
    }

    @Test
    void missingMetadataKey() {
        FathomException e = assertThrows(FathomException.class,
                () -> Tokenizer.fromGguf(minimalGguf().remove("tokenizer.ggml.merges").build()));
        assertTrue(e.getMessage().contains("'tokenizer.ggml.merges' is missing"), e.getMessage());
        e = assertThrows(FathomException.class, () -> Tokenizer.fromGguf(minimalGguf().remove("tokenizer.ggml.pre").build()));
        assertTrue(e.getMessage().contains("tokenizer.ggml.pre"), e.getMessage());
    }

    @Test
    void unknownGgufPreTokenizer() {
        FathomException e = assertThrows(FathomException.class, () -> Tokenizer.fromGguf(
                minimalGguf().putString("tokenizer.ggml.pre", "gpt-4o").build(), "my-model.gguf"));
        assertTrue(e.getMessage().startsWith("my-model.gguf: "), e.getMessage());
        assertTrue(e.getMessage().contains("'tokenizer.ggml.pre' = 'gpt-4o'"), e.getMessage());
    }

    @Test
    void unsupportedGgufModelAndBadIds() {
        FathomException e = assertThrows(FathomException.class, () -> Tokenizer.fromGguf(
                minimalGguf().putString("tokenizer.ggml.model", "llama").build()));
        assertTrue(e.getMessage().contains("tokenizer.ggml.model"), e.getMessage());
        e = assertThrows(FathomException.class, () -> Tokenizer.fromGguf(
                minimalGguf().putUint32("tokenizer.ggml.bos_token_id", 7).build()));
        assertTrue(e.getMessage().contains("tokenizer.ggml.bos_token_id"), e.getMessage());
    }

    @Test
    void unknownTokenizerJsonRegex(@TempDir Path dir) throws Exception {
        String json = Files.readString(Fixtures.golden("v3-small-fp8/hf/tokenizer.json"));
        String changed = json.replace("\\\\p{N}{1,3}", "\\\\p{N}{1,4}");
        assertNotEquals(json, changed);
        Path file = dir.resolve("tokenizer.json");
        Files.writeString(file, changed);
        FathomException e = assertThrows(FathomException.class, () -> Tokenizer.load(file));
        assertTrue(e.getMessage().startsWith(file.toString()), e.getMessage());
        assertTrue(e.getMessage().contains("\\p{N}{1,4}"), e.getMessage());
    }

    @Test
    void mergesInArrayForm(@TempDir Path dir) throws Exception {
        String json = """
                {"model": {"type": "BPE", "vocab": {"a": 0, "b": 1, "ab": 2}, "merges": [["a", "b"]]},
                 "added_tokens": [{"id": 3, "content": "<s>", "special": true}],
                 "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
                   {"type": "Split", "pattern": {"Regex": "\\\\p{N}{1,3}"}, "behavior": "Isolated", "invert": false},
                   {"type": "Split", "pattern": {"Regex": "[一-龥぀-ゟ゠-ヿ]+"}, "behavior": "Isolated", "invert": false},
                   {"type": "Split", "pattern": {"Regex": "[!\\"#$%&'()*+,\\\\-./:;<=>?@\\\\[\\\\\\\\\\\\]^_`{|}~][A-Za-z]+|[^\\r\\n\\\\p{L}\\\\p{P}\\\\p{S}]?[\\\\p{L}\\\\p{M}]+| ?[\\\\p{P}\\\\p{S}]+[\\r\\n]*|\\\\s*[\\r\\n]+|\\\\s+(?!\\\\S)|\\\\s+"}, "behavior": "Isolated", "invert": false},
                   {"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": false}]}}
                """;
        Path file = dir.resolve("tokenizer.json");
        Files.writeString(file, json);
        Tokenizer t = Tokenizer.load(dir);
        assertEquals(PreTokenizer.DEEPSEEK_V3, t.preTokenizer());
        assertArrayEquals(new int[] {3, 2, 2, 0}, t.encode("<s>ababa", false, true));
        assertEquals(4, t.vocabSize());
    }

    @Test
    void notATokenizer(@TempDir Path dir) throws Exception {
        FathomException e = assertThrows(FathomException.class, () -> Tokenizer.load(dir));
        assertTrue(e.getMessage().contains("tokenizer.json"), e.getMessage());
        Path txt = Files.writeString(dir.resolve("notes.txt"), "x");
        assertThrows(FathomException.class, () -> Tokenizer.load(txt));
        assertThrows(FathomException.class, () -> Tokenizer.load(dir.resolve("missing.gguf")));
    }
}
