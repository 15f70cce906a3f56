package dev.fathom.server;

import com.fasterxml.jackson.annotation.JsonUnwrapped;
import com.fasterxml.jackson.databind.JsonNode;
import dev.fathom.engine.GenerationRequest;

import java.util.ArrayList;
import java.util.List;

/**
 * The request bodies, as {@link RequestBinding} binds and checks them: one record per endpoint, the generation fields
 * both generation endpoints share in {@link GenerationFields}, unwrapped into each (they sit at the top level of the
 * JSON). JSON names are the components' names in snake_case ({@code topP} is {@code top_p}); absent and null fields
 * are null (the default applies); unknown fields are ignored. Fields that take several shapes ({@code prompt},
 * {@code content}, {@code stop}) stay JSON; the methods here read them once {@link RequestBinding} has checked them.
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

        /** {@code stop}, a string or a list of strings, as a list. */
        List<String> stopSequences() {
            if (stop == null || stop.isNull()) return List.of();
            if (stop.isTextual()) return List.of(stop.textValue());
            List<String> out = new ArrayList<>();
            for (JsonNode s : stop) out.add(s.textValue());
            return out;
        }
    }

    record StreamOptions(Boolean includeUsage) {}

    record ResponseFormat(String type) {}

    /** {@code POST /chat/completions}. */
    record ChatCompletionRequest(
            List<Message> messages,
            Boolean logprobs,
            @Range(min = 0, max = GenerationRequest.MAX_TOP_LOGPROBS) Long topLogprobs,
            @JsonUnwrapped GenerationFields generation) {

        /** The engine's top-logprobs count: -1 without {@code logprobs}. */
        int topLogprobsCount() {
            return !Boolean.TRUE.equals(logprobs) ? -1 : topLogprobs == null ? 0 : topLogprobs.intValue();
        }
    }

    /** One chat message; {@code content} is a string or a list of text parts. */
    record Message(String role, JsonNode content, String reasoningContent, String name, String toolCallId, Boolean prefix,
                   List<ToolCall> toolCalls) {

        /** The role, OpenAI's newer {@code developer} taken as {@code system}. */
        String chatRole() {
            return "developer".equals(role) ? "system" : role;
        }

        /** The content's text, its parts joined; null when there is none. */
        String text() {
            if (content == null || content.isNull()) return null;
            if (content.isTextual()) return content.textValue();
            StringBuilder sb = new StringBuilder();
            for (JsonNode part : content) sb.append(part.get("text").textValue());
            return sb.toString();
        }
    }

    record ToolCall(String id, Function function) {}

    /** {@code arguments} is kept as sent: a JSON string, or an object. */
    record Function(String name, JsonNode arguments) {
        /** The arguments as the template gets them: the string sent, or the object's JSON. */
        String argumentsText() {
            return arguments == null || arguments.isNull() ? null : arguments.isTextual() ? arguments.textValue() : arguments.toString();
        }
    }

    /** {@code POST /completions}; {@code prompt} is a string, token ids, or a list of one of these. */
    record CompletionRequest(
            JsonNode prompt,
            String suffix,
            @Range(min = 0, max = GenerationRequest.MAX_TOP_LOGPROBS) Long logprobs,
            Boolean echo,
            @JsonUnwrapped GenerationFields generation) {

        /** The prompt, a list of one prompt taken as that prompt. */
        JsonNode onePrompt() {
            boolean listOfOne = prompt != null && prompt.isArray() && prompt.size() == 1 && (prompt.get(0).isTextual() || prompt.get(0).isArray());
            return listOfOne ? prompt.get(0) : prompt;
        }

        boolean echoes() {
            return Boolean.TRUE.equals(echo);
        }
    }

    /** {@code POST /tokenize}: the text as {@code content} (llama.cpp's name) or {@code prompt}. */
    record TokenizeRequest(String content, String prompt, Boolean addSpecial, Boolean parseSpecial, Boolean withPieces) {
        String text() {
            return content != null ? content : prompt;
        }
    }

    /** {@code POST /detokenize}: {@code tokens}, a list of token ids, each checked against the model's vocabulary. */
    record DetokenizeRequest(JsonNode tokens) {}
}
