package dev.fathom.cli;

import dev.fathom.FathomException;
import dev.fathom.chat.ChatMessage;
import dev.fathom.chat.ChatTemplate;
import dev.fathom.chat.ReasoningParser;
import dev.fathom.engine.Engine;
import dev.fathom.engine.FinishReason;
import dev.fathom.engine.Generation;
import dev.fathom.engine.GenerationEvent;
import dev.fathom.engine.GenerationRequest;
import dev.fathom.engine.GenerationResult;
import dev.fathom.checkpoint.SamplingDefaults;
import dev.fathom.engine.SamplingParams;
import dev.fathom.model.LoadedModel;
import dev.fathom.tokenizer.Tokenizer;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import sun.misc.Signal;
import sun.misc.SignalHandler;

import java.io.BufferedReader;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;

@Command(name = "chat", mixinStandardHelpOptions = true,
        header = "Chats with a model in the terminal, with its own chat template.",
        description = "An interactive chat in the terminal with the model's own chat template, on the same engine as"
                + " `fathom serve`. Answers stream as they are generated; a reasoning model's thinking is shown dimmed."
                + " Commands: /reset forgets the conversation, /exit (or end of input) quits. Ctrl-C stops the answer"
                + " and keeps the conversation; Ctrl-C twice at the prompt quits. The oldest turns are dropped when the"
                + " conversation no longer fits in the context.")
final class ChatCommand implements Callable<Integer> {
    static final String DIM = "\u001b[2m", RESET = "\u001b[0m";
    /** Where the user's lines come from (tests replace it). */
    static InputStream input = System.in;
    /** What Ctrl-C acts on in the chat now running (the signal handler and tests call it). */
    static volatile Interrupts interrupts;

    /** What Ctrl-C did. */
    enum Interrupt { STOPPED_ANSWER, HINT, QUIT }

    /** Ctrl-C stops the answer streaming now; at the prompt, the first one shows a hint and the second quits. */
    static final class Interrupts {
        private boolean answering;   // between submitting an answer and its end
        private Generation answer;   // the answer, once submit returned it
        private boolean stopAsked;   // Ctrl-C came before submit returned
        private boolean armed;       // Ctrl-C pressed once at the prompt

        /** Called before the answer is submitted: its first tokens may stream before {@link #streaming} runs. */
        synchronized void answering() {
            answering = true;
            stopAsked = false;
            armed = false;
        }

        synchronized void streaming(Generation g) {
            answer = g;
            if (stopAsked) g.cancel();
        }

        synchronized void atPrompt() {
            answering = false;
            answer = null;
        }

        synchronized void lineRead() {
            armed = false;
        }

        synchronized Interrupt interrupt() {
            if (answering) {
                if (answer != null) answer.cancel();
                else stopAsked = true;
                return Interrupt.STOPPED_ANSWER;
            }
            if (armed) return Interrupt.QUIT;
            armed = true;
            return Interrupt.HINT;
        }
    }

    @Spec
    CommandSpec spec;

    @Mixin
    ModelOption model;

    @Mixin
    CacheOptions cache;

    @Option(names = {"-s", "--system"}, paramLabel = "TEXT", description = "A system message opening the conversation.")
    String system;

    @Option(names = {"-n", "--max-tokens"}, paramLabel = "N", defaultValue = "512", description = "Tokens per answer at most (default: ${DEFAULT-VALUE}).")
    int maxTokens;

    @Option(names = "--temp", paramLabel = "T", description = "Temperature; 0 = greedy (default: the model's recommended, from generation_config.json or GGUF general.sampling.temp, else 0.6).")
    Float temperature;

    @Option(names = "--top-p", paramLabel = "P", description = "Top-p, 1 = off (default: the model's recommended, else 0.95).")
    Float topP;

    @Option(names = "--seed", paramLabel = "S", description = "Random seed (default: random).")
    Long seed;

