package dev.fathom.server;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
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
import java.util.Set;

/**
 * {@code POST /chat/completions}: the conversation is rendered with the model's own chat template; DeepSeek's
 * prefix continuation (a last assistant message with {@code prefix: true}) continues that message. For reasoning
 * models the text inside {@code <think>…</think>} is returned as {@code reasoning_content}.
 */
final class ChatCompletions implements FathomServer.Shape {
    private static final Set<String> ROLES = Set.of("system", "user", "assistant", "tool");

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
        JsonNode body = server.body(ctx);
        Requests.ChatCompletionRequest req = RequestBinding.bind(body, Requests.ChatCompletionRequest.class);
        Requests.GenerationFields common = RequestBinding.bind(body, Requests.GenerationFields.class);
        List<ChatMessage> messages = messages(req.messages());
        if (model.template() == null) {
            throw ApiException.badRequest("messages", "no_chat_template", "this model cannot chat: " + model.templateError());
        }
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
        if (req.topLogprobs() != null && !Boolean.TRUE.equals(req.logprobs())) throw ApiException.invalid("top_logprobs", "needs \"logprobs\": true");
        logprobs = Boolean.TRUE.equals(req.logprobs());
        GenerationRequest r = server.generationRequest(common, model.sampling(), ids, logprobs ? (req.topLogprobs() == null ? 0 : req.topLogprobs().intValue()) : -1);
        split = model.reasoning() ? new ReasoningParser(ReasoningParser.startsInReasoning(prompt)) : null;
        server.run(ctx, model, r, common.streaming(), common.includeUsage(), this);
    }

    static List<ChatMessage> messages(List<Requests.Message> list) {
        if (list == null) throw ApiException.invalid("messages", "is required (a list of {role, content} objects)");
        if (list.isEmpty()) throw ApiException.invalid("messages", "must be a non-empty list of messages, got []");
        List<ChatMessage> out = new ArrayList<>();
        for (int i = 0; i < list.size(); i++) {
            String at = "messages[" + i + "]";
            Requests.Message m = list.get(i);
            if (m == null) throw ApiException.invalid(at, "must be an object with role and content, got null");
            String role = m.role();
            if (role == null) throw ApiException.invalid(at + ".role", "is required");
            if (role.equals("developer")) role = "system"; // OpenAI's newer name for the system message
            if (!ROLES.contains(role)) throw ApiException.invalid(at + ".role", "must be one of system, developer, user, assistant, tool, got \"" + role + "\"");
            String content = content(m.content(), at + ".content");
            List<ChatMessage.ToolCall> calls = role.equals("assistant") ? toolCalls(m.toolCalls(), at + ".tool_calls") : null;
            if (content == null && !(role.equals("assistant") && (calls != null || i == list.size() - 1))) {
                throw ApiException.invalid(at + ".content", "is required for a " + role + " message");
            }
            if (role.equals("tool") && m.toolCallId() == null) throw ApiException.invalid(at + ".tool_call_id", "is required for a tool message");
            if (Boolean.TRUE.equals(m.prefix()) && (!role.equals("assistant") || i != list.size() - 1)) {
                throw ApiException.invalid(at + ".prefix", "only the last message, an assistant message, can be a prefix to continue");
            }
            out.add(new ChatMessage(role, content, m.reasoningContent(), calls, m.toolCallId(), m.name(), m.prefix()));
        }
        return out;
    }

    /** A string, or a list of {type: "text", text} parts joined. */
    private static String content(JsonNode c, String at) {
        if (c == null || c.isNull()) return null;
        if (c.isTextual()) return c.textValue();
        if (c.isArray()) {
            StringBuilder sb = new StringBuilder();
            for (int k = 0; k < c.size(); k++) {
                JsonNode part = c.get(k);
                if (!part.isObject() || !"text".equals(part.path("type").textValue())) {
                    throw ApiException.invalid(at + "[" + k + "]", "only {\"type\": \"text\", \"text\": ...} parts are supported, got " + RequestBinding.describe(part));
                }
                JsonNode text = part.get("text");
                if (text == null || text.isNull()) throw ApiException.invalid(at + "[" + k + "].text", "is required");
                if (!text.isTextual()) throw ApiException.invalid(at + "[" + k + "].text", "must be a string, got " + RequestBinding.describe(text));
                sb.append(text.textValue());
            }
            return sb.toString();
        }
        throw ApiException.invalid(at, "must be a string or a list of text parts, got " + RequestBinding.describe(c));
    }

    private static List<ChatMessage.ToolCall> toolCalls(List<Requests.ToolCall> calls, String at) {
        if (calls == null) return null;
        List<ChatMessage.ToolCall> out = new ArrayList<>();
        for (int k = 0; k < calls.size(); k++) {
            Requests.ToolCall c = calls.get(k);
            String name = c == null || c.function() == null ? null : c.function().name();
            if (name == null) throw ApiException.invalid(at + "[" + k + "].function.name", "is required");
            JsonNode args = c.function().arguments();
            Object arguments = args == null || args.isNull() ? null : args.isTextual() ? args.textValue() : args.toString();
            out.add(new ChatMessage.ToolCall(c.id(), name, arguments));
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
