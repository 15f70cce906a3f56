package dev.fathom.checkpoint;

import dev.fathom.FathomException;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A model's hyper-parameters under Hugging Face {@code config.json} names ({@code hidden_size},
 * {@code num_key_value_heads}, {@code rope_scaling.factor}, ...), whatever file they came from: a config.json is
 * this view as it is, a GGUF checkpoint translates llama.cpp's metadata keys into it. Values are numbers, strings,
 * booleans, lists or nested maps; a JSON {@code null} counts as absent. Errors name the source and the key.
 */
public final class ConfigValues {
    private final String source;
    private final Map<String, Object> values;

    public ConfigValues(String source, Map<String, ?> values) {
        this.source = source;
        this.values = Collections.unmodifiableMap(new LinkedHashMap<>(values));
    }

    public String source() {
        return source;
    }

    public Map<String, Object> asMap() {
        return values;
    }

    /** The value at a dotted path ({@code rope_scaling.factor}), or null. */
    public Object get(String key) {
        Object v = values;
        for (String part : key.split("\\.")) {
            if (!(v instanceof Map<?, ?> m)) return null;
            v = m.get(part);
        }
        return v;
    }

    public boolean has(String key) {
        return get(key) != null;
    }

    private Object need(String key) {
        Object v = get(key);
        if (v == null) throw new FathomException(source + ": config key '" + key + "' is missing");
        return v;
    }

    private Number number(String key, Object v) {
        if (v instanceof Number n) return n;
        throw new FathomException(source + ": config key '" + key + "' must be a number, got " + v);
    }

    public int getInt(String key) {
        Number n = number(key, need(key));
        if (n.doubleValue() != Math.rint(n.doubleValue()) || Math.abs(n.doubleValue()) > Integer.MAX_VALUE) {
            throw new FathomException(source + ": config key '" + key + "' must be an integer, got " + n);
        }
        return n.intValue();
    }

    public int getInt(String key, int defaultValue) {
        return has(key) ? getInt(key) : defaultValue;
    }

    public float getFloat(String key) {
        return number(key, need(key)).floatValue();
    }

    public float getFloat(String key, float defaultValue) {
        return has(key) ? getFloat(key) : defaultValue;
    }

    public String getString(String key) {
        Object v = need(key);
        if (v instanceof String s) return s;
        throw new FathomException(source + ": config key '" + key + "' must be a string, got " + v);
    }

    public String getString(String key, String defaultValue) {
        return has(key) ? getString(key) : defaultValue;
    }

    public boolean getBoolean(String key, boolean defaultValue) {
        if (!has(key)) return defaultValue;
        Object v = get(key);
        if (v instanceof Boolean b) return b;
        throw new FathomException(source + ": config key '" + key + "' must be true or false, got " + v);
    }

    /** The first id of an id or a list of ids ({@code eos_token_id} may be either in config.json). */
    public int getFirstInt(String key, int defaultValue) {
        Object v = get(key);
        if (v instanceof List<?> l) return l.isEmpty() ? defaultValue : number(key, l.get(0)).intValue();
        return has(key) ? getInt(key) : defaultValue;
    }

    @Override
    public String toString() {
        return source + " " + values;
    }
}
