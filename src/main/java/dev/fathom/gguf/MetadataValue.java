package dev.fathom.gguf;

/**
 * One GGUF metadata value with its stored type. {@code value} is a Byte, Short, Integer, Long (unsigned types
 * keep their bits), Float, Double, Boolean, String or {@link GgufArray}.
 */
public record MetadataValue(GgufValueType type, Object value) {

    public MetadataValue {
        Class<?> expected = switch (type) {
            case UINT8, INT8 -> Byte.class;
            case UINT16, INT16 -> Short.class;
            case UINT32, INT32 -> Integer.class;
            case UINT64, INT64 -> Long.class;
            case FLOAT32 -> Float.class;
            case FLOAT64 -> Double.class;
            case BOOL -> Boolean.class;
            case STRING -> String.class;
            case ARRAY -> GgufArray.class;
        };
        if (!expected.isInstance(value)) {
            throw new IllegalArgumentException("GGUF " + type + " value needs a " + expected.getSimpleName()
                    + ", got " + (value == null ? "null" : value.getClass().getSimpleName()));
        }
    }

    /** The value as a long, for integer types (unsigned types zero-extended); null otherwise. */
    public Long asLong() {
        return switch (type) {
            case UINT8 -> Byte.toUnsignedLong((Byte) value);
            case INT8 -> (long) (Byte) value;
            case UINT16 -> Short.toUnsignedLong((Short) value);
            case INT16 -> (long) (Short) value;
            case UINT32 -> Integer.toUnsignedLong((Integer) value);
            case INT32 -> (long) (Integer) value;
            case UINT64, INT64 -> (Long) value;
            default -> null;
        };
    }

    /** A short human-readable rendering (arrays abbreviated). */
    public String display() {
        return switch (type) {
            case ARRAY -> {
                GgufArray a = (GgufArray) value;
                yield "[" + a.elementType().name().toLowerCase() + " x " + a.length() + "]";
            }
            case STRING -> {
                String s = (String) value;
                String oneLine = s.replace("\n", "\\n");
                yield '"' + (oneLine.length() > 60 ? oneLine.substring(0, 57) + "..." : oneLine) + '"';
            }
            case UINT8, UINT16, UINT32, UINT64 -> Long.toUnsignedString(asLong());
            default -> String.valueOf(value);
        };
    }
}
