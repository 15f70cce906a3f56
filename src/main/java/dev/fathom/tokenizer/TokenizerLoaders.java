package dev.fathom.tokenizer;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.fathom.FathomException;
import dev.fathom.gguf.GgufMetadata;

import java.io.IOException;
import java.nio.file.Path;
import java.text.Normalizer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Iterator;
import java.util.List;
import java.util.Map;

/** Reads a {@link Tokenizer.Spec} from GGUF metadata or a Hugging Face tokenizer.json. */
final class TokenizerLoaders {
    static final String KEY_MODEL = "tokenizer.ggml.model";
    static final String KEY_PRE = "tokenizer.ggml.pre";
    static final String KEY_TOKENS = "tokenizer.ggml.tokens";
    static final String KEY_TYPES = "tokenizer.ggml.token_type";
    static final String KEY_MERGES = "tokenizer.ggml.merges";
    static final String KEY_BOS = "tokenizer.ggml.bos_token_id";
    static final String KEY_EOS = "tokenizer.ggml.eos_token_id";
    static final String KEY_ADD_BOS = "tokenizer.ggml.add_bos_token";

    private static final ObjectMapper MAPPER = new ObjectMapper();

    private TokenizerLoaders() {}

    // ------------------------------------------------------------------------------------------------ GGUF

    static Tokenizer.Spec gguf(GgufMetadata md, String source) {
        String model = md.getString(KEY_MODEL);
        if (!model.equals("gpt2")) {
            throw new FathomException(source + ": metadata key '" + KEY_MODEL + "' = '" + model
                    + "' is not supported (Fathom reads byte-level BPE vocabularies, model 'gpt2')");
        }
        String preName = md.getString(KEY_PRE);
        PreTokenizer pre = PreTokenizer.forGgufName(preName);
        if (pre == null) {
            throw new FathomException(source + ": metadata key '" + KEY_PRE + "' = '" + preName
                    + "' is an unsupported pre-tokenizer (supported: deepseek-v3, deepseek-llm, llama-bpe, qwen2)");
        }
        String[] tokens = md.getStringArray(KEY_TOKENS).clone();
        int n = tokens.length;
        if (n == 0) throw new FathomException(source + ": metadata key '" + KEY_TOKENS + "' is empty");
        TokenType[] types = new TokenType[n];
        if (md.has(KEY_TYPES)) {
            int[] t = md.getIntArray(KEY_TYPES);
            if (t.length != n) {
                throw new FathomException(source + ": metadata key '" + KEY_TYPES + "' has " + t.length
                        + " entries but '" + KEY_TOKENS + "' has " + n);
            }
            for (int i = 0; i < n; i++) types[i] = TokenType.fromGgufId(t[i]);
        } else {
            Arrays.fill(types, TokenType.NORMAL);
        }
        Map<String, Integer> textToId = Tokenizer.newTextMap(n);
        for (int i = 0; i < n; i++) {
            if (tokens[i].isEmpty()) tokens[i] = "[EMPTY_" + i + "]"; // as llama.cpp
            textToId.put(tokens[i], i);
        }
        String[] merges = md.getStringArray(KEY_MERGES);
        String[] left = new String[merges.length], right = new String[merges.length];
        for (int r = 0; r < merges.length; r++) {
            int sp = merges[r].indexOf(' ', 1);
            if (sp < 0) {
                throw new FathomException(source + ": metadata key '" + KEY_MERGES + "' entry " + r + " '" + merges[r]
                        + "' is not two tokens separated by a space");
            }
            left[r] = merges[r].substring(0, sp);
            right[r] = merges[r].substring(sp + 1);
        }
        int bos = optionalId(md, KEY_BOS, n, source);
        int eos = optionalId(md, KEY_EOS, n, source);
        boolean addBos = md.getBoolean(KEY_ADD_BOS, pre == PreTokenizer.LLAMA3);
        return new Tokenizer.Spec(source, tokens, types, textToId, left, right, pre, null, pre.ignoresMerges(),
                bos, eos, addBos, null, null);
    }

    private static int optionalId(GgufMetadata md, String key, int n, String source) {
        if (!md.has(key)) return Tokenizer.NO_TOKEN;
        long id = md.getLong(key);
        if (id < 0 || id >= n) {
            throw new FathomException(source + ": metadata key '" + key + "' = " + id + " is outside the vocabulary (0.." + (n - 1) + ")");
        }
        return (int) id;
    }

    // ------------------------------------------------------------------------------------------ tokenizer.json

