package dev.fathom.server;

import com.fasterxml.jackson.annotation.JsonUnwrapped;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonMappingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.MapperFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.PropertyNamingStrategies;
import com.fasterxml.jackson.databind.cfg.CoercionAction;
import com.fasterxml.jackson.databind.cfg.CoercionInputShape;
import com.fasterxml.jackson.databind.exc.MismatchedInputException;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.databind.type.LogicalType;
import dev.fathom.engine.GenerationRequest;

import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.RecordComponent;
import java.util.List;
import java.util.Set;

/**
 * Binds a request body to its record in {@link Requests} and checks it, in one place: the field types and
 * {@link Range}s declared on the records, then each endpoint's rules (the generation fields' once, for both
 * generation endpoints). A field that breaks one is a 422 whose {@code param} and message name the field as the
 * client wrote it ({@code messages[0].role}, {@code stream_options.include_usage}). Binding is strict: no string is
 * taken for a number or a boolean, no number for a string, no fraction for an integer. What only the model can
 * tell (token ids in its vocabulary, a chat template, the context length) is checked where the model is used.
 */
final class RequestBinding {
    private static final PropertyNamingStrategies.NamingBase SNAKE = (PropertyNamingStrategies.NamingBase) PropertyNamingStrategies.SNAKE_CASE;
    private static final ObjectMapper STRICT = strictMapper();
    private static final Set<String> ROLES = Set.of("system", "user", "assistant", "tool");

    private RequestBinding() {}

