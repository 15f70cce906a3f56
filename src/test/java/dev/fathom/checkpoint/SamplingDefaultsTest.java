package dev.fathom.checkpoint;

import dev.fathom.FathomException;
import dev.fathom.Fixtures;
import dev.fathom.engine.Engine;
import dev.fathom.gguf.GgufMetadata;
import dev.fathom.gguf.GgufWriter;
import dev.fathom.server.FathomServer;
import dev.fathom.server.ServedModel;
import dev.fathom.server.ServerConfig;
import dev.fathom.tensor.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.*;

/** The publisher's recommended sampling: read from generation_config.json and GGUF keys, used where a request gives none. */
class SamplingDefaultsTest {
    @TempDir
    Path dir;

    /** A copy of the golden qwen2-tiny folder with this generation_config.json (none when null). */
    private Path folder(String generationConfig) throws Exception {
        Path src = Fixtures.golden("qwen2-tiny/hf");
        Path f = Files.createDirectories(dir.resolve("qwen2-" + Integer.toHexString(String.valueOf(generationConfig).hashCode())));
        try (var files = Files.list(src)) {
            for (Path p : files.toList()) Files.copy(p, f.resolve(p.getFileName()));
        }
        if (generationConfig != null) Files.writeString(f.resolve("generation_config.json"), generationConfig);
        return f;
    }

    private static SamplingDefaults of(Path folder) throws Exception {
        try (Checkpoint c = Checkpoint.open(folder)) {
            return c.samplingDefaults();
        }
    }

    @Test
    void generationConfigGivesTheDefaults() throws Exception {
        assertEquals(SamplingDefaults.NONE, of(folder(null)));
        assertEquals(new SamplingDefaults(0.6f, 0.95f, null), of(folder("{\"do_sample\": true, \"temperature\": 0.6, \"top_p\": 0.95, \"bos_token_id\": 1}")));
        assertEquals(new SamplingDefaults(0f, null, 20), of(folder("{\"do_sample\": false, \"temperature\": 0.7, \"top_k\": 20}")),
                "do_sample false is greedy");
        for (String bad : new String[] {"{\"temperature\": \"hot\"}", "{not json", "[1]", "{\"top_p\": 0}"}) {
            Path f = folder(bad);
            FathomException e = assertThrows(FathomException.class, () -> of(f));
            assertTrue(e.getMessage().contains("generation_config.json"), e.getMessage());
        }
    }

    @Test
    void ggufSamplingKeysGiveTheDefaults() throws Exception {
        Path out = dir.resolve("with-sampling.gguf");
        try (GgufCheckpoint in = (GgufCheckpoint) Checkpoint.open(Fixtures.golden("v3-tiny/model.gguf"))) {
            GgufMetadata meta = GgufMetadata.builder().putAll(in.ggufMetadata()).putFloat32("general.sampling.temp", 0.3f)
                    .putFloat32("general.sampling.top_p", 0.9f).putInt32("general.sampling.top_k", 12).build();
            GgufWriter w = new GgufWriter(meta);
            for (Tensor t : in.storedTensors().values()) w.addTensor(t.name(), t.type(), t.shape(), t.data());
            w.write(out);
            assertEquals(SamplingDefaults.NONE, in.samplingDefaults());
        }
        assertEquals(new SamplingDefaults(0.3f, 0.9f, 12), of(out));
    }

    @Test
    void convertKeepsAFoldersRecommendation() throws Exception {
        Path out = dir.resolve("converted.gguf");
        try (HfCheckpoint in = (HfCheckpoint) Checkpoint.open(folder("{\"temperature\": 0.6, \"top_p\": 0.95, \"top_k\": 30}"))) {
            dev.fathom.convert.GgufConverter.prepare(in, dev.fathom.convert.QuantMix.fromName("F32")).write(out);
        }
        assertEquals(new SamplingDefaults(0.6f, 0.95f, 30), of(out));
    }

    @Test
    void aServedFolderSamplesAsRecommendedWhenARequestSaysNothing() throws Exception {
        String noTemperature = "{\"prompt\":\"The sea\",\"max_tokens\":12,\"seed\":5}";
        String greedy = "{\"prompt\":\"The sea\",\"max_tokens\":12,\"seed\":5,\"temperature\":0}";
        String recommendedGreedy, plainDefault, greedyText;
        try (FathomServer s = serve(folder("{\"do_sample\": false}"))) {
            recommendedGreedy = text(s, noTemperature);
            greedyText = text(s, greedy);
        }
        try (FathomServer s = serve(folder(null))) {
            plainDefault = text(s, noTemperature);
        }
        assertEquals(greedyText, recommendedGreedy, "no temperature given: the folder's do_sample false applies");
        assertNotEquals(greedyText, plainDefault, "without generation_config.json the default is temperature 1 (else this shows nothing)");
    }

    private static FathomServer serve(Path model) {
        FathomServer s = new FathomServer(ServerConfig.defaults().withPort(0)).start();
        s.loadAsync(() -> ServedModel.load(model, new Engine.Options(1, 256, 2))).join();
        return s;
    }

    private static String text(FathomServer s, String body) throws Exception {
        HttpResponse<String> r = HttpClient.newHttpClient().send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + s.port() + "/v1/completions"))
                .header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofString(body)).build(), HttpResponse.BodyHandlers.ofString());
        assertEquals(200, r.statusCode(), r.body());
        return new com.fasterxml.jackson.databind.ObjectMapper().readTree(r.body()).at("/choices/0/text").asText();
    }
}
