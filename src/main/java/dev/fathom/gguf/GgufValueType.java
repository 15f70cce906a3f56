package dev.fathom.gguf;

/** The GGUF metadata value types, with their ids as stored in the file. */
public enum GgufValueType {
    UINT8(1), INT8(1), UINT16(2), INT16(2), UINT32(4), INT32(4), FLOAT32(4), BOOL(1), STRING(-1), ARRAY(-1),
    UINT64(8), INT64(8), FLOAT64(8);

    /** Fixed size in bytes, or -1 for strings and arrays. */
    public final int size;

    GgufValueType(int size) {
        this.size = size;
    }

    /** The id stored in the file (the declaration order above). */
    public int id() {
        return ordinal();
    }

    public static GgufValueType fromId(int id) {
        GgufValueType[] all = values();
        return id >= 0 && id < all.length ? all[id] : null;
    }

    public boolean isInteger() {
        return switch (this) {
            case UINT8, INT8, UINT16, INT16, UINT32, INT32, UINT64, INT64 -> true;
            default -> false;
        };
    }
}
