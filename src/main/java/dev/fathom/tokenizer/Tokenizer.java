package dev.fathom.tokenizer;

import dev.fathom.FathomException;
import dev.fathom.gguf.GgufFile;
import dev.fathom.gguf.GgufMetadata;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.text.Normalizer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.zip.GZIPInputStream;

/**
 * A byte-level BPE tokenizer (GPT-2 style, as DeepSeek-V2/V3/R1, Qwen2 and Llama 3 use), built from GGUF
 * metadata ({@code tokenizer.ggml.*}) or a Hugging Face {@code tokenizer.json}. Encoding follows llama.cpp's
 * {@code llama_tokenize}: added/special tokens are cut out of the raw text first, the rest is normalised (HF
 * only, e.g. NFC for Qwen2), split by the pre-tokeniser, mapped byte-wise to GPT-2's printable alphabet and
 * merged by BPE rank. Immutable and thread-safe (its word cache is concurrent).
 */
public final class Tokenizer {
    /** Returned by {@link #tokenId} and the id accessors when there is no such token. */
    public static final int NO_TOKEN = -1;
    private static final String BUNDLED_V3 = "deepseek-v3-vocab.gguf.gz";
    private static final int CACHE_LIMIT = 1 << 16;
    private static final int MAX_CACHED_WORD = 64;
    /** llama.cpp's end-of-turn texts (llama-vocab.cpp, special_eot_id / special_eog_ids auto-detection). */
    private static final List<String> EOT_TEXTS = List.of("<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>",
            "<|endoftext|>", "<EOT>", "<｜end▁of▁sentence｜>");
    private static final Set<String> EOG_TEXTS = Set.of("<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>",
            "<|endoftext|>", "<|eom_id|>", "<EOT>");

    private final String source;
    private final String[] texts;
    private final TokenType[] types;
    private final byte[][] pieces;
    private final Map<String, Integer> textToId;
    private final int[] byteToId = new int[256];
    private final MergeTable merges;
    private final PreTokenizer pre;
    private final Normalizer.Form normalization;
    private final boolean ignoreMerges;
    private final SpecialTokens specialAll;
    private final SpecialTokens specialUserDefined;
    private final int bos;
    private final int eos;
    private final int eot;
    private final boolean addBos;
    private final boolean[] eog;
    private final ConcurrentHashMap<String, int[]> cache = new ConcurrentHashMap<>();

    /** Everything a tokenizer is built from; the loaders fill it. */
    record Spec(String source, String[] texts, TokenType[] types, Map<String, Integer> textToId, String[] mergeLeft,
                String[] mergeRight, PreTokenizer pre, Normalizer.Form normalization, boolean ignoreMerges, int bos,
                int eos, boolean addBos, boolean[] lstrip, boolean[] rstrip) {}

    Tokenizer(Spec s) {
        source = s.source;
        texts = s.texts;
        types = s.types;
        textToId = s.textToId;
        pre = s.pre;
        normalization = s.normalization;
        ignoreMerges = s.ignoreMerges;
        bos = s.bos;
        eos = s.eos;
        addBos = s.addBos;
        int n = texts.length;

        pieces = new byte[n][];
        for (int i = 0; i < n; i++) {
            String t = texts[i];
            pieces[i] = t == null ? new byte[0] : switch (types[i]) {
                case NORMAL -> ByteLevel.decode(t);
                case CONTROL, UNKNOWN, USER_DEFINED -> t.getBytes(StandardCharsets.UTF_8);
                default -> new byte[0];
            };
        }
        for (int b = 0; b < 256; b++) byteToId[b] = textToId.getOrDefault(String.valueOf(ByteLevel.BYTE_TO_CHAR[b]), NO_TOKEN);

        merges = new MergeTable(s.mergeLeft.length);
        for (int r = 0; r < s.mergeLeft.length; r++) {
            Integer a = textToId.get(s.mergeLeft[r]);
            Integer b = textToId.get(s.mergeRight[r]);
            Integer m = textToId.get(s.mergeLeft[r] + s.mergeRight[r]);
            // A merge whose parts or result are not tokens can never yield a token id; llama.cpp would merge and
            // then fall back to byte tokens, HF refuses the file. Such merges do not occur in real vocabularies.
            if (a == null || b == null || m == null) continue;
            merges.putIfAbsent(a, b, r, m);
        }

        List<int[]> all = new ArrayList<>(), user = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            TokenType t = types[i];
            if (t == TokenType.CONTROL || t == TokenType.UNKNOWN || t == TokenType.USER_DEFINED) {
                int[] e = {i, s.lstrip != null && s.lstrip[i] ? 1 : 0, s.rstrip != null && s.rstrip[i] ? 1 : 0};
                all.add(e);
                if (t == TokenType.USER_DEFINED) user.add(e);
            }
        }
        specialAll = new SpecialTokens(all, texts);
        specialUserDefined = new SpecialTokens(user, texts);

