package dev.fathom.server;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.fathom.FathomException;
import dev.fathom.chat.ChatMessage;
import dev.fathom.chat.ChatTemplate;
import dev.fathom.chat.ReasoningParser;
import dev.fathom.engine.GenerationEvent;
import dev.fathom.engine.GenerationRequest;
import dev.fathom.engine.GenerationResult;
import dev.fathom.engine.TokenInfo;
import io.javalin.http.Context;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;

/**
 * {@code POST /chat/completions}: the conversation is rendered with the model's own chat template; DeepSeek's
 * prefix continuation (a last assistant message with {@code prefix: true}) continues that message. For reasoning
 * models the text inside {@code <think>…</think>} is returned as {@code reasoning_content}.
 */
final class ChatCompletions implements FathomServer.Shape {
    private final FathomServer server;
    private final ServedModel model;
    private final String id = FathomServer.newId("chatcmpl-");
    private final long created = System.currentTimeMillis() / 1000;
    /** Splits reasoning from content for reasoning models; null for the others. */
    private ReasoningParser split;
    private boolean logprobs;
    private boolean roleSent;
    private int reasoningTokens;
    private final StringBuilder reasoning = new StringBuilder();
    private final StringBuilder content = new StringBuilder();

    ChatCompletions(FathomServer server, ServedModel model) {
        this.server = server;
        this.model = model;
    }

    void handle(Context ctx) throws IOException {
        Requests.ChatCompletionRequest req = RequestBinding.chat(server.body(ctx));
        if (model.template() == null) {
            throw ApiException.badRequest("messages", "no_chat_template", "this model cannot chat: " + model.templateError());
        }
        List<ChatMessage> messages = messages(req.messages());
        ChatMessage last = messages.getLast();
        boolean prefix = Boolean.TRUE.equals(last.prefix());
        String prompt;
        try {
            if (prefix) {
                prompt = model.template().render(messages.subList(0, messages.size() - 1), true)
                        + (last.content() == null ? "" : last.content());
            } else {
                prompt = model.template().render(messages, true);
            }
        } catch (FathomException e) {
            throw ApiException.badRequest("messages", "invalid_request", "the chat template cannot render these messages: " + e.getMessage());
        }
        int[] ids = ChatTemplate.encodePrompt(model.tokenizer(), prompt);
        logprobs = Boolean.TRUE.equals(req.logprobs());
        GenerationRequest r = server.generationRequest(req.generation(), model.sampling(), ids, req.topLogprobsCount());
        split = model.reasoning() ? new ReasoningParser(ReasoningParser.startsInReasoning(prompt)) : null;
        server.run(ctx, model, r, req.generation().streaming(), req.generation().includeUsage(), this);
    }

    /** The checked messages as the chat template takes them; tool calls are kept on assistant messages only. */
    private static List<ChatMessage> messages(List<Requests.Message> list) {
        List<ChatMessage> out = new ArrayList<>();
        for (Requests.Message m : list) {
            List<ChatMessage.ToolCall> calls = m.toolCalls() == null || !m.chatRole().equals("assistant") ? null
                    : m.toolCalls().stream().map(c -> new ChatMessage.ToolCall(c.id(), c.function().name(), c.function().argumentsText())).toList();
            out.add(new ChatMessage(m.chatRole(), m.text(), m.reasoningContent(), calls, m.toolCallId(), m.name(), m.prefix()));
        }
        return out;
    }

    // ------------------------------------------------------------------------------------------ shapes

    private ObjectNode chunk(String reasoningPart, String contentPart, List<TokenInfo> tokens, String finish) {
        ObjectNode c = server.envelope(id, "chat.completion.chunk", model, created);
        ObjectNode choice = c.putArray("choices").addObject();
        choice.put("index", 0);
        ObjectNode delta = choice.putObject("delta");
        if (!roleSent) {
            delta.put("role", "assistant");
            roleSent = true;
        }
        if (contentPart != null) delta.put("content", contentPart);
        if (reasoningPart != null) delta.put("reasoning_content", reasoningPart);
        if (logprobs && !tokens.isEmpty()) server.chatLogprobs(choice.putObject("logprobs").putArray("content"), tokens);
        else choice.putNull("logprobs");
        choice.put("finish_reason", finish);
        return c;
    }

    /** Splits new text into (reasoning, content); counts the step's tokens as reasoning when it was. */
    private String[] split(String text, int tokens, boolean last) {
        if (split == null) {
            content.append(text);
            return new String[] {"", text};
        }
        int before = split.reasoningTokens();
        StringBuilder r = new StringBuilder(), c = new StringBuilder();
        List<ReasoningParser.Delta> deltas = new ArrayList<>(split.feed(text));
        if (last) deltas.addAll(split.finish());
        if (split.reasoningTokens() > before) reasoningTokens += tokens;
        for (ReasoningParser.Delta d : deltas) (d.kind() == ReasoningParser.Kind.REASONING ? r : c).append(d.text());
        reasoning.append(r);
        content.append(c);
        return new String[] {r.toString(), c.toString()};
    }

    @Override
    public List<ObjectNode> chunks(GenerationEvent.Output o) {
        String[] p = split(o.text(), o.tokens().size(), false);
        boolean hasLogprobs = logprobs && !o.tokens().isEmpty();
        if (p[0].isEmpty() && p[1].isEmpty() && !hasLogprobs && roleSent) return List.of();
        return List.of(chunk(p[0].isEmpty() ? null : p[0], p[1].isEmpty() && !p[0].isEmpty() ? null : p[1], o.tokens(), null));
    }

    @Override
    public List<ObjectNode> finalChunks(GenerationResult r) {
        String[] p = split("", 0, true);
        List<ObjectNode> out = new ArrayList<>();
        if (!p[0].isEmpty() || !p[1].isEmpty()) out.add(chunk(p[0].isEmpty() ? null : p[0], p[1].isEmpty() ? null : p[1], List.of(), null));
        out.add(chunk(null, "", List.of(), FathomServer.finishReason(r)));
        return out;
    }

    @Override
    public void collect(GenerationEvent.Output o) {
        split(o.text(), o.tokens().size(), false);
    }

    @Override
    public ObjectNode response(GenerationResult r) {
        split("", 0, true);
        ObjectNode c = server.envelope(id, "chat.completion", model, created);
        ObjectNode choice = c.putArray("choices").addObject();
        choice.put("index", 0);
        ObjectNode msg = choice.putObject("message");
        msg.put("role", "assistant");
        msg.put("content", content.toString());
        if (split != null) msg.put("reasoning_content", reasoning.isEmpty() ? null : reasoning.toString());
        if (logprobs) server.chatLogprobs(choice.putObject("logprobs").putArray("content"), r.tokens());
        else choice.putNull("logprobs");
        choice.put("finish_reason", FathomServer.finishReason(r));
        c.set("usage", usage(r));
        return c;
    }

    @Override
    public String promptParam() {
        return "messages";
    }

    @Override
    public ObjectNode usage(GenerationResult r) {
        return server.usage(r, reasoningTokens);
    }

    @Override
    public ObjectNode usageChunk(GenerationResult r) {
        ObjectNode c = server.envelope(id, "chat.completion.chunk", model, created);
        c.putArray("choices");
        c.set("usage", usage(r));
        return c;
    }
}
