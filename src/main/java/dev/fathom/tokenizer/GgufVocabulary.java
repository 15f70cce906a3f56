package dev.fathom.tokenizer;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.fathom.FathomException;
import dev.fathom.gguf.GgufMetadata;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A Hugging Face folder's byte-level BPE tokenizer as GGUF {@code tokenizer.ggml.*} metadata, the way llama.cpp's
 * converter writes it ({@code get_vocab_base} and gguf-py's {@code SpecialVocab}): the token list padded to the
 * model's vocabulary with {@code [PADn]} (UNUSED), token types (added tokens CONTROL when special or looking
 * special, else USER_DEFINED with {@code ▁} as a space), the merges, the pre-tokeniser's name; special token ids from
 * {@code tokenizer_config.json} (looked up among the added tokens), then {@code config.json}; and whether BOS, EOS
 * and SEP are added, from a TemplateProcessing post-processor, then {@code tokenizer_config.json}'s flags.
 */
public final class GgufVocabulary {
    private static final ObjectMapper JSON = new ObjectMapper();
    /** SpecialVocab's token types and their GGUF keys (llama.cpp spells the separator "seperator"). */
    private static final Map<String, String> ID_KEYS = new LinkedHashMap<>();

    static {
        ID_KEYS.put("bos", TokenizerLoaders.KEY_BOS);
        ID_KEYS.put("eos", TokenizerLoaders.KEY_EOS);
        ID_KEYS.put("unk", "tokenizer.ggml.unknown_token_id");
        ID_KEYS.put("sep", "tokenizer.ggml.seperator_token_id");
        ID_KEYS.put("pad", "tokenizer.ggml.padding_token_id");
        ID_KEYS.put("cls", "tokenizer.ggml.cls_token_id");
        ID_KEYS.put("mask", "tokenizer.ggml.mask_token_id");
        ID_KEYS.put("eot", "tokenizer.ggml.eot_token_id");
    }

    private static final List<String> ADD_FLAGS = List.of("bos", "eos", "sep"); // the flags a GGUF has keys for

    private GgufVocabulary() {}

    /** Writes the tokenizer of {@code folder} (tokenizer.json, tokenizer_config.json, config.json) for a model of {@code vocabSize} rows. */
    public static void fromHuggingFace(Path folder, int vocabSize, GgufMetadata.Builder out) {
        Path json = folder.resolve("tokenizer.json"), configFile = folder.resolve("tokenizer_config.json");
        Path tokenizerConfig = Files.isRegularFile(configFile) ? configFile : null;
        Tokenizer.Spec spec = TokenizerLoaders.huggingFace(json, tokenizerConfig);
        if (spec.texts().length > vocabSize) {
            throw new FathomException(json + ": token id " + (spec.texts().length - 1) + " is outside the model's vocab_size " + vocabSize);
        }
        String[] tokens = new String[vocabSize];
        int[] types = new int[vocabSize];
        for (int i = 0; i < vocabSize; i++) {
            String text = i < spec.texts().length ? spec.texts()[i] : null;
            TokenType type = text == null ? TokenType.UNUSED : spec.types()[i];
            tokens[i] = text == null ? "[PAD" + i + "]" : type == TokenType.USER_DEFINED ? text.replace('▁', ' ') : text;
            types[i] = type.ggufId;
        }
        String[] merges = new String[spec.mergeLeft().length];
        for (int r = 0; r < merges.length; r++) merges[r] = mergePart(spec.mergeLeft()[r]) + " " + mergePart(spec.mergeRight()[r]);

        out.putString(TokenizerLoaders.KEY_MODEL, "gpt2");
        out.putString(TokenizerLoaders.KEY_PRE, spec.pre().ggufName());
        out.putStrings(TokenizerLoaders.KEY_TOKENS, tokens);
        out.putInt32s(TokenizerLoaders.KEY_TYPES, types);
        out.putStrings(TokenizerLoaders.KEY_MERGES, merges);
        specialTokens(folder, readJson(json), tokenizerConfig == null ? null : readJson(tokenizerConfig), vocabSize, out);
    }

    /** A space inside a merge part is written as U+0120, as gguf-py does, so that the space still separates the two parts. */
    private static String mergePart(String part) {
        return part.replace(' ', '\u0120');
    }

