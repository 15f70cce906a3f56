package dev.fathom.cli;

import dev.fathom.Fixtures;
import dev.fathom.chat.ChatMessage;
import dev.fathom.chat.ChatTemplate;
import dev.fathom.engine.Engine;
import dev.fathom.engine.GenerationRequest;
import dev.fathom.checkpoint.Checkpoint;
import dev.fathom.model.Transformer;
import dev.fathom.tokenizer.Tokenizer;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayInputStream;
import java.nio.charset.StandardCharsets;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

class ChatCommandTest {
    /** The greedy answer to a conversation, straight from the engine. */
    private static String answer(List<ChatMessage> conversation, int n) throws Exception {
        try (Checkpoint f = Checkpoint.open(Fixtures.golden("v3-tiny/model.gguf"))) {
            Tokenizer t = f.tokenizer();
            String prompt = ChatTemplate.forModel(f.chatTemplate().orElse(null), f.architecture(), t).render(conversation, true);
            try (Transformer m = Transformer.load(f, Runtime.getRuntime().availableProcessors()); Engine e = new Engine(m, t, new Engine.Options(1, 512, 1))) {
                return e.generate(GenerationRequest.greedy(t.encode(prompt, false, true), n)).text();
            }
        }
    }

    private static FathomCliTest.Run chat(String input, String... extra) {
        ChatCommand.input = new ByteArrayInputStream(input.getBytes(StandardCharsets.UTF_8));
        try {
            String[] args = new String[] {"chat", "-m", Fixtures.golden("v3-tiny/model.gguf").toString(), "--temp", "0", "-n", "6"};
            String[] all = java.util.Arrays.copyOf(args, args.length + extra.length);
            System.arraycopy(extra, 0, all, args.length, extra.length);
            return FathomCliTest.run(all);
        } finally {
            ChatCommand.input = System.in;
        }
    }

    @Test
    void keepsHistoryResetsAndExits() throws Exception {
        FathomCliTest.Run r = chat("Hello\nHow are you?\n/reset\nHow are you?\n/exit\nnever read\n", "--ctx", "512");
        assertEquals(0, r.code(), r.err());
        String first = answer(List.of(ChatMessage.user("Hello")), 6);
        String second = answer(List.of(ChatMessage.user("Hello"), ChatMessage.assistant(first), ChatMessage.user("How are you?")), 6);
        String fresh = answer(List.of(ChatMessage.user("How are you?")), 6);
        assertNotEquals(second, fresh, "the history changes the answer (else this test shows nothing)");
        String expected = "> " + first + "\n(answer cut at 6 tokens)\n> " + second + "\n(answer cut at 6 tokens)\n> (conversation reset)\n> "
                + fresh + "\n(answer cut at 6 tokens)\n> ";
        assertEquals(expected, r.out().replace("\r\n", "\n"));
    }

    @Test
    void theSecondTurnHitsOnTheFirstInTheContextCache() {
        String system = "You are terse." + " Always answer in one short line, and never repeat the question.".repeat(8);
        FathomCliTest.Run r = chat("Hello\nHow are you?\n/exit\n", "--ctx", "512", "--stats", "-s", system);
        assertEquals(0, r.code(), r.err());
        java.util.regex.Matcher m = java.util.regex.Pattern.compile("\\(prompt (\\d+) tokens, (\\d+) from the context cache; answer 6 tokens")
                .matcher(r.err());
        assertTrue(m.find(), r.err());
        int firstPrompt = Integer.parseInt(m.group(1));
        assertEquals(0, Integer.parseInt(m.group(2)), "the first turn computes everything");
        assertTrue(firstPrompt >= 128, "the system message fills whole blocks: " + firstPrompt);
        assertTrue(m.find(), r.err());
        int hit = Integer.parseInt(m.group(2));
        assertEquals(0, hit % 64);
        assertTrue(hit >= firstPrompt / 64 * 64, "the second turn re-sends the first: " + hit + " of its " + firstPrompt + " hit");
    }

