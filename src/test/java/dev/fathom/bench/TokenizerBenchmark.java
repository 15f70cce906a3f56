package dev.fathom.bench;

import dev.fathom.tokenizer.Tokenizer;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OperationsPerInvocation;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Threads;
import org.openjdk.jmh.annotations.Warmup;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.TimeUnit;

/**
 * Encoding throughput of the full DeepSeek-V3 tokenizer (bundled GGUF) on English prose, one thread. One JMH
 * "operation" is one input byte, so the score in ops/s is bytes/s (divide by 1e6 for MB/s).
 *
 * <p>Run:
 * <pre>
 * ./mvnw -q test-compile dependency:build-classpath -Dmdep.includeScope=test -Dmdep.outputFile=target/cp.txt &amp;&amp; \
 *   java -cp target/test-classes:target/classes:$(cat target/cp.txt) org.openjdk.jmh.Main TokenizerBenchmark
 * </pre>
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Threads(1)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED"})
public class TokenizerBenchmark {
    /** Size of the benchmark text in bytes (ASCII prose, so also in chars). */
    static final int BYTES = 300_000;

    private Tokenizer tokenizer;
    private String text;

    @Setup
    public void setup() throws IOException {
        tokenizer = Tokenizer.deepSeekV3();
        String prose;
        try (InputStream in = TokenizerBenchmark.class.getResourceAsStream("prose.txt")) {
            prose = new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
        StringBuilder sb = new StringBuilder(BYTES + prose.length());
        while (sb.length() < BYTES) sb.append(prose).append('\n');
        text = sb.substring(0, BYTES);
        if (text.getBytes(StandardCharsets.UTF_8).length != BYTES) throw new IllegalStateException("prose.txt must be ASCII");
    }

    @Benchmark
    @OperationsPerInvocation(BYTES)
    public int[] encodeProse() {
        return tokenizer.encode(text, false, true);
    }

    @Benchmark
    @OperationsPerInvocation(BYTES)
    public String decodeProse(DecodeState s) {
        return tokenizer.decode(s.ids);
    }

    @State(Scope.Benchmark)
    public static class DecodeState {
        int[] ids;

        @Setup
        public void setup(TokenizerBenchmark b) {
            ids = b.tokenizer.encode(b.text, false, true);
        }
    }
}
