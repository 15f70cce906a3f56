package dev.fathom.checkpoint;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.fathom.FathomException;
import dev.fathom.gguf.GgufMetadata;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * The sampling a model's publisher recommends, used where a user gives none: {@code generation_config.json} in a
 * Hugging Face folder, llama.cpp's {@code general.sampling.*} keys in a GGUF. Null: not given.
 */
public record SamplingDefaults(Float temperature, Float topP, Integer topK) {
    public static final SamplingDefaults NONE = new SamplingDefaults(null, null, null);

    public float temperature(float fallback) {
        return temperature != null ? temperature : fallback;
    }

    public float topP(float fallback) {
        return topP != null ? topP : fallback;
    }

    public int topK(int fallback) {
        return topK != null ? topK : fallback;
    }

    /** {@code general.sampling.temp}, {@code .top_p}, {@code .top_k} (what llama.cpp's converter writes). */
    static SamplingDefaults fromGguf(GgufMetadata m, String source) {
        return new SamplingDefaults(m.has("general.sampling.temp") ? m.getFloat("general.sampling.temp") : null,
                m.has("general.sampling.top_p") ? m.getFloat("general.sampling.top_p") : null,
                m.has("general.sampling.top_k") ? m.getInt("general.sampling.top_k") : null).checked(source);
    }

    /** The folder's {@code generation_config.json}, if any; {@code do_sample: false} means greedy. */
    static SamplingDefaults fromGenerationConfig(Path folder) {
        Path file = folder.resolve("generation_config.json");
        if (!Files.isRegularFile(file)) return NONE;
        JsonNode n;
        try {
            n = new ObjectMapper().readTree(file.toFile());
        } catch (IOException e) {
            throw new FathomException(file + ": not valid JSON: " + e.getMessage());
        }
        if (n == null || !n.isObject()) throw new FathomException(file + ": expected a JSON object");
        boolean greedy = n.has("do_sample") && n.get("do_sample").isBoolean() && !n.get("do_sample").booleanValue();
        Float temp = greedy ? Float.valueOf(0f) : number(n, "temperature", file);
        Float topP = number(n, "top_p", file);
        Float topK = number(n, "top_k", file);
        return new SamplingDefaults(temp, topP, topK == null ? null : topK.intValue()).checked(file.toString());
    }

    private static Float number(JsonNode n, String field, Path file) {
        JsonNode v = n.get(field);
        if (v == null || v.isNull()) return null;
        if (!v.isNumber()) throw new FathomException(file + ": '" + field + "' must be a number, got " + v);
        return v.floatValue();
    }

    private SamplingDefaults checked(String source) {
        if (temperature != null && !(temperature >= 0 && temperature <= 100)) throw new FathomException(source + ": a temperature of " + temperature + " is not usable");
        if (topP != null && !(topP > 0 && topP <= 1)) throw new FathomException(source + ": top_p must be in (0, 1], got " + topP);
        if (topK != null && topK < 0) throw new FathomException(source + ": top_k must be >= 0, got " + topK);
        return this;
    }
}
