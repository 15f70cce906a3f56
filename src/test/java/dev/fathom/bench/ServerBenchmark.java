package dev.fathom.bench;

import dev.fathom.engine.Engine;
import dev.fathom.testmodel.DemoModel;
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
 * ones. Usage: {@code ServerBenchmark [MODEL.gguf | http://HOST:PORT] [TOKENS] [N]}: with a model file it starts a
 * Fathom server on it; with a URL it measures the server already running there (another Fathom, or llama.cpp's
 * llama-server started with {@code --parallel N}), so both are measured by the same client and load.
 */
public final class ServerBenchmark {
    public static void main(String[] args) throws Exception {
        int tokens = args.length > 1 ? Integer.parseInt(args[1]) : 128;
        int n = args.length > 2 ? Integer.parseInt(args[2]) : 8;
        if (args.length > 0 && args[0].startsWith("http")) {
            report(args[0], URI.create(args[0]), tokens, n);
            return;
        }
        Path model = args.length > 0 ? Path.of(args[0]) : DemoModel.ensure(new PrintWriter(System.err, true));
        ServerConfig cfg = ServerConfig.defaults().withPort(0);
        try (FathomServer s = new FathomServer(cfg).start()) {
            s.loadAsync(() -> ServedModel.load(model, new Engine.Options(n, 2048, 64))).join();
            report(model.getFileName().toString(), URI.create("http://127.0.0.1:" + s.port()), tokens, n);
        }
    }

    private static void report(String what, URI base, int tokens, int n) throws Exception {
        HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
        run(http, base, 1, tokens); // warm-up
        double one = run(http, base, 1, tokens);
        double many = run(http, base, n, tokens);
        System.out.printf(Locale.ROOT, "%s: 1 stream %.1f tokens/s, %d streams %.1f tokens/s total (%.2fx)%n",
                what, one, n, many, many / one);
    }

    private static double run(HttpClient http, URI base, int streams, int tokens) throws Exception {
        ExecutorService pool = Executors.newVirtualThreadPerTaskExecutor();
        List<Future<Integer>> fs = new ArrayList<>();
        long t0 = System.nanoTime();
        for (int i = 0; i < streams; i++) {
            String body = "{\"prompt\":\"Stream " + i + " of the benchmark\",\"max_tokens\":" + tokens
                    + ",\"temperature\":0,\"ignore_eos\":true,\"stream\":true,\"stream_options\":{\"include_usage\":true}}";
            fs.add(pool.submit(() -> {
                HttpResponse<java.io.InputStream> r = http.send(HttpRequest.newBuilder(base.resolve("/v1/completions"))
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
