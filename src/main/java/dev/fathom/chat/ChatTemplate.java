package dev.fathom.chat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.hubspot.jinjava.Jinjava;
import com.hubspot.jinjava.JinjavaConfig;
import com.hubspot.jinjava.LegacyOverrides;
import com.hubspot.jinjava.el.JinjavaInterpreterResolver;
import com.hubspot.jinjava.interpret.JinjavaInterpreter;
import com.hubspot.jinjava.interpret.RenderResult;
import com.hubspot.jinjava.interpret.TemplateError;
import com.hubspot.jinjava.lib.filter.Filter;
import com.hubspot.jinjava.lib.fn.ELFunctionDefinition;
import com.hubspot.jinjava.objects.date.StrftimeFormatter;
import dev.fathom.FathomException;
import dev.fathom.gguf.GgufMetadata;
import dev.fathom.tokenizer.Tokenizer;
import jinjava.javax.el.CompositeELResolver;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.ZonedDateTime;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * A model's chat template: the Hugging Face Jinja template that turns a conversation into the prompt text, rendered
 * with <a href="https://github.com/HubSpot/jinjava">Jinjava</a> set up like transformers' {@code apply_chat_template}:
 * {@code trim_blocks} and {@code lstrip_blocks}, {@code raise_exception(msg)} (throws a {@link FathomException} with
 * the template's message), {@code strftime_now(fmt)}, Python's {@code str} methods ({@code split}, {@code strip},
 * {@code startswith}, ...) and transformers' {@code tojson} (Python {@code json.dumps}, non-ASCII kept).
 * <p>
 * The template sees {@code messages}, {@code add_generation_prompt}, {@code bos_token} (left out when null),
 * {@code eos_token}, {@code tools} when given, and any extra variables (e.g. {@code enable_thinking}). Maps and
 * lists in the context print as JSON where a template concatenates them with a string (Python raises there): tool-call
 * arguments given as an object render as their JSON text even in templates written for string arguments.
 * Immutable and thread-safe.
 */
public final class ChatTemplate {
    /** Metadata key of the template in GGUF files. */
    public static final String GGUF_KEY = "tokenizer.chat_template";
    private static final String BUNDLED_V3 = "deepseek-v3.jinja";
    private static final Jinjava JINJAVA = newJinjava();

    private final String source;
    private final String bosToken;
    private final String eosToken;

    private ChatTemplate(String source, String bosToken, String eosToken) {
        this.source = Objects.requireNonNull(source, "source");
        this.bosToken = bosToken;
        this.eosToken = eosToken;
    }

    /** A template from its Jinja source; {@code bosToken}/{@code eosToken} may be null. */
    public static ChatTemplate of(String source, String bosToken, String eosToken) {
        return new ChatTemplate(source, bosToken, eosToken);
    }

    /** DeepSeek-V3's own template (from its tokenizer_config.json), bundled with Fathom. */
    public static ChatTemplate deepSeekV3(String bosToken, String eosToken) {
        return of(bundledSource(BUNDLED_V3), bosToken, eosToken);
    }

    /**
     * The Jinja source of a template bundled with Fathom: {@code deepseek-v3.jinja} (DeepSeek-V3's
     * tokenizer_config.json), {@code deepseek-r1-distill-qwen.jinja} and {@code deepseek-r1-distill-llama.jinja}
     * (the R1-Distill models' templates, as llama.cpp ships them).
     */
    public static String bundledSource(String name) {
        try (InputStream in = ChatTemplate.class.getResourceAsStream(name)) {
            if (in == null) throw new IllegalStateException("missing resource " + name);
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new IllegalStateException("cannot read resource " + name, e);
        }
    }

    /**
     * The template of a model file ({@code template}, the text it carries, may be null), with BOS/EOS text from the
     * tokenizer. A {@code deepseek2} model without a template whose vocabulary has DeepSeek-V3's chat tokens
     * ({@code <｜User｜>}, {@code <｜Assistant｜>}) gets the bundled DeepSeek-V3 template ({@link #deepSeekV3});
     * any other model without one is an error.
     */
    public static ChatTemplate forModel(String template, String architecture, Tokenizer tokenizer) {
        String bos = tokenizer.bosId() == Tokenizer.NO_TOKEN ? null : tokenizer.tokenText(tokenizer.bosId());
        String eos = tokenizer.eosId() == Tokenizer.NO_TOKEN ? null : tokenizer.tokenText(tokenizer.eosId());
        if (template != null) return of(template, bos, eos);
        boolean v3Vocabulary = tokenizer.tokenId("<｜User｜>") != Tokenizer.NO_TOKEN
                && tokenizer.tokenId("<｜Assistant｜>") != Tokenizer.NO_TOKEN;
        if ("deepseek2".equals(architecture) && v3Vocabulary) return deepSeekV3(bos, eos);
        throw new FathomException(tokenizer.source() + ": the model has no chat template (metadata key '" + GGUF_KEY
                + "'); give one with a tokenizer_config.json or a .jinja file");
    }

    /**
     * The template of a Hugging Face {@code tokenizer_config.json} (or a model folder holding one). {@code chat_template}
     * may be a string or a list of {@code {name, template}} (the one named "default" is used, else the first); without
     * it, a {@code chat_template.jinja} beside the file is used. {@code bos_token}/{@code eos_token} may be strings or
     * {@code {content: ...}} objects.
     */
    public static ChatTemplate fromTokenizerConfig(Path path) {
        Path file = Files.isDirectory(path) ? path.resolve("tokenizer_config.json") : path;
        JsonNode root;
        try {
            root = new ObjectMapper().readTree(file.toFile());
        } catch (IOException e) {
            throw new FathomException(file + ": cannot read tokenizer config: " + e.getMessage(), e);
        }
        if (root == null || !root.isObject()) throw new FathomException(file + ": expected a JSON object");
        String template = templateText(file, root.get("chat_template"));
        if (template == null) {
            Path jinja = file.resolveSibling("chat_template.jinja");
            try {
                if (Files.isRegularFile(jinja)) template = Files.readString(jinja);
            } catch (IOException e) {
                throw new FathomException(jinja + ": cannot read: " + e.getMessage(), e);
            }
        }
        if (template == null) {
            throw new FathomException(file + ": no 'chat_template' (and no chat_template.jinja beside it)");
        }
        return of(template, tokenText(root.get("bos_token")), tokenText(root.get("eos_token")));
    }

    private static String templateText(Path file, JsonNode t) {
        if (t == null || t.isNull()) return null;
        if (t.isTextual()) return t.asText();
        if (t.isArray() && !t.isEmpty()) {
            JsonNode chosen = t.get(0);
            for (JsonNode n : t) if ("default".equals(n.path("name").asText())) chosen = n;
            if (chosen.path("template").isTextual()) return chosen.get("template").asText();
        }
        throw new FathomException(file + ": 'chat_template' must be a string or a list of {name, template}");
    }

    private static String tokenText(JsonNode n) {
        if (n == null || n.isNull()) return null;
        if (n.isTextual()) return n.asText();
        JsonNode c = n.get("content");
        return c != null && c.isTextual() ? c.asText() : null;
    }

    /**
     * Token ids of a prompt this template rendered: special tokens parsed, and BOS added as the tokenizer's metadata
     * asks unless the template already wrote the BOS text itself (DeepSeek's templates do), so it is never doubled.
     */
    public static int[] encodePrompt(Tokenizer tokenizer, String rendered) {
        String bos = tokenizer.bosId() >= 0 ? tokenizer.tokenText(tokenizer.bosId()) : null;
        boolean addBos = tokenizer.addBosByDefault() && (bos == null || !rendered.startsWith(bos));
        return tokenizer.encode(rendered, addBos, true);
    }

    /**
     * Whether this is a reasoning model's template (R1 and its distills): it handles {@code </think>} in the
     * conversation, or its generation prompt opens {@code <think>} so the output holds only the closing tag.
     */
    public boolean isReasoning() {
        if (source.contains(ReasoningParser.CLOSE)) return true;
        try {
            return ReasoningParser.startsInReasoning(render(List.of(ChatMessage.user("x")), true));
        } catch (RuntimeException e) {
            return false; // a template that cannot render a lone user turn says nothing about reasoning
        }
    }

        public String source() {
        return source;
    }

    public String bosToken() {
        return bosToken;
    }

    public String eosToken() {
        return eosToken;
    }

    /** The variable templates read to switch a reasoning model's thinking on or off (Qwen3, llama.cpp's R1-Distill copies). */
    public static final String ENABLE_THINKING = "enable_thinking";

    /**
     * The prompt for a conversation; {@code addGenerationPrompt} opens the assistant's next turn. Thinking is on
     * ({@code enable_thinking = true}, as llama.cpp's server sets it): a reasoning model reasons.
     */
    public String render(List<ChatMessage> messages, boolean addGenerationPrompt) {
        return render(messages, addGenerationPrompt, null, Map.of(ENABLE_THINKING, true));
    }

    /**
     * The prompt for a conversation with tools (OpenAI-style {@code {type: "function", function: {name, description,
     * parameters}}} maps, or null) and extra template variables (e.g. {@code enable_thinking}).
     */
    public String render(List<ChatMessage> messages, boolean addGenerationPrompt, List<?> tools, Map<String, ?> extra) {
        return renderMaps(messages.stream().map(ChatMessage::toTemplateMap).toList(), addGenerationPrompt, tools, extra);
    }

    /** As {@link #render(List, boolean, List, Map)} with messages already in the template's map form. */
    public String renderMaps(List<? extends Map<String, ?>> messages, boolean addGenerationPrompt, List<?> tools,
                             Map<String, ?> extra) {
        Map<String, Object> ctx = new HashMap<>();
        extra.forEach((k, v) -> ctx.put(k, jsonPrinting(v)));
        ctx.put("messages", jsonPrinting(messages));
        ctx.put("add_generation_prompt", addGenerationPrompt);
        if (bosToken != null) ctx.put("bos_token", bosToken);
        if (eosToken != null) ctx.put("eos_token", eosToken);
        if (tools != null) ctx.put("tools", jsonPrinting(tools));
        RenderResult r = JINJAVA.renderForResult(source, ctx);
        for (TemplateError e : r.getErrors()) {
            if (e.getSeverity() != TemplateError.ErrorType.FATAL) continue;
            for (Throwable t = e.getException(); t != null; t = t.getCause()) {
                if (t instanceof FathomException f) throw f;
            }
            throw new FathomException("chat template: " + e.getMessage()
                    + (e.getLineno() > 0 ? " (template line " + e.getLineno() + ")" : ""));
        }
        return r.getOutput();
    }

    /** Copies maps and lists into ones whose {@code toString} is their JSON (see the class comment). */
    private static Object jsonPrinting(Object v) {
        if (v instanceof Map<?, ?> m) {
            JsonMap out = new JsonMap();
            m.forEach((k, x) -> out.put(String.valueOf(k), jsonPrinting(x)));
            return out;
        }
        if (v instanceof Collection<?> c) {
            JsonList out = new JsonList();
            for (Object x : c) out.add(jsonPrinting(x));
            return out;
        }
        return v;
    }

    @SuppressWarnings("serial")
    private static final class JsonMap extends LinkedHashMap<String, Object> {
        @Override
        public String toString() {
            return PyJson.dumps(this, -1);
        }
    }

    @SuppressWarnings("serial")
    private static final class JsonList extends ArrayList<Object> {
        @Override
        public String toString() {
            return PyJson.dumps(this, -1);
        }
    }

    /** {@code raise_exception(message)}, as transformers defines it for templates. */
    public static String raiseException(Object message) {
        throw new FathomException("chat template: " + message);
    }

    /** {@code strftime_now(format)}, as transformers defines it for templates (local time). */
    public static String strftimeNow(String format) {
        return StrftimeFormatter.format(ZonedDateTime.now(), format);
    }

    /** transformers' {@code tojson(indent=None)}. */
    private static final class ToJson implements Filter {
        @Override
        public String getName() {
            return "tojson";
        }

        @Override
        public Object filter(Object var, JinjavaInterpreter interpreter, String... args) {
            return PyJson.dumps(var, args.length > 0 && args[0] != null ? Integer.parseInt(args[0]) : -1);
        }

        @Override
        public Object filter(Object var, JinjavaInterpreter interpreter, Object[] args, Map<String, Object> kwargs) {
            Object indent = kwargs.getOrDefault("indent", args.length > 0 ? args[0] : null);
            return PyJson.dumps(var, indent == null ? -1 : Integer.parseInt(indent.toString()));
        }
    }

    private static Jinjava newJinjava() {
        CompositeELResolver resolver = new CompositeELResolver();
        resolver.add(new PyStringMethods());
        resolver.add(JinjavaInterpreterResolver.DEFAULT_RESOLVER_READ_WRITE);
        JinjavaConfig config = JinjavaConfig.newBuilder()
                .withTrimBlocks(true)
                .withLstripBlocks(true)
                .withElResolver(resolver)
                .withLegacyOverrides(LegacyOverrides.newBuilder()
                        .withParseWhitespaceControlStrictly(true)
                        .withUseTrimmingForNotesAndExpressions(true)
                        .withKeepNullableLoopValues(true)
                        .build())
                .build();
        Jinjava j = new Jinjava(config);
        j.registerFunction(new ELFunctionDefinition("", "raise_exception", ChatTemplate.class, "raiseException", Object.class));
        j.registerFunction(new ELFunctionDefinition("", "strftime_now", ChatTemplate.class, "strftimeNow", String.class));
        j.registerFilter(new ToJson());
        return j;
    }
}
