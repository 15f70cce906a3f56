package dev.fathom.server;

import com.fasterxml.jackson.databind.JsonNode;
import dev.fathom.engine.Engine;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.util.List;

import static dev.fathom.server.TestServers.*;
import static org.junit.jupiter.api.Assertions.*;

/** Request bodies bound to typed records: every wrong type or range names its field, the same way on every endpoint. */
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
