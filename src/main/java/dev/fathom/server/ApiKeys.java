package dev.fathom.server;

import dev.fathom.FathomException;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * The keys clients authenticate with ({@code Authorization: Bearer KEY}). Each key has a name, under which its usage
 * is counted and shown; an admin key sees every key's usage. With no keys the server is open and every client is
 * the one admin {@link #ANONYMOUS}.
 */
public final class ApiKeys {
    /** A client's key: {@code name} is what usage and metrics show (never the secret). */
    public record Key(String name, String secret, boolean admin) {}

    public static final Key ANONYMOUS = new Key("anonymous", null, true);
    private final List<Key> keys;

    private ApiKeys(List<Key> keys) {
        this.keys = List.copyOf(keys);
    }

    public static ApiKeys open() {
        return new ApiKeys(List.of());
    }

    /** Keys are named {@code key-1}, {@code key-2}, ... in the order given, admin keys {@code admin-1}, ... */
    public static ApiKeys of(List<String> keys, List<String> adminKeys) {
        List<Key> all = new ArrayList<>();
        for (String k : keys) all.add(new Key("key-" + (all.size() + 1), k, false));
        for (String k : adminKeys) all.add(new Key("admin-" + (all.size() - keys.size() + 1), k, true));
        return checked(all, "--api-key");
    }

    /**
     * Adds the keys of a file: one per line as {@code KEY [NAME]} (an unnamed one is {@code key-N}, N its place among the keys that are not admin keys);
     * blank lines and lines starting with {@code #} are skipped.
     */
    public ApiKeys withFile(Path file) {
        List<String> lines;
        try {
            lines = Files.readAllLines(file, StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new FathomException("cannot read the API key file " + file + ": " + e.getMessage());
        }
        List<Key> all = new ArrayList<>(keys);
        for (int i = 0; i < lines.size(); i++) {
            String line = lines.get(i).strip();
            if (line.isEmpty() || line.startsWith("#")) continue;
            String[] parts = line.split("\\s+", 2);
            String name = parts.length > 1 ? parts[1] : "key-" + (all.stream().filter(k -> !k.admin()).count() + 1);
            if (!name.matches("[A-Za-z0-9._@-]{1,64}")) {
                throw new FathomException(file + " line " + (i + 1) + ": a key's name must be 1-64 letters, digits or ._@-, got \"" + name + "\"");
            }
            all.add(new Key(name, parts[0], false));
        }
        return checked(all, file.toString());
    }

    private static ApiKeys checked(List<Key> keys, String source) {
        Set<String> secrets = new HashSet<>();
        Set<String> names = new HashSet<>();
        for (Key k : keys) {
            if (k.secret().isBlank()) throw new FathomException(source + ": an API key must not be blank");
            if (!secrets.add(k.secret())) throw new FathomException(source + ": the API key named " + k.name() + " is given twice");
            if (!names.add(k.name())) throw new FathomException(source + ": two API keys are named " + k.name());
        }
        return new ApiKeys(keys);
    }

    public boolean isOpen() {
        return keys.isEmpty();
    }

    /** Every key, in the order given; just {@link #ANONYMOUS} when open. */
    public List<Key> keys() {
        return keys.isEmpty() ? List.of(ANONYMOUS) : keys;
    }

    /** The key a client presented, or null; compares in time independent of where a key differs. */
    Key find(String presented) {
        byte[] given = presented.getBytes(StandardCharsets.UTF_8);
        Key found = null;
        for (Key k : keys) {
            if (MessageDigest.isEqual(given, k.secret().getBytes(StandardCharsets.UTF_8))) found = k;
        }
        return found;
    }
}
