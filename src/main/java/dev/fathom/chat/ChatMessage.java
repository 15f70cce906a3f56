package dev.fathom.chat;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * One message of a conversation, in the shape of the OpenAI chat API. {@link #toTemplateMap()} gives the map a
 * Hugging Face chat template expects ({@code role}, {@code content}, {@code reasoning_content}, {@code tool_calls},
 * {@code tool_call_id}, {@code name}, {@code prefix}).
 *
 * @param role             "system", "user", "assistant" or "tool"
 * @param content          the text; may be null (an assistant turn that only calls tools), which templates test with
 *                         {@code is none}
 * @param reasoningContent the assistant's reasoning ({@code <think>} text) given separately, or null
 * @param toolCalls        the tool calls of an assistant turn, or null
 * @param toolCallId       for a tool result: the id of the call it answers, or null
 * @param name             for a tool result: the tool's name, or null
 * @param prefix           DeepSeek's prefix completion: the last assistant turn is a prefix the model continues, or null
 */
public record ChatMessage(String role, String content, String reasoningContent, List<ToolCall> toolCalls,
                          String toolCallId, String name, Boolean prefix) {
    public ChatMessage {
        Objects.requireNonNull(role, "role");
        toolCalls = toolCalls == null ? null : List.copyOf(toolCalls);
    }

    public static ChatMessage system(String content) {
        return new ChatMessage("system", content, null, null, null, null, null);
    }

    public static ChatMessage user(String content) {
        return new ChatMessage("user", content, null, null, null, null, null);
    }

    public static ChatMessage assistant(String content) {
        return new ChatMessage("assistant", content, null, null, null, null, null);
    }

    /** An assistant turn that calls tools; {@code content} may be null. */
    public static ChatMessage assistant(String content, List<ToolCall> toolCalls) {
        return new ChatMessage("assistant", content, null, toolCalls, null, null, null);
    }

    public static ChatMessage tool(String toolCallId, String content) {
        return new ChatMessage("tool", content, null, null, toolCallId, null, null);
    }

    /**
     * A function call made by the assistant.
     *
     * @param id        the call's id, or null
     * @param name      the function's name
     * @param arguments the arguments: a JSON string (as the OpenAI API sends them) or an object (maps, lists, ...)
     */
    public record ToolCall(String id, String name, Object arguments) {
        public ToolCall {
            Objects.requireNonNull(name, "name");
        }

        Map<String, Object> toTemplateMap() {
            Map<String, Object> function = new LinkedHashMap<>();
            function.put("name", name);
            function.put("arguments", arguments);
            Map<String, Object> m = new LinkedHashMap<>();
            if (id != null) m.put("id", id);
            m.put("type", "function");
            m.put("function", function);
            return m;
        }
    }

    /** The message as a chat template sees it: {@code role} and {@code content} always (content may be null), the rest when set. */
    public Map<String, Object> toTemplateMap() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("role", role);
        m.put("content", content);
        if (reasoningContent != null) m.put("reasoning_content", reasoningContent);
        if (toolCalls != null) m.put("tool_calls", toolCalls.stream().map(ToolCall::toTemplateMap).toList());
        if (toolCallId != null) m.put("tool_call_id", toolCallId);
        if (name != null) m.put("name", name);
        if (prefix != null) m.put("prefix", prefix);
        return m;
    }
}
