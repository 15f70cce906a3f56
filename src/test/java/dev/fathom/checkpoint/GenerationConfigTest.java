package dev.fathom.checkpoint;

import dev.fathom.FathomException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.*;

class GenerationConfigTest {
    @TempDir
    Path dir;

    private GenerationConfig read(String json) throws Exception {
        Files.writeString(dir.resolve("generation_config.json"), json);
        return GenerationConfig.read(dir);
    }

    @Test
    void recommendedSamplingFillsWhatTheUserLeftOut() throws Exception {
        assertEquals(GenerationConfig.NONE, GenerationConfig.read(dir));
        // DeepSeek-R1-Distill's file
        GenerationConfig r1 = read("{\"_from_model_config\": true, \"bos_token_id\": 151646, \"eos_token_id\": 151643, "
                + "\"do_sample\": true, \"temperature\": 0.6, \"top_p\": 0.95, \"transformers_version\": \"4.39.3\"}");
        assertEquals(new GenerationConfig(0.6f, 0.95f), r1);
        assertEquals(0.6f, r1.temperature(null, 0.8f));
        assertEquals(1.2f, r1.temperature(1.2f, 0.8f), "the user's value wins");
        assertEquals(0.8f, GenerationConfig.NONE.temperature(null, 0.8f), "else the command's default");
        assertEquals(0.95f, r1.topP(null, 1f));
        assertEquals(new GenerationConfig(0f, null), read("{\"do_sample\": false, \"temperature\": 0.7}"), "greedy, as in transformers");
    }

    @Test
    void malformedValuesNameTheFileAndField() throws Exception {
        for (String[] bad : new String[][] {{"{\"temperature\": \"hot\"}", "'temperature' must be a number"},
                {"{\"temperature\": -1}", "'temperature' must be >= 0"}, {"{\"top_p\": 1.5}", "'top_p' must be in (0, 1]"},
                {"{\"do_sample\": 1}", "'do_sample' must be true or false"}, {"[1]", "expected a JSON object"}, {"{", "not valid JSON"}}) {
            FathomException e = assertThrows(FathomException.class, () -> read(bad[0]), bad[0]);
            assertTrue(e.getMessage().startsWith(dir.resolve("generation_config.json") + ": ") && e.getMessage().contains(bad[1]), e.getMessage());
        }
    }
}
