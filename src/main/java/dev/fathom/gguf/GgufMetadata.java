package dev.fathom.gguf;

import dev.fathom.FathomException;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;

/**
 * The key-value metadata of a GGUF file, in file order, with typed accessors whose errors name the source
 * file, the key, and what was expected.
 */
public final class GgufMetadata {
    private final String source;
    private final Map<String, MetadataValue> values;

    GgufMetadata(String source, LinkedHashMap<String, MetadataValue> values) {
        this.source = source;
        this.values = Collections.unmodifiableMap(values);
    }

    /** All entries in file order. */
    public Map<String, MetadataValue> entries() {
        return values;
    }

    public boolean has(String key) {
        return values.containsKey(key);
    }

    public Optional<MetadataValue> get(String key) {
        return Optional.ofNullable(values.get(key));
    }

    private MetadataValue require(String key) {
        MetadataValue v = values.get(key);
        if (v == null) throw error(key, "is missing");
        return v;
    }

    private FathomException error(String key, String what) {
        return new FathomException(source + ": metadata key '" + key + "' " + what);
    }

    public String getString(String key) {
        MetadataValue v = require(key);
        if (v.type() != GgufValueType.STRING) throw error(key, "has type " + v.type() + ", expected STRING");
        return (String) v.value();
    }

    public Optional<String> findString(String key) {
        return has(key) ? Optional.of(getString(key)) : Optional.empty();
    }

    /** Any integer type, unsigned values zero-extended. */
    public long getLong(String key) {
        MetadataValue v = require(key);
        Long l = v.asLong();
        if (l == null) throw error(key, "has type " + v.type() + ", expected an integer");
        if (v.type() == GgufValueType.UINT64 && l < 0) throw error(key, "value " + Long.toUnsignedString(l) + " is too large");
        return l;
    }

    /** Any integer type whose value fits an int. */
    public int getInt(String key) {
        long l = getLong(key);
        if (l != (int) l) throw error(key, "value " + l + " does not fit a 32-bit integer");
        return (int) l;
    }

    public int getInt(String key, int defaultValue) {
        return has(key) ? getInt(key) : defaultValue;
    }

    /** Any numeric type. */
    public double getDouble(String key) {
        MetadataValue v = require(key);
        return switch (v.type()) {
            case FLOAT32 -> (Float) v.value();
            case FLOAT64 -> (Double) v.value();
            default -> {
                Long l = v.asLong();
                if (l == null) throw error(key, "has type " + v.type() + ", expected a number");
                yield l;
            }
        };
    }

    public float getFloat(String key) {
        return (float) getDouble(key);
    }

    public float getFloat(String key, float defaultValue) {
        return has(key) ? getFloat(key) : defaultValue;
    }

    public boolean getBoolean(String key) {
        MetadataValue v = require(key);
        if (v.type() != GgufValueType.BOOL) throw error(key, "has type " + v.type() + ", expected BOOL");
        return (Boolean) v.value();
    }

    public boolean getBoolean(String key, boolean defaultValue) {
        return has(key) ? getBoolean(key) : defaultValue;
    }

    public GgufArray getArray(String key) {
        MetadataValue v = require(key);
        if (v.type() != GgufValueType.ARRAY) throw error(key, "has type " + v.type() + ", expected ARRAY");
        return (GgufArray) v.value();
    }

    public String[] getStringArray(String key) {
        GgufArray a = getArray(key);
        if (a.elementType() != GgufValueType.STRING) {
            throw error(key, "is an array of " + a.elementType() + ", expected an array of STRING");
        }
        return (String[]) a.values();
    }

    /** An array of any integer type, each value fitting an int. */
    public int[] getIntArray(String key) {
        GgufArray a = getArray(key);
        if (!a.elementType().isInteger()) throw error(key, "is an array of " + a.elementType() + ", expected integers");
        if (a.values() instanceof int[] ints && a.elementType() == GgufValueType.INT32) return ints;
        int[] out = new int[a.length()];
        for (int i = 0; i < out.length; i++) {
            long l = a.integerAt(i);
            if (l != (int) l) throw error(key, "element " + i + " = " + l + " does not fit a 32-bit integer");
            out[i] = (int) l;
        }
        return out;
    }

    /** An array of FLOAT32 or FLOAT64. */
    public float[] getFloatArray(String key) {
        GgufArray a = getArray(key);
        if (a.values() instanceof float[] f) return f;
        if (a.values() instanceof double[] d) {
            float[] out = new float[d.length];
            for (int i = 0; i < d.length; i++) out[i] = (float) d[i];
            return out;
        }
        throw error(key, "is an array of " + a.elementType() + ", expected FLOAT32");
    }

    /** Builds metadata for {@link GgufWriter}; keys keep insertion order. */
    public static Builder builder() {
        return new Builder();
    }

    public static final class Builder {
        private final LinkedHashMap<String, MetadataValue> values = new LinkedHashMap<>();

        public Builder put(String key, MetadataValue value) {
            values.put(key, value);
            return this;
        }

        public Builder putAll(GgufMetadata other) {
            values.putAll(other.values);
            return this;
        }

        public Builder remove(String key) {
            values.remove(key);
            return this;
        }

        public Builder putString(String key, String v) {
            return put(key, new MetadataValue(GgufValueType.STRING, v));
        }

        public Builder putUint32(String key, int v) {
            return put(key, new MetadataValue(GgufValueType.UINT32, v));
        }

        public Builder putInt32(String key, int v) {
            return put(key, new MetadataValue(GgufValueType.INT32, v));
        }

        public Builder putUint64(String key, long v) {
            return put(key, new MetadataValue(GgufValueType.UINT64, v));
        }

        public Builder putFloat32(String key, float v) {
            return put(key, new MetadataValue(GgufValueType.FLOAT32, v));
        }

        public Builder putBool(String key, boolean v) {
            return put(key, new MetadataValue(GgufValueType.BOOL, v));
        }

        public Builder putArray(String key, GgufArray v) {
            return put(key, new MetadataValue(GgufValueType.ARRAY, v));
        }

        public Builder putStrings(String key, String... v) {
            return putArray(key, new GgufArray(GgufValueType.STRING, v));
        }

        public Builder putInt32s(String key, int... v) {
            return putArray(key, new GgufArray(GgufValueType.INT32, v));
        }

        public Builder putFloat32s(String key, float... v) {
            return putArray(key, new GgufArray(GgufValueType.FLOAT32, v));
        }

        public GgufMetadata build() {
            return new GgufMetadata("<new GGUF>", new LinkedHashMap<>(values));
        }
    }
}
