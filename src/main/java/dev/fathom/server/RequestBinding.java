package dev.fathom.server;

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

import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.RecordComponent;
import java.util.List;

/**
 * Binds a request body to its record in {@link Requests} and checks it, in one place: a field of the wrong type or
 * out of its {@link Range} is a 422 whose {@code param} and message name the field as the client wrote it
 * ({@code messages[0].role}, {@code stream_options.include_usage}). Binding is strict: no string is taken for a
 * number or a boolean, no number for a string, no fraction for an integer.
 */
final class RequestBinding {
    private static final PropertyNamingStrategies.NamingBase SNAKE = (PropertyNamingStrategies.NamingBase) PropertyNamingStrategies.SNAKE_CASE;
    private static final ObjectMapper STRICT = strictMapper();

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

    /** The body as a {@code type} record, every {@link Range} checked. */
    static <T extends Record> T bind(JsonNode body, Class<T> type) {
        T value;
        try {
            value = STRICT.treeToValue(body, type);
        } catch (JsonMappingException e) {
            throw wrongType(body, e);
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw ApiException.badRequest(null, "invalid_json", "the request body cannot be read: " + JsonProblems.describe(e));
        }
        check(value, "");
        return value;
    }

    /** The JSON name of a record component. */
    static String jsonName(String component) {
        return SNAKE.translate(component);
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
    private static void check(Record r, String at) {
        for (RecordComponent c : r.getClass().getRecordComponents()) {
            Object v;
            try {
                v = c.getAccessor().invoke(r);
            } catch (IllegalAccessException | InvocationTargetException e) {
                throw new IllegalStateException("cannot read " + c, e);
            }
            String name = at + jsonName(c.getName());
            Range range = c.getAnnotation(Range.class);
            if (range != null && v instanceof Number n) {
                double d = n.doubleValue();
                if (!(d >= range.min() && d <= range.max())) {
                    String kind = v instanceof Long ? "an integer between " : "between ";
                    throw ApiException.invalid(name, "must be " + kind + format(range.min()) + " and " + format(range.max()) + ", got " + format(d));
                }
            }
            if (v instanceof Record nested) check(nested, name + ".");
            if (v instanceof List<?> list) {
                for (int i = 0; i < list.size(); i++) {
                    if (list.get(i) instanceof Record item) check(item, name + "[" + i + "].");
                }
            }
        }
    }

    /** A value as a message quotes it: at most 60 characters of its JSON. */
    static String describe(JsonNode v) {
        String s = v.toString();
        return s.length() > 60 ? s.substring(0, 57) + "..." : s;
    }

    private static String format(double d) {
        return d == Math.rint(d) && Math.abs(d) < 1e15 ? Long.toString((long) d) : Double.toString(d);
    }
}