    private static void specialTokens(Path folder, JsonNode tokenizer, JsonNode config, int vocabSize, GgufMetadata.Builder out) {
        Map<String, String> text = new LinkedHashMap<>(); // type -> token text, from tokenizer_config.json
        if (config != null) {
            for (String type : ID_KEYS.keySet()) {
                String t = tokenText(config.get(type + "_token"));
                if (t != null) text.put(type, t);
            }
            if (!text.containsKey("bos") && text.containsKey("cls")) text.put("bos", text.get("cls"));
            if (!text.containsKey("eos") && text.containsKey("sep")) text.put("eos", text.get("sep"));
        }
        Map<String, Boolean> add = new LinkedHashMap<>();
        JsonNode post = tokenizer.path("post_processor");
        List<JsonNode> processors = new ArrayList<>();
        if (post.has("processors")) post.get("processors").forEach(processors::add);
        else if (post.isObject()) processors.add(post);
        for (JsonNode p : processors) {
            if (p.path("type").asText().equals("TemplateProcessing")) templateProcessing(p, config != null, text, add);
        }
        Map<String, Integer> ids = new LinkedHashMap<>();
        if (config != null) {
            for (String type : ID_KEYS.keySet()) {
                JsonNode flag = config.get("add_" + type + "_token");
                if (flag != null && flag.isBoolean()) add.put(type, flag.asBoolean());
                String t = text.get(type);
                if (t == null) continue;
                for (JsonNode a : tokenizer.path("added_tokens")) {
                    if (t.equals(a.path("content").asText(null))) {
                        setId(ids, type, a.path("id"), vocabSize);
                        break;
                    }
                }
            }
        }
        JsonNode modelConfig = readJsonIfPresent(folder.resolve("config.json"));
        if (modelConfig != null) for (String type : ID_KEYS.keySet()) setId(ids, type, modelConfig.get(type + "_token_id"), vocabSize);
        ids.forEach((type, id) -> out.putUint32(ID_KEYS.get(type), id));
        add.forEach((type, flag) -> {
            if (ADD_FLAGS.contains(type)) out.putBool("tokenizer.ggml.add_" + type + "_token", flag);
        });
    }

    /**
     * gguf-py's reading of a simple TemplateProcessing: a special token first in {@code single} means BOS is added, last
     * means EOS is added (a last token other than the configured EOS becomes EOS, the old one EOT); in {@code pair}, a
     * special token between A and B that is SEP or EOS means SEP is added.
     */
    private static void templateProcessing(JsonNode p, boolean haveConfig, Map<String, String> text, Map<String, Boolean> add) {
        JsonNode single = p.path("single"), pair = p.path("pair");
        String first = null, last = null;
        if (single.size() > 1) {
            first = special(single.get(0));
            if (first != null) {
                if (!haveConfig) text.put("bos", first);
                add.put("bos", first.equals(text.get("bos")) || first.equals(text.get("cls")));
            }
            last = special(single.get(single.size() - 1));
            if (last != null) {
                if (!haveConfig) {
                    text.put("eos", last);
                } else if (!last.equals(text.get("eos"))) {
                    if (text.containsKey("eos")) text.putIfAbsent("eot", text.get("eos"));
                    text.put("eos", last);
                }
                add.put("eos", true);
            }
        }
        List<JsonNode> middle = new ArrayList<>();
        pair.forEach(middle::add);
        if (first != null && !middle.isEmpty() && first.equals(special(middle.getFirst()))) middle.removeFirst();
        if (last != null && !middle.isEmpty() && last.equals(special(middle.getLast()))) middle.removeLast();
        if (middle.size() < 3 || !"A".equals(sequence(middle.getFirst())) || !"B".equals(sequence(middle.getLast()))) return;
        middle = middle.subList(1, middle.size() - 1);
        String sep = text.get("sep"), eos = text.get("eos");
        boolean addSep = false;
        String e0 = special(middle.getFirst());
        if (e0 != null && (e0.equals(sep) || e0.equals(eos)) && last == null) addSep = true;
        if (middle.size() == 2) {
            String e1 = special(middle.get(1));
            if (e1 != null && (e1.equals(sep) || e1.equals(eos))) addSep = true;
        }
        add.put("sep", addSep);
        if (addSep && sep == null && haveConfig && eos != null) text.put("sep", eos);
    }

    private static String special(JsonNode item) {
        JsonNode id = item.path("SpecialToken").path("id");
        return id.isTextual() ? id.asText() : null;
    }

    private static String sequence(JsonNode item) {
        JsonNode id = item.path("Sequence").path("id");
        return id.isTextual() ? id.asText() : null;
    }

    /** The first id set for a type wins; ids outside the vocabulary are skipped, as gguf-py does. */
    private static void setId(Map<String, Integer> ids, String type, JsonNode id, int vocabSize) {
        if (id == null || !id.isInt() || id.asInt() < 0 || id.asInt() >= vocabSize) return;
        ids.putIfAbsent(type, id.asInt());
    }

    private static String tokenText(JsonNode n) {
        if (n == null || n.isNull()) return null;
        if (n.isTextual()) return n.asText();
        JsonNode c = n.get("content");
        return c != null && c.isTextual() ? c.asText() : null;
    }

    private static JsonNode readJsonIfPresent(Path p) {
        return Files.isRegularFile(p) ? readJson(p) : null;
    }

    private static JsonNode readJson(Path p) {
        try {
            JsonNode n = JSON.readTree(p.toFile());
            if (n == null || !n.isObject()) throw new FathomException(p + ": expected a JSON object");
            return n;
        } catch (IOException e) {
            throw new FathomException(p + ": cannot read JSON: " + e.getMessage(), e);
        }
    }
}
