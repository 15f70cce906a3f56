package dev.fathom.chat;

import dev.fathom.chat.ReasoningParser.Delta;
import dev.fathom.chat.ReasoningParser.Kind;
import dev.fathom.chat.ReasoningParser.Result;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ReasoningParserTest {
    /** Feeds the tokens one by one; returns every delta, then the final ones. */
    private static List<Delta> stream(ReasoningParser p, String... tokens) {
        List<Delta> all = new ArrayList<>();
        for (String t : tokens) {
            for (Delta d : p.feed(t)) {
                assertFalse(d.text().isEmpty());
                all.add(d);
            }
        }
        all.addAll(p.finish());
        return all;
    }

    private static Delta r(String text) {
        return new Delta(Kind.REASONING, text);
    }

    private static Delta c(String text) {
        return new Delta(Kind.CONTENT, text);
    }

    @Test
    void promptOpenedThinkOnlyCloseTagInOutput() {
        ReasoningParser p = new ReasoningParser(true);
        assertEquals(List.of(r("Let me"), r(" think."), c("Four.")),
                stream(p, "Let me", " think.", "</think>", "\n\n", "Four."));
        assertEquals("Let me think.", p.reasoning());
        assertEquals("Four.", p.content());
        assertEquals(3, p.reasoningTokens()); // "Let me", " think.", "</think>"
        assertEquals(5, p.tokens());
    }

    @Test
    void tagsSplitAcrossTokensNeverLeak() {
        ReasoningParser p = new ReasoningParser(false);
        List<Delta> d = new ArrayList<>();
        d.addAll(p.feed("<th"));
        assertEquals(List.of(), d); // might be <think>: held
        d.addAll(p.feed("ink>Hmm</"));
        assertEquals(List.of(r("Hmm")), d);
        d.addAll(p.feed("thi"));
        assertEquals(List.of(r("Hmm")), d);
        d.addAll(p.feed("nk>Answer"));
        assertEquals(List.of(r("Hmm"), c("Answer")), d);
        assertEquals(new Result("Hmm", "Answer"), new Result(p.reasoning(), p.content()));
    }

    @Test
    void aHeldPrefixThatIsNotATagIsReleased() {
        ReasoningParser p = new ReasoningParser(true);
        assertEquals(List.of(r("a ")), p.feed("a </"));
        assertEquals(List.of(r("</b> is bold ")), p.feed("b> is bold <"));
        assertEquals(List.of(r("<")), p.finish()); // unclosed: a held "<" at the end is reasoning too
        assertEquals("a </b> is bold <", p.reasoning());
        assertEquals("", p.content());
    }

    @Test
    void textBeforeThinkIsContent() {
        assertEquals(new Result("plan", "Sure. Done."), parse("Sure. <think>plan</think>Done.", false));
        ReasoningParser p = new ReasoningParser(false);
        assertEquals(List.of(c("Sure. "), r("plan"), c("Done.")), stream(p, "Sure. <think>plan</think>Done."));
    }

    @Test
    void noThinkAtAll() {
        assertEquals(new Result("", "Just an answer < with > brackets <thin"), parse("Just an answer < with > brackets <thin", false));
        ReasoningParser p = new ReasoningParser(false);
        assertEquals(List.of(c("Hello"), c(" "), c("<b>")), stream(p, "Hello", " <", "b>")); // "<" held one token
        assertEquals(0, p.reasoningTokens());
    }

    @Test
    void unclosedReasoningIsReasoning() {
        assertEquals(new Result("still thinking </thi", ""), parse("still thinking </thi", true));
        assertEquals(new Result("x", ""), parse("<think>x", false));
    }

    @Test
    void nestedAndDuplicateTags() {
        // Inside reasoning only </think> is a tag; after it nothing is.
        assertEquals(new Result("a <think>b", "c</think>d <think>e</think>"), parse("<think>a <think>b</think>c</think>d <think>e</think>", false));
        assertEquals(new Result("", "x"), parse("<think></think>x", false));
        assertEquals(new Result("", "x"), parse("</think>\n\nx", true));
    }

    @Test
    void whitespaceAfterCloseIsDroppedOnlyAtTheStart() {
        ReasoningParser p = new ReasoningParser(true);
        assertEquals(List.of(r("r"), c("A"), c("\n\n"), c("B")), stream(p, "r", "</think>", "\n", "\n", "A", "\n\n", "B"));
        assertEquals(new Result("r", ""), parse("r</think>\n\n", true));
    }

    @Test
    void reasoningTokensCountTagsAndReasoning() {
        ReasoningParser p = new ReasoningParser(false);
        stream(p, "Hi", "<think>", "a", "b", "</think>", "c");
        assertEquals(4, p.reasoningTokens());
        assertEquals(6, p.tokens());
        assertFalse(p.inReasoning());
    }

    @Test
    void anySplitIntoTokensGivesTheSameResult() {
        String[] outputs = {"pre<think>deep </th> thought</think>\n\nThe answer: <think> 42", "reason</think>ans</think>",
                "<<think>>a<</think>>", "no tags at all"};
        Random rnd = new Random(7);
        for (String out : outputs) {
            for (boolean starts : new boolean[] {false, true}) {
                Result whole = parse(out, starts);
                for (int trial = 0; trial < 200; trial++) {
                    ReasoningParser p = new ReasoningParser(starts);
                    StringBuilder rs = new StringBuilder(), cs = new StringBuilder();
                    List<Delta> deltas = new ArrayList<>();
                    int i = 0;
                    while (i < out.length()) {
                        int j = Math.min(out.length(), i + 1 + rnd.nextInt(5));
                        deltas.addAll(p.feed(out.substring(i, j)));
                        i = j;
                    }
                    deltas.addAll(p.finish());
                    for (Delta d : deltas) (d.kind() == Kind.REASONING ? rs : cs).append(d.text());
                    // Equal to the whole-text split: a tag cut by a token boundary was held back, not leaked.
                    assertEquals(whole, new Result(rs.toString(), cs.toString()), out);
                }
            }
        }
        assertEquals(new Result("deep </th> thought", "preThe answer: <think> 42"), parse(outputs[0], false));
        assertEquals(new Result(">a<", "<>"), parse(outputs[2], false));
        assertEquals(new Result("<<think>>a<", ">"), parse(outputs[2], true));
    }

    @Test
    void startsInReasoningFromThePrompt() {
        assertTrue(ReasoningParser.startsInReasoning("<｜User｜>Hi<｜Assistant｜><think>\n"));
        assertTrue(ReasoningParser.startsInReasoning("<｜User｜>Hi<｜Assistant｜><think>"));
        assertFalse(ReasoningParser.startsInReasoning("<｜User｜>Hi<｜Assistant｜><think></think>"));
        assertFalse(ReasoningParser.startsInReasoning("<｜User｜>Hi<｜Assistant｜>"));
    }

    private static Result parse(String s, boolean starts) {
        return ReasoningParser.parse(s, starts);
    }
}
