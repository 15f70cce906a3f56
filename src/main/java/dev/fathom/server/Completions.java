package dev.fathom.server;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.fathom.engine.GenerationEvent;
import dev.fathom.engine.GenerationRequest;
import dev.fathom.engine.GenerationResult;
import dev.fathom.engine.TokenInfo;
import dev.fathom.tokenizer.Tokenizer;
import io.javalin.http.Context;

import java.io.IOException;
import java.util.List;

/**
 * {@code POST /completions}: plain text continuation, and fill-in-the-middle with {@code suffix} (DeepSeek's
 * {@code /beta/completions}: the prompt becomes {@code <｜fim▁begin｜>PROMPT<｜fim▁hole｜>SUFFIX<｜fim▁end｜>}).
 * Log-probabilities in the legacy shape ({@code tokens, token_logprobs, top_logprobs, text_offset}).
 */
final class Completions implements FathomServer.Shape {
    static final String FIM_BEGIN = "<｜fim▁begin｜>";
    static final String FIM_HOLE = "<｜fim▁hole｜>";
    static final String FIM_END = "<｜fim▁end｜>";

    private final FathomServer server;
    private final ServedModel model;
    private final String id = FathomServer.newId("cmpl-");
    private final long created = System.currentTimeMillis() / 1000;
    private boolean logprobs;
    private int textOffset;
    /** With {@code echo}, the prompt comes back before the completion, as OpenAI's legacy completions do. */
    private boolean echo;
    private String promptText;
    private boolean echoPending;

    Completions(FathomServer server, ServedModel model) {
        this.server = server;
        this.model = model;
    }

    void handle(Context ctx) throws IOException {
        Requests.CompletionRequest req = RequestBinding.completion(server.body(ctx));
        Tokenizer t = model.tokenizer();
        JsonNode p = req.onePrompt();
        String suffix = req.suffix();
        int[] ids;
        if (p.isTextual()) {
            String text = p.textValue();
            promptText = text;
            if (suffix != null) {
                for (String special : List.of(FIM_BEGIN, FIM_HOLE, FIM_END)) {
                    if (t.tokenId(special) == Tokenizer.NO_TOKEN) {
                        throw ApiException.invalid("suffix", "this model has no fill-in-the-middle tokens (" + special + " is not in its vocabulary)");
                    }
                }
                text = FIM_BEGIN + text + FIM_HOLE + suffix + FIM_END;
            }
            ids = t.encode(text, t.addBosByDefault(), true);
        } else {
            ids = RequestBinding.tokenIds(p, "prompt", t.vocabSize(), " (or give the prompt as a string)");
            promptText = t.decode(ids);
        }
        if (ids.length == 0) throw ApiException.invalid("prompt", "is empty");
        logprobs = req.logprobs() != null;
        echo = req.echoes();
        echoPending = echo;
        GenerationRequest r = server.generationRequest(req.generation(), model.sampling(), ids, logprobs ? req.logprobs().intValue() : -1);
        server.run(ctx, model, r, req.generation().streaming(), req.generation().includeUsage(), this);
    }

    private ObjectNode chunk(String text, List<TokenInfo> tokens, String finish) {
        ObjectNode c = server.envelope(id, "text_completion", model, created);
        ObjectNode choice = c.putArray("choices").addObject();
        choice.put("text", text);
        choice.put("index", 0);
        if (logprobs && !tokens.isEmpty()) choice.set("logprobs", legacyLogprobs(tokens));
        else choice.putNull("logprobs");
        choice.put("finish_reason", finish);
        return c;
    }

    private ObjectNode legacyLogprobs(List<TokenInfo> tokens) {
        ObjectNode l = server.json.createObjectNode();
        ArrayNode toks = l.putArray("tokens"), lps = l.putArray("token_logprobs"), tops = l.putArray("top_logprobs"), offs = l.putArray("text_offset");
        for (TokenInfo t : tokens) {
            toks.add(t.text());
            lps.add(t.logprob());
            ObjectNode top = tops.addObject();
            for (TokenInfo.Alternative a : t.top()) top.put(a.text(), a.logprob());
            offs.add(textOffset);
            textOffset += t.text().length();
        }
        return l;
    }

    @Override
    public List<ObjectNode> chunks(GenerationEvent.Output o) {
        String text = o.text();
        if (echoPending) {
            text = promptText + text; // streamed once, before the first generated text
            echoPending = false;
        }
        if (text.isEmpty() && !(logprobs && !o.tokens().isEmpty())) return List.of();
        return List.of(chunk(text, o.tokens(), null));
    }

    @Override
    public List<ObjectNode> finalChunks(GenerationResult r) {
        String text = echoPending ? promptText : "";
        echoPending = false;
        return List.of(chunk(text, List.of(), FathomServer.finishReason(r)));
    }

    @Override
    public void collect(GenerationEvent.Output o) {
        // the response is built from the result's whole text
    }

    @Override
    public ObjectNode response(GenerationResult r) {
        ObjectNode c = chunk(echo ? promptText + r.text() : r.text(), r.tokens(), FathomServer.finishReason(r));
        c.set("usage", usage(r));
        return c;
    }

    @Override
    public String promptParam() {
        return "prompt";
    }

    @Override
    public ObjectNode usage(GenerationResult r) {
        return server.usage(r, 0);
    }

    @Override
    public ObjectNode usageChunk(GenerationResult r) {
        ObjectNode c = server.envelope(id, "text_completion", model, created);
        c.putArray("choices");
        c.set("usage", usage(r));
        return c;
    }
}