    @Test
    void oldTurnsAreDroppedToFitTheContext() {
        // a 64-token context with 6 tokens per answer holds about two turns; the chat goes on regardless
        FathomCliTest.Run r = chat("one two three four five\nsix seven eight nine ten\neleven twelve thirteen\nfourteen fifteen\n", "--ctx", "48");
        assertEquals(0, r.code(), r.err());
        assertEquals(4, r.out().split("\\(answer cut at 6 tokens\\)", -1).length - 1, r.out());
        FathomCliTest.Run tooLong = chat("word ".repeat(100) + "\n/exit\n", "--ctx", "48");
        assertEquals(0, tooLong.code());
        assertTrue(tooLong.err().contains("does not fit in the context of 48"), tooLong.err());
    }

    @Test
    void ctrlCStopsTheAnswerThenHintsThenQuits() throws Exception {
        try (Checkpoint f = Checkpoint.open(Fixtures.golden("v3-tiny/model.gguf"));
             Transformer m = Transformer.load(f, 1); Engine e = new Engine(m, f.tokenizer(), new Engine.Options(1, 512, 1))) {
            ChatCommand.Interrupts ctrlC = new ChatCommand.Interrupts();
            assertEquals(ChatCommand.Interrupt.HINT, ctrlC.interrupt(), "the first Ctrl-C at the prompt only hints");
            ctrlC.lineRead();
            assertEquals(ChatCommand.Interrupt.HINT, ctrlC.interrupt(), "a line read in between disarms it");
            ctrlC.answering();
            var g = e.submit(GenerationRequest.greedy(f.tokenizer().encode("Hello"), 400), ev -> {});
            ctrlC.streaming(g);
            assertEquals(ChatCommand.Interrupt.STOPPED_ANSWER, ctrlC.interrupt());
            assertEquals(dev.fathom.engine.FinishReason.CANCELLED, g.result().join().finishReason());
            ctrlC.atPrompt();
            // Ctrl-C after submitting but before submit returned (the first tokens stream on the engine thread meanwhile)
            ctrlC.answering();
            assertEquals(ChatCommand.Interrupt.STOPPED_ANSWER, ctrlC.interrupt());
            var early = e.submit(GenerationRequest.greedy(f.tokenizer().encode("Hello"), 400), ev -> {});
            ctrlC.streaming(early);
            assertEquals(dev.fathom.engine.FinishReason.CANCELLED, early.result().join().finishReason(), "the early Ctrl-C stops it");
            ctrlC.atPrompt();
            assertEquals(ChatCommand.Interrupt.HINT, ctrlC.interrupt(), "streaming disarmed the earlier Ctrl-C");
            assertEquals(ChatCommand.Interrupt.QUIT, ctrlC.interrupt(), "the second Ctrl-C at the prompt quits");
        }
    }

    /** Ctrl-C during the first answer: the answer stops, the chat goes on with the partial answer in its history. */
    @Test
    void ctrlCKeepsTheConversation() throws Exception {
        java.io.StringWriter out = new java.io.StringWriter() {
            boolean sent;

            @Override
            public void write(String str, int off, int len) {
                super.write(str, off, len);
                if (!sent && toString().length() > 2) { // the first answer text after "> "
                    sent = true;
                    assertEquals(ChatCommand.Interrupt.STOPPED_ANSWER, ChatCommand.interrupts.interrupt());
                }
            }
        };
        java.io.StringWriter err = new java.io.StringWriter();
        ChatCommand.input = new ByteArrayInputStream("Hello\nHow are you?\n".getBytes(StandardCharsets.UTF_8));
        int code;
        try {
            code = FathomCli.execute(new String[] {"chat", "-m", Fixtures.golden("v3-tiny/model.gguf").toString(), "--temp", "0",
                    "-n", "400", "--ctx", "1024"}, new java.io.PrintWriter(out, true), new java.io.PrintWriter(err, true));
        } finally {
            ChatCommand.input = System.in;
        }
        assertEquals(0, code, err.toString());
        String text = out.toString().replace("\r\n", "\n");
        int stopped = text.indexOf("\n(answer stopped)\n> ");
        assertTrue(stopped > 2, text);
        String partial = text.substring(2, stopped);
        String second = answer(List.of(ChatMessage.user("Hello"), ChatMessage.assistant(partial), ChatMessage.user("How are you?")), 400);
        assertEquals("> " + partial + "\n(answer stopped)\n> " + second + "\n(answer cut at 400 tokens)\n> \n", text,
                "the second answer follows the kept conversation; Ctrl-D ends with a newline");
        assertNull(ChatCommand.interrupts, "no chat running");
    }
}
