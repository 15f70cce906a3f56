package dev.fathom.server;

import com.fasterxml.jackson.databind.JsonNode;
import dev.fathom.engine.Engine;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.util.List;

import static dev.fathom.server.TestServers.*;
import static org.junit.jupiter.api.Assertions.*;

/** Request bodies bound to typed records: every wrong type, range or rule names its field, the shared ones alike on both generation endpoints. */
class ServerBindingTest {
    static FathomServer server;
    private static final String CHAT = "{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"max_tokens\":2";
    private static final String COMPLETION = "{\"prompt\":\"hi\",\"max_tokens\":2";

    @BeforeAll
    static void start() {
        server = TestServers.start(ServerConfig.defaults(), new Engine.Options(2, 256, 8), tinyModel());
    }

    @AfterAll
    static void stop() {
        server.close();
    }

    /** The 422 for body, with its param and message. */
    private static void assertInvalid(String path, String body, String param, String message) throws Exception {
        Reply r = post(server, path, body);
        assertEquals(422, r.status(), body + " -> " + r.body());
        JsonNode e = r.json().get("error");
        assertEquals(param, e.get("param").asText(), r.body());
        assertEquals("invalid_parameter", e.get("code").asText(), r.body());
        assertEquals(param + ": " + message, e.get("message").asText(), r.body());
        assertFalse(r.body().contains("Exception") || r.body().contains("jackson") || r.body().contains("Requests$"), r.body());
    }

    @Test
    void theSharedFieldsAreCheckedAlikeOnBothEndpoints() throws Exception {
        List<String[]> cases = List.of(
                new String[] {"\"temperature\":\"warm\"", "temperature", "must be a number, got \"warm\""},
                new String[] {"\"temperature\":3", "temperature", "must be between 0 and 2, got 3"},
                new String[] {"\"top_p\":true", "top_p", "must be a number, got true"},
                new String[] {"\"top_k\":1.5", "top_k", "must be an integer, got 1.5"},
                new String[] {"\"top_k\":-1", "top_k", "must be an integer between 0 and 2147483647, got -1"},
                new String[] {"\"seed\":\"7\"", "seed", "must be an integer, got \"7\""},
                new String[] {"\"presence_penalty\":-2.5", "presence_penalty", "must be between -2 and 2, got -2.5"},
                new String[] {"\"max_completion_tokens\":0", "max_completion_tokens", "must be an integer between 1 and 2147483647, got 0"},
                new String[] {"\"stream\":\"yes\"", "stream", "must be true or false, got \"yes\""},
                new String[] {"\"stream_options\":{\"include_usage\":1}", "stream_options.include_usage", "must be true or false, got 1"},
                new String[] {"\"stream_options\":[]", "stream_options", "must be an object, got []"},
                new String[] {"\"response_format\":{\"type\":7}", "response_format.type", "must be a string, got 7"},
                new String[] {"\"model\":5", "model", "must be a string, got 5"},
                new String[] {"\"n\":2", "n", "only 1 choice per request is supported, got 2"},
                new String[] {"\"stop\":{\"a\":1}", "stop", "must be a string or a list of strings, got {\"a\":1}"});
        for (String[] c : cases) {
            assertInvalid("/v1/chat/completions", CHAT + "," + c[0] + "}", c[1], c[2]);
            assertInvalid("/v1/completions", COMPLETION + "," + c[0] + "}", c[1], c[2]);
        }
    }

