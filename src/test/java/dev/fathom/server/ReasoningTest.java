package dev.fathom.server;

import com.fasterxml.jackson.databind.JsonNode;
import com.openai.client.OpenAIClient;
import com.openai.core.JsonValue;
import com.openai.core.http.StreamResponse;
import com.openai.models.chat.completions.ChatCompletion;
import com.openai.models.chat.completions.ChatCompletionChunk;
import com.openai.models.chat.completions.ChatCompletionCreateParams;
import dev.fathom.Fixtures;
import dev.fathom.chat.ChatTemplate;
import dev.fathom.engine.Engine;
import dev.fathom.checkpoint.Checkpoint;
import dev.fathom.gguf.GgufFile;
import dev.fathom.gguf.GgufMetadata;
import dev.fathom.gguf.GgufWriter;
import dev.fathom.model.Transformer;
import dev.fathom.model.LanguageModel;
import dev.fathom.tensor.Tensor;
import dev.fathom.tokenizer.Tokenizer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;

import static dev.fathom.server.TestServers.*;
import static org.junit.jupiter.api.Assertions.*;

/**
 * Reasoning models: the R1 template opens {@code <think>} itself, so the output holds only {@code </think>}. Random
 * weights never write {@code </think>}, so one test uses the real model file with the R1 template (everything is
 * reasoning), and one scripts the model's choices (a wrapper that makes one token certain per step) to check
 * the split end to end; the parser's own rules are tested in ReasoningParserTest.
 */
class ReasoningTest {
    @TempDir
    Path dir;

    static String r1Template() throws Exception {
        return Files.readString(Fixtures.golden("chat-templates/deepseek-ai-DeepSeek-R1-Distill-Llama-8B.jinja"));
    }

    /** v3-tiny's tensors with DeepSeek-R1's chat template. */
    private Path r1Model() throws Exception {
        Path out = dir.resolve("r1-tiny.gguf");
        try (GgufFile f = GgufFile.open(tinyModel())) {
            GgufWriter w = new GgufWriter(GgufMetadata.builder().putAll(f.metadata()).putString(ChatTemplate.GGUF_KEY, r1Template())
                    .putString("general.name", "r1-tiny").build());
            for (Tensor t : f.tensors().values()) w.addTensor(t.name(), t.type(), t.shape(), t.data());
            w.write(out);
        }
        return out;
    }

    /** The dense R1-Distill shapes (Qwen2, Llama) with their own templates: served as reasoning models, streaming too. */
    @org.junit.jupiter.params.ParameterizedTest
    @org.junit.jupiter.params.provider.ValueSource(strings = {"qwen2-tiny", "llama-tiny"})
    void r1DistillModelsAnswerWithReasoningContent(String preset) throws Exception {
        Path file = dir.resolve(preset + ".gguf");
        new dev.fathom.testmodel.TestModelWriter(dev.fathom.testmodel.Preset.fromCliName(preset), 0,
                dev.fathom.convert.QuantMix.Q8_0, 3).prepare().write(file);
        try (FathomServer s = start(ServerConfig.defaults(), new Engine.Options(2, 512, 4), file)) {
            assertTrue(s.model().reasoning(), "the R1-Distill template opens <think>");
            OpenAIClient client = client(s, null);
            ChatCompletion c = client.chat().completions().create(ChatCompletionCreateParams.builder().model(preset)
                    .addUserMessage("Why is the sky blue?").maxCompletionTokens(12).temperature(0.0).build());
            var msg = c.choices().getFirst().message();
            String reasoning = msg._additionalProperties().get("reasoning_content").convert(String.class);
            assertFalse(reasoning.isEmpty());
            assertEquals(12L, c.usage().orElseThrow().completionTokensDetails().orElseThrow().reasoningTokens().orElseThrow());
            StringBuilder streamed = new StringBuilder();
            try (StreamResponse<ChatCompletionChunk> stream = client.chat().completions().createStreaming(ChatCompletionCreateParams.builder()
                    .model(preset).addUserMessage("Why is the sky blue?").maxCompletionTokens(12).temperature(0.0).build())) {
                stream.stream().forEach(ch -> ch.choices().forEach(choice -> {
                    JsonValue r = choice.delta()._additionalProperties().get("reasoning_content");
                    if (r != null && !r.isNull()) streamed.append(r.convert(String.class));
                }));
            }
            assertEquals(reasoning, streamed.toString(), "streamed reasoning equals the non-streamed one (greedy)");
        }
    }

    @Test
    void anUnclosedThinkIsAllReasoningAndCounted() throws Exception {
        try (FathomServer s = start(ServerConfig.defaults(), new Engine.Options(2, 512, 4), r1Model())) {
            assertTrue(s.model().reasoning());
            ChatCompletion c = client(s, null).chat().completions().create(ChatCompletionCreateParams.builder().model("r1-tiny")
                    .addUserMessage("Why is the sky blue?").maxCompletionTokens(16).temperature(0.0).build());
            var msg = c.choices().getFirst().message();
            String reasoning = msg._additionalProperties().get("reasoning_content").convert(String.class);
            assertFalse(reasoning.isEmpty());
            assertEquals("", msg.content().orElseThrow());
            var usage = c.usage().orElseThrow();
            assertEquals(16, usage.completionTokens());
            assertEquals(16L, usage.completionTokensDetails().orElseThrow().reasoningTokens().orElseThrow());
        }
    }

