package dev.fathom.chat;

import dev.fathom.Fixtures;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.nio.file.Files;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

/**
 * The prefix cache serves a conversation's next turn only as far as the template renders the history as the last
 * turn's prompt plus the answer the model gave. Each golden template is checked for that; the R1 templates drop
 * the reasoning of earlier answers (as DeepSeek's API asks), so their shared text ends where the answer began.
 */
class MultiTurnRenderingTest {
    private static final String BOS = "<｜begin▁of▁sentence｜>", EOS = "<｜end▁of▁sentence｜>";

    @ParameterizedTest
    @ValueSource(strings = {"deepseek-ai-DeepSeek-V3.jinja", "deepseek-ai-DeepSeek-V3.1.jinja", "Qwen-Qwen2.5-7B-Instruct.jinja",
            "deepseek-ai-DeepSeek-R1-Distill-Llama-8B.jinja", "deepseek-ai-DeepSeek-R1-Distill-Qwen-32B.jinja", "llama-cpp-deepseek-r1.jinja"})
    void theNextTurnStartsWithTheLastPromptAndItsAnswer(String name) throws Exception {
        ChatTemplate t = ChatTemplate.of(Files.readString(Fixtures.golden("chat-templates/" + name)), BOS, EOS);
        List<ChatMessage> first = List.of(ChatMessage.system("Be brief."), ChatMessage.user("What is MLA?"));
        String prompt = t.render(first, true);
        boolean reasoning = t.isReasoning();
        String answer = "Latent attention.";
        String generated = (reasoning ? "Let me think.\n</think>\n\n" : "") + answer; // what the model's tokens spell
        String next = t.render(List.of(first.get(0), first.get(1), ChatMessage.assistant(answer), ChatMessage.user("And MoE?")), true);
        if (reasoning) {
            assertTrue(next.startsWith(prompt.substring(0, prompt.length() - trailingThink(prompt))), name + ": the last prompt is kept");
            assertFalse(next.startsWith(prompt + generated), name + ": the reasoning of an earlier answer is not re-sent");
        } else {
            assertTrue(next.startsWith(prompt + answer), name + ": history re-rendered as prompt + answer\n" + next);
        }
    }

    /** Length of a trailing {@code <think>\n} an R1 template opens the answer with (the history does not repeat it). */
    private static int trailingThink(String prompt) {
        return prompt.endsWith("<think>\n") ? "<think>\n".length() : 0;
    }
}