    @Test
    void chatMessagesNameTheMessageAndField() throws Exception {
        assertInvalid("/v1/chat/completions", "{\"messages\":\"hi\"}", "messages", "must be a list, got \"hi\"");
        assertInvalid("/v1/chat/completions", "{\"messages\":[]}", "messages", "must be a non-empty list of messages, got []");
        assertInvalid("/v1/chat/completions", "{\"messages\":[\"hi\"]}", "messages[0]", "must be an object, got \"hi\"");
        assertInvalid("/v1/chat/completions", "{\"messages\":[{\"role\":\"user\",\"content\":\"a\"},{\"role\":5,\"content\":\"b\"}]}",
                "messages[1].role", "must be a string, got 5");
        assertInvalid("/v1/chat/completions", "{\"messages\":[{\"role\":\"robot\",\"content\":\"a\"}]}",
                "messages[0].role", "must be one of system, developer, user, assistant, tool, got \"robot\"");
        assertInvalid("/v1/chat/completions", "{\"messages\":[{\"role\":\"user\",\"content\":\"a\",\"prefix\":\"no\"}]}",
                "messages[0].prefix", "must be true or false, got \"no\"");
        assertInvalid("/v1/chat/completions", "{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"image_url\"}]}]}",
                "messages[0].content[0]", "only {\"type\": \"text\", \"text\": ...} parts are supported, got {\"type\":\"image_url\"}");
        assertInvalid("/v1/chat/completions", "{\"messages\":[{\"role\":\"assistant\",\"tool_calls\":[{\"id\":\"c1\",\"function\":{}}]},"
                + "{\"role\":\"user\",\"content\":\"x\"}]}", "messages[0].tool_calls[0].function.name", "is required");
        assertInvalid("/v1/chat/completions", "{\"messages\":[{\"role\":\"assistant\",\"tool_calls\":[{\"id\":3,\"function\":{\"name\":\"f\"}}]},"
                + "{\"role\":\"user\",\"content\":\"x\"}]}", "messages[0].tool_calls[0].id", "must be a string, got 3");
        assertInvalid("/v1/chat/completions", CHAT + ",\"logprobs\":true,\"top_logprobs\":21}", "top_logprobs", "must be an integer between 0 and 20, got 21");
        assertInvalid("/v1/chat/completions", CHAT + ",\"top_logprobs\":2}", "top_logprobs", "needs \"logprobs\": true");
    }

    @Test
    void chatMessageRulesNameTheMessageAndField() throws Exception {
        String path = "/v1/chat/completions";
        assertInvalid(path, "{}", "messages", "is required (a list of {role, content} objects)");
        assertInvalid(path, "{\"messages\":null}", "messages", "is required (a list of {role, content} objects)");
        assertInvalid(path, "{\"messages\":[null]}", "messages[0]", "must be an object with role and content, got null");
        assertInvalid(path, "{\"messages\":[{\"content\":\"a\"}]}", "messages[0].role", "is required");
        assertInvalid(path, "{\"messages\":[{\"role\":\"user\"}]}", "messages[0].content", "is required for a user message");
        assertInvalid(path, "{\"messages\":[{\"role\":\"developer\"},{\"role\":\"user\",\"content\":\"a\"}]}",
                "messages[0].content", "is required for a system message");
        assertInvalid(path, "{\"messages\":[{\"role\":\"assistant\"},{\"role\":\"user\",\"content\":\"a\"}]}",
                "messages[0].content", "is required for an assistant message");
        assertInvalid(path, "{\"messages\":[{\"role\":\"user\",\"content\":5}]}", "messages[0].content", "must be a string or a list of text parts, got 5");
        assertInvalid(path, "{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"text\"}]}]}", "messages[0].content[0].text", "is required");
        assertInvalid(path, "{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"a\"},{\"type\":\"text\",\"text\":5}]}]}",
                "messages[0].content[1].text", "must be a string, got 5");
        assertInvalid(path, "{\"messages\":[{\"role\":\"user\",\"content\":[\"a\"]}]}",
                "messages[0].content[0]", "only {\"type\": \"text\", \"text\": ...} parts are supported, got \"a\"");
        assertInvalid(path, "{\"messages\":[{\"role\":\"tool\",\"content\":\"42\"}]}", "messages[0].tool_call_id", "is required for a tool message");
        assertInvalid(path, "{\"messages\":[{\"role\":\"assistant\",\"content\":\"a\",\"prefix\":true},{\"role\":\"user\",\"content\":\"b\"}]}",
                "messages[0].prefix", "only the last message, an assistant message, can be a prefix to continue");
        assertInvalid(path, "{\"messages\":[{\"role\":\"assistant\",\"tool_calls\":[null]},{\"role\":\"user\",\"content\":\"x\"}]}",
                "messages[0].tool_calls[0].function.name", "is required");
        assertInvalid(path, "{\"messages\":[{\"role\":\"user\",\"content\":\"a\",\"tool_calls\":5}]}", "messages[0].tool_calls", "must be a list, got 5");
        Reply developer = post(server, path, "{\"messages\":[{\"role\":\"developer\",\"content\":\"Be brief.\"},{\"role\":\"user\",\"content\":\"hi\"},"
                + "{\"role\":\"assistant\"}],\"max_tokens\":2}");
        assertEquals(200, developer.status(), "developer is system; a last assistant message needs no content: " + developer.body());
    }

