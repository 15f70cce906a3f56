package dev.fathom.chat;

import dev.fathom.FathomException;
import dev.fathom.Fixtures;
import dev.fathom.gguf.GgufMetadata;
import dev.fathom.tokenizer.Tokenizer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ChatTemplateTest {
    private static final String BOS = "<｜begin▁of▁sentence｜>";
    private static final String EOS = "<｜end▁of▁sentence｜>";

    private static String golden(String file) throws IOException {
        return Files.readString(Fixtures.golden("chat-templates/" + file));
    }

    private static String render(String template, Map<String, ?> extra) {
        return ChatTemplate.of(template, BOS, EOS).renderMaps(List.of(), false, null, extra);
    }

    @Test
    void chatMessagesRenderLikeTheirMaps() throws IOException {
        ChatTemplate t = ChatTemplate.of(golden("llama-cpp-deepseek-r1.jinja"), BOS, EOS);
        var call = new ChatMessage.ToolCall("call_1", "get_weather", "{\"city\": \"Paris\"}");
        List<ChatMessage> conversation = List.of(
                ChatMessage.system("Be brief."),
                ChatMessage.user("Weather?"),
                ChatMessage.assistant(null, List.of(call)),
                ChatMessage.tool("call_1", "{\"sky\": \"cloudy\"}"),
                ChatMessage.assistant("<think>easy</think>Cloudy."),
                ChatMessage.user("Thanks"));
        String expected = BOS + "Be brief.<｜User｜>Weather?<｜end▁of▁sentence｜><｜Assistant｜><｜tool▁calls▁begin｜>"
                + "<｜tool▁call▁begin｜>function<｜tool▁sep｜>get_weather\n```json\n\"{\\\"city\\\": \\\"Paris\\\"}\"\n```"
                + "<｜tool▁call▁end｜><｜tool▁calls▁end｜><｜end▁of▁sentence｜><｜tool▁outputs▁begin｜>\n<｜tool▁output▁begin｜>"
                + "{\"sky\": \"cloudy\"}<｜tool▁output▁end｜><｜tool▁outputs▁end｜><｜end▁of▁sentence｜>"
                + "<｜Assistant｜>Cloudy.<｜end▁of▁sentence｜><｜User｜>Thanks<｜end▁of▁sentence｜><｜Assistant｜><think>\n";
        assertEquals(expected, t.render(conversation, true));
    }

    /** render_failures.json: templates that concatenate a string with object arguments print them as JSON. */
    @Test
    void objectArgumentsInStringTemplatesRenderAsJson() throws IOException {
        for (String file : List.of("deepseek-ai-DeepSeek-V3.jinja", "deepseek-ai-DeepSeek-R1-Distill-Llama-8B.jinja")) {
            ChatTemplate t = ChatTemplate.of(golden(file), BOS, EOS);
            var asObject = List.of(ChatMessage.user("Weather?"), ChatMessage.assistant(null,
                    List.of(new ChatMessage.ToolCall(null, "get_weather", Map.of("city", "Paris")))));
            var asString = List.of(ChatMessage.user("Weather?"), ChatMessage.assistant(null,
                    List.of(new ChatMessage.ToolCall(null, "get_weather", "{\"city\": \"Paris\"}"))));
            String rendered = t.render(asObject, false);
            assertTrue(rendered.contains("```json\n{\"city\": \"Paris\"}\n```"), rendered);
            assertEquals(t.render(asString, false), rendered);
        }
    }

    @Test
    void raiseExceptionThrowsTheTemplatesMessage() {
        var e = assertThrows(FathomException.class, () -> render(
                "{% if messages|length == 0 %}{{ raise_exception('Conversation roles must alternate') }}{% endif %}", Map.of()));
        assertEquals("chat template: Conversation roles must alternate", e.getMessage());
    }

    @Test
    void syntaxErrorsAreFathomExceptions() {
        var e = assertThrows(FathomException.class, () -> render("{{ foo( }}", Map.of()));
        assertTrue(e.getMessage().startsWith("chat template: "), e.getMessage());
    }

    @Test
    void pythonStringMethods() {
        Map<String, Object> v = Map.of("s", "  a</think>b</think>c.d  ");
        assertEquals("c.d", render("{{ s.split('</think>')[-1].strip() }}", v));
        assertEquals("b</think>c.d", render("{{ s.split('</think>', 1)[1].strip() }}", v));
        assertEquals("[\"a\", \"b\"]", render("{{ 'a b'.split() | tojson }}", v));
        assertEquals("yes|no|yes", render("{{ 'yes' if s.strip().startswith('a') else 'no' }}|"
                + "{{ 'yes' if s.endswith('d') else 'no' }}|{{ 'yes' if s.rstrip().endswith(('x', 'd')) else 'no' }}", v));
        assertEquals("y|yxx|xxy", render("{{ 'xxyxx'.strip('x') }}|{{ 'xxyxx'.lstrip('x') }}|{{ 'xxyxx'.rstrip('x') }}", v));
        assertEquals("A-B|a.b|Hello World", render("{{ 'a.b'.replace('.', '-').upper() }}|{{ '-'.join(['a', 'b']).replace('-', '.') }}|{{ 'hello world'.title() }}", v));
    }

    @Test
    void tojsonIsPythonJsonDumps() {
        Map<String, Object> v = Map.of("x", Map.of("k", List.of(1, 2.5, "é\n\"", true)), "e", List.of());
        assertEquals("{\"k\": [1, 2.5, \"é\\n\\\"\", true]}|[]", render("{{ x | tojson }}|{{ e | tojson }}", v));
        assertEquals("{\n  \"k\": [\n    1,\n    2.5,\n    \"é\\n\\\"\",\n    true\n  ]\n}", render("{{ x | tojson(indent=2) }}", v));
    }

    @Test
    void ggufTemplateAndTokens() throws IOException {
        GgufMetadata md = Tokenizer.deepSeekV3Metadata();
        Tokenizer tok = Tokenizer.deepSeekV3();
        ChatTemplate t = ChatTemplate.forModel(md.getString(ChatTemplate.GGUF_KEY), "deepseek2", tok);
        assertEquals(BOS, t.bosToken());
        assertEquals(EOS, t.eosToken());
        assertEquals(BOS + "<｜User｜>Hi<｜Assistant｜>", t.render(List.of(ChatMessage.user("Hi")), true));
        // The bundled fallback is the same DeepSeek-V3 template.
        assertEquals(md.getString(ChatTemplate.GGUF_KEY), ChatTemplate.deepSeekV3(BOS, EOS).source());
        assertEquals(golden("deepseek-ai-DeepSeek-V3.jinja"), ChatTemplate.deepSeekV3(BOS, EOS).source());
    }

    @Test
    void deepseek2WithoutTemplateFallsBackToV3OthersFail() {
        Tokenizer tok = Tokenizer.deepSeekV3();
        assertEquals(ChatTemplate.deepSeekV3(BOS, EOS).source(), ChatTemplate.forModel(null, "deepseek2", tok).source());
        var e = assertThrows(FathomException.class, () -> ChatTemplate.forModel(null, "llama", tok));
        assertTrue(e.getMessage().contains("no chat template"), e.getMessage());
    }

    @Test
    void tokenizerConfigForms(@TempDir Path dir) throws IOException {
        Path plain = dir.resolve("a.json");
        Files.writeString(plain, """
                {"bos_token": {"content": "<s>", "lstrip": false}, "eos_token": "</s>",
                 "chat_template": "{{ bos_token }}{% for m in messages %}{{ m.content }}{% endfor %}{{ eos_token }}"}""");
        ChatTemplate t = ChatTemplate.fromTokenizerConfig(plain);
        assertEquals("<s>hi</s>", t.render(List.of(ChatMessage.user("hi")), false));

        Path named = dir.resolve("b.json");
        Files.writeString(named, """
                {"eos_token": "</s>", "chat_template": [{"name": "tool_use", "template": "T"}, {"name": "default", "template": "D"}]}""");
        assertEquals("D", ChatTemplate.fromTokenizerConfig(named).source());
        assertEquals(null, ChatTemplate.fromTokenizerConfig(named).bosToken());

        Path folder = Files.createDirectory(dir.resolve("model"));
        Files.writeString(folder.resolve("tokenizer_config.json"), "{\"eos_token\": \"</s>\"}");
        var e = assertThrows(FathomException.class, () -> ChatTemplate.fromTokenizerConfig(folder));
        assertTrue(e.getMessage().contains("no 'chat_template'"), e.getMessage());
        Files.writeString(folder.resolve("chat_template.jinja"), "J");
        assertEquals("J", ChatTemplate.fromTokenizerConfig(folder).source());
    }
}
