package dev.fathom.server;

import com.fasterxml.jackson.databind.JsonNode;
import dev.fathom.engine.GenerationRequest;

import java.util.List;

/**
 * The request bodies, as {@link RequestBinding} binds them: one record per endpoint, the generation fields both
 * generation endpoints share in {@link GenerationFields}. JSON names are the components' names in snake_case
 * ({@code topP} is {@code top_p}); absent and null fields are null (the default applies); unknown fields are
 * ignored. Fields that take several shapes ({@code prompt}, {@code content}, {@code stop}) stay JSON and are read
 * where they are used.
 */
final class Requests {
    private Requests() {}

    /** Sampling, length, stop and streaming: what /chat/completions and /completions share. */
    record GenerationFields(
            String model,
            @Range(min = 0, max = 2) Double temperature,
            @Range(min = 0, max = 1) Double topP,
            @Range(min = 0, max = Integer.MAX_VALUE) Long topK,
            @Range(min = 0, max = 1) Double minP,
            Long seed,
            @Range(min = -2, max = 2) Double frequencyPenalty,
            @Range(min = -2, max = 2) Double presencePenalty,
            @Range(min = 1, max = Integer.MAX_VALUE) Long maxTokens,
            @Range(min = 1, max = Integer.MAX_VALUE) Long maxCompletionTokens,
            @Range(min = 1, max = Integer.MAX_VALUE) Long n,
            JsonNode stop,
            Boolean stream,
            StreamOptions streamOptions,
            ResponseFormat responseFormat) {

        boolean streaming() {
            return Boolean.TRUE.equals(stream);
        }

        boolean includeUsage() {
            return streamOptions != null && Boolean.TRUE.equals(streamOptions.includeUsage());
        }
    }

    record StreamOptions(Boolean includeUsage) {}

    record ResponseFormat(String type) {}

    /** {@code POST /chat/completions}. */
    record ChatCompletionRequest(
            List<Message> messages,
            Boolean logprobs,
            @Range(min = 0, max = GenerationRequest.MAX_TOP_LOGPROBS) Long topLogprobs) {}

    /** One chat message; {@code content} is a string or a list of text parts. */
    record Message(String role, JsonNode content, String reasoningContent, String name, String toolCallId, Boolean prefix,
                   List<ToolCall> toolCalls) {}

    record ToolCall(String id, Function function) {}

    /** {@code arguments} is kept as sent: a JSON string, or an object. */
    record Function(String name, JsonNode arguments) {}

    /** {@code POST /completions}; {@code prompt} is a string, token ids, or a list of one of these. */
    record CompletionRequest(
            JsonNode prompt,
            String suffix,
            @Range(min = 0, max = GenerationRequest.MAX_TOP_LOGPROBS) Long logprobs,
            Boolean echo) {}

    /** {@code POST /tokenize}: the text as {@code content} (llama.cpp's name) or {@code prompt}. */
    record TokenizeRequest(String content, String prompt, Boolean addSpecial, Boolean parseSpecial, Boolean withPieces) {}

    /** {@code POST /detokenize}. */
    record DetokenizeRequest(List<JsonNode> tokens) {}
}