        int eotFound = NO_TOKEN;
        for (String t : EOT_TEXTS) {
            Integer id = textToId.get(t);
            if (id != null) {
                eotFound = id;
                break;
            }
        }
        eot = eotFound;
        eog = new boolean[n];
        for (String t : EOG_TEXTS) {
            Integer id = textToId.get(t);
            if (id != null) eog[id] = true;
        }
        if (eos >= 0) eog[eos] = true;
        if (eot >= 0) eog[eot] = true;
    }

    // ---------------------------------------------------------------------------------------------- loading

    /**
     * Loads a tokenizer from a GGUF file ({@code .gguf}), a Hugging Face {@code tokenizer.json} (a sibling
     * {@code tokenizer_config.json} supplies BOS/EOS and add_bos_token), or a model folder holding {@code tokenizer.json}.
     */
    public static Tokenizer load(Path path) {
        if (Files.isDirectory(path)) {
            Path json = path.resolve("tokenizer.json");
            if (!Files.isRegularFile(json)) {
                throw new FathomException(path + ": no tokenizer.json in this folder (expected a Hugging Face model folder)");
            }
            return fromHuggingFace(json);
        }
        if (!Files.isRegularFile(path)) throw new FathomException(path + ": no such tokenizer file or folder");
        String name = path.getFileName().toString().toLowerCase(java.util.Locale.ROOT);
        if (name.endsWith(".gguf")) {
            try (GgufFile f = GgufFile.open(path)) {
                return fromGguf(f);
            } catch (IOException e) {
                throw new FathomException(path + ": cannot read GGUF file: " + e.getMessage(), e);
            }
        }
        if (name.endsWith(".json")) return fromHuggingFace(path);
        throw new FathomException(path + ": not a tokenizer (expected a .gguf file, a tokenizer.json or a model folder)");
    }

    /** From the metadata of an open GGUF file; errors name the file. */
    public static Tokenizer fromGguf(GgufFile file) {
        return fromGguf(file.metadata(), file.path().toString());
    }

    /** From GGUF metadata ({@code tokenizer.ggml.*}). */
    public static Tokenizer fromGguf(GgufMetadata metadata) {
        return fromGguf(metadata, "GGUF metadata");
    }

    /** From GGUF metadata; {@code source} names it in error messages. */
    public static Tokenizer fromGguf(GgufMetadata metadata, String source) {
        return new Tokenizer(TokenizerLoaders.gguf(metadata, source));
    }

    /** From a Hugging Face {@code tokenizer.json}, with {@code tokenizer_config.json} beside it if present. */
    public static Tokenizer fromHuggingFace(Path tokenizerJson) {
        Path config = tokenizerJson.resolveSibling("tokenizer_config.json");
        return fromHuggingFace(tokenizerJson, Files.isRegularFile(config) ? config : null);
    }

    /** From a Hugging Face {@code tokenizer.json} and an optional {@code tokenizer_config.json} (may be null). */
    public static Tokenizer fromHuggingFace(Path tokenizerJson, Path tokenizerConfigOrNull) {
        return new Tokenizer(TokenizerLoaders.huggingFace(tokenizerJson, tokenizerConfigOrNull));
    }

    /** The full DeepSeek-V3 / R1 tokenizer (129280 ids) bundled with Fathom as a vocabulary-only GGUF. */
    public static Tokenizer deepSeekV3() {
        return fromGguf(deepSeekV3Metadata(), "bundled " + BUNDLED_V3);
    }

    /** The metadata of the bundled DeepSeek-V3 vocabulary GGUF: tokenizer.ggml.* and tokenizer.chat_template. */
    public static GgufMetadata deepSeekV3Metadata() {
        try (InputStream raw = Tokenizer.class.getResourceAsStream(BUNDLED_V3)) {
            if (raw == null) throw new IllegalStateException("missing bundled resource " + BUNDLED_V3);
            byte[] bytes;
            try (InputStream in = new GZIPInputStream(raw)) {
                bytes = in.readAllBytes();
            }
            try (GgufFile f = GgufFile.fromBytes(Path.of("bundled " + BUNDLED_V3), bytes)) {
                return f.metadata();
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    // --------------------------------------------------------------------------------------------- encoding

    /** Encodes with the model's BOS default ({@link #addBosByDefault()}) and special-token parsing on (llama.cpp's defaults). */
    public int[] encode(String text) {
        return encode(text, addBos, true);
    }

    /**
     * Encodes text.
     *
     * @param addBos       prepend the BOS token
     * @param parseSpecial match control tokens (e.g. {@code <｜User｜>}) written in the text; when false they are
     *                     ordinary text. User-defined added tokens (e.g. {@code <think>}) are matched either way, as in
     *                     llama.cpp and HF.
     */
    public int[] encode(String text, boolean addBos, boolean parseSpecial) {
        Objects.requireNonNull(text, "text");
        IntList out = new IntList(text.length() / 3 + 4);
        if (addBos) {
            if (bos < 0) throw new FathomException(source + ": the tokenizer has no BOS token to prepend");
            out.add(bos);
        }
        IntList segments = new IntList(12);
        (parseSpecial ? specialAll : specialUserDefined).partition(text, segments);
        for (int k = 0; k < segments.size; k += 3) {
            int id = segments.a[k + 2];
            if (id >= 0) out.add(id);
            else encodeText(text, segments.a[k], segments.a[k + 1], out);
        }
        return out.toArray();
    }

    private void encodeText(String text, int start, int end, IntList out) {
        if (normalization != null) {
            String frag = text.substring(start, end);
            if (!Normalizer.isNormalized(frag, normalization)) frag = Normalizer.normalize(frag, normalization);
            text = frag;
            start = 0;
            end = frag.length();
        }
        int[] b = pre.split(text, start, end);
        for (int i = 0; i + 1 < b.length; i++) {
            String word = text.substring(b[i], b[i + 1]);
            int[] ids = cache.get(word);
            if (ids == null) {
                ids = bpe(word.getBytes(StandardCharsets.UTF_8));
                if (word.length() <= MAX_CACHED_WORD) {
                    if (cache.size() >= CACHE_LIMIT) cache.clear();
                    cache.put(word, ids);
                }
            }
            out.addAll(ids);
        }
    }

    /** BPE of one pre-token: repeatedly merge the adjacent pair of lowest rank (leftmost on ties). */
    int[] bpe(byte[] bytes) {
        int n = bytes.length;
        if (n == 1) {
            int id = byteToId[bytes[0] & 0xFF];
            return id >= 0 ? new int[] {id} : new int[0];
        }
        if (ignoreMerges) {
            Integer whole = textToId.get(ByteLevel.encode(bytes));
            if (whole != null) return new int[] {whole};
        }
        int[] sym = new int[n];
        int[] next = new int[n];
        int[] prev = new int[n];
        for (int i = 0; i < n; i++) {
            sym[i] = byteToId[bytes[i] & 0xFF];
            next[i] = i + 1 < n ? i + 1 : -1;
            prev[i] = i - 1;
        }
        // min-heap of (rank << 32 | left index)
        long[] heap = new long[Math.max(4, 3 * n)];
        int size = 0;
        for (int i = 0; i + 1 < n; i++) {
            long v = merges.get(sym[i], sym[i + 1]);
            if (v >= 0) size = push(heap, size, (v & 0xFFFFFFFF00000000L) | i);
        }
        int alive = n;
        while (size > 0) {
            long top = heap[0];
            size = pop(heap, size);
            int left = (int) top;
            int rank = (int) (top >>> 32);
            int right = next[left];
            if (sym[left] == Integer.MIN_VALUE || right < 0) continue;
            long v = merges.get(sym[left], sym[right]);
            if (v < 0 || (int) (v >>> 32) != rank) continue; // stale entry
            sym[left] = (int) v;
            sym[right] = Integer.MIN_VALUE;
            alive--;
            int rr = next[right];
            next[left] = rr;
            if (rr >= 0) prev[rr] = left;
            int pl = prev[left];
            if (size + 2 > heap.length) heap = Arrays.copyOf(heap, heap.length * 2);
            if (pl >= 0) {
                long w = merges.get(sym[pl], sym[left]);
                if (w >= 0) size = push(heap, size, (w & 0xFFFFFFFF00000000L) | pl);
            }
            if (rr >= 0) {
                long w = merges.get(sym[left], sym[rr]);
                if (w >= 0) size = push(heap, size, (w & 0xFFFFFFFF00000000L) | left);
            }
        }
        int[] out = new int[alive];
        int k = 0;
        for (int i = 0; i >= 0; i = next[i]) if (sym[i] >= 0) out[k++] = sym[i]; // a byte with no token is dropped, as llama.cpp does
        return k == alive ? out : Arrays.copyOf(out, k);
    }

    private static int push(long[] h, int size, long v) {
        int i = size++;
        while (i > 0) {
            int p = (i - 1) >>> 1;
            if (h[p] <= v) break;
            h[i] = h[p];
            i = p;
        }
        h[i] = v;
        return size;
    }

    private static int pop(long[] h, int size) {
        long last = h[--size];
        int i = 0;
        while (true) {
            int c = 2 * i + 1;
            if (c >= size) break;
            if (c + 1 < size && h[c + 1] < h[c]) c++;
            if (h[c] >= last) break;
            h[i] = h[c];
            i = c;
        }
        if (size > 0) h[i] = last;
        return size;
    }

    // --------------------------------------------------------------------------------------------- decoding

    /** Decodes ids to text, rendering control tokens as their text (lossless for {@code encode(text, false, true)}). */
    public String decode(int[] ids) {
        return decode(ids, true);
    }

    /** Decodes ids to text; control tokens render as their text when {@code renderSpecial}, else as nothing. */
    public String decode(int[] ids, boolean renderSpecial) {
        return new String(decodeBytes(ids, renderSpecial), StandardCharsets.UTF_8);
    }

    /** The raw bytes the ids stand for (may end inside a UTF-8 character). */
    public byte[] decodeBytes(int[] ids, boolean renderSpecial) {
        ByteArrayOutputStream out = new ByteArrayOutputStream(ids.length * 4);
        for (int id : ids) out.writeBytes(piece(id, renderSpecial));
        return out.toByteArray();
    }

    /** A streaming decoder rendering control tokens as their text. */
    public StreamDecoder newDecoder() {
        return new StreamDecoder(this, true);
    }

    /** A streaming decoder; control tokens render as their text when {@code renderSpecial}, else as nothing. */
    public StreamDecoder newDecoder(boolean renderSpecial) {
        return new StreamDecoder(this, renderSpecial);
    }

    byte[] piece(int id, boolean renderSpecial) {
        checkId(id);
        if (!renderSpecial && types[id].isSpecial()) return new byte[0];
        return pieces[id];
    }

    private void checkId(int id) {
        if (id < 0 || id >= texts.length) {
            throw new FathomException(source + ": token id " + id + " is outside the vocabulary (0.." + (texts.length - 1) + ")");
        }
    }

    // ------------------------------------------------------------------------------------------- vocabulary

    /** Where the tokenizer came from (file path or description). */
    public String source() {
        return source;
    }

    /** Number of token ids (GGUF: tokens incl. padding rows; HF: highest id + 1). */
    public int vocabSize() {
        return texts.length;
    }

    /** The token's vocabulary text (byte-level form for normal tokens, e.g. "Ġthe"); "" for an id with no token. */
    public String tokenText(int id) {
        checkId(id);
        return texts[id] == null ? "" : texts[id];
    }

    /** The bytes the token decodes to (control tokens: their text). */
    public byte[] tokenBytes(int id) {
        checkId(id);
        return pieces[id].clone();
    }

    /** The id of the token with exactly this vocabulary text, or {@link #NO_TOKEN}. */
    public int tokenId(String text) {
        Integer id = textToId.get(text);
        return id == null ? NO_TOKEN : id;
    }

    public TokenType tokenType(int id) {
        checkId(id);
        return types[id];
    }

    /** BOS id or {@link #NO_TOKEN}. */
    public int bosId() {
        return bos;
    }

    /** EOS id or {@link #NO_TOKEN}. */
    public int eosId() {
        return eos;
    }

    /** End-of-turn id (found by text as llama.cpp does, e.g. {@code <｜end▁of▁sentence｜>}) or {@link #NO_TOKEN}. */
    public int eotId() {
        return eot;
    }

    /** Whether generation should stop at this token (EOS, EOT and llama.cpp's other end-of-generation texts). */
    public boolean isEndOfGeneration(int id) {
        return id >= 0 && id < eog.length && eog[id];
    }

    /** Whether {@link #encode(String)} prepends BOS (tokenizer.ggml.add_bos_token / add_bos_token). */
    public boolean addBosByDefault() {
        return addBos;
    }

    public PreTokenizer preTokenizer() {
        return pre;
    }

    /** The Unicode normalisation applied before splitting (HF normalizer), or null. */
    public Normalizer.Form normalization() {
        return normalization;
    }

    @Override
    public String toString() {
        return "Tokenizer[" + source + ", " + texts.length + " tokens, pre " + pre.ggufName() + "]";
    }

    /** Open-addressing map (left id, right id) -> (rank << 32 | result id). */
    static final class MergeTable {
        private final long[] keys;
        private final long[] values;
        private final int mask;

        MergeTable(int expected) {
            int cap = Integer.highestOneBit(Math.max(4, expected * 2 + 1)) << 1;
            keys = new long[cap];
            values = new long[cap];
            mask = cap - 1;
            Arrays.fill(keys, -1L);
        }

        private static int hash(long k) {
            k ^= k >>> 33;
            k *= 0xff51afd7ed558ccdL;
            k ^= k >>> 33;
            return (int) k;
        }

        void putIfAbsent(int a, int b, int rank, int result) {
            long key = ((long) a << 32) | (b & 0xFFFFFFFFL);
            int i = hash(key) & mask;
            while (keys[i] != -1L) {
                if (keys[i] == key) return;
                i = (i + 1) & mask;
            }
            keys[i] = key;
            values[i] = ((long) rank << 32) | (result & 0xFFFFFFFFL);
        }

        /** (rank << 32 | result) or -1. */
        long get(int a, int b) {
            if ((a | b) < 0) return -1;
            long key = ((long) a << 32) | b;
            int i = hash(key) & mask;
            while (true) {
                long k = keys[i];
                if (k == key) return values[i];
                if (k == -1L) return -1;
                i = (i + 1) & mask;
            }
        }
    }

    static Map<String, Integer> newTextMap(int n) {
        return new HashMap<>(n * 4 / 3 + 16);
    }
}
