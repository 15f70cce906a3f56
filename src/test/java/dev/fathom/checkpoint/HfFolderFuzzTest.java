package dev.fathom.checkpoint;

import dev.fathom.FathomException;
import dev.fathom.Fixtures;
import dev.fathom.model.LoadedModel;
import dev.fathom.safetensors.SafetensorsFile;
import dev.fathom.tensor.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.*;

/** Random corruptions of a valid safetensors file and of a valid model folder: a clean error or a valid result, nothing else. */
class HfFolderFuzzTest {
    private static final String JSON_CHARS = "0123456789[]{},:\"-.eExtruefalsenull ";

    @TempDir
    Path dir;

    /** A small safetensors file: an F32, a BF16 and an F8_E4M3 tensor with its scale grid. */
    private static byte[] small() {
        String header = "{\"__metadata__\":{\"format\":\"pt\"},"
                + "\"a.weight\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,24]},"
                + "\"b.weight\":{\"dtype\":\"BF16\",\"shape\":[4],\"data_offsets\":[24,32]},"
                + "\"c.weight\":{\"dtype\":\"F8_E4M3\",\"shape\":[2,8],\"data_offsets\":[32,48]},"
                + "\"c.weight_scale_inv\":{\"dtype\":\"F32\",\"shape\":[1,1],\"data_offsets\":[48,52]}}";
        byte[] h = header.getBytes(StandardCharsets.UTF_8);
        ByteBuffer b = ByteBuffer.allocate(8 + h.length + 52).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(h.length).put(h);
        for (int i = 0; i < 52; i++) b.put((byte) (i * 7 % 0x70)); // no FP8 NaN codes
        return b.array();
    }

    private static void mutate(byte[] b, int within, Random rnd) {
        switch (rnd.nextInt(4)) {
            case 0 -> { // a few bytes anywhere in the header
                for (int k = 1 + rnd.nextInt(4); k > 0; k--) b[rnd.nextInt(within)] = (byte) rnd.nextInt(256);
            }
            case 1 -> b[8 + rnd.nextInt(within - 8)] = (byte) JSON_CHARS.charAt(rnd.nextInt(JSON_CHARS.length())); // JSON-ish
            case 2 -> ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN).putLong(0, rnd.nextInt(3) == 0 ? rnd.nextLong() : rnd.nextInt(within * 2));
            default -> { // a digit changed: offsets and shapes that no longer agree
                int at = 8 + rnd.nextInt(within - 8);
                while (at < within && !Character.isDigit(b[at])) at++;
                if (at < within) b[at] = (byte) ('0' + rnd.nextInt(10));
            }
        }
    }

    @Test
    void corruptSafetensorsGiveCleanErrors() throws Exception {
        byte[] ok = small();
        int header = 8 + (int) ByteBuffer.wrap(ok).order(ByteOrder.LITTLE_ENDIAN).getLong(0);
        Random rnd = new Random(7);
        Path p = dir.resolve("fuzz.safetensors");
        int clean = 0, errors = 0;
        for (int i = 0; i < 3000; i++) {
            byte[] b = ok.clone();
            mutate(b, header, rnd);
            if (rnd.nextInt(8) == 0) b = Arrays.copyOf(b, rnd.nextInt(b.length)); // truncated
            Files.write(p, b);
            try (SafetensorsFile f = SafetensorsFile.open(p)) {
                for (Tensor t : f.tensors().values()) assertTrue(t.data().byteSize() >= 0 && t.data().byteSize() <= b.length);
                clean++;
            } catch (FathomException e) {
                assertTrue(e.getMessage().startsWith(p.toString()), "the error names the file: " + e.getMessage());
                errors++;
            }
        }
        assertTrue(clean > 0 && errors > 1000, clean + " still valid, " + errors + " clean errors");
    }

    @Test
    void corruptModelFoldersGiveCleanErrors() throws Exception {
        Path src = Fixtures.golden("qwen2-tiny/hf");
        Path folder = Files.createDirectories(dir.resolve("qwen2"));
        for (String name : new String[] {"tokenizer.json", "tokenizer_config.json"}) Files.copy(src.resolve(name), folder.resolve(name));
        byte[] config = Files.readAllBytes(src.resolve("config.json"));
        byte[] weights = Files.readAllBytes(src.resolve("model.safetensors"));
        int header = 8 + (int) ByteBuffer.wrap(weights).order(ByteOrder.LITTLE_ENDIAN).getLong(0);
        Random rnd = new Random(11);
        int errors = 0;
        for (int i = 0; i < 300; i++) {
            byte[] c = config.clone(), w = weights;
            if (rnd.nextBoolean()) {
                for (int k = 1 + rnd.nextInt(3); k > 0; k--) c[rnd.nextInt(c.length)] = (byte) JSON_CHARS.charAt(rnd.nextInt(JSON_CHARS.length()));
            } else {
                w = weights.clone();
                mutate(w, header, rnd);
            }
            Files.write(folder.resolve("config.json"), c);
            Files.write(folder.resolve("model.safetensors"), w);
            try (LoadedModel m = LoadedModel.open(folder, 1)) {
                assertTrue(m.model().vocabSize() > 0);
            } catch (FathomException e) {
                assertTrue(e.getMessage().contains(folder.toString()), "the error names the folder or file: " + e.getMessage());
                errors++;
            }
        }
        assertTrue(errors > 50, errors + " clean errors");
    }
}
