package dev.fathom.server;

import dev.fathom.engine.Engine;
import dev.fathom.kv.DiskBlockStore;
import dev.fathom.kv.PrefixCache;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.Timer;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;

import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import java.util.function.ToDoubleFunction;

/** The server's Prometheus metrics (Micrometer): requests, tokens, context cache, usage per API key, queue, latency histograms. */
final class ServerMetrics {
    final PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    private final Counter promptTokens;
    private final Counter completionTokens;
    private final Counter cacheHitTokens;
    private final Counter cacheMissTokens;
    private final Counter cancelled;
    private final Timer timeToFirstToken;
    private final Timer interTokenLatency;

    ServerMetrics(Supplier<Engine> engine, Supplier<PrefixCache> cache, UsageLedger ledger) {
        promptTokens = Counter.builder("fathom.prompt.tokens").description("Prompt tokens processed (tokens in)").register(registry);
        completionTokens = Counter.builder("fathom.completion.tokens").description("Tokens generated (tokens out)").register(registry);
        cacheHitTokens = Counter.builder("fathom.prompt.cache.hit.tokens").description("Prompt tokens served from the context cache").register(registry);
        cacheMissTokens = Counter.builder("fathom.prompt.cache.miss.tokens").description("Prompt tokens computed (not served from the context cache)").register(registry);
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
        cacheGauge(cache, "fathom.kv.cache.blocks", "KV blocks registered in the context cache (in memory)", s -> s.blocks());
        cacheGauge(cache, "fathom.kv.cache.unused.blocks", "Cached KV blocks no running sequence uses (evictable)", s -> s.unusedBlocks());
        cacheGauge(cache, "fathom.kv.cache.bytes", "Memory held by cached KV blocks", s -> s.bytes());
        cacheCounter(cache, "fathom.kv.cache.evictions", "KV blocks evicted from memory", s -> s.evictions());
        diskGauge(cache, "fathom.kv.disk.files", "KV block files on disk", s -> s.files());
        diskGauge(cache, "fathom.kv.disk.bytes", "Bytes of KV block files on disk", s -> s.bytes());
        diskCounter(cache, "fathom.kv.disk.reads", "KV blocks read from disk", s -> s.reads());
        diskCounter(cache, "fathom.kv.disk.writes", "KV blocks written to disk", s -> s.writes());
        diskCounter(cache, "fathom.kv.disk.rejected.files", "KV block files found bad (truncated, corrupt, foreign) and removed", s -> s.rejected());
        diskCounter(cache, "fathom.kv.disk.evictions", "KV block files removed to keep within the disk budget", s -> s.evictions());
        diskCounter(cache, "fathom.kv.disk.dropped.writes", "KV blocks not written because the writer was behind", s -> s.droppedWrites());
        ledger.accounts().forEach((key, a) -> {
            keyCounter(key, a, "fathom.key.requests", "Generations answered, per API key", x -> x.requests.get());
            keyCounter(key, a, "fathom.key.prompt.cache.hit.tokens", "Prompt tokens served from the context cache, per API key", x -> x.hitTokens.get());
            keyCounter(key, a, "fathom.key.prompt.cache.miss.tokens", "Prompt tokens computed, per API key", x -> x.missTokens.get());
            keyCounter(key, a, "fathom.key.completion.tokens", "Tokens generated, per API key", x -> x.completionTokens.get());
        });
    }

    private void keyCounter(String key, UsageLedger.Account a, String name, String help, ToDoubleFunction<UsageLedger.Account> f) {
        FunctionCounter.builder(name, a, f).description(help).tag("key", key).register(registry);
    }

    private void cacheGauge(Supplier<PrefixCache> cache, String name, String help, ToDoubleFunction<PrefixCache.Stats> f) {
        Gauge.builder(name, () -> {
            PrefixCache c = cache.get();
            return c == null ? 0 : f.applyAsDouble(c.stats());
        }).description(help).register(registry);
    }

    private void cacheCounter(Supplier<PrefixCache> cache, String name, String help, ToDoubleFunction<PrefixCache.Stats> f) {
        FunctionCounter.builder(name, cache, s -> {
            PrefixCache c = s.get();
            return c == null ? 0 : f.applyAsDouble(c.stats());
        }).description(help).register(registry);
    }

    private static DiskBlockStore.Stats diskStats(Supplier<PrefixCache> cache) {
        PrefixCache c = cache.get();
        return c == null || c.disk() == null ? null : c.disk().stats();
    }

    private void diskGauge(Supplier<PrefixCache> cache, String name, String help, ToDoubleFunction<DiskBlockStore.Stats> f) {
        Gauge.builder(name, () -> {
            DiskBlockStore.Stats s = diskStats(cache);
            return s == null ? 0 : f.applyAsDouble(s);
        }).description(help).register(registry);
    }

    private void diskCounter(Supplier<PrefixCache> cache, String name, String help, ToDoubleFunction<DiskBlockStore.Stats> f) {
        FunctionCounter.builder(name, cache, c -> {
            DiskBlockStore.Stats s = diskStats(c);
            return s == null ? 0 : f.applyAsDouble(s);
        }).description(help).register(registry);
    }

    void request(String endpoint, int status) {
        Counter.builder("fathom.requests").description("HTTP requests by endpoint and status")
                .tag("endpoint", endpoint).tag("status", Integer.toString(status)).register(registry).increment();
    }

    /** A finished generation: {@code hit} of its {@code prompt} tokens came from the context cache. */
    void usage(int prompt, int hit, int completion) {
        promptTokens.increment(prompt);
        completionTokens.increment(completion);
        cacheHitTokens.increment(hit);
        cacheMissTokens.increment(prompt - hit);
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
