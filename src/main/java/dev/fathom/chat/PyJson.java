package dev.fathom.chat;

import java.lang.reflect.Array;
import java.math.BigDecimal;
import java.util.Collection;
import java.util.Map;

/**
 * Python's {@code json.dumps(value, ensure_ascii=False, indent=indent)}, which is transformers' {@code tojson}:
 * separators {@code ", "} and {@code ": "} on one line, {@code ","} and {@code ": "} with an indent; non-ASCII text
 * kept as it is.
 */
final class PyJson {
    private PyJson() {}

    static String dumps(Object value, int indent) {
        StringBuilder sb = new StringBuilder();
        write(sb, value, indent, 0);
        return sb.toString();
    }

    private static void write(StringBuilder sb, Object v, int indent, int depth) {
        switch (v) {
            case null -> sb.append("null");
            case Boolean b -> sb.append(b ? "true" : "false");
            case Double d -> number(sb, d);
            case Float f -> number(sb, f.doubleValue());
            case Number n -> sb.append(n);
            case Map<?, ?> m -> {
                sb.append('{');
                int i = 0;
                for (Map.Entry<?, ?> e : m.entrySet()) {
                    separator(sb, i++, indent, depth + 1);
                    string(sb, String.valueOf(e.getKey()));
                    sb.append(": ");
                    write(sb, e.getValue(), indent, depth + 1);
                }
                close(sb, i, indent, depth, '}');
            }
            case Collection<?> c -> {
                sb.append('[');
                int i = 0;
                for (Object o : c) {
                    separator(sb, i++, indent, depth + 1);
                    write(sb, o, indent, depth + 1);
                }
                close(sb, i, indent, depth, ']');
            }
            default -> {
                if (v.getClass().isArray()) {
                    sb.append('[');
                    int n = Array.getLength(v);
                    for (int i = 0; i < n; i++) {
                        separator(sb, i, indent, depth + 1);
                        write(sb, Array.get(v, i), indent, depth + 1);
                    }
                    close(sb, n, indent, depth, ']');
                } else {
                    string(sb, v.toString());
                }
            }
        }
    }

    private static void separator(StringBuilder sb, int i, int indent, int depth) {
        if (indent < 0) {
            if (i > 0) sb.append(", ");
        } else {
            if (i > 0) sb.append(',');
            sb.append('\n').repeat(' ', indent * depth);
        }
    }

    private static void close(StringBuilder sb, int count, int indent, int depth, char c) {
        if (indent >= 0 && count > 0) sb.append('\n').repeat(' ', indent * depth);
        sb.append(c);
    }

    /** Python's float repr: shortest digits, exponent form outside [1e-4, 1e16). */
    private static void number(StringBuilder sb, double d) {
        if (Double.isNaN(d)) sb.append("NaN");
        else if (Double.isInfinite(d)) sb.append(d > 0 ? "Infinity" : "-Infinity");
        else if (d == 0 || (Math.abs(d) >= 1e-4 && Math.abs(d) < 1e16)) {
            String s = new BigDecimal(Double.toString(d)).toPlainString();
            sb.append(s.contains(".") ? s : s + ".0");
        } else {
            String s = Double.toString(d); // e.g. 1.0E20
            int e = s.indexOf('E');
            String mant = s.substring(0, e).replaceAll("\\.0$", "");
            int exp = Integer.parseInt(s.substring(e + 1));
            sb.append(mant).append('e').append(exp < 0 ? '-' : '+').append(String.format("%02d", Math.abs(exp)));
        }
    }

    private static void string(StringBuilder sb, String s) {
        sb.append('"');
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
                case '"' -> sb.append("\\\"");
                case '\\' -> sb.append("\\\\");
                case '\n' -> sb.append("\\n");
                case '\r' -> sb.append("\\r");
                case '\t' -> sb.append("\\t");
                case '\b' -> sb.append("\\b");
                case '\f' -> sb.append("\\f");
                default -> {
                    if (c < 0x20) sb.append(String.format("\\u%04x", (int) c));
                    else sb.append(c);
                }
            }
        }
        sb.append('"');
    }
}