    static Tokenizer.Spec huggingFace(Path json, Path config) {
        JsonNode root = readJson(json);
        String src = json.toString();
        JsonNode model = root.path("model");
        if (!model.isObject()) throw new FathomException(src + ": no \"model\" object (not a Hugging Face tokenizer.json)");
        String type = model.path("type").asText("BPE");
        if (!type.equals("BPE")) throw new FathomException(src + ": model.type '" + type + "' is not supported (only byte-level BPE)");
        if (model.path("byte_fallback").asBoolean(false)) throw new FathomException(src + ": model.byte_fallback = true is not supported");
        JsonNode vocab = model.path("vocab");
        if (!vocab.isObject()) throw new FathomException(src + ": model.vocab is missing or not an object");

        Map<String, Integer> textToId = Tokenizer.newTextMap(vocab.size() + 1024);
        int maxId = -1;
        for (Iterator<Map.Entry<String, JsonNode>> it = vocab.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            if (!e.getValue().canConvertToInt() || e.getValue().asInt() < 0) {
                throw new FathomException(src + ": model.vocab entry '" + e.getKey() + "' has no valid id");
            }
            int id = e.getValue().asInt();
            textToId.put(e.getKey(), id);
            maxId = Math.max(maxId, id);
        }
        record Added(int id, String content, boolean special, boolean lstrip, boolean rstrip) {}
        List<Added> added = new ArrayList<>();
        for (JsonNode a : root.path("added_tokens")) {
            int id = a.path("id").asInt(-1);
            String content = a.path("content").asText(null);
            if (id < 0 || content == null) throw new FathomException(src + ": added_tokens entry " + a + " needs an id and a content");
            added.add(new Added(id, content, a.path("special").asBoolean(false), a.path("lstrip").asBoolean(false),
                    a.path("rstrip").asBoolean(false)));
            maxId = Math.max(maxId, id);
        }
        int n = maxId + 1;
        String[] texts = new String[n];
        TokenType[] types = new TokenType[n];
        Arrays.fill(types, TokenType.UNUSED);
        for (Map.Entry<String, Integer> e : textToId.entrySet()) {
            texts[e.getValue()] = e.getKey();
            types[e.getValue()] = TokenType.NORMAL;
        }
        boolean[] lstrip = new boolean[n], rstrip = new boolean[n];
        for (Added a : added) {
            texts[a.id] = a.content;
            // llama.cpp's converter: special, or looking special -> CONTROL; other added tokens -> USER_DEFINED
            types[a.id] = a.special || looksSpecial(a.content) ? TokenType.CONTROL : TokenType.USER_DEFINED;
            lstrip[a.id] = a.lstrip;
            rstrip[a.id] = a.rstrip;
            textToId.put(a.content, a.id);
        }

        JsonNode mergesNode = model.path("merges");
        if (!mergesNode.isArray()) throw new FathomException(src + ": model.merges is missing or not an array");
        int m = mergesNode.size();
        String[] left = new String[m], right = new String[m];
        for (int r = 0; r < m; r++) {
            JsonNode e = mergesNode.get(r);
            if (e.isTextual()) {
                String s = e.asText();
                int sp = s.indexOf(' ', 1);
                if (sp < 0 || s.indexOf(' ', sp + 1) >= 0) {
                    throw new FathomException(src + ": model.merges[" + r + "] '" + s + "' is not two tokens separated by a space");
                }
                left[r] = s.substring(0, sp);
                right[r] = s.substring(sp + 1);
            } else if (e.isArray() && e.size() == 2 && e.get(0).isTextual() && e.get(1).isTextual()) {
                left[r] = e.get(0).asText();
                right[r] = e.get(1).asText();
            } else {
                throw new FathomException(src + ": model.merges[" + r + "] is neither \"a b\" nor [\"a\", \"b\"]: " + e);
            }
        }

        Normalizer.Form form = normalizer(root.get("normalizer"), src);
        PreTokenizer pre = preTokenizer(root.get("pre_tokenizer"), src);
        boolean ignoreMerges = model.path("ignore_merges").asBoolean(false);

        int bos = Tokenizer.NO_TOKEN, eos = Tokenizer.NO_TOKEN;
        boolean addBos = false;
        if (config != null) {
            JsonNode cfg = readJson(config);
            bos = idOf(cfg.get("bos_token"), textToId, config, "bos_token");
            eos = idOf(cfg.get("eos_token"), textToId, config, "eos_token");
            addBos = cfg.path("add_bos_token").asBoolean(false);
        } else {
            // no config: a TemplateProcessing post-processor that starts with a special token means "add BOS"
            JsonNode first = root.path("post_processor").path("single").path(0).path("SpecialToken").path("id");
            if (first.isTextual() && textToId.containsKey(first.asText())) {
                bos = textToId.get(first.asText());
                addBos = true;
            }
        }
        return new Tokenizer.Spec(src, texts, types, textToId, left, right, pre, form, ignoreMerges, bos, eos, addBos,
                lstrip, rstrip);
    }

    /** llama.cpp convert_hf_to_gguf.py does_token_look_special. */
    static boolean looksSpecial(String t) {
        return t.equals("<pad>") || t.equals("<mask>") || t.equals("<2mass>") || t.equals("[@BOS@]")
                || (t.startsWith("<|") && t.endsWith("|>"))
                || (t.startsWith("<｜") && t.endsWith("｜>"))
                || (t.startsWith("<unused") && t.endsWith(">"));
    }