    @Test
    void theSharedRulesBeyondTypesAreCheckedAlikeOnBothEndpoints() throws Exception {
        List<String[]> cases = List.of(
                new String[] {"\"top_p\":0", "top_p", "must be greater than 0 and at most 1, got 0"},
                new String[] {"\"stop\":[\"a\",1]", "stop", "must be a string or a list of strings, item 1 is 1"},
                new String[] {"\"stop\":[\"\"]", "stop", "a stop sequence is empty"},
                new String[] {"\"stop\":" + JSON.valueToTree(java.util.Collections.nCopies(17, "x")), "stop", "at most 16 stop sequences, got 17"},
                new String[] {"\"response_format\":{\"type\":\"xml\"}", "response_format.type", "must be \"text\" or \"json_object\", got \"xml\""},
                new String[] {"\"response_format\":{}", "response_format.type", "must be \"text\" or \"json_object\", got nothing"},
                new String[] {"\"max_tokens\":2147483648", "max_tokens", "must be an integer between 1 and 2147483647, got 2147483648"},
                new String[] {"\"seed\":1e30", "seed", "must be an integer, got 1.0E30"});
        for (String[] c : cases) {
            assertInvalid("/v1/chat/completions", CHAT + "," + c[0] + "}", c[1], c[2]);
            assertInvalid("/beta/completions", COMPLETION + "," + c[0] + "}", c[1], c[2]);
        }
    }

    @Test
    void completionRulesNameTheField() throws Exception {
        String path = "/v1/completions";
        assertInvalid(path, "{\"max_tokens\":2}", "prompt", "is required (a string)");
        assertInvalid(path, "{\"prompt\":[\"a\",\"b\"]}", "prompt", "only one prompt per request is supported, got a list of 2 (send one request per prompt)");
        assertInvalid(path, "{\"prompt\":{\"a\":1}}", "prompt", "must be a string or a list of token ids, got {\"a\":1}");
        assertInvalid(path, "{\"prompt\":[1,2],\"suffix\":\"b\"}", "prompt", "must be a string, got [1,2]");
        assertInvalid(path, "{\"prompt\":[1.5]}", "prompt[0]", "must be a token id in 0.." + (server.model().tokenizer().vocabSize() - 1)
                + " (or give the prompt as a string), got 1.5");
        assertInvalid(path, "{\"prompt\":\"a\",\"suffix\":\"b\",\"echo\":true}", "echo", "cannot be combined with suffix");
        assertInvalid(path, "{\"prompt\":\"a\",\"echo\":true,\"logprobs\":1}", "echo",
                "cannot be combined with logprobs here (the prompt's log-probabilities are not computed)");
        assertInvalid(path, COMPLETION + ",\"logprobs\":21}", "logprobs", "must be an integer between 0 and 20, got 21");
    }

    @Test
    void tokenizerRulesNameTheField() throws Exception {
        assertInvalid("/tokenize", "{}", "content", "is required (the text to tokenize)");
        assertInvalid("/v1/tokenize", "{\"prompt\":true}", "prompt", "must be a string, got true");
        assertInvalid("/detokenize", "{}", "tokens", "is required (a list of token ids)");
        assertInvalid("/detokenize", "{\"tokens\":null}", "tokens", "is required (a list of token ids)");
        assertInvalid("/detokenize", "{\"tokens\":[1,\"2\"]}", "tokens[1]", "must be a token id in 0.." + (server.model().tokenizer().vocabSize() - 1) + ", got \"2\"");
        Reply tokens = post(server, "/tokenize", "{\"prompt\":\"hi\",\"add_special\":false}");
        assertEquals(200, tokens.status(), tokens.body());
        Reply text = post(server, "/detokenize", "{\"tokens\":" + tokens.json().get("tokens") + "}");
        assertEquals("hi", text.json().get("content").asText(), text.body());
    }

