package dev.fathom.chat;

import jinjava.javax.el.ELContext;
import jinjava.javax.el.ELResolver;

import java.beans.FeatureDescriptor;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Iterator;
import java.util.List;

/**
 * Python's {@code str} methods for Jinjava, which otherwise calls Java's {@code String} methods (so {@code split}
 * would take a regular expression and a Java limit, and {@code startswith} would not exist). Only method calls on
 * strings are handled here; everything else falls through to Jinjava's own resolvers.
 */
final class PyStringMethods extends ELResolver {
    @Override
    public Object invoke(ELContext context, Object base, Object method, Class<?>[] paramTypes, Object[] params) {
        if (!(base instanceof String s) || method == null) return null;
        Object[] p = params == null ? new Object[0] : params;
        Object result = call(s, method.toString(), p);
        if (result == NOT_HANDLED) return null;
        context.setPropertyResolved(true);
        return result;
    }

    private static final Object NOT_HANDLED = new Object();

    private static Object call(String s, String name, Object[] p) {
        return switch (name) {
            case "split" -> split(s, arg(p, 0), p.length > 1 ? toInt(p[1]) : -1);
            case "strip" -> strip(s, arg(p, 0), true, true);
            case "lstrip" -> strip(s, arg(p, 0), true, false);
            case "rstrip" -> strip(s, arg(p, 0), false, true);
            case "startswith" -> anyMatch(p[0], s::startsWith);
            case "endswith" -> anyMatch(p[0], s::endsWith);
            case "upper" -> s.toUpperCase(java.util.Locale.ROOT);
            case "lower" -> s.toLowerCase(java.util.Locale.ROOT);
            case "capitalize" -> s.isEmpty() ? s : s.substring(0, 1).toUpperCase(java.util.Locale.ROOT) + s.substring(1).toLowerCase(java.util.Locale.ROOT);
            case "title" -> title(s);
            case "replace" -> replace(s, String.valueOf(p[0]), String.valueOf(p[1]), p.length > 2 ? toInt(p[2]) : -1);
            case "find" -> s.indexOf(String.valueOf(p[0]));
            case "count" -> count(s, String.valueOf(p[0]));
            case "join" -> join(s, p[0]);
            default -> NOT_HANDLED;
        };
    }

    private static String arg(Object[] p, int i) {
        return i < p.length && p[i] != null ? p[i].toString() : null;
    }

    private static int toInt(Object o) {
        return o instanceof Number n ? n.intValue() : Integer.parseInt(o.toString());
    }

    /** {@code str.split(sep, maxsplit)}; without sep, splits on runs of whitespace and drops empty parts. */
    static List<String> split(String s, String sep, int maxSplit) {
        List<String> out = new ArrayList<>();
        if (sep == null) {
            int i = 0, n = s.length();
            while (true) {
                while (i < n && Character.isWhitespace(s.charAt(i))) i++;
                if (i == n) break;
                if (maxSplit >= 0 && out.size() == maxSplit) {
                    out.add(s.substring(i).stripTrailing());
                    break;
                }
                int j = i;
                while (j < n && !Character.isWhitespace(s.charAt(j))) j++;
                out.add(s.substring(i, j));
                i = j;
            }
            return out;
        }
        if (sep.isEmpty()) throw new IllegalArgumentException("empty separator");
        int from = 0;
        while (maxSplit < 0 || out.size() < maxSplit) {
            int at = s.indexOf(sep, from);
            if (at < 0) break;
            out.add(s.substring(from, at));
            from = at + sep.length();
        }
        out.add(s.substring(from));
        return out;
    }

    static String strip(String s, String chars, boolean left, boolean right) {
        int a = 0, b = s.length();
        if (left) while (a < b && stripped(s.charAt(a), chars)) a++;
        if (right) while (b > a && stripped(s.charAt(b - 1), chars)) b--;
        return s.substring(a, b);
    }

    private static boolean stripped(char c, String chars) {
        return chars == null ? Character.isWhitespace(c) : chars.indexOf(c) >= 0;
    }

    private static boolean anyMatch(Object prefixes, java.util.function.Predicate<String> test) {
        if (prefixes instanceof Collection<?> c) return c.stream().anyMatch(o -> test.test(String.valueOf(o)));
        return test.test(String.valueOf(prefixes));
    }

    private static String title(String s) {
        StringBuilder sb = new StringBuilder(s.length());
        boolean prevCased = false;
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            sb.append(prevCased ? Character.toLowerCase(c) : Character.toUpperCase(c));
            prevCased = Character.isLetter(c);
        }
        return sb.toString();
    }

    private static String replace(String s, String old, String with, int count) {
        if (count < 0) return s.replace(old, with);
        StringBuilder sb = new StringBuilder();
        int from = 0;
        for (int k = 0; k < count; k++) {
            int at = s.indexOf(old, from);
            if (at < 0) break;
            sb.append(s, from, at).append(with);
            from = at + old.length();
            if (old.isEmpty()) break;
        }
        return sb.append(s.substring(from)).toString();
    }

    private static int count(String s, String sub) {
        if (sub.isEmpty()) return s.length() + 1;
        int n = 0;
        for (int at = s.indexOf(sub); at >= 0; at = s.indexOf(sub, at + sub.length())) n++;
        return n;
    }

    private static String join(String sep, Object items) {
        List<String> parts = new ArrayList<>();
        if (items instanceof Iterable<?> it) for (Object o : it) parts.add(String.valueOf(o));
        else parts.add(String.valueOf(items));
        return String.join(sep, parts);
    }

    // Property access is not ours: Jinjava's resolvers handle it.
    @Override
    public Object getValue(ELContext context, Object base, Object property) {
        return null;
    }

    @Override
    public Class<?> getType(ELContext context, Object base, Object property) {
        return null;
    }

    @Override
    public void setValue(ELContext context, Object base, Object property, Object value) {}

    @Override
    public boolean isReadOnly(ELContext context, Object base, Object property) {
        return false;
    }

    @Override
    public Iterator<FeatureDescriptor> getFeatureDescriptors(ELContext context, Object base) {
        return null;
    }

    @Override
    public Class<?> getCommonPropertyType(ELContext context, Object base) {
        return null;
    }
}