    @Option(names = "--ctx", paramLabel = "N", defaultValue = "4096", description = "Context length for the conversation (default: ${DEFAULT-VALUE}).")
    int ctx;

    @Option(names = "--stats", description = "After each answer, print on standard error its prompt tokens (how many came from the context cache), time to first token and speed.")
    boolean stats;

    @Option(names = "--color", negatable = true, description = "Dim the reasoning with ANSI colours (default: when on a terminal).")
    Boolean color;

    @Override
    public Integer call() throws Exception {
        PrintWriter out = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        if (maxTokens < 1) throw new FathomException("-n must be >= 1, got " + maxTokens);
        boolean dim = color != null ? color : System.console() != null && input == System.in;
        Interrupts ctrlC = new Interrupts();
        SignalHandler previous = null;
        try (LoadedModel m = model.load(err)) {
            Tokenizer tokenizer = m.tokenizer();
            ChatTemplate template = m.requireTemplate();
            boolean reasoningModel = template.isReasoning();
            long s = seed != null ? seed : new java.security.SecureRandom().nextLong();
            SamplingDefaults recommended = m.checkpoint().samplingDefaults();
            float answerTemperature = temperature != null ? temperature : recommended.temperature(0.6f);
            float answerTopP = topP != null ? topP : recommended.topP(0.95f);
            cache.apply(m, 1, ctx, 0, err); // each turn re-sends the conversation: its earlier blocks hit
            try (Engine engine = new Engine(m.model(), tokenizer, new Engine.Options(1, ctx, 1))) {
                int context = engine.contextLength();
                ModelOption.warnContext(err, ctx, context);
                if (maxTokens >= context) throw new FathomException("-n (" + maxTokens + ") must be smaller than the context (" + context + ")");
                List<ChatMessage> history = new ArrayList<>();
                BufferedReader in = new BufferedReader(new InputStreamReader(input, StandardCharsets.UTF_8));
                interrupts = ctrlC;
                if (input == System.in) previous = onCtrlC(ctrlC, out, dim); // only now: while loading, Ctrl-C quits at once
                err.println("fathom chat: " + m.id() + ", context " + context + " tokens. /reset forgets, /exit quits, "
                        + "Ctrl-C stops an answer.");
                err.flush();
                while (true) {
                    out.print("> ");
                    out.flush();
                    String line = in.readLine();
                    ctrlC.lineRead();
                    if (line == null) {
                        out.println(); // Ctrl-D: the shell's prompt starts on a line of its own
                        break;
                    }
                    if (line.strip().equals("/exit")) break;
                    if (line.strip().equals("/reset")) {
                        history.clear();
                        out.println("(conversation reset)");
                        continue;
                    }
                    if (line.isBlank()) continue;
                    history.add(ChatMessage.user(line));
                    // keep the conversation within the context: drop the oldest turns until prompt + answer fit
                    int[] ids;
                    String prompt;
                    while (true) {
                        prompt = template.render(withSystem(history), true);
                        ids = ChatTemplate.encodePrompt(tokenizer, prompt);
                        if (ids.length + maxTokens <= context || history.size() <= 1) break;
                        history.removeFirst();
                        while (!history.isEmpty() && !history.getFirst().role().equals("user")) history.removeFirst();
                    }
                    if (ids.length + maxTokens > context) {
                        history.removeLast();
                        err.println("fathom: this message has " + ids.length + " tokens; with " + maxTokens
                                + " for the answer it does not fit in the context of " + context + " (raise --ctx or lower -n)");
                        err.flush();
                        continue;
                    }
                    ReasoningParser parser = reasoningModel
                            ? new ReasoningParser(ReasoningParser.startsInReasoning(prompt)) : null;
                    boolean[] inDim = {false};
                    GenerationRequest req = GenerationRequest.greedy(ids, maxTokens)
                            .withSampling(new SamplingParams(answerTemperature, 0, answerTopP, 0f, s + history.size()));
                    ctrlC.answering();
                    long submitted = System.nanoTime();
                    long[] firstToken = {0};
                    Generation g = engine.submit(req, e -> {
                        if (e instanceof GenerationEvent.Output o) {
                            if (firstToken[0] == 0 && !o.tokens().isEmpty()) firstToken[0] = System.nanoTime();
                            if (parser == null) out.print(o.text());
                            else for (ReasoningParser.Delta d : parser.feed(o.text())) show(out, d, dim, inDim);
                            out.flush();
                        }
                    });
                    ctrlC.streaming(g);
                    GenerationResult r = g.result().join();
                    ctrlC.atPrompt();
                    if (parser != null) for (ReasoningParser.Delta d : parser.finish()) show(out, d, dim, inDim);
                    if (inDim[0]) out.print(RESET);
                    out.println();
                    if (r.finishReason() == FinishReason.LENGTH) out.println("(answer cut at " + r.completionTokens() + " tokens)");
                    if (r.finishReason() == FinishReason.CANCELLED) out.println("(answer stopped)");
                    if (r.finishReason() == FinishReason.ERROR) throw new IllegalStateException("generation failed", r.error());
                    out.flush();
                    if (stats) printStats(err, r, submitted, firstToken[0], System.nanoTime());
                    history.add(ChatMessage.assistant(parser == null ? r.text() : parser.content()));
                }
            }
        } finally {
            interrupts = null;
            if (previous != null) Signal.handle(new Signal("INT"), previous);
            if (dim) {
                out.print(RESET); // whatever happened, the terminal is not left dimmed
                out.flush();
            }
        }
        return 0;
    }

