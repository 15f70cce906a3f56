package dev.fathom.model;

import dev.fathom.CacheDirectory;
import dev.fathom.FathomException;
import dev.fathom.chat.ChatTemplate;
import dev.fathom.checkpoint.Checkpoint;
import dev.fathom.checkpoint.Fingerprint;
import dev.fathom.kv.BlockHash;
import dev.fathom.kv.DiskBlockStore;
import dev.fathom.kv.KvBlockPool;
import dev.fathom.kv.PrefixCache;
import dev.fathom.tokenizer.Tokenizer;

import java.io.IOException;
import java.nio.file.Path;

/**
 * A model ready to run, as every command and the server get it: the checkpoint (kept open: the weights are mapped
 * from it), the transformer, its tokenizer, its chat template and its id. Opening is the one loading path, for any
 * file format the {@link Checkpoint} layer reads.
 *
 * @param template      the model's chat template, or null when it has none (see {@code templateError})
 * @param templateError why there is no template (null when there is one)
 */
public record LoadedModel(String id, Checkpoint checkpoint, Transformer model, Tokenizer tokenizer, ChatTemplate template,
                          String templateError) implements AutoCloseable {

    /** Opens a model file (GGUF, single or split) and builds it on {@code threads} kernel threads. */
    public static LoadedModel open(Path path, int threads) throws IOException {
        Checkpoint checkpoint = Checkpoint.open(path);
        try {
            Transformer model = Transformer.load(checkpoint, threads);
            Tokenizer tokenizer = checkpoint.tokenizer();
            ChatTemplate template = null;
            String error = null;
            try {
                template = ChatTemplate.forModel(checkpoint.chatTemplate().orElse(null), checkpoint.architecture(), tokenizer);
            } catch (FathomException e) {
                error = e.getMessage();
            }
            return new LoadedModel(checkpoint.name(), checkpoint, model, tokenizer, template, error);
        } catch (RuntimeException e) {
            checkpoint.close();
            throw e;
        }
    }

    /** The chat template, or the reason there is none as an error. */
    public ChatTemplate requireTemplate() {
        if (template == null) throw new FathomException(templateError);
        return template;
    }

    /**
     * Keeps full KV blocks for reuse by later sequences: up to {@code memoryBytes} of unused blocks in memory and,
     * when {@code diskBytes > 0}, up to that many bytes of block files in {@code directory} (null: a folder of this
     * model's own under the {@link CacheDirectory}).
     *
     * @throws FathomException the directory cannot be used or another process holds it
     */
    public PrefixCache usePrefixCache(long memoryBytes, Path directory, long diskBytes) {
        BlockHash root = BlockHash.root(Fingerprint.of(checkpoint), model.kvFormat());
        KvBlockPool pool = model.kvPool();
        DiskBlockStore disk = diskBytes <= 0 ? null : new DiskBlockStore(
                directory != null ? directory : CacheDirectory.path().resolve("kv").resolve(root.hex()), root,
                pool.layers(), pool.entry(), diskBytes);
        PrefixCache cache = new PrefixCache(pool, root, memoryBytes, disk);
        model.usePrefixCache(cache);
        return cache;
    }

    /** The prefix cache set by {@link #usePrefixCache}, or null. */
    public PrefixCache prefixCache() {
        return model.prefixCache();
    }

    /** Writes the prefix cache's pending blocks, stops the model's threads and unmaps the files. */
    @Override
    public void close() {
        PrefixCache cache = prefixCache();
        if (cache != null) cache.close();
        model.close();
        checkpoint.close();
    }
}