    private static ObjectMapper strictMapper() {
        JsonMapper m = JsonMapper.builder()
                .propertyNamingStrategy(PropertyNamingStrategies.SNAKE_CASE)
                .disable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES)
                .disable(DeserializationFeature.ACCEPT_FLOAT_AS_INT)
                .disable(MapperFeature.ALLOW_COERCION_OF_SCALARS)
                .build();
        for (LogicalType t : List.of(LogicalType.Textual, LogicalType.Boolean, LogicalType.Integer, LogicalType.Float)) {
            for (CoercionInputShape s : List.of(CoercionInputShape.String, CoercionInputShape.Integer, CoercionInputShape.Float,
                    CoercionInputShape.Boolean, CoercionInputShape.EmptyString)) {
                m.coercionConfigFor(t).setCoercion(s, CoercionAction.Fail);
            }
        }
        m.coercionConfigFor(LogicalType.Float).setCoercion(CoercionInputShape.Integer, CoercionAction.TryConvert); // 1 is a number
        return m;
    }

    /** {@code POST /chat/completions}: the messages, logprobs and the generation fields. */
    static Requests.ChatCompletionRequest chat(JsonNode body) {
        Requests.ChatCompletionRequest r = bind(body, Requests.ChatCompletionRequest.class);
        messages(r.messages());
        if (r.topLogprobs() != null && !Boolean.TRUE.equals(r.logprobs())) throw ApiException.invalid("top_logprobs", "needs \"logprobs\": true");
        generation(r.generation());
        return r;
    }

    /** {@code POST /completions}: one prompt, suffix, logprobs, echo and the generation fields. */
    static Requests.CompletionRequest completion(JsonNode body) {
        Requests.CompletionRequest r = bind(body, Requests.CompletionRequest.class);
        JsonNode p = r.onePrompt();
        if (p == null || p.isNull()) throw ApiException.invalid("prompt", "is required (a string)");
        if (p.isArray() && !p.isEmpty() && (p.get(0).isTextual() || p.get(0).isArray())) {
            throw ApiException.invalid("prompt", "only one prompt per request is supported, got a list of " + p.size() + " (send one request per prompt)");
        }
        if (!p.isTextual() && !(p.isArray() && r.suffix() == null)) { // token ids are checked against the vocabulary by tokenIds
            throw ApiException.invalid("prompt", "must be a string" + (r.suffix() == null ? " or a list of token ids" : "") + ", got " + describe(p));
        }
        if (r.echoes() && r.suffix() != null) throw ApiException.invalid("echo", "cannot be combined with suffix");
        if (r.echoes() && r.logprobs() != null) {
            throw ApiException.invalid("echo", "cannot be combined with logprobs here (the prompt's log-probabilities are not computed)");
        }
        generation(r.generation());
        return r;
    }

    /** {@code POST /tokenize}: the text is required. */
    static Requests.TokenizeRequest tokenize(JsonNode body) {
        Requests.TokenizeRequest r = bind(body, Requests.TokenizeRequest.class);
        if (r.text() == null) throw ApiException.invalid("content", "is required (the text to tokenize)");
        return r;
    }

    /** {@code POST /detokenize}: a list of token ids is required ({@link #tokenIds} checks them against the vocabulary). */
    static Requests.DetokenizeRequest detokenize(JsonNode body) {
        Requests.DetokenizeRequest r = bind(body, Requests.DetokenizeRequest.class);
        JsonNode tokens = r.tokens();
        if (tokens == null || tokens.isNull()) throw ApiException.invalid("tokens", "is required (a list of token ids)");
        if (!tokens.isArray()) throw ApiException.invalid("tokens", "must be a list of token ids, got " + describe(tokens));
        return r;
    }

    /** A JSON list of token ids, each checked against the vocabulary; errors name {@code field[i]}. */
    static int[] tokenIds(JsonNode list, String field, int vocab, String hint) {
        int[] ids = new int[list.size()];
        for (int i = 0; i < ids.length; i++) {
            JsonNode v = list.get(i);
            if (!v.canConvertToExactIntegral() || !v.canConvertToInt() || v.intValue() < 0 || v.intValue() >= vocab) {
                throw ApiException.invalid(field + "[" + i + "]", "must be a token id in 0.." + (vocab - 1) + hint + ", got " + describe(v));
            }
            ids[i] = v.intValue();
        }
        return ids;
    }

    /** What both generation endpoints accept beyond types and ranges. */
    private static void generation(Requests.GenerationFields f) {
        if (f.topP() != null && f.topP() == 0) throw ApiException.invalid("top_p", "must be greater than 0 and at most 1, got 0");
        if (f.n() != null && f.n() != 1) throw ApiException.invalid("n", "only 1 choice per request is supported, got " + f.n());
        stop(f.stop());
        if (f.responseFormat() != null) {
            String type = f.responseFormat().type();
            if (type == null || !(type.equals("text") || type.equals("json_object"))) {
                throw ApiException.invalid("response_format.type", "must be \"text\" or \"json_object\", got " + (type == null ? "nothing" : "\"" + type + "\""));
            }
        }
    }

    /** OpenAI's {@code stop}: a string or a list of strings, none empty. */
    private static void stop(JsonNode v) {
        if (v == null || v.isNull()) return;
        if (!v.isTextual() && !v.isArray()) throw ApiException.invalid("stop", "must be a string or a list of strings, got " + describe(v));
        for (int i = 0; i < v.size(); i++) {
            if (!v.get(i).isTextual()) throw ApiException.invalid("stop", "must be a string or a list of strings, item " + i + " is " + describe(v.get(i)));
        }
        if (v.size() > GenerationRequest.MAX_STOP_STRINGS) {
            throw ApiException.invalid("stop", "at most " + GenerationRequest.MAX_STOP_STRINGS + " stop sequences, got " + v.size());
        }
        if (v.isTextual() ? v.textValue().isEmpty() : v.valueStream().anyMatch(x -> x.textValue().isEmpty())) {
            throw ApiException.invalid("stop", "a stop sequence is empty");
        }
    }

    private static void messages(List<Requests.Message> list) {
        if (list == null) throw ApiException.invalid("messages", "is required (a list of {role, content} objects)");
        if (list.isEmpty()) throw ApiException.invalid("messages", "must be a non-empty list of messages, got []");
        for (int i = 0; i < list.size(); i++) {
            String at = "messages[" + i + "]";
            Requests.Message m = list.get(i);
            if (m == null) throw ApiException.invalid(at, "must be an object with role and content, got null");
            if (m.role() == null) throw ApiException.invalid(at + ".role", "is required");
            String role = m.chatRole();
            if (!ROLES.contains(role)) throw ApiException.invalid(at + ".role", "must be one of system, developer, user, assistant, tool, got \"" + m.role() + "\"");
            content(m.content(), at + ".content");
            boolean assistant = role.equals("assistant");
            if (assistant && m.toolCalls() != null) toolCalls(m.toolCalls(), at + ".tool_calls");
            if (m.text() == null && !(assistant && (m.toolCalls() != null || i == list.size() - 1))) {
                throw ApiException.invalid(at + ".content", "is required for " + (assistant ? "an " : "a ") + role + " message");
            }
            if (role.equals("tool") && m.toolCallId() == null) throw ApiException.invalid(at + ".tool_call_id", "is required for a tool message");
            if (Boolean.TRUE.equals(m.prefix()) && (!assistant || i != list.size() - 1)) {
                throw ApiException.invalid(at + ".prefix", "only the last message, an assistant message, can be a prefix to continue");
            }
        }
    }

    /** A string, or a list of {type: "text", text} parts. */
    private static void content(JsonNode c, String at) {
        if (c == null || c.isNull() || c.isTextual()) return;
        if (!c.isArray()) throw ApiException.invalid(at, "must be a string or a list of text parts, got " + describe(c));
        for (int k = 0; k < c.size(); k++) {
            JsonNode part = c.get(k);
            if (!part.isObject() || !"text".equals(part.path("type").textValue())) {
                throw ApiException.invalid(at + "[" + k + "]", "only {\"type\": \"text\", \"text\": ...} parts are supported, got " + describe(part));
            }
            JsonNode text = part.get("text");
            if (text == null || text.isNull()) throw ApiException.invalid(at + "[" + k + "].text", "is required");
            if (!text.isTextual()) throw ApiException.invalid(at + "[" + k + "].text", "must be a string, got " + describe(text));
        }
    }

    private static void toolCalls(List<Requests.ToolCall> calls, String at) {
        for (int k = 0; k < calls.size(); k++) {
            Requests.ToolCall c = calls.get(k);
            if (c == null || c.function() == null || c.function().name() == null) throw ApiException.invalid(at + "[" + k + "].function.name", "is required");
        }
    }

    /** The body as a {@code type} record, every {@link Range} checked. */
    private static <T extends Record> T bind(JsonNode body, Class<T> type) {
        T value;
        try {
            value = STRICT.treeToValue(body, type);
        } catch (JsonMappingException e) {
            throw wrongType(body, e);
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw ApiException.badRequest(null, "invalid_json", "the request body cannot be read: " + JsonProblems.describe(e));
        }
        checkRanges(value, "");
        return value;
    }

    private static ApiException wrongType(JsonNode body, JsonMappingException e) {
        StringBuilder param = new StringBuilder();
        JsonNode value = body;
        for (JsonMappingException.Reference r : e.getPath()) {
            if (r.getFieldName() != null) {
                if (!param.isEmpty()) param.append('.');
                param.append(r.getFieldName());
                value = value == null ? null : value.get(r.getFieldName());
            } else if (r.getIndex() >= 0) {
                param.append('[').append(r.getIndex()).append(']');
                value = value == null ? null : value.get(r.getIndex());
            }
        }
        Class<?> target = e instanceof MismatchedInputException m ? m.getTargetType() : null;
        String got = value == null ? "" : ", got " + describe(value);
        if (param.isEmpty()) return ApiException.badRequest(null, "invalid_json", "the request body must be a JSON object" + got);
        return ApiException.invalid(param.toString(), "must be " + expected(target) + got);
    }

    private static String expected(Class<?> t) {
        if (t == null) return "of another type";
        if (t == Double.class || t == Float.class) return "a number";
        if (t == Long.class || t == Integer.class) return "an integer";
        if (t == Boolean.class) return "true or false";
        if (t == String.class) return "a string";
        if (List.class.isAssignableFrom(t)) return "a list";
        if (t.isRecord()) return "an object";
        return "of another type";
    }

    /** Checks each {@link Range} of r and of the records within it; names are prefixed by {@code at}. */
    private static void checkRanges(Record r, String at) {
        for (RecordComponent c : r.getClass().getRecordComponents()) {
            Object v;
            try {
                v = c.getAccessor().invoke(r);
            } catch (IllegalAccessException | InvocationTargetException e) {
                throw new IllegalStateException("cannot read " + c, e);
            }
            String name = at + SNAKE.translate(c.getName());
            Range range = c.getAnnotation(Range.class);
            if (range != null && v instanceof Number n) {
                double d = n.doubleValue();
                if (!(d >= range.min() && d <= range.max())) {
                    String kind = v instanceof Long ? "an integer between " : "between ";
                    throw ApiException.invalid(name, "must be " + kind + format(range.min()) + " and " + format(range.max()) + ", got " + format(d));
                }
            }
            boolean unwrapped = c.getAccessor().isAnnotationPresent(JsonUnwrapped.class); // its fields are the parent's in the JSON
            if (v instanceof Record nested) checkRanges(nested, unwrapped ? at : name + ".");
            if (v instanceof List<?> list) {
                for (int i = 0; i < list.size(); i++) {
                    if (list.get(i) instanceof Record item) checkRanges(item, name + "[" + i + "].");
                }
            }
        }
    }

    /** A value as a message quotes it: at most 60 characters of its JSON. */
    private static String describe(JsonNode v) {
        String s = v.toString();
        return s.length() > 60 ? s.substring(0, 57) + "..." : s;
    }

    private static String format(double d) {
        return d == Math.rint(d) && Math.abs(d) < 1e15 ? Long.toString((long) d) : Double.toString(d);
    }
}
