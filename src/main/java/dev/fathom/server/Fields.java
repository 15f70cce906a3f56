package dev.fathom.server;

import com.fasterxml.jackson.databind.JsonNode;

import java.util.ArrayList;
import java.util.List;

/**
 * Reads typed request fields from a JSON object. Absent and {@code null} fields give null (the default applies);
 * a field of the wrong type or out of range is a 422 naming it. Unknown fields are never looked at.
 */
final class Fields {
    private Fields() {}

    static JsonNode field(JsonNode obj, String name) {
        JsonNode v = obj.get(name);
        return v == null || v.isNull() ? null : v;
    }

    static String describe(JsonNode v) {
        String s = v.toString();
        return s.length() > 60 ? s.substring(0, 57) + "..." : s;
    }

    static Double number(JsonNode obj, String name, double min, double max) {
        return number(obj, name, name, min, max);
    }

    static Double number(JsonNode obj, String name, String label, double min, double max) {
        JsonNode v = field(obj, name);
        if (v == null) return null;
        if (!v.isNumber()) throw ApiException.invalid(label, "must be a number between " + fmt(min) + " and " + fmt(max) + ", got " + describe(v));
        double d = v.doubleValue();
        if (!(d >= min && d <= max)) throw ApiException.invalid(label, "must be between " + fmt(min) + " and " + fmt(max) + ", got " + describe(v));
        return d;
    }

    static Long integer(JsonNode obj, String name, long min, long max) {
        JsonNode v = field(obj, name);
        if (v == null) return null;
        if (!v.isNumber() || !v.canConvertToExactIntegral() || !v.canConvertToLong()) {
            throw ApiException.invalid(name, "must be an integer" + range(min, max) + ", got " + describe(v));
        }
        long l = v.longValue();
        if (l < min || l > max) throw ApiException.invalid(name, "must be an integer" + range(min, max) + ", got " + l);
        return l;
    }

    static Boolean bool(JsonNode obj, String name) {
        return bool(obj, name, name);
    }

    static Boolean bool(JsonNode obj, String name, String label) {
        JsonNode v = field(obj, name);
        if (v == null) return null;
        if (!v.isBoolean()) throw ApiException.invalid(label, "must be true or false, got " + describe(v));
        return v.booleanValue();
    }

    static String string(JsonNode obj, String name, String label) {
        JsonNode v = field(obj, name);
        if (v == null) return null;
        if (!v.isTextual()) throw ApiException.invalid(label, "must be a string, got " + describe(v));
        return v.textValue();
    }

    static JsonNode object(JsonNode obj, String name) {
        JsonNode v = field(obj, name);
        if (v == null) return null;
        if (!v.isObject()) throw ApiException.invalid(name, "must be an object, got " + describe(v));
        return v;
    }

    /** A string or a list of strings (OpenAI's {@code stop}). */
    static List<String> stringOrList(JsonNode obj, String name, int maxItems) {
        JsonNode v = field(obj, name);
        if (v == null) return List.of();
        List<String> out = new ArrayList<>();
        if (v.isTextual()) out.add(v.textValue());
        else if (v.isArray()) {
            for (int i = 0; i < v.size(); i++) {
                if (!v.get(i).isTextual()) throw ApiException.invalid(name, "must be a string or a list of strings, item " + i + " is " + describe(v.get(i)));
                out.add(v.get(i).textValue());
            }
        } else throw ApiException.invalid(name, "must be a string or a list of strings, got " + describe(v));
        if (out.size() > maxItems) throw ApiException.invalid(name, "at most " + maxItems + " stop sequences, got " + out.size());
        for (String s : out) if (s.isEmpty()) throw ApiException.invalid(name, "a stop sequence is empty");
        return out;
    }

    private static String range(long min, long max) {
        if (max == Long.MAX_VALUE) return min == Long.MIN_VALUE ? "" : " >= " + min;
        return " between " + min + " and " + max;
    }

    private static String fmt(double d) {
        return d == Math.rint(d) ? Long.toString((long) d) : Double.toString(d);
    }
}