    /** The engine's one length check is answered on the endpoint's prompt field. */
    @Test
    void aPromptLongerThanTheContextIsA400OnThePromptField() throws Exception {
        String words = "word ".repeat(300);
        for (String[] c : new String[][] {{"/v1/chat/completions", "{\"messages\":[{\"role\":\"user\",\"content\":\"" + words + "\"}]}", "messages"},
                {"/v1/completions", "{\"prompt\":\"" + words + "\"}", "prompt"}}) {
            Reply r = post(server, c[0], c[1]);
            assertEquals(400, r.status(), r.body());
            JsonNode e = r.json().get("error");
            assertEquals(c[2], e.get("param").asText(), r.body());
            assertEquals("context_length_exceeded", e.get("code").asText(), r.body());
            assertTrue(e.get("message").asText().matches("the prompt has \\d+ tokens but the context holds 256.*"), r.body());
        }
    }

    @Test
    void completionAndTokenizerFieldsAreChecked() throws Exception {
        assertInvalid("/v1/completions", COMPLETION + ",\"logprobs\":true}", "logprobs", "must be an integer, got true");
        assertInvalid("/v1/completions", COMPLETION + ",\"echo\":\"yes\"}", "echo", "must be true or false, got \"yes\"");
        assertInvalid("/v1/completions", COMPLETION + ",\"suffix\":[1]}", "suffix", "must be a string, got [1]");
        assertInvalid("/v1/completions", "{\"prompt\":[1,2,-3]}", "prompt[2]", "must be a token id in 0.." + (server.model().tokenizer().vocabSize() - 1)
                + " (or give the prompt as a string), got -3");
        assertInvalid("/tokenize", "{\"content\":\"x\",\"with_pieces\":\"yes\"}", "with_pieces", "must be true or false, got \"yes\"");
        assertInvalid("/tokenize", "{\"content\":5}", "content", "must be a string, got 5");
        assertInvalid("/detokenize", "{\"tokens\":\"1 2\"}", "tokens", "must be a list of token ids, got \"1 2\"");
    }

    /** Without a server: the shared fields bind to one record at the top level of either body, read the same way. */
    @Test
    void theGenerationFieldsAreOneRecordAtTheTopLevelOfEitherBody() throws Exception {
        String shared = "\"temperature\":1,\"top_k\":3,\"stop\":\"x\",\"stream\":true,\"stream_options\":{\"include_usage\":true},\"max_tokens\":9";
        Requests.ChatCompletionRequest chat = RequestBinding.chat(JSON.readTree("{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]," + shared + "}"));
        Requests.CompletionRequest completion = RequestBinding.completion(JSON.readTree("{\"prompt\":[\"hi\"]," + shared + ",\"generation\":{\"n\":2}}"));
        assertEquals(chat.generation(), completion.generation(), "\"generation\" is no field of the JSON");
        Requests.GenerationFields g = chat.generation();
        assertEquals(1.0, g.temperature(), "an integer is a number");
        assertEquals(3L, g.topK());
        assertEquals(List.of("x"), g.stopSequences());
        assertTrue(g.streaming() && g.includeUsage());
        assertNull(g.n());
        assertEquals("hi", completion.onePrompt().textValue(), "a list of one prompt is that prompt");
        assertEquals(-1, chat.topLogprobsCount());

        ApiException e = assertThrows(ApiException.class, () -> RequestBinding.completion(JSON.readTree("{\"prompt\":\"a\",\"stream_options\":{\"include_usage\":\"y\"}}")));
        assertEquals("stream_options.include_usage", e.param(), "an unwrapped record adds no name of its own");
        e = assertThrows(ApiException.class, () -> RequestBinding.chat(JSON.readTree("{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"min_p\":2}")));
        assertEquals("min_p", e.param());
        assertEquals("min_p: must be between 0 and 1, got 2", e.getMessage());
    }

    @Test
    void unknownFieldsAreIgnoredAndGoodRequestsAnswer() throws Exception {
        Reply chat = post(server, "/v1/chat/completions", CHAT + ",\"temperature\":0,\"user\":\"me\",\"metadata\":{\"a\":[1,{\"b\":2}]},"
                + "\"stream_options\":null,\"stop\":[\"\\n\\n\"]}");
        assertEquals(200, chat.status(), chat.body());
        assertEquals(2, chat.json().at("/usage/completion_tokens").asInt());
        Reply completion = post(server, "/v1/completions", COMPLETION + ",\"temperature\":1,\"top_p\":0.5,\"seed\":-3,\"best_of\":1}");
        assertEquals(200, completion.status(), completion.body());
    }
}
