package dev.fathom.gguf;

import java.lang.reflect.Array;

/**
 * A GGUF array value. {@code values} is a Java array matching the element type: byte[] (UINT8, INT8),
 * short[] (UINT16, INT16), int[] (UINT32, INT32), long[] (UINT64, INT64), float[], double[], boolean[],
 * String[], or GgufArray[] for nested arrays. Unsigned values keep their bits in the signed Java type.
 */
public record GgufArray(GgufValueType elementType, Object values) {

    public GgufArray {
        Class<?> expected = switch (elementType) {
            case UINT8, INT8 -> byte[].class;
            case UINT16, INT16 -> short[].class;
            case UINT32, INT32 -> int[].class;
            case UINT64, INT64 -> long[].class;
            case FLOAT32 -> float[].class;
            case FLOAT64 -> double[].class;
            case BOOL -> boolean[].class;
            case STRING -> String[].class;
            case ARRAY -> GgufArray[].class;
        };
        if (values.getClass() != expected) {
            throw new IllegalArgumentException("GGUF " + elementType + " array needs a " + expected.getSimpleName()
                    + ", got " + values.getClass().getSimpleName());
        }
    }

    public int length() {
        return Array.getLength(values);
    }

    /** Element i as a long (integer types; unsigned types are zero-extended). */
    public long integerAt(int i) {
        return switch (elementType) {
            case UINT8 -> Byte.toUnsignedLong(((byte[]) values)[i]);
            case INT8 -> ((byte[]) values)[i];
            case UINT16 -> Short.toUnsignedLong(((short[]) values)[i]);
            case INT16 -> ((short[]) values)[i];
            case UINT32 -> Integer.toUnsignedLong(((int[]) values)[i]);
            case INT32 -> ((int[]) values)[i];
            case UINT64, INT64 -> ((long[]) values)[i];
            default -> throw new IllegalStateException("not an integer array: " + elementType);
        };
    }

    @Override
    public String toString() {
        return elementType + "[" + length() + "]";
    }
}