    /** Makes the model choose a scripted answer: after the prompt, token i of the script is the only likely one. */
    static final class Scripted implements LanguageModel {
        final LanguageModel inner;
        final int[] script;

        Scripted(LanguageModel inner, int[] script) {
            this.inner = inner;
            this.script = script;
        }

        static final class Seq implements Sequence {
            final Sequence inner;
            int promptLength;

            Seq(Sequence inner) {
                this.inner = inner;
            }

            public int length() { return inner.length(); }
            public int capacity() { return inner.capacity(); }
            public Sequence fork() { throw new UnsupportedOperationException(); }
            public void truncate(int length) { inner.truncate(length); }
            public void close() { inner.close(); }
        }

        public int vocabSize() { return inner.vocabSize(); }
        public int maxContextLength() { return inner.maxContextLength(); }
        public long activeWeightBytesPerToken() { return inner.activeWeightBytesPerToken(); }
        public Sequence newSequence(int n) { return new Seq(inner.newSequence(n)); }

        public float[][] forward(Sequence s, int[] tokens, int startPos, boolean all) {
            Seq q = (Seq) s;
            inner.forward(q.inner, tokens, startPos, all);
            q.promptLength = startPos + tokens.length;
            float[] l = new float[vocabSize()];
            force(l, 0);
            return new float[][] {l};
        }

        public void decode(Sequence s, int token, int pos, float[] logits) {
            Seq q = (Seq) s;
            inner.decode(q.inner, token, pos, logits);
            force(logits, pos - q.promptLength + 1);
        }

        void force(float[] l, int i) {
            Arrays.fill(l, -30f);
            l[script[Math.min(i, script.length - 1)]] = 30f;
        }
    }

    @Test
    void thinkingIsSplitFromTheAnswerStreamingAndNot() throws Exception {
        try (Checkpoint f = Checkpoint.open(tinyModel())) {
            Tokenizer tok = f.tokenizer();
            String answer = "Hmm, let me think.</think>\n\nThe answer is 42.";
            int[] text = tok.encode(answer, false, true);
            int[] script = Arrays.copyOf(text, text.length + 1);
            script[text.length] = tok.eosId();
            assertTrue(tok.isEndOfGeneration(tok.eosId()));
            int closeEnd = answer.indexOf("</think>") + "</think>".length();
            int expectedReasoningTokens = 0;
            for (int i = 0; i < text.length; i++) if (tok.decode(Arrays.copyOf(text, i)).length() < closeEnd) expectedReasoningTokens++;

            ChatTemplate r1 = ChatTemplate.of(r1Template(), tok.tokenText(tok.bosId()), tok.tokenText(tok.eosId()));
            Transformer real = Transformer.load(f, 1);
            Engine engine = new Engine(new Scripted(real, script), tok, new Engine.Options(2, 256, 4));
            ServedModel m = new ServedModel("r1-scripted", 0, engine, tok, r1, null, true, dev.fathom.checkpoint.SamplingDefaults.NONE, null, real);
            try (FathomServer s = new FathomServer(ServerConfig.defaults().withPort(0)).start()) {
                s.serve(m);
                OpenAIClient client = client(s, null);
                ChatCompletionCreateParams p = ChatCompletionCreateParams.builder().model("r1").addUserMessage("What is six times seven?")
                        .maxCompletionTokens(100).temperature(0.0).build();
                ChatCompletion c = client.chat().completions().create(p);
                var msg = c.choices().getFirst().message();
                assertEquals("Hmm, let me think.", msg._additionalProperties().get("reasoning_content").convert(String.class));
                assertEquals("The answer is 42.", msg.content().orElseThrow());
                assertEquals(ChatCompletion.Choice.FinishReason.STOP, c.choices().getFirst().finishReason());
                var usage = c.usage().orElseThrow();
                assertEquals(text.length, usage.completionTokens());
                assertEquals((long) expectedReasoningTokens, usage.completionTokensDetails().orElseThrow().reasoningTokens().orElseThrow());

                StringBuilder reasoning = new StringBuilder(), content = new StringBuilder();
                try (StreamResponse<ChatCompletionChunk> st = client.chat().completions().createStreaming(p)) {
                    st.stream().forEach(ch -> ch.choices().forEach(choice -> {
                        choice.delta().content().ifPresent(content::append);
                        JsonValue r = choice.delta()._additionalProperties().get("reasoning_content");
                        if (r != null && !r.isNull()) reasoning.append(r.convert(String.class));
                        assertFalse(choice.delta().content().orElse("").contains("<"), "no tag fragment in content");
                    }));
                }
                assertEquals("Hmm, let me think.", reasoning.toString());
                assertEquals("The answer is 42.", content.toString());
                JsonNode raw = post(s, "/v1/chat/completions", "{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"max_tokens\":100,\"temperature\":0}").json();
                assertEquals("Hmm, let me think.", raw.at("/choices/0/message/reasoning_content").asText());
            }
        }
    }
}
