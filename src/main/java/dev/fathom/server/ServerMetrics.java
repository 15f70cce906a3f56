package dev.fathom.server;

import dev.fathom.engine.Engine;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.Timer;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;

import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;

/** The server's Prometheus metrics (Micrometer): requests, tokens, cache hits, queue, latency histograms. */
final class ServerMetrics {
    final PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    private final Counter promptTokens;
    private final Counter completionTokens;
    private final Counter cacheHitTokens;
    private final Counter cacheMissTokens;
    private final Counter cancelled;
    private final Timer timeToFirstToken;
    private final Timer interTokenLatency;

    ServerMetrics(Supplier<Engine> engine) {
        promptTokens = Counter.builder("fathom.prompt.tokens").description("Prompt tokens processed (tokens in)").register(registry);
        completionTokens = Counter.builder("fathom.completion.tokens").description("Tokens generated (tokens out)").register(registry);
        cacheHitTokens = Counter.builder("fathom.prompt.cache.hit.tokens").description("Prompt tokens served from the prompt cache (no cross-request cache yet: always 0)").register(registry);
        cacheMissTokens = Counter.builder("fathom.prompt.cache.miss.tokens").description("Prompt tokens computed").register(registry);
        cancelled = Counter.builder("fathom.requests.cancelled").description("Generations cancelled (client disconnected)").register(registry);
        timeToFirstToken = Timer.builder("fathom.time.to.first.token").description("From request to first generated token")
                .publishPercentileHistogram().minimumExpectedValue(Duration.ofMillis(1)).maximumExpectedValue(Duration.ofSeconds(120)).register(registry);
        interTokenLatency = Timer.builder("fathom.inter.token.latency").description("Between consecutive generated tokens of a request")
                .publishPercentileHistogram().minimumExpectedValue(Duration.ofNanos(100_000)).maximumExpectedValue(Duration.ofSeconds(10)).register(registry);
        Gauge.builder("fathom.queue.length", () -> {
            Engine e = engine.get();
            return e == null ? 0 : e.queueLength();
        }).description("Requests waiting for a batch slot").register(registry);
        Gauge.builder("fathom.active.sequences", () -> {
            Engine e = engine.get();
            return e == null ? 0 : e.activeCount();
        }).description("Sequences being generated").register(registry);
    }

    void request(String endpoint, int status) {
        Counter.builder("fathom.requests").description("HTTP requests by endpoint and status")
                .tag("endpoint", endpoint).tag("status", Integer.toString(status)).register(registry).increment();
    }

    void usage(int prompt, int completion) {
        promptTokens.increment(prompt);
        completionTokens.increment(completion);
        cacheHitTokens.increment(0);
        cacheMissTokens.increment(prompt);
    }

    void cancelled() {
        cancelled.increment();
    }

    void firstToken(long nanos) {
        timeToFirstToken.record(nanos, TimeUnit.NANOSECONDS);
    }

    void interToken(long nanos) {
        interTokenLatency.record(nanos, TimeUnit.NANOSECONDS);
    }

    String scrape() {
        return registry.scrape();
    }
}
