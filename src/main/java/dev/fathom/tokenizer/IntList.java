package dev.fathom.tokenizer;

import java.util.Arrays;

/** A growable int array. */
final class IntList {
    int[] a;
    int size;

    IntList(int capacity) {
        a = new int[Math.max(4, capacity)];
    }

    void add(int v) {
        if (size == a.length) a = Arrays.copyOf(a, size * 2);
        a[size++] = v;
    }

    void add(int x, int y, int z) {
        if (size + 3 > a.length) a = Arrays.copyOf(a, Math.max(size * 2, size + 3));
        a[size++] = x;
        a[size++] = y;
        a[size++] = z;
    }

    void addAll(int[] v) {
        if (size + v.length > a.length) a = Arrays.copyOf(a, Math.max(size * 2, size + v.length));
        System.arraycopy(v, 0, a, size, v.length);
        size += v.length;
    }

    int[] toArray() {
        return Arrays.copyOf(a, size);
    }
}
