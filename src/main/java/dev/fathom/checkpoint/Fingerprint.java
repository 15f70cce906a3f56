package dev.fathom.checkpoint;

import dev.fathom.tensor.Tensor;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Arrays;
import java.util.Map;
import java.util.TreeMap;

/**
 * A checkpoint's identity for caches that outlive a run (the KV blocks on disk): SHA-256 over the architecture, the
 * hyper-parameters, every stored tensor's name, type and shape, and the first and last 4 KiB of its data. Two files
 * with the same weights in the same layout get the same fingerprint whatever their names; a requantised or
 * retrained file gets another. Reading 8 KiB per tensor keeps it fast on files of hundreds of gigabytes.
 */
public final class Fingerprint {
    private static final int SAMPLE = 4096;

    private Fingerprint() {}

    public static byte[] of(Checkpoint c) {
        MessageDigest d;
        try {
            d = MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("the JDK has no SHA-256", e);
        }
        d.update(c.architecture().getBytes(StandardCharsets.UTF_8));
        d.update(new TreeMap<>(c.config().asMap()).toString().getBytes(StandardCharsets.UTF_8));
        for (Map.Entry<String, Tensor> e : new TreeMap<>(c.storedTensors()).entrySet()) {
            Tensor t = e.getValue();
            d.update((e.getKey() + " " + t.type() + " " + Arrays.toString(t.shape())).getBytes(StandardCharsets.UTF_8));
            MemorySegment data = t.data();
            long n = data.byteSize();
            d.update(data.asSlice(0, Math.min(SAMPLE, n)).toArray(ValueLayout.JAVA_BYTE));
            if (n > SAMPLE) d.update(data.asSlice(Math.max(SAMPLE, n - SAMPLE)).toArray(ValueLayout.JAVA_BYTE));
        }
        return d.digest();
    }
}
