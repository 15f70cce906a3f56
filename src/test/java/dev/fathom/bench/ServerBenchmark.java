package dev.fathom.bench;

import dev.fathom.engine.Engine;
import dev.fathom.model.DemoModel;
import dev.fathom.server.FathomServer;
import dev.fathom.server.ServedModel;
import dev.fathom.server.ServerConfig;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.PrintWriter;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

/**
 * Continuous-batching benchmark (not a test): total generated tokens/s of 1 streaming request versus N concurrent
 * ones against a running server. Usage: ServerBenchmark [MODEL.gguf] [TOKENS] [N].
 */
public final class ServerBenchmark {
    public static void main(String[] args) throws Exception {
        Path model = args.length > 0 ? Path.of(args[0]) : DemoModel.ensure(new PrintWriter(System.err, true));
        int tokens = args.length > 1 ? Integer.parseInt(args[1]) : 128;
        int n = args.length > 2 ? Integer.parseInt(args[2]) : 8;
        ServerConfig cfg = ServerConfig.defaults().withPort(0).withBatching(n, 2048, 64);
        try (FathomServer s = new FathomServer(cfg).start()) {
            s.loadAsync(() -> ServedModel.load(model, new Engine.Options(n, 2048, 64))).join();
            HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
            run(http, s.port(), 1, tokens); // warm-up
            double one = run(http, s.port(), 1, tokens);
            double many = run(http, s.port(), n, tokens);
            System.out.printf(Locale.ROOT, "model %s: 1 stream %.1f tokens/s, %d streams %.1f tokens/s total (%.2fx)%n",
                    model.getFileName(), one, n, many, many / one);
        }
    }

    private static double run(HttpClient http, int port, int streams, int tokens) throws Exception {
        ExecutorService pool = Executors.newVirtualThreadPerTaskExecutor();
        List<Future<Integer>> fs = new ArrayList<>();
        long t0 = System.nanoTime();
        for (int i = 0; i < streams; i++) {
            String body = "{\"prompt\":\"Stream " + i + " of the benchmark\",\"max_tokens\":" + tokens
                    + ",\"temperature\":0,\"stream\":true,\"stream_options\":{\"include_usage\":true}}";
            fs.add(pool.submit(() -> {
                HttpResponse<java.io.InputStream> r = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/v1/completions"))
                        .header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofString(body)).build(),
                        HttpResponse.BodyHandlers.ofInputStream());
                int count = 0;
                try (BufferedReader in = new BufferedReader(new InputStreamReader(r.body(), StandardCharsets.UTF_8))) {
                    for (String line; (line = in.readLine()) != null; ) {
                        int k = line.indexOf("\"completion_tokens\":");
                        if (k >= 0) count = Integer.parseInt(line.substring(k + 20).replaceAll("[^0-9].*", ""));
                    }
                }
                return count;
            }));
        }
        int total = 0;
        for (Future<Integer> f : fs) total += f.get();
        double secs = (System.nanoTime() - t0) / 1e9;
        pool.shutdown();
        return total / secs;
    }
}
