package dev.fathom.server;

import dev.fathom.engine.Engine;

import com.fasterxml.jackson.databind.JsonNode;
import com.openai.client.OpenAIClient;
import com.openai.core.JsonValue;
import com.openai.core.http.StreamResponse;
import com.openai.errors.BadRequestException;
import com.openai.errors.UnprocessableEntityException;
import com.openai.models.chat.completions.ChatCompletion;
import com.openai.models.chat.completions.ChatCompletionChunk;
import com.openai.models.chat.completions.ChatCompletionCreateParams;
import com.openai.models.chat.completions.ChatCompletionStreamOptions;
import com.openai.models.completions.Completion;
import com.openai.models.completions.CompletionCreateParams;
import dev.fathom.chat.ChatMessage;
import dev.fathom.engine.GenerationRequest;
import dev.fathom.engine.GenerationResult;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

import static dev.fathom.server.TestServers.*;
import static org.junit.jupiter.api.Assertions.*;

/** The official OpenAI Java SDK against a running server with the v3-tiny model (DeepSeek-V3 template). */
class OpenAiClientTest {
    static FathomServer server;
    static OpenAIClient client;

    @BeforeAll
    static void start() {
        server = TestServers.start(ServerConfig.defaults(), new Engine.Options(8, 512, 32), tinyModel());
        client = TestServers.client(server, null);
    }

    @AfterAll
    static void stop() {
        server.close();
    }

    private static ChatCompletionCreateParams.Builder greedyChat(String user, long maxTokens) {
        return ChatCompletionCreateParams.builder().model("v3-tiny").addUserMessage(user).temperature(0.0).maxCompletionTokens(maxTokens);
    }

    /** The text the engine gives for this chat rendered with the model's template: what the server must return. */
    private static GenerationResult direct(List<ChatMessage> messages, String prefix, int maxTokens) {
        ServedModel m = server.model();
        String prompt = m.template().render(messages, true) + prefix;
        int[] ids = m.tokenizer().encode(prompt, false, true);
        return m.engine().generate(GenerationRequest.greedy(ids, maxTokens));
    }

    @Test
    void chatCompletionIsTheTemplatedGreedyContinuation() {
        ChatCompletion c = client.chat().completions().create(greedyChat("Write a haiku about the sea.", 12).build());
        GenerationResult expected = direct(List.of(ChatMessage.user("Write a haiku about the sea.")), "", 12);
        assertEquals(expected.text(), c.choices().getFirst().message().content().orElseThrow());
        assertEquals(ChatCompletion.Choice.FinishReason.LENGTH, c.choices().getFirst().finishReason());
        assertEquals("chat.completion", c._object_().asString().orElseThrow());
        assertEquals("v3-tiny", c.model());
        assertTrue(c.id().startsWith("chatcmpl-"));
        var usage = c.usage().orElseThrow();
        assertEquals(expected.promptTokens(), usage.promptTokens());
        assertEquals(12, usage.completionTokens());
        assertEquals(expected.promptTokens() + 12, usage.totalTokens());
        assertEquals(0L, usage._additionalProperties().get("prompt_cache_hit_tokens").convert(Long.class));
        assertEquals((long) expected.promptTokens(), usage._additionalProperties().get("prompt_cache_miss_tokens").convert(Long.class));
        assertEquals(0L, usage.completionTokensDetails().orElseThrow().reasoningTokens().orElseThrow());
    }

    @Test
    void streamingGivesTheSameTextThenUsageThenDone() {
        ChatCompletionCreateParams p = greedyChat("Tell me a story", 20)
                .streamOptions(ChatCompletionStreamOptions.builder().includeUsage(true).build()).build();
        String whole = client.chat().completions().create(p).choices().getFirst().message().content().orElseThrow();
        StringBuilder streamed = new StringBuilder();
        List<ChatCompletionChunk> chunks = new ArrayList<>();
        try (StreamResponse<ChatCompletionChunk> s = client.chat().completions().createStreaming(p)) {
            s.stream().forEach(chunks::add);
        }
        for (ChatCompletionChunk ch : chunks) {
            for (ChatCompletionChunk.Choice choice : ch.choices()) choice.delta().content().ifPresent(streamed::append);
        }
        assertEquals(whole, streamed.toString());
        assertEquals(ChatCompletionChunk.Choice.Delta.Role.ASSISTANT, chunks.getFirst().choices().getFirst().delta().role().orElseThrow());
        ChatCompletionChunk last = chunks.getLast();
        assertTrue(last.choices().isEmpty(), "the usage chunk has no choices");
        assertEquals(20, last.usage().orElseThrow().completionTokens());
        ChatCompletionChunk finish = chunks.get(chunks.size() - 2);
        assertEquals(ChatCompletionChunk.Choice.FinishReason.LENGTH, finish.choices().getFirst().finishReason().orElseThrow());
        for (ChatCompletionChunk ch : chunks.subList(0, chunks.size() - 1)) assertTrue(ch.usage().isEmpty());
    }

