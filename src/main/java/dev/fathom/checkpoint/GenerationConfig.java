package dev.fathom.checkpoint;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.fathom.FathomException;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * The sampling a model's authors recommend, from a Hugging Face folder's {@code generation_config.json}
 * ({@code temperature}, {@code top_p}; {@code do_sample: false} means greedy, as in transformers). Commands use
 * them where the user gave no value of their own; null fields leave the command's default.
 */
public record GenerationConfig(Float temperature, Float topP) {
    public static final GenerationConfig NONE = new GenerationConfig(null, null);

    /** The folder's generation_config.json, or {@link #NONE} without one; a malformed file names itself and the field. */
    public static GenerationConfig read(Path folder) {
        Path file = folder.resolve("generation_config.json");
        if (!Files.isRegularFile(file)) return NONE;
        JsonNode root;
        try {
            root = new ObjectMapper().readTree(file.toFile());
        } catch (IOException e) {
            throw new FathomException(file + ": not valid JSON: " + e.getMessage(), e);
        }
        if (root == null || !root.isObject()) throw new FathomException(file + ": expected a JSON object");
        Float temperature = number(file, root, "temperature"), topP = number(file, root, "top_p");
        if (temperature != null && !(temperature >= 0 && temperature < Float.POSITIVE_INFINITY)) {
            throw new FathomException(file + ": 'temperature' must be >= 0, got " + root.get("temperature"));
        }
        if (topP != null && !(topP > 0 && topP <= 1)) throw new FathomException(file + ": 'top_p' must be in (0, 1], got " + root.get("top_p"));
        JsonNode sample = root.get("do_sample");
        if (sample != null && !sample.isNull() && !sample.isBoolean()) throw new FathomException(file + ": 'do_sample' must be true or false, got " + sample);
        if (sample != null && sample.isBoolean() && !sample.asBoolean()) temperature = 0f;
        return new GenerationConfig(temperature, topP);
    }

    private static Float number(Path file, JsonNode root, String field) {
        JsonNode n = root.get(field);
        if (n == null || n.isNull()) return null;
        if (!n.isNumber()) throw new FathomException(file + ": '" + field + "' must be a number, got " + n);
        return n.floatValue();
    }

    /** The user's temperature if given, else the model's, else the command's default. */
    public float temperature(Float given, float commandDefault) {
        return given != null ? given : temperature != null ? temperature : commandDefault;
    }

    /** The user's top-p if given, else the model's, else the command's default. */
    public float topP(Float given, float commandDefault) {
        return given != null ? given : topP != null ? topP : commandDefault;
    }
}
