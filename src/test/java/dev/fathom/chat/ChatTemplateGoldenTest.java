package dev.fathom.chat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.fathom.Fixtures;
import org.junit.jupiter.api.Named;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** Every case of shared/golden/chat-templates/cases.json renders to its expected text exactly. */
class ChatTemplateGoldenTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    static Stream<Arguments> cases() throws IOException {
        Path dir = Fixtures.golden("chat-templates");
        List<Arguments> out = new ArrayList<>();
        for (JsonNode c : JSON.readTree(dir.resolve("cases.json").toFile())) {
            out.add(Arguments.of(Named.of(c.get("template").asText() + " / " + c.get("case_id").asText(), c), dir));
        }
        return out.stream();
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void rendersExactly(JsonNode c, Path dir) throws IOException {
        String source = Files.readString(dir.resolve(c.get("template_file").asText()));
        ChatTemplate t = ChatTemplate.of(source, text(c.get("bos_token")), text(c.get("eos_token")));
        @SuppressWarnings("unchecked")
        List<Map<String, Object>> messages = JSON.convertValue(c.get("messages"), List.class);
        List<?> tools = c.has("tools") ? JSON.convertValue(c.get("tools"), List.class) : null;
        String got = t.renderMaps(messages, c.get("add_generation_prompt").asBoolean(), tools, Map.of());
        assertEquals(c.get("expected").asText(), got);
    }

    private static String text(JsonNode n) {
        return n == null || n.isNull() ? null : n.asText();
    }
}