    @Test
    void prefixContinuationContinuesTheAssistantMessage() {
        ChatCompletionCreateParams p = greedyChat("Say something", 10)
                .addMessage(com.openai.models.chat.completions.ChatCompletionAssistantMessageParam.builder().content("Once upon")
                        .putAdditionalProperty("prefix", JsonValue.from(true)).build()).build();
        ChatCompletion c = client.chat().completions().create(p);
        GenerationResult expected = direct(List.of(ChatMessage.user("Say something")), "Once upon", 10);
        assertEquals(expected.text(), c.choices().getFirst().message().content().orElseThrow());
        assertEquals(expected.promptTokens(), c.usage().orElseThrow().promptTokens());
    }

    @Test
    void stopSequencesAndSeedsWork() {
        String full = client.chat().completions().create(greedyChat("Count", 30).build()).choices().getFirst().message().content().orElseThrow();
        String stop = full.substring(10, 13);
        ChatCompletion c = client.chat().completions().create(greedyChat("Count", 30).stop(stop).build());
        assertEquals(full.substring(0, full.indexOf(stop)), c.choices().getFirst().message().content().orElseThrow());
        assertEquals(ChatCompletion.Choice.FinishReason.STOP, c.choices().getFirst().finishReason());
        ChatCompletionCreateParams seeded = greedyChat("Count", 16).temperature(1.0).seed(11L).build();
        assertEquals(client.chat().completions().create(seeded).choices().getFirst().message().content(),
                client.chat().completions().create(seeded).choices().getFirst().message().content());
    }

    @Test
    void logprobsComeInOpenAisShape() {
        ChatCompletion c = client.chat().completions().create(greedyChat("Hi", 4).logprobs(true).topLogprobs(3).build());
        var content = c.choices().getFirst().logprobs().orElseThrow().content().orElseThrow();
        assertEquals(4, content.size());
        for (var t : content) {
            assertEquals(3, t.topLogprobs().size());
            assertEquals(t.token(), t.topLogprobs().getFirst().token(), "greedy takes the most likely token");
            assertTrue(t.logprob() <= 0);
        }
    }

    @Test
    void completionsAndFillInTheMiddle() throws Exception {
        Completion c = client.completions().create(CompletionCreateParams.builder().model("v3-tiny").prompt("The sea at night")
                .maxTokens(8).temperature(0.0).build());
        ServedModel m = server.model();
        int[] ids = m.tokenizer().encode("The sea at night");
        assertEquals(m.engine().generate(GenerationRequest.greedy(ids, 8)).text(), c.choices().getFirst().text());
        assertEquals(ids.length, c.usage().orElseThrow().promptTokens());

        Completion fim = client.completions().create(CompletionCreateParams.builder().model("v3-tiny").prompt("def add(a, b):")
                .suffix("    return c").maxTokens(8).temperature(0.0).build());
        int[] fimIds = m.tokenizer().encode("<｜fim▁begin｜>def add(a, b):<｜fim▁hole｜>    return c<｜fim▁end｜>");
        assertEquals(fimIds.length, fim.usage().orElseThrow().promptTokens());
        assertEquals(m.engine().generate(GenerationRequest.greedy(fimIds, 8)).text(), fim.choices().getFirst().text());
        // the raw shape, as DeepSeek's /beta/completions answers
        JsonNode raw = post(server, "/completions", "{\"prompt\":\"Hi\",\"max_tokens\":3,\"logprobs\":2}").json();
        assertEquals("text_completion", raw.get("object").asText());
        assertTrue(raw.has("system_fingerprint") && raw.has("created"));
        JsonNode lp = raw.at("/choices/0/logprobs");
        assertEquals(3, lp.get("tokens").size());
        assertEquals(3, lp.get("token_logprobs").size());
        assertEquals(2, lp.get("top_logprobs").get(0).size());
        assertEquals(0, lp.get("text_offset").get(0).asInt());
    }

    @Test
    void invalidParametersAre422NamingTheField() {
        UnprocessableEntityException e = assertThrows(UnprocessableEntityException.class,
                () -> client.chat().completions().create(greedyChat("Hi", 4).temperature(7.0).build()));
        assertEquals(422, e.statusCode());
        assertTrue(e.getMessage().contains("temperature"), e.getMessage());
        UnprocessableEntityException k = assertThrows(UnprocessableEntityException.class,
                () -> client.chat().completions().create(greedyChat("Hi", 4).putAdditionalBodyProperty("top_k", JsonValue.from("many")).build()));
        assertTrue(k.getMessage().contains("top_k"), k.getMessage());
    }

    @Test
    void aPromptLongerThanTheContextIs400WithBothNumbers() {
        BadRequestException e = assertThrows(BadRequestException.class,
                () -> client.chat().completions().create(greedyChat("word ".repeat(600), 4).build()));
        assertEquals(400, e.statusCode());
        assertTrue(e.getMessage().matches("(?s).*the prompt has \\d+ tokens but the context holds 512.*"), e.getMessage());
    }

    @Test
    void modelsListsTheServedModel() {
        var models = client.models().list();
        assertEquals("v3-tiny", models.data().getFirst().id());
    }
}