    private static int idOf(JsonNode tok, Map<String, Integer> textToId, Path config, String key) {
        if (tok == null || tok.isNull()) return Tokenizer.NO_TOKEN;
        String text = tok.isTextual() ? tok.asText() : tok.path("content").asText(null);
        if (text == null) throw new FathomException(config + ": " + key + " is neither a string nor an object with \"content\"");
        Integer id = textToId.get(text);
        if (id == null) throw new FathomException(config + ": " + key + " '" + text + "' is not a token of the vocabulary");
        return id;
    }

    private static Normalizer.Form normalizer(JsonNode node, String src) {
        List<Normalizer.Form> forms = new ArrayList<>();
        collectNormalizers(node, src, forms);
        if (forms.size() > 1) throw new FathomException(src + ": several Unicode normalizers in sequence are not supported: " + forms);
        return forms.isEmpty() ? null : forms.getFirst();
    }

    private static void collectNormalizers(JsonNode node, String src, List<Normalizer.Form> out) {
        if (node == null || node.isNull()) return;
        String type = node.path("type").asText("");
        switch (type) {
            case "Sequence" -> {
                for (JsonNode n : node.path("normalizers")) collectNormalizers(n, src, out);
            }
            case "NFC" -> out.add(Normalizer.Form.NFC);
            case "NFD" -> out.add(Normalizer.Form.NFD);
            case "NFKC" -> out.add(Normalizer.Form.NFKC);
            case "NFKD" -> out.add(Normalizer.Form.NFKD);
            default -> throw new FathomException(src + ": normalizer type '" + type + "' is not supported (supported: NFC, NFD, NFKC, NFKD, Sequence)");
        }
    }

    private static PreTokenizer preTokenizer(JsonNode node, String src) {
        if (node == null || node.isNull()) throw new FathomException(src + ": no pre_tokenizer (a byte-level BPE needs one)");
        List<JsonNode> steps = new ArrayList<>();
        if (node.path("type").asText("").equals("Sequence")) node.path("pretokenizers").forEach(steps::add);
        else steps.add(node);
        List<String> regexes = new ArrayList<>();
        boolean byteLevel = false;
        for (JsonNode s : steps) {
            String type = s.path("type").asText("");
            switch (type) {
                case "Split" -> {
                    JsonNode p = s.path("pattern");
                    if (!p.has("Regex")) throw new FathomException(src + ": pre_tokenizer Split with a non-regex pattern " + p + " is not supported");
                    String behavior = s.path("behavior").asText("");
                    if (!behavior.equals("Isolated") || s.path("invert").asBoolean(false)) {
                        throw new FathomException(src + ": pre_tokenizer Split behavior '" + behavior + "' (invert "
                                + s.path("invert").asBoolean(false) + ") is not supported (only Isolated)");
                    }
                    regexes.add(p.get("Regex").asText());
                }
                case "ByteLevel" -> {
                    if (s.path("add_prefix_space").asBoolean(false)) {
                        throw new FathomException(src + ": pre_tokenizer ByteLevel add_prefix_space = true is not supported");
                    }
                    if (s.path("use_regex").asBoolean(true)) {
                        throw new FathomException(src + ": pre_tokenizer ByteLevel use_regex = true (the GPT-2 regex) is not supported; "
                                + "supported: deepseek-v3, deepseek-llm, llama-bpe, qwen2 Split regexes");
                    }
                    byteLevel = true;
                }
                default -> throw new FathomException(src + ": pre_tokenizer type '" + type + "' is not supported");
            }
        }
        if (!byteLevel) throw new FathomException(src + ": pre_tokenizer has no ByteLevel step (not a byte-level BPE)");
        PreTokenizer pre = PreTokenizer.forRegexes(regexes);
        if (pre != null) return pre;
        StringBuilder sb = new StringBuilder(src).append(": unknown pre_tokenizer Split regex");
        List<String> unknown = new ArrayList<>();
        for (String r : regexes) {
            boolean known = false;
            for (PreTokenizer p : PreTokenizer.values()) known |= p.regexes().contains(r);
            if (!known) unknown.add(r);
        }
        if (unknown.isEmpty()) sb.append(" sequence ").append(display(regexes));
        else sb.append(unknown.size() > 1 ? "es " : " ").append(display(unknown));
        sb.append(" (supported: ");
        for (PreTokenizer p : PreTokenizer.values()) sb.append(p.ggufName()).append(p.ordinal() + 1 < PreTokenizer.values().length ? ", " : ")");
        throw new FathomException(sb.toString());
    }

    private static String display(List<String> regexes) {
        List<String> out = new ArrayList<>();
        for (String r : regexes) out.add("'" + r.replace("\r", "\\r").replace("\n", "\\n") + "'");
        return String.join(", ", out);
    }

    private static JsonNode readJson(Path p) {
        try {
            return MAPPER.readTree(p.toFile());
        } catch (IOException e) {
            throw new FathomException(p + ": cannot read JSON: " + e.getMessage(), e);
        }
    }
}
