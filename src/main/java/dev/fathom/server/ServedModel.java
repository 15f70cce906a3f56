package dev.fathom.server;

import dev.fathom.chat.ChatTemplate;
import dev.fathom.checkpoint.SamplingDefaults;
import dev.fathom.engine.Engine;
import dev.fathom.kv.PrefixCache;
import dev.fathom.model.LoadedModel;
import dev.fathom.tokenizer.Tokenizer;

import java.io.IOException;
import java.nio.file.Path;

/**
 * A loaded model as the server serves it: its id, the engine running it, its tokenizer and chat template.
 *
 * @param template      the model's chat template, or null when it has none ({@code /chat/completions} then answers 400)
 * @param templateError why there is no template
 * @param resources     closed after the engine (the model's threads, the mapped files)
 * @param reasoning     a reasoning model (R1 and its distills): its template opens {@code <think>} or handles
 *                      {@code </think>}; its answers get {@code reasoning_content}
 * @param sampling      the sampling its publisher recommends: a request's defaults where it gives none
 * @param prefixCache   the model's context cache, or null when it keeps none
 */
public record ServedModel(String id, long created, Engine engine, Tokenizer tokenizer, ChatTemplate template,
                          String templateError, boolean reasoning, SamplingDefaults sampling, PrefixCache prefixCache,
                          AutoCloseable resources) implements AutoCloseable {

    /** Opens a model and starts its engine on all cores; the model's id is its name, else the file name. */
    public static ServedModel load(Path path, Engine.Options options) throws IOException {
        return load(path, options, Runtime.getRuntime().availableProcessors());
    }

    /** As {@link #load(Path, Engine.Options)} with {@code threads} kernel threads. */
    public static ServedModel load(Path path, Engine.Options options, int threads) throws IOException {
        return load(path, options, threads, m -> {});
    }

    /** Setting up a loaded model before its engine starts (its prefix cache). */
    @FunctionalInterface
    public interface Setup {
        void accept(LoadedModel model) throws IOException;
    }

    /** As {@link #load(Path, Engine.Options, int)}, with {@code setup} run on the model before the engine starts. */
    public static ServedModel load(Path path, Engine.Options options, int threads, Setup setup) throws IOException {
        LoadedModel m = LoadedModel.open(path, threads);
        try {
            setup.accept(m);
            Engine engine = new Engine(m.model(), m.tokenizer(), options);
            ChatTemplate t = m.template();
            return new ServedModel(m.id(), System.currentTimeMillis() / 1000, engine, m.tokenizer(), t, m.templateError(),
                    t != null && t.isReasoning(), m.checkpoint().samplingDefaults(), m.prefixCache(), m);
        } catch (RuntimeException | IOException e) {
            m.close();
            throw e;
        }
    }

    @Override
    public void close() throws Exception {
        engine.close();
        resources.close();
    }
}
