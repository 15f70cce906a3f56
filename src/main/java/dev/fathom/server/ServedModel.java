package dev.fathom.server;

import dev.fathom.FathomException;
import dev.fathom.chat.ChatTemplate;
import dev.fathom.engine.Engine;
import dev.fathom.gguf.GgufFile;
import dev.fathom.model.DeepSeekModel;
import dev.fathom.tokenizer.Tokenizer;

import java.io.IOException;
import java.nio.file.Path;

/**
 * A loaded model as the server serves it: its id, the engine running it, its tokenizer and chat template.
 *
 * @param template      the model's chat template, or null when it has none ({@code /chat/completions} then answers 400)
 * @param templateError why there is no template
 * @param resources     closed after the engine (the model's threads, the mapped file)
 * @param reasoning     a reasoning model (R1 and its distills): its template opens {@code <think>} or handles
 *                      {@code </think>}; its answers get {@code reasoning_content}
 */
public record ServedModel(String id, long created, Engine engine, Tokenizer tokenizer, ChatTemplate template,
                          String templateError, boolean reasoning, AutoCloseable resources) implements AutoCloseable {

    /** Opens a GGUF model and starts its engine on all cores; the model's id is its {@code general.name}, else the file name. */
    public static ServedModel load(Path path, Engine.Options options) throws IOException {
        return load(path, options, Runtime.getRuntime().availableProcessors());
    }

    /** As {@link #load(Path, Engine.Options)} with {@code threads} kernel threads. */
    public static ServedModel load(Path path, Engine.Options options, int threads) throws IOException {
        GgufFile file = GgufFile.open(path);
        DeepSeekModel model = null;
        try {
            model = DeepSeekModel.load(file, threads);
            Tokenizer tokenizer = Tokenizer.fromGguf(file);
            ChatTemplate template = null;
            String error = null;
            try {
                template = ChatTemplate.fromGguf(file.metadata(), tokenizer);
            } catch (FathomException e) {
                error = e.getMessage();
            }
            String name = file.metadata().findString("general.name").filter(n -> !n.isBlank())
                    .orElse(path.getFileName().toString().replaceFirst("(?i)\\.gguf$", ""));
            Engine engine = new Engine(model, tokenizer, options);
            DeepSeekModel m = model;
            AutoCloseable resources = () -> {
                m.close();
                file.close();
            };
            return new ServedModel(name, System.currentTimeMillis() / 1000, engine, tokenizer, template, error,
                    template != null && template.isReasoning(), resources);
        } catch (RuntimeException e) {
            if (model != null) model.close();
            file.close();
            throw e;
        }
    }

    @Override
    public void close() throws Exception {
        engine.close();
        resources.close();
    }
}
