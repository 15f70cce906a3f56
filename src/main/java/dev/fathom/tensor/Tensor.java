package dev.fathom.tensor;

import dev.fathom.FathomException;

import java.lang.foreign.MemorySegment;
import java.util.Arrays;

/**
 * A named tensor whose bytes live elsewhere (usually a memory-mapped model file): nothing is copied.
 * {@code shape} is in ggml order: shape[0] is the length of a row (the contiguous dimension), shape[1] the
 * number of rows, and so on.
 */
public record Tensor(String name, TensorType type, long[] shape, MemorySegment data, BlockScales scales) {

    /** @param scales the block scale grid of a block-quantised weight (FP8), else null */
    public Tensor {
        shape = shape.clone();
    }

    public Tensor(String name, TensorType type, long[] shape, MemorySegment data) {
        this(name, type, shape, data, null);
    }

    @Override
    public long[] shape() {
        return shape.clone();
    }

    public int dims() {
        return shape.length;
    }

    public long dim(int i) {
        return i < shape.length ? shape[i] : 1;
    }

    public long elementCount() {
        long n = 1;
        for (long d : shape) n *= d;
        return n;
    }

    /** Length of one row: the contiguous dimension. */
    public long rowLength() {
        return shape.length == 0 ? 1 : shape[0];
    }

    /** Number of rows: the product of every dimension but the first. */
    public long rowCount() {
        return elementCount() / rowLength();
    }

    public long rowBytes() {
        return type.bytesFor(rowLength());
    }

    /** Rows {@code [first, first + count)} as a 2-D tensor viewing the same bytes (one expert of a stacked tensor). */
    public Tensor rows(long first, long count) {
        if (first < 0 || count < 0 || first + count > rowCount()) {
            throw new IndexOutOfBoundsException("rows " + first + ".." + (first + count) + " of tensor " + name + " with " + rowCount() + " rows");
        }
        if (scales != null) throw new IllegalStateException(name + ": row views of a block-scaled tensor are not supported");
        return new Tensor(name, type, new long[] {rowLength(), count}, data.asSlice(first * rowBytes(), count * rowBytes()));
    }

    /** Decodes row {@code row} into {@code dst[0 .. rowLength)}. */
    public void dequantizeRow(long row, float[] dst) {
        if (row < 0 || row >= rowCount()) {
            throw new IndexOutOfBoundsException("row " + row + " of tensor " + name + " with " + rowCount() + " rows");
        }
        type.format().dequantize(data, row * rowBytes(), dst, 0, Math.toIntExact(rowLength()));
        if (scales != null) scales.apply(row, dst, Math.toIntExact(rowLength()));
    }

    /** Decodes the whole tensor; for tests and small tensors only (weights are used in place). */
    public float[] toFloatArray() {
        long n = elementCount();
        if (n > Integer.MAX_VALUE - 8) {
            throw new FathomException("tensor " + name + " has " + n + " values, too many to copy into one array");
        }
        float[] out = new float[(int) n];
        type.format().dequantize(data, 0, out, 0, (int) n);
        if (scales != null) {
            int len = Math.toIntExact(rowLength());
            float[] row = new float[len];
            for (long r = 0; r < rowCount(); r++) {
                System.arraycopy(out, (int) (r * len), row, 0, len);
                scales.apply(r, row, len);
                System.arraycopy(row, 0, out, (int) (r * len), len);
            }
        }
        return out;
    }

    @Override
    public String toString() {
        return name + " " + type + " " + Arrays.toString(shape);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof Tensor t && name.equals(t.name) && type == t.type && Arrays.equals(shape, t.shape)
                && data.equals(t.data);
    }

    @Override
    public int hashCode() {
        return name.hashCode() * 31 + Arrays.hashCode(shape);
    }
}
