package dev.fathom.server;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonLocation;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.StreamReadConstraints;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.fathom.FathomException;
import dev.fathom.checkpoint.SamplingDefaults;
import dev.fathom.engine.Engine;
import dev.fathom.engine.FinishReason;
import dev.fathom.engine.Generation;
import dev.fathom.engine.GenerationEvent;
import dev.fathom.engine.GenerationRequest;
import dev.fathom.engine.GenerationResult;
import dev.fathom.engine.PromptTooLongException;
import dev.fathom.engine.QueueFullException;
import dev.fathom.engine.SamplingParams;
import dev.fathom.engine.TokenInfo;
import dev.fathom.tokenizer.Tokenizer;
import io.javalin.Javalin;
import io.javalin.http.ContentTooLargeResponse;
import io.javalin.http.Context;
import io.javalin.http.Handler;
import io.javalin.http.HandlerType;
import org.eclipse.jetty.server.handler.GracefulHandler;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Consumer;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * Fathom's OpenAI/DeepSeek-compatible HTTP server (Javalin on Jetty, JSON by Jackson, metrics by Micrometer).
 * Every endpoint is served at {@code /PATH} and {@code /v1/PATH}. The server listens as soon as it starts and
 * answers 503 until a model is {@linkplain #serve served}. Generation runs on the model's {@link Engine}; this
 * class only translates HTTP to engine requests and events back to JSON and server-sent events.
 */
public final class FathomServer implements AutoCloseable {
    private static final Logger LOG = Logger.getLogger(FathomServer.class.getName());
    static final Set<String> ENDPOINTS = Set.of("/health", "/models", "/completions", "/chat/completions", "/tokenize",
            "/detokenize", "/metrics", "/usage");

    static final long IDLE_TIMEOUT_MILLIS = 30 * 60_000L;
    /** The status recorded for a client that went away before its answer (nginx's "client closed request"). */
    static final int CLIENT_CLOSED = 499;
    /** What a 429 tells the client to wait: a queue slot frees as soon as any request finishes. */
    static final int RETRY_AFTER_SECONDS = 1;
    final ServerConfig config;
    /** Request bodies: at most 16 MiB, JSON nested at most 64 deep (plenty for messages with content parts and tool calls). */
    static final int MAX_BODY_BYTES = 16 << 20;
    static final int MAX_JSON_DEPTH = 64;
    final ObjectMapper json = JsonMapper.builder(JsonFactory.builder().streamReadConstraints(StreamReadConstraints.builder()
            .maxNestingDepth(MAX_JSON_DEPTH).maxDocumentLength(MAX_BODY_BYTES).build()).build()).build();
    final ServerMetrics metrics;
    private final String fingerprint;
    private volatile ServedModel model;
    private volatile String loadError;
    private volatile boolean stopping;
    /** Generations being answered, for a graceful shutdown. */
    private final Set<Generation> running = ConcurrentHashMap.newKeySet();
    /** How long closing waits for answers still being written (Jetty's graceful stop). */
    static final long STOP_TIMEOUT_MILLIS = 5000;
    private volatile Consumer<String> accessSink = System.err::println;
    private static final String STARTED = "fathom.started";
    private static final String RESULT = "fathom.result";
    private static final String ANSWERED = "fathom.answered";
    private static final String KEY = "fathom.key";
    private final UsageLedger ledger;
    private Javalin app;

    public FathomServer(ServerConfig config) {
        this.config = config;
        this.ledger = new UsageLedger(config.apiKeys());
        this.metrics = new ServerMetrics(() -> model == null ? null : model.engine(), () -> model == null ? null : model.prefixCache(), ledger);
        String v = FathomServer.class.getPackage().getImplementationVersion();
        this.fingerprint = "fp_fathom_" + (v == null ? "dev" : v);
    }

    /** Starts listening; until {@link #serve} every endpoint but /health and /metrics answers 503. */
    public synchronized FathomServer start() {
        if (app != null) throw new IllegalStateException("already started");
        app = Javalin.create(cfg -> {
            cfg.startup.showJavalinBanner = false;
            cfg.startup.showOldJavalinVersionWarning = false;
            cfg.concurrency.useVirtualThreads = true;
            cfg.http.prefer405over404 = true;
            cfg.http.maxRequestSize = MAX_BODY_BYTES;
            cfg.jetty.modifyServer(server -> {
                server.insertHandler(new GracefulHandler()); // stopping waits for requests in flight
                server.setStopTimeout(STOP_TIMEOUT_MILLIS);
            });
            cfg.jetty.host = config.host();
            cfg.jetty.port = config.port();
            cfg.routes.before(ctx -> ctx.attribute(STARTED, System.nanoTime()));
            if (!config.corsOrigins().isEmpty()) {
                cfg.bundledPlugins.enableCors(cors -> cors.addRule(rule -> {
                    if (config.corsOrigins().contains("*")) rule.anyHost();
                    else rule.allowHost(config.corsOrigins().getFirst(), config.corsOrigins().subList(1, config.corsOrigins().size()).toArray(String[]::new));
                    rule.exposeHeader("Retry-After");
                }));
            }
            cfg.routes.before(this::authenticate);
            route(cfg, "get", "/health", this::health);
            route(cfg, "get", "/models", this::models);
            route(cfg, "get", "/models/<id>", this::model);
            route(cfg, "get", "/metrics", ctx -> ctx.contentType("text/plain; version=0.0.4; charset=utf-8").result(metrics.scrape()));
            route(cfg, "get", "/usage", this::usage);
            route(cfg, "post", "/completions", ctx -> new Completions(this, ready()).handle(ctx));
            route(cfg, "post", "/chat/completions", ctx -> new ChatCompletions(this, ready()).handle(ctx));
            route(cfg, "post", "/tokenize", this::tokenize);
            route(cfg, "post", "/detokenize", this::detokenize);
            cfg.routes.exception(ApiException.class, (e, ctx) -> error(ctx, e));
            cfg.routes.exception(Exception.class, (e, ctx) -> {
                LOG.log(Level.SEVERE, "internal error on " + ctx.method() + " " + ctx.path(), e);
                error(ctx, new ApiException(500, "server_error", null, "internal_error", "internal server error"));
            });
            cfg.routes.error(404, "*", ctx -> {
                if (ctx.attribute(ANSWERED) != null) return; // a route's own 404 (an unknown model)
                error(ctx, new ApiException(404, "invalid_request_error", null, "not_found", "no such endpoint: " + ctx.method() + " " + ctx.path()));
            });
            cfg.routes.error(405, "*", ctx -> {
                error(ctx, new ApiException(405, "invalid_request_error", null, "method_not_allowed", "method " + ctx.method() + " is not allowed on " + ctx.path()));
            });
            cfg.routes.after(ctx -> {
                String p = ctx.path().replaceFirst("^/(v1|beta)/", "/");
                metrics.request(ENDPOINTS.contains(p) ? p : "other", ctx.statusCode());
                accessLog(ctx);
            });
        });
        app.start();
        // Jetty closes connections idle for 30 s; a non-streaming generation may write nothing for longer.
        for (var c : app.jettyServer().server().getConnectors()) {
            if (c instanceof org.eclipse.jetty.server.AbstractConnector a) a.setIdleTimeout(IDLE_TIMEOUT_MILLIS);
        }
        return this;
    }

    /** Each endpoint at /PATH and /v1/PATH; the generation endpoints also at /beta/PATH (DeepSeek's base for FIM and prefix continuation). */
    private void route(io.javalin.config.JavalinConfig cfg, String method, String path, Handler h) {
        List<String> paths = new ArrayList<>(List.of(path, "/v1" + path));
        if (path.endsWith("completions")) paths.add("/beta" + path);
        for (String p : paths) {
            if (method.equals("get")) cfg.routes.get(p, h);
            else cfg.routes.post(p, h);
            // A browser's preflight: the CORS plugin answers it; this route only keeps it from being a 405.
            if (!config.corsOrigins().isEmpty()) cfg.routes.options(p, ctx -> ctx.status(204));
        }
    }

    /** Where access log lines go (standard error unless set); the format is {@link ServerConfig#accessLog()}. */
    public FathomServer accessLog(Consumer<String> sink) {
        this.accessSink = sink;
        return this;
    }

    private void accessLog(Context ctx) {
        if (config.accessLog() == ServerConfig.AccessLog.OFF) return;
        Long t0 = ctx.attribute(STARTED);
        long ms = t0 == null ? 0 : (System.nanoTime() - t0) / 1_000_000;
        GenerationResult r = ctx.attribute(RESULT);
        ApiKeys.Key k = config.apiKeys().isOpen() ? null : ctx.attribute(KEY);
        String key = k == null ? null : k.name();
        String line;
        if (config.accessLog() == ServerConfig.AccessLog.JSON) {
            ObjectNode n = json.createObjectNode();
            n.put("method", ctx.method().name()).put("path", ctx.path()).put("status", ctx.statusCode());
            if (r != null) n.put("prompt_tokens", r.promptTokens()).put("prompt_cache_hit_tokens", r.cachedTokens()).put("completion_tokens", r.completionTokens());
            if (key != null) n.put("key", key);
            n.put("ms", ms);
            line = n.toString();
        } else {
            line = ctx.method().name() + " " + ctx.path() + " " + ctx.statusCode()
                    + (r == null ? "" : " tokens=" + r.promptTokens() + "+" + r.completionTokens() + " cached=" + r.cachedTokens())
                    + (key == null ? "" : " key=" + key) + " " + ms + "ms";
        }
        accessSink.accept(line);
    }

    long idleTimeoutMillis() {
        return ((org.eclipse.jetty.server.AbstractConnector) app.jettyServer().server().getConnectors()[0]).getIdleTimeout();
    }

    /** The port it listens on (the one chosen when configured as 0). */
    public int port() {
        return app.port();
    }

    /** Serves a loaded model: from now on /health answers 200. */
    public void serve(ServedModel m) {
        this.model = m;
    }

    /** Loads a model in the background (the server answers 503 meanwhile); a failure is logged and kept. */
    public CompletableFuture<ServedModel> loadAsync(Callable<ServedModel> loader) {
        CompletableFuture<ServedModel> f = new CompletableFuture<>();
        Thread.ofPlatform().name("fathom-load").start(() -> {
            try {
                ServedModel m = loader.call();
                serve(m);
                f.complete(m);
            } catch (Throwable e) {
                loadError = e.getMessage() == null ? e.toString() : e.getMessage();
                f.completeExceptionally(e);
            }
        });
        return f;
    }

    public boolean isReady() {
        return model != null;
    }

    public ServedModel model() {
        return model;
    }

    /**
     * Stops gracefully: new requests get 503 at once, running generations get up to {@code grace} to finish, the
     * rest are cancelled (a stream then ends with an error event and {@code [DONE]}, a plain request gets a 503),
     * and every answer is written before the server closes.
     */
    public void shutdown(Duration grace) {
        stopping = true;
        LOG.info(() -> "shutting down: " + running.size() + " request(s) running, up to " + grace.toSeconds() + " s to finish");
        if (!awaitIdle(System.nanoTime() + grace.toNanos())) {
            LOG.warning(() -> "shutting down: cancelling " + running.size() + " request(s) still running after " + grace.toSeconds() + " s");
            running.forEach(Generation::cancel);
            awaitIdle(System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(STOP_TIMEOUT_MILLIS));
        }
        close();
        LOG.info("shut down");
    }

    private boolean awaitIdle(long deadlineNanos) {
        try {
            while (!running.isEmpty()) {
                if (System.nanoTime() > deadlineNanos) return false;
                Thread.sleep(20);
            }
            return true;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return running.isEmpty();
        }
    }

    /** True once {@link #shutdown} began. */
    public boolean isStopping() {
        return stopping;
    }

    @Override
    public synchronized void close() {
        if (app != null) app.stop();
        ServedModel m = model;
        model = null;
        if (m != null) {
            try {
                m.close();
            } catch (Exception e) {
                LOG.log(Level.WARNING, "closing the model", e);
            }
        }
    }

    // ------------------------------------------------------------------------------------------ plumbing

    ServedModel ready() {
        if (stopping) throw new ApiException(503, "server_error", null, "shutting_down", "the server is shutting down");
        ServedModel m = model;
        if (m == null) {
            throw new ApiException(503, "server_error", null, "model_loading",
                    loadError != null ? "the model failed to load: " + loadError : "the model is loading, try again shortly");
        }
        return m;
    }

    private void authenticate(Context ctx) {
        if (config.apiKeys().isOpen()) {
            ctx.attribute(KEY, ApiKeys.ANONYMOUS);
            return;
        }
        if (!config.corsOrigins().isEmpty() && ctx.method() == HandlerType.OPTIONS) return; // browsers send preflights without credentials
        String p = ctx.path();
        if (p.equals("/health") || p.equals("/v1/health")) return;
        String h = ctx.header("Authorization");
        if (h == null || !h.regionMatches(true, 0, "Bearer ", 0, 7)) {
            throw new ApiException(401, "authentication_error", null, "invalid_api_key",
                    "missing API key: send it as 'Authorization: Bearer KEY'");
        }
        ApiKeys.Key key = config.apiKeys().find(h.substring(7).trim());
        if (key == null) throw new ApiException(401, "authentication_error", null, "invalid_api_key", "invalid API key");
        ctx.attribute(KEY, key);
    }

    /** GET /usage: the caller's key's tokens and their cost since the server started; every key's for an admin key. */
    private void usage(Context ctx) {
        ApiKeys.Key caller = ctx.attribute(KEY);
        ServedModel m = model;
        Prices p = config.prices() != null ? config.prices() : Prices.defaultFor(m != null && m.reasoning());
        ObjectNode n = json.createObjectNode();
        n.put("object", "usage");
        ObjectNode prices = n.putObject("prices_per_million_tokens");
        prices.put("currency", p.currency()).put("prompt_cache_hit", p.hit()).put("prompt_cache_miss", p.miss()).put("output", p.output());
        ArrayNode keys = n.putArray("keys");
        ledger.accounts().forEach((name, a) -> {
            if (!caller.admin() && !name.equals(caller.name())) return;
            keys.addObject().put("name", name).put("requests", a.requests.get())
                    .put("prompt_cache_hit_tokens", a.hitTokens.get()).put("prompt_cache_miss_tokens", a.missTokens.get())
                    .put("completion_tokens", a.completionTokens.get()).put("cost", a.cost(p));
        });
        sendJson(ctx, n);
    }

    void error(Context ctx, ApiException e) {
        ctx.attribute(ANSWERED, true);
        if (e.status() == 429) ctx.header("Retry-After", Integer.toString(RETRY_AFTER_SECONDS));
        ctx.status(e.status()).contentType("application/json").result(errorJson(e).toString());
    }

    /** OpenAI's error shape. */
    ObjectNode errorJson(ApiException e) {
        ObjectNode err = json.createObjectNode();
        ObjectNode body = err.putObject("error");
        body.put("message", e.getMessage());
        body.put("type", e.type());
        body.put("param", e.param());
        body.put("code", e.code());
        return err;
    }

    JsonNode body(Context ctx) {
        byte[] bytes = bodyBytes(ctx);
        if (bytes.length == 0) throw ApiException.badRequest(null, "invalid_request", "the request body is empty: send a JSON object");
        JsonNode node;
        try {
            node = json.readTree(bytes);
        } catch (JsonProcessingException e) {
            JsonLocation at = e.getLocation();
            throw ApiException.badRequest(null, "invalid_json", "the request body is not valid JSON: " + JsonProblems.describe(e)
                    + (at == null || at.getLineNr() < 1 ? "" : " (line " + at.getLineNr() + ", column " + at.getColumnNr() + ")"));
        } catch (IOException e) {
            throw ApiException.badRequest(null, "invalid_json", "cannot read the request body: " + e.getMessage());
        }
        if (node == null || !node.isObject()) throw ApiException.badRequest(null, "invalid_json", "the request body must be a JSON object");
        return node;
    }

    /** The whole body, within {@link #MAX_BODY_BYTES}; a client that closes before sending it all is no server error. */
    private static byte[] bodyBytes(Context ctx) {
        if (ctx.req().getContentLengthLong() > MAX_BODY_BYTES) throw tooLarge();
        try {
            return ctx.bodyAsBytes();
        } catch (ContentTooLargeResponse e) {
            throw tooLarge(); // a chunked body that grew past the limit
        } catch (Exception e) {
            for (Throwable t = e; t != null; t = t.getCause()) {
                if (t instanceof IOException) {
                    throw new ApiException(CLIENT_CLOSED, "invalid_request_error", null, "client_closed", "the request body ended early: " + t.getMessage());
                }
            }
            throw e;
        }
    }

    private static ApiException tooLarge() {
        return new ApiException(413, "invalid_request_error", null, "request_too_large",
                "the request body is larger than this server's limit of " + (MAX_BODY_BYTES >> 20) + " MiB");
    }

    void sendJson(Context ctx, JsonNode node) {
        ctx.contentType("application/json").result(node.toString());
    }

    String fingerprint() {
        return fingerprint;
    }

    // ------------------------------------------------------------------------------------------ simple endpoints

    private void health(Context ctx) {
        ObjectNode n = json.createObjectNode();
        if (model != null) {
            n.put("status", "ok");
            ctx.status(200);
        } else if (loadError != null) {
            n.put("status", "error");
            n.put("message", "the model failed to load: " + loadError);
            ctx.status(503);
        } else {
            n.put("status", "loading");
            ctx.status(503);
        }
        sendJson(ctx, n);
    }

    private void models(Context ctx) {
        ServedModel m = ready();
        ObjectNode n = json.createObjectNode();
        n.put("object", "list");
        modelObject(n.putArray("data").addObject(), m);
        sendJson(ctx, n);
    }

    /** {@code GET /models/{id}} (the OpenAI SDK's models.retrieve): the served model under its own id, else 404. */
    private void model(Context ctx) {
        ServedModel m = ready();
        String id = ctx.pathParam("id");
        if (!id.equals(m.id())) {
            throw new ApiException(404, "invalid_request_error", "model", "model_not_found", "no such model: \"" + id + "\" (this server serves \"" + m.id() + "\")");
        }
        sendJson(ctx, modelObject(json.createObjectNode(), m));
    }

    private static ObjectNode modelObject(ObjectNode d, ServedModel m) {
        d.put("id", m.id());
        d.put("object", "model");
        d.put("created", m.created());
        d.put("owned_by", "fathom");
        d.put("context_length", m.engine().contextLength());
        return d;
    }

    private void tokenize(Context ctx) {
        ServedModel m = ready();
        Requests.TokenizeRequest req = RequestBinding.tokenize(body(ctx));
        String text = req.text();
        Boolean addSpecial = req.addSpecial(), parseSpecial = req.parseSpecial(), withPieces = req.withPieces();
        Tokenizer t = m.tokenizer();
        int[] ids = t.encode(text, addSpecial == null ? t.addBosByDefault() : addSpecial && t.bosId() >= 0, parseSpecial == null || parseSpecial);
        ObjectNode n = json.createObjectNode();
        ArrayNode arr = n.putArray("tokens");
        for (int id : ids) {
            if (Boolean.TRUE.equals(withPieces)) arr.addObject().put("id", id).put("piece", t.decode(new int[] {id}));
            else arr.add(id);
        }
        sendJson(ctx, n);
    }

    private void detokenize(Context ctx) {
        ServedModel m = ready();
        Requests.DetokenizeRequest req = RequestBinding.detokenize(body(ctx));
        int[] ids = RequestBinding.tokenIds(req.tokens(), "tokens", m.tokenizer().vocabSize(), "");
        ObjectNode n = json.createObjectNode();
        n.put("content", m.tokenizer().decode(ids));
        sendJson(ctx, n);
    }

    // ------------------------------------------------------------------------------------------ generation

    /**
     * The engine's request for a prompt and the generation fields both endpoints share (as {@link RequestBinding}
     * checked them); temperature, top_p and top_k not given are the model's recommended, else OpenAI's defaults (1, 1, off).
     */
    GenerationRequest generationRequest(Requests.GenerationFields f, SamplingDefaults model, int[] prompt, int topLogprobs) {
        Long maxTokens = f.maxTokens() != null ? f.maxTokens() : f.maxCompletionTokens(); // both at most Integer.MAX_VALUE
        SamplingParams sp = new SamplingParams(f.temperature() == null ? model.temperature(1f) : f.temperature().floatValue(),
                f.topK() == null ? model.topK(0) : f.topK().intValue(), f.topP() == null ? model.topP(1f) : f.topP().floatValue(),
                f.minP() == null ? 0f : f.minP().floatValue(), f.seed() != null ? f.seed() : new SecureRandom().nextLong());
        return new GenerationRequest(prompt, maxTokens == null ? Integer.MAX_VALUE : maxTokens.intValue(), sp,
                f.frequencyPenalty() == null ? 0 : f.frequencyPenalty().floatValue(),
                f.presencePenalty() == null ? 0 : f.presencePenalty().floatValue(), f.stopSequences(), topLogprobs);
    }

    /** Submits, mapping the engine's refusals to API errors. */
    Generation submit(Engine engine, GenerationRequest r, String promptParam, Consumer<GenerationEvent> listener) {
        try {
            return engine.submit(r, listener);
        } catch (QueueFullException e) {
            throw new ApiException(429, "rate_limit_error", null, "queue_full", e.getMessage() + "; try again later");
        } catch (PromptTooLongException e) {
            throw ApiException.badRequest(promptParam, "context_length_exceeded", e.getMessage() + " (this server's --ctx)");
        } catch (FathomException e) {
            throw ApiException.badRequest(null, "invalid_request", e.getMessage());
        }
    }

    /** How an endpoint turns engine events into JSON. */
    interface Shape {
        /** Streaming: the chunks for one Output event (may be none). */
        List<ObjectNode> chunks(GenerationEvent.Output o);

        /** Streaming: the final chunk(s) carrying the finish reason. */
        List<ObjectNode> finalChunks(GenerationResult r);

        /** Not streaming: takes in one Output event's text. */
        void collect(GenerationEvent.Output o);

        /** Not streaming: the whole response, after every Output event was {@linkplain #collect collected}. */
        ObjectNode response(GenerationResult r);

        /** The field a too-long prompt is reported on. */
        String promptParam();

        ObjectNode usage(GenerationResult r);

        ObjectNode usageChunk(GenerationResult r);
    }

    /** Runs a generation and answers it as JSON or as server-sent events. */
    void run(Context ctx, ServedModel m, GenerationRequest r, boolean stream, boolean includeUsage, Shape shape) throws IOException {
        long t0 = System.nanoTime();
        ApiKeys.Key key = ctx.attribute(KEY);
        BlockingQueue<GenerationEvent> events = new LinkedBlockingQueue<>();
        long[] last = {0};
        AtomicReference<GenerationResult> finished = new AtomicReference<>();
        Generation g = submit(m.engine(), r, shape.promptParam(), e -> {
            if (e instanceof GenerationEvent.Output o && !o.tokens().isEmpty()) {
                long now = System.nanoTime();
                if (last[0] == 0) metrics.firstToken(now - t0);
                else metrics.interToken(now - last[0]);
                last[0] = now;
            } else if (e instanceof GenerationEvent.Finished f) {
                GenerationResult res = f.result();
                finished.set(res);
                boolean computed = !(res.finishReason() == FinishReason.CANCELLED && res.tokens().isEmpty() && last[0] == 0);
                int prompt = computed ? res.promptTokens() : 0, hit = computed ? res.cachedTokens() : 0;
                metrics.usage(prompt, hit, res.completionTokens());
                ledger.record(key, prompt, hit, res.completionTokens());
                if (res.finishReason() == FinishReason.CANCELLED) metrics.cancelled();
            }
            events.add(e);
        });
        // A client that goes away is cancelled at once, queued or running, streaming or not: its slot and memory are freed.
        running.add(g);
        AtomicBoolean gone = new AtomicBoolean();
        Object writing = new Object(); // the probe and the stream write to the same response, one at a time
        try (ClientWatch watch = ClientWatch.start(ctx, () -> probe(ctx, writing), () -> {
            gone.set(true);
            g.cancel();
            LOG.fine(() -> "client disconnected, request " + g.id() + " cancelled");
        })) {
            respond(ctx, g, events, stream, includeUsage, shape, writing, gone);
        } finally {
            running.remove(g);
            if (finished.get() != null) ctx.attribute(RESULT, finished.get()); // for the access log
        }
    }

    /** Something a client may ignore: an interim 102 before the response starts, an event-stream comment after. */
    private void probe(Context ctx, Object writing) throws IOException {
        synchronized (writing) {
            if (ctx.res().isCommitted()) write(ctx.res().getOutputStream(), ": keep-alive\n\n");
            else ClientWatch.interim(ctx, 102);
        }
    }

    /** Why a generation was cancelled, as the API answers it: never as a normal finish. */
    private static ApiException cancelled(boolean clientGone) {
        return clientGone ? new ApiException(CLIENT_CLOSED, "invalid_request_error", null, "client_closed", "the client closed the connection")
                : new ApiException(503, "server_error", null, "cancelled", "the request was cancelled: the server is shutting down");
    }

    private void respond(Context ctx, Generation g, BlockingQueue<GenerationEvent> events, boolean stream, boolean includeUsage,
                         Shape shape, Object writing, AtomicBoolean gone) throws IOException {
        if (!stream) {
            try {
                while (true) {
                    GenerationEvent e = events.take();
                    if (e instanceof GenerationEvent.Output o) shape.collect(o);
                    else if (e instanceof GenerationEvent.Finished f) {
                        GenerationResult fr = f.result();
                        if (fr.finishReason() == FinishReason.ERROR) throw new IllegalStateException("generation failed", fr.error());
                        if (fr.finishReason() == FinishReason.CANCELLED) throw cancelled(gone.get());
                        sendJson(ctx, shape.response(fr));
                        return;
                    }
                }
            } catch (InterruptedException e) {
                g.cancel();
                Thread.currentThread().interrupt();
                throw new IllegalStateException("interrupted", e);
            }
        }
        var res = ctx.res();
        OutputStream out;
        synchronized (writing) {
            res.setStatus(200);
            res.setContentType("text/event-stream; charset=utf-8");
            res.setHeader("Cache-Control", "no-cache");
            res.setHeader("X-Accel-Buffering", "no");
            out = res.getOutputStream();
            out.flush();
        }
        try {
            boolean started = false;
            while (true) {
                GenerationEvent e = events.poll(config.keepAliveMillis(), TimeUnit.MILLISECONDS);
                if (e == null) {
                    if (!started) write(out, writing, ": keep-alive\n\n");
                    continue;
                }
                switch (e) {
                    case GenerationEvent.Started s -> started = true;
                    case GenerationEvent.Output o -> {
                        for (ObjectNode c : shape.chunks(o)) write(out, writing, "data: " + c + "\n\n");
                    }
                    case GenerationEvent.Finished f -> {
                        GenerationResult fr = f.result();
                        if (fr.finishReason() == FinishReason.ERROR) {
                            write(out, writing, "data: " + errorJson(new ApiException(500, "server_error", null, "internal_error", "internal server error")) + "\n\n");
                        } else if (fr.finishReason() == FinishReason.CANCELLED) {
                            write(out, writing, "data: " + errorJson(cancelled(gone.get())) + "\n\n");
                        } else {
                            for (ObjectNode c : shape.finalChunks(fr)) write(out, writing, "data: " + c + "\n\n");
                            if (includeUsage) write(out, writing, "data: " + shape.usageChunk(fr) + "\n\n");
                        }
                        write(out, writing, "data: [DONE]\n\n");
                        return;
                    }
                }
            }
        } catch (IOException e) {
            g.cancel(); // the client went away: free its slot and memory now
            LOG.fine(() -> "client disconnected, request " + g.id() + " cancelled");
        } catch (InterruptedException e) {
            g.cancel();
            Thread.currentThread().interrupt();
        }
    }

    private static void write(OutputStream out, Object writing, String s) throws IOException {
        synchronized (writing) {
            write(out, s);
        }
    }

    private static void write(OutputStream out, String s) throws IOException {
        out.write(s.getBytes(StandardCharsets.UTF_8));
        out.flush();
    }

    ObjectNode usage(GenerationResult r, int reasoningTokens) {
        ObjectNode u = json.createObjectNode();
        u.put("prompt_tokens", r.promptTokens());
        u.put("completion_tokens", r.completionTokens());
        u.put("total_tokens", r.promptTokens() + r.completionTokens());
        u.put("prompt_cache_hit_tokens", r.cachedTokens());
        u.put("prompt_cache_miss_tokens", r.promptTokens() - r.cachedTokens());
        u.putObject("prompt_tokens_details").put("cached_tokens", r.cachedTokens());
        u.putObject("completion_tokens_details").put("reasoning_tokens", reasoningTokens);
        return u;
    }

    ObjectNode envelope(String id, String object, ServedModel m, long created) {
        ObjectNode n = json.createObjectNode();
        n.put("id", id);
        n.put("object", object);
        n.put("created", created);
        n.put("model", m.id());
        n.put("system_fingerprint", fingerprint);
        return n;
    }

    static String finishReason(GenerationResult r) {
        return r.finishReason() == FinishReason.LENGTH ? "length" : "stop";
    }

    static String newId(String prefix) {
        return prefix + UUID.randomUUID().toString().replace("-", "");
    }

    static ArrayNode bytes(ObjectNode parent, byte[] b) {
        ArrayNode a = parent.putArray("bytes");
        for (byte x : b) a.add(x & 0xFF);
        return a;
    }

    /** Chat-style logprobs entries ({@code {token, logprob, bytes, top_logprobs}}) for these tokens. */
    void chatLogprobs(ArrayNode into, List<TokenInfo> tokens) {
        for (TokenInfo t : tokens) {
            ObjectNode e = into.addObject();
            e.put("token", t.text());
            e.put("logprob", t.logprob());
            bytes(e, t.bytes());
            ArrayNode top = e.putArray("top_logprobs");
            for (TokenInfo.Alternative a : t.top()) {
                ObjectNode x = top.addObject();
                x.put("token", a.text());
                x.put("logprob", a.logprob());
                bytes(x, a.bytes());
            }
        }
    }
}
