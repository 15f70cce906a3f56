package dev.fathom.tokenizer;

import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The pre-tokenisers (regex word splitters) of the supported byte-level BPE vocabularies. Each is a sequence
 * of regexes applied as Hugging Face's {@code Split(behavior = Isolated)} / llama.cpp's
 * {@code unicode_regex_split}: every regex splits each piece left by the previous one into its matches and the
 * text between them. The regexes are those of llama.cpp's {@code llama-vocab.cpp} (and, identically, of the
 * models' {@code tokenizer.json}), run with {@link java.util.regex} where {@code \s} is replaced by the Unicode
 * White_Space set (Java's {@code \s} is ASCII only; HF and llama.cpp use Unicode white space, e.g. U+00A0, U+3000)
 * and the contractions {@code (?i:'s|...)} stay ASCII case-insensitive, as in llama.cpp's {@code '[sS]} form.
 */
public enum PreTokenizer {
    /** DeepSeek-V3 / R1 ({@code tokenizer.ggml.pre = "deepseek-v3"}). */
    DEEPSEEK_V3(List.of("deepseek-v3"), false,
            "\\p{N}{1,3}",
            "[\\x{4E00}-\\x{9FA5}\\x{3040}-\\x{309F}\\x{30A0}-\\x{30FF}]+",
            "[!\"#$%&'()*+,\\-./:;<=>?@\\[\\\\\\]^_`{|}~][A-Za-z]+|[^\r\n\\p{L}\\p{P}\\p{S}]?[\\p{L}\\p{M}]+| ?[\\p{P}\\p{S}]+[\r\n]*|\\s*[\r\n]+|\\s+(?!\\S)|\\s+"),
    /** DeepSeek-LLM / V2 ({@code "deepseek-llm"}). */
    DEEPSEEK_LLM(List.of("deepseek-llm"), false,
            "[\r\n]",
            "\\s?[A-Za-z\\x{B5}\\x{C0}-\\x{D6}\\x{D8}-\\x{F6}\\x{F8}-\\x{1BA}\\x{1BC}-\\x{1BF}\\x{1C4}-\\x{293}\\x{295}-\\x{2AF}"
                    + "\\x{370}-\\x{373}\\x{376}\\x{377}\\x{37B}-\\x{37D}\\x{37F}\\x{386}\\x{388}-\\x{38A}\\x{38C}\\x{38E}-\\x{3A1}"
                    + "\\x{3A3}-\\x{3F5}\\x{3F7}-\\x{481}\\x{48A}-\\x{52F}\\x{531}-\\x{556}\\x{10A0}-\\x{10C5}\\x{13A0}-\\x{13F5}"
                    + "\\x{13F8}-\\x{13FD}\\x{1C90}-\\x{1CBA}\\x{1CBD}-\\x{1CBF}\\x{1D00}-\\x{1D2B}\\x{1D6B}-\\x{1D77}\\x{1D79}-\\x{1D9A}"
                    + "\\x{1E00}-\\x{1F15}\\x{1F18}-\\x{1F1D}\\x{1F20}-\\x{1F45}\\x{1F48}-\\x{1F4D}\\x{1F50}-\\x{1F57}\\x{1F59}\\x{1F5B}"
                    + "\\x{1F5D}\\x{1F5F}-\\x{1F7D}\\x{1F80}-\\x{1FB4}\\x{1FB6}-\\x{1FBC}\\x{1FBE}\\x{1FC2}-\\x{1FC4}\\x{1FC6}-\\x{1FCC}"
                    + "\\x{1FD0}-\\x{1FD3}\\x{1FD6}-\\x{1FDB}\\x{1FE0}-\\x{1FEC}\\x{1FF2}-\\x{1FF4}\\x{1FF6}-\\x{1FFC}\\x{2102}\\x{2107}"
                    + "\\x{210A}-\\x{2113}\\x{2115}\\x{2119}-\\x{211D}\\x{2124}\\x{2126}\\x{2128}\\x{212A}-\\x{212D}\\x{212F}-\\x{2134}"
                    + "\\x{2139}\\x{213C}-\\x{213F}\\x{2145}-\\x{2149}\\x{214E}\\x{2183}\\x{2184}\\x{2C00}-\\x{2C7B}\\x{2C7E}-\\x{2CE4}"
                    + "\\x{2CEB}-\\x{2CEE}\\x{2CF2}\\x{2CF3}\\x{A640}-\\x{A66D}\\x{A680}-\\x{A69B}\\x{A722}-\\x{A76F}\\x{A771}-\\x{A787}"
                    + "\\x{A78B}-\\x{A78E}\\x{AB70}-\\x{ABBF}\\x{FB00}-\\x{FB06}\\x{FB13}-\\x{FB17}\\x{FF21}-\\x{FF3A}\\x{FF41}-\\x{FF5A}"
                    + "\\x{10400}-\\x{1044F}\\x{104B0}-\\x{104D3}\\x{104D8}-\\x{104FB}\\x{10C80}-\\x{10CB2}\\x{10CC0}-\\x{10CF2}"
                    + "\\x{118A0}-\\x{118DF}\\x{1E900}-\\x{1E943}]+",
            "\\s?[!-/:-~\\x{FF01}-\\x{FF0F}\\x{FF1A}-\\x{FF5E}\\x{2018}-\\x{201F}\\x{3000}-\\x{3002}]+",
            "\\s+$",
            "[\\x{4E00}-\\x{9FA5}\\x{800}-\\x{4E00}\\x{AC00}-\\x{D7FF}]+",
            "\\p{N}+"),
    /** Llama 3 ({@code "llama-bpe"}, also "llama3", "llama-v3"); implies ignore_merges. */
    LLAMA3(List.of("llama-bpe", "llama3", "llama-v3"), true,
            "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"),
    /** Qwen2 / Qwen2.5 ({@code "qwen2"}; llama.cpp's converter names the R1-Distill-Qwen vocabularies "deepseek-r1-qwen"): single digits. */
    QWEN2(List.of("qwen2", "deepseek-r1-qwen"), false,
            "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+");

    /** Unicode White_Space, the meaning of {@code \s} in HF (Oniguruma) and llama.cpp. */
    private static final String WS = "\\t\\n\\x0B\\f\\r\\x20\\x{85}\\x{A0}\\x{1680}\\x{2000}-\\x{200A}\\x{2028}\\x{2029}\\x{202F}\\x{205F}\\x{3000}";

    private final List<String> ggufNames;
    private final boolean ignoreMerges;
    private final List<String> hfRegexes;
    private final Pattern[] patterns;

    PreTokenizer(List<String> ggufNames, boolean ignoreMerges, String... regexes) {
        this.ggufNames = ggufNames;
        this.ignoreMerges = ignoreMerges;
        List<String> hf = new ArrayList<>();
        this.patterns = new Pattern[regexes.length];
        for (int i = 0; i < regexes.length; i++) {
            String literal = unescapeHex(regexes[i]);
            hf.add(literal);
            patterns[i] = Pattern.compile(toJava(literal));
        }
        this.hfRegexes = List.copyOf(hf);
    }

    /** The {@code tokenizer.ggml.pre} value written by llama.cpp's converter. */
    public String ggufName() {
        return ggufNames.getFirst();
    }

    /** Whether llama.cpp enables {@code ignore_merges} for this pre-tokeniser (a word that is a token is kept whole). */
    public boolean ignoresMerges() {
        return ignoreMerges;
    }

    /** The regexes as they appear in a Hugging Face {@code tokenizer.json} Split pre-tokeniser. */
    public List<String> regexes() {
        return hfRegexes;
    }

    /** The pre-tokeniser for a {@code tokenizer.ggml.pre} value, or null if unsupported. */
    public static PreTokenizer forGgufName(String name) {
        for (PreTokenizer p : values()) if (p.ggufNames.contains(name)) return p;
        return null;
    }

    /** The pre-tokeniser whose Split regexes are exactly {@code regexes} (in order), or null. */
    public static PreTokenizer forRegexes(List<String> regexes) {
        for (PreTokenizer p : values()) if (p.hfRegexes.equals(regexes)) return p;
        return null;
    }

    /** Splits {@code text} into pre-tokens (for tests and tools; encoding uses the offset form). */
    public List<String> split(String text) {
        int[] b = split(text, 0, text.length());
        List<String> out = new ArrayList<>(b.length - 1);
        for (int i = 0; i + 1 < b.length; i++) out.add(text.substring(b[i], b[i + 1]));
        return out;
    }

    /**
     * The piece boundaries of {@code text[start, end)}: a strictly increasing array beginning with start and ending
     * with end (just {start} when the range is empty).
     */
    int[] split(String text, int start, int end) {
        int[] bounds = {start, end};
        int count = start == end ? 1 : 2;
        if (start == end) return new int[] {start};
        for (Pattern p : patterns) {
            Matcher m = p.matcher(text);
            int[] next = new int[Math.max(16, count * 2)];
            int n = 0;
            next[n++] = start;
            for (int i = 0; i + 1 < count; i++) {
                int s = bounds[i], e = bounds[i + 1];
                m.region(s, e);
                while (m.find()) {
                    int ms = m.start(), me = m.end();
                    if (me == ms) continue;
                    if (n + 2 >= next.length) next = java.util.Arrays.copyOf(next, next.length * 2);
                    if (ms > next[n - 1]) next[n++] = ms;
                    next[n++] = me;
                }
                if (e > next[n - 1]) {
                    if (n + 1 >= next.length) next = java.util.Arrays.copyOf(next, next.length * 2);
                    next[n++] = e;
                }
            }
            bounds = next;
            count = n;
        }
        return count == bounds.length ? bounds : java.util.Arrays.copyOf(bounds, count);
    }

    /** Replaces {@code \x{H..}} escapes (only used in the constants above) by the code point itself. */
    private static String unescapeHex(String s) {
        StringBuilder sb = new StringBuilder(s.length());
        for (int i = 0; i < s.length(); i++) {
            if (s.startsWith("\\x{", i)) {
                int close = s.indexOf('}', i);
                sb.appendCodePoint(Integer.parseInt(s.substring(i + 3, close), 16));
                i = close;
            } else if (s.charAt(i) == '\\' && i + 1 < s.length()) {
                sb.append(s, i, i + 2);
                i++;
            } else {
                sb.append(s.charAt(i));
            }
        }
        return sb.toString();
    }

    /** HF / llama.cpp regex -> java.util.regex with the same meaning. */
    static String toJava(String regex) {
        String j = regex.replace("[^\\s", "[^" + WS).replace("\\s", "[" + WS + "]").replace("\\S", "[^" + WS + "]");
        if (j.endsWith("$")) j = j.substring(0, j.length() - 1) + "\\z";
        return j;
    }
}
