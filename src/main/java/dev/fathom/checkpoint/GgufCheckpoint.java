package dev.fathom.checkpoint;

import dev.fathom.FathomException;
import dev.fathom.gguf.GgufFile;
import dev.fathom.gguf.GgufMetadata;
import dev.fathom.gguf.MetadataValue;
import dev.fathom.tensor.Tensor;
import dev.fathom.tokenizer.Tokenizer;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A GGUF model: one file, or a split written by {@code llama-gguf-split} ({@code NAME-00001-of-00003.gguf}: the
 * first part holds the metadata, every part {@code split.no}, {@code split.count} and some of the tensors). Every
 * part is memory-mapped once; tensors are found across parts. llama.cpp's names and metadata keys are translated by
 * {@link GgufNames}.
 */
public final class GgufCheckpoint implements Checkpoint {
    public static final String SPLIT_NO = "split.no", SPLIT_COUNT = "split.count", SPLIT_TENSORS = "split.tensors.count";
    private static final Pattern SPLIT_NAME = Pattern.compile("(.*)-(\\d{5})-of-(\\d{5})\\.gguf", Pattern.CASE_INSENSITIVE);

    private final List<GgufFile> parts;
    private final GgufMetadata metadata;
    private final SamplingDefaults sampling;
    private final Map<String, Tensor> tensors;
    private final String source;
    private final String architecture;
    private final ConfigValues config;
    private final Tokenizer tokenizer;

    private GgufCheckpoint(List<GgufFile> parts) {
        this.parts = parts;
        GgufFile first = parts.get(0);
        this.source = first.path().toString();
        this.metadata = first.metadata();
        Map<String, Tensor> all = new LinkedHashMap<>();
        for (GgufFile p : parts) {
            for (Tensor t : p.tensors().values()) {
                if (all.put(t.name(), t) != null) {
                    throw new FathomException(p.path() + ": tensor '" + t.name() + "' is also in an earlier part of the split");
                }
            }
        }
        if (metadata.has(SPLIT_TENSORS) && metadata.getInt(SPLIT_TENSORS) != all.size()) {
            throw new FathomException(source + ": the split holds " + all.size() + " tensors, its metadata key '"
                    + SPLIT_TENSORS + "' says " + metadata.getInt(SPLIT_TENSORS));
        }
        this.tensors = Collections.unmodifiableMap(all);
        this.architecture = Checkpoint.supported(source, metadata.getString("general.architecture"));
        this.config = GgufNames.config(metadata, source);
        this.tokenizer = Tokenizer.fromGguf(metadata, source);
        this.sampling = SamplingDefaults.fromGguf(metadata, source);
    }

    /** Opens a GGUF file; for the first part of a split, every part. */
    public static GgufCheckpoint open(Path path) throws IOException {
        List<GgufFile> parts = new ArrayList<>();
        try {
            GgufFile first = GgufFile.open(path);
            parts.add(first);
            int count = first.metadata().getInt(SPLIT_COUNT, 1);
            if (count > 1) {
                int no = first.metadata().getInt(SPLIT_NO, 0);
                Matcher m = SPLIT_NAME.matcher(path.getFileName().toString());
                if (no != 0 || !m.matches()) {
                    throw new FathomException(path + ": is part " + (no + 1) + " of a " + count + "-part split GGUF; "
                            + "open the first part (NAME-00001-of-" + String.format(Locale.ROOT, "%05d", count) + ".gguf)");
                }
                if (Integer.parseInt(m.group(3)) != count) {
                    throw new FathomException(path + ": the name says " + Integer.parseInt(m.group(3)) + " parts, metadata key '"
                            + SPLIT_COUNT + "' says " + count);
                }
                for (int i = 1; i < count; i++) {
                    Path p = path.resolveSibling(String.format(Locale.ROOT, "%s-%05d-of-%05d.gguf", m.group(1), i + 1, count));
                    if (!Files.isRegularFile(p)) {
                        throw new FathomException(path + ": part " + (i + 1) + " of " + count + " is missing (expected " + p + ")");
                    }
                    GgufFile part = GgufFile.open(p);
                    parts.add(part);
                    int pc = part.metadata().getInt(SPLIT_COUNT, 1), pn = part.metadata().getInt(SPLIT_NO, -1);
                    if (pc != count || pn != i) {
                        throw new FathomException(p + ": does not belong to this split: its metadata says part " + (pn + 1)
                                + " of " + pc + ", expected part " + (i + 1) + " of " + count);
                    }
                }
            }
            return new GgufCheckpoint(parts);
        } catch (IOException | RuntimeException e) {
            for (GgufFile f : parts) f.close();
            throw e;
        }
    }

    @Override
    public SamplingDefaults samplingDefaults() {
        return sampling;
    }

    @Override
    public String source() {
        return source;
    }

    @Override
    public String format() {
        GgufFile f = parts.get(0);
        return String.format(Locale.ROOT, "GGUF v%d, %s, %d metadata entries, %d tensors, alignment %d", f.version(),
                parts.size() == 1 ? "1 file" : parts.size() + " files", metadata.entries().size(), tensors.size(), f.alignment());
    }

    @Override
    public String architecture() {
        return architecture;
    }

    @Override
    public ConfigValues config() {
        return config;
    }

    @Override
    public String name() {
        return metadata.findString("general.name").filter(n -> !n.isBlank()).orElseGet(() -> {
            String file = parts.get(0).path().getFileName().toString().replaceFirst("(?i)\\.gguf$", "");
            return file.replaceFirst("-\\d{5}-of-\\d{5}$", "");
        });
    }

    @Override
    public Tokenizer tokenizer() {
        return tokenizer;
    }

    @Override
    public Optional<String> chatTemplate() {
        return metadata.findString("tokenizer.chat_template");
    }

    /** llama.cpp's converter permutes Llama's q/k rows so that rotary pairs are adjacent (its NORM rope). */
    @Override
    public boolean ropePermuted() {
        return architecture.equals("llama");
    }

    @Override
    public boolean has(String name) {
        return tensors.containsKey(GgufNames.tensor(name));
    }

    @Override
    public Tensor tensor(String name) {
        String file = GgufNames.tensor(name);
        Tensor t = tensors.get(file);
        if (t == null) throw new FathomException(source + ": tensor '" + file + "' (" + name + ") is missing");
        return t;
    }

    /** Experts are stacked in one tensor [in, out, experts]; each expert is a view of its rows. */
    @Override
    public Tensor[] experts(String name, int count, long in, long out) {
        Tensor t = tensor(name, in, out, count);
        Tensor[] r = new Tensor[count];
        for (int e = 0; e < count; e++) r[e] = t.rows((long) e * out, out);
        return r;
    }

    @Override
    public Map<String, Tensor> storedTensors() {
        return tensors;
    }

    @Override
    public Map<String, String> metadata() {
        Map<String, String> m = new LinkedHashMap<>();
        for (Map.Entry<String, MetadataValue> e : metadata.entries().entrySet()) m.put(e.getKey(), e.getValue().display());
        return m;
    }

    /** The GGUF metadata of the first part (for tools that write GGUF from GGUF). */
    public GgufMetadata ggufMetadata() {
        return metadata;
    }

    @Override
    public long fileBytes() {
        long n = 0;
        for (GgufFile f : parts) n += f.fileSize();
        return n;
    }

    @Override
    public void close() {
        for (GgufFile f : parts) f.close();
    }
}