    /** Routes Ctrl-C (SIGINT) to {@code ctrlC}; returns the handler it replaces, or null where it cannot. */
    private static SignalHandler onCtrlC(Interrupts ctrlC, PrintWriter out, boolean dim) {
        try {
            return Signal.handle(new Signal("INT"), sig -> {
                switch (ctrlC.interrupt()) {
                    case STOPPED_ANSWER -> { } // the chat loop prints "(answer stopped)" and the prompt
                    case HINT -> {
                        out.print("\n(Ctrl-C again to quit, or /exit)\n> ");
                        out.flush();
                    }
                    case QUIT -> {
                        out.println(dim ? RESET : "");
                        out.flush();
                        System.exit(130); // the main thread is blocked reading the terminal
                    }
                }
            });
        } catch (IllegalArgumentException e) {
            return null; // signals are reserved (-Xrs): Ctrl-C keeps its default, quitting
        }
    }

    private static void printStats(PrintWriter err, GenerationResult r, long submitted, long firstToken, long end) {
        String speed = firstToken == 0 ? "" : String.format(java.util.Locale.ROOT, ", first token after %.0f ms", (firstToken - submitted) / 1e6)
                + (r.completionTokens() < 2 ? "" : String.format(java.util.Locale.ROOT, ", %.1f tokens/s",
                (r.completionTokens() - 1) / ((end - firstToken) / 1e9)));
        err.println("(prompt " + r.promptTokens() + " tokens, " + r.cachedTokens() + " from the context cache; answer "
                + r.completionTokens() + " tokens" + speed + ")");
        err.flush();
    }

    private List<ChatMessage> withSystem(List<ChatMessage> history) {
        if (system == null) return history;
        List<ChatMessage> all = new ArrayList<>(history.size() + 1);
        all.add(ChatMessage.system(system));
        all.addAll(history);
        return all;
    }

    private static void show(PrintWriter out, ReasoningParser.Delta d, boolean dim, boolean[] inDim) {
        boolean reasoning = d.kind() == ReasoningParser.Kind.REASONING;
        if (dim && reasoning != inDim[0]) {
            out.print(reasoning ? DIM : RESET);
            inDim[0] = reasoning;
        }
        out.print(d.text());
    }
}
