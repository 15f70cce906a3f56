package dev.fathom.model;

import dev.fathom.FathomException;
import dev.fathom.checkpoint.Checkpoint;
import dev.fathom.kernel.Kernels;
import dev.fathom.kernel.WorkerPool;
import dev.fathom.kv.BlockTable;
import dev.fathom.kv.KvBlockPool;
import dev.fathom.kv.PrefixCache;
import dev.fathom.tensor.Tensor;

import java.util.Arrays;

/**
 * The decoder-only transformer every supported architecture is (model.py's {@code Transformer}): an embedding, per
 * layer {@code x += attn(attn_norm(x))} and {@code x += ffn(ffn_norm(x))} with RMSNorm, then the final norm and the
 * output head. The parts are chosen by the config: attention is {@link LatentAttention} (DeepSeek MLA) or
 * {@link GroupedQueryAttention} (Qwen2, Llama); the feed-forward of a layer is {@link SwiGluMlp} or
 * {@link DeepSeekMoe}. Weights come from a {@link Checkpoint} by canonical name and are used in place.
 *
 * <p>Every entry point runs the same computation over a batch of rows, one row = (sequence, token, position): a
 * prompt is a batch of consecutive positions of one sequence (in chunks of {@link #MAX_ROWS}), a continuous-batching
 * step one row per sequence. Each weight is applied to all rows at once (matrix-matrix kernels reuse each decoded
 * weight block across rows), and a row's result does not depend on the other rows. Sequences keep their KV cache in
 * 64-token blocks of the model's {@link KvBlockPool}. Calls are serialised: one forward pass at a time runs on the
 * model's kernels (which own the worker threads).
 */
public final class Transformer implements LanguageModel, AutoCloseable {
    /** Rows per forward pass: prompts run in chunks of this many tokens, batches in groups of this many sequences. */
    public static final int MAX_ROWS = 256;

    private final ModelConfig config;
    private final Tensor embed;
    private final float[] norm;
    private final Tensor head;
    private final float[][] attnNorm, ffnNorm;
    private final Attention attention;
    private final FeedForward[] ffn;
    private final long activeBytes;
    private final KvBlockPool kvPool;
    private volatile PrefixCache prefixCache;
    private final WorkerPool pool;
    private final Kernels k;
    private final Rows rows;
    private final float[] x, xn, tmp, ffnOut;
    private float[] logits = new float[0];

    private Transformer(ModelConfig c, Checkpoint ckpt, int threads) {
        this.config = c;
        int maxRow = 0;
        for (Tensor t : ckpt.storedTensors().values()) maxRow = (int) Math.max(maxRow, t.rowLength());
        this.pool = new WorkerPool(threads);
        this.k = Kernels.vector(maxRow, pool);
        try {
            int h = c.hiddenSize(), layers = c.numHiddenLayers();
            Weights w = new Weights(ckpt);
            embed = w.embedding(c.vocabSize(), h);
            attnNorm = new float[layers][];
            ffnNorm = new float[layers][];
            for (int i = 0; i < layers; i++) {
                attnNorm[i] = w.vector("layers." + i + ".attn_norm.weight", h);
                ffnNorm[i] = w.vector("layers." + i + ".ffn_norm.weight", h);
            }
            ffn = new FeedForward[layers];
            switch (c) {
                case DeepSeekConfig d -> {
                    attention = new LatentAttention(d, w, k, pool, MAX_ROWS);
                    boolean[] dense = new boolean[layers];
                    for (int i = 0; i < layers; i++) dense[i] = !d.isMoeLayer(i);
                    SwiGluMlp mlp = new SwiGluMlp(w, k, h, d.intermediateSize(), dense, MAX_ROWS);
                    DeepSeekMoe moe = d.firstKDenseReplace() < layers ? new DeepSeekMoe(d, w, k, MAX_ROWS) : null;
                    for (int i = 0; i < layers; i++) ffn[i] = dense[i] ? mlp : moe;
                }
                case DenseConfig d -> {
                    float[] divisors = w.has("rope.freqs") ? w.vector("rope.freqs", d.headDim() / 2) : null;
                    Rope rope = Rope.dense(d, divisors, ckpt.ropePermuted());
                    attention = new GroupedQueryAttention(d, w, rope, k, pool, MAX_ROWS);
                    boolean[] dense = new boolean[layers];
                    Arrays.fill(dense, true);
                    SwiGluMlp mlp = new SwiGluMlp(w, k, h, d.intermediateSize(), dense, MAX_ROWS);
                    Arrays.fill(ffn, mlp);
                }
            }
            norm = w.vector("norm.weight", h);
            head = w.head(embed, c.vocabSize(), h);
            activeBytes = w.activeBytes();
            kvPool = new KvBlockPool(layers, attention.kvEntry(), Integer.MAX_VALUE);
            rows = new Rows(MAX_ROWS, attention.rope().pairs());
            x = new float[MAX_ROWS * h];
            xn = new float[MAX_ROWS * h];
            tmp = new float[Math.max(MAX_ROWS * h, maxRow)];
            ffnOut = new float[MAX_ROWS * h];
        } catch (RuntimeException e) {
            k.close();
            pool.close();
            throw e;
        }
    }

    /** Builds the model over a checkpoint's tensors (it must stay open while the model is used), with {@code threads} threads. */
    public static Transformer load(Checkpoint checkpoint, int threads) {
        if (threads < 1) throw new FathomException("threads must be at least 1, got " + threads);
        return new Transformer(ModelConfig.of(checkpoint.architecture(), checkpoint.config()), checkpoint, threads);
    }

    /** Stops the worker threads. */
    @Override
    public synchronized void close() {
        k.close();
        pool.close();
    }

    public ModelConfig config() {
        return config;
    }

    /** The pool that holds every sequence's KV blocks. */
    public KvBlockPool kvPool() {
        return kvPool;
    }

    /** What, besides the weights and the tokens, decides a KV block's contents: its number format and layout. */
    public String kvFormat() {
        return "f32 " + kvPool.layers() + "x" + KvBlockPool.BLOCK_TOKENS + "x" + kvPool.entry() + " " + config.kvLayout();
    }

    /** Shares full KV blocks through {@code cache} (over {@link #kvPool()}) from the next new sequence on; null: none. */
    public void usePrefixCache(PrefixCache cache) {
        if (cache != null && cache.pool() != kvPool) throw new IllegalArgumentException("the cache belongs to another model");
        this.prefixCache = cache;
    }

    /** The prefix cache in use, or null. */
    public PrefixCache prefixCache() {
        return prefixCache;
    }

    @Override
    public int vocabSize() {
        return config.vocabSize();
    }

    @Override
    public long activeWeightBytesPerToken() {
        return activeBytes;
    }

    @Override
    public int maxContextLength() {
        return config.maxPositionEmbeddings();
    }

    // ------------------------------------------------------------------------------------------ sequences

    @Override
    public State newSequence(int contextLength) {
        return new State(new BlockTable(kvPool, contextLength, prefixCache));
    }

    /** One sequence: its block table. All scratch lives in the model. */
    public static final class State implements Sequence {
        final BlockTable cache;

        State(BlockTable cache) {
            this.cache = cache;
        }

        public BlockTable cache() {
            return cache;
        }

        @Override
        public int length() {
            return cache.length();
        }

        @Override
        public int capacity() {
            return cache.capacity();
        }

        @Override
        public int attachCachedPrefix(int[] prompt) {
            return cache.attachCachedPrefix(prompt);
        }

        @Override
        public State fork() {
            return new State(cache.fork());
        }

        @Override
        public void truncate(int length) {
            cache.truncate(length);
        }

        @Override
        public void close() {
            cache.close();
        }
    }

    // ------------------------------------------------------------------------------------------ entry points

    /**
     * Runs {@code tokens} at positions {@code startPos ..} of one sequence (startPos at most the cached length; a
     * smaller value rewinds), in chunks of {@link #MAX_ROWS} rows.
     *
     * @return the logits of every position ({@code allLogits}) or one row for the last position; the output head
     *         runs only for the rows returned
     */
    @Override
    public synchronized float[][] forward(Sequence seq, int[] tokens, int startPos, boolean allLogits) {
        State s = (State) seq;
        int n = tokens.length;
        if (n == 0) throw new FathomException("no tokens to run");
        for (int t : tokens) checkToken(t);
        s.cache.reserve(startPos, n);
        float[][] out = new float[allLogits ? n : 1][];
        for (int done = 0; done < n; ) {
            int m = Math.min(MAX_ROWS, n - done);
            for (int r = 0; r < m; r++) {
                rows.caches[r] = s.cache;
                rows.tokens[r] = tokens[done + r];
                rows.positions[r] = startPos + done + r;
            }
            rows.n = m;
            boolean last = done + m == n;
            int firstLogitRow = allLogits ? 0 : last ? m - 1 : m;
            forwardRows(firstLogitRow);
            for (int r = firstLogitRow; r < m; r++) {
                float[] row = new float[config.vocabSize()];
                System.arraycopy(logits, (r - firstLogitRow) * row.length, row, 0, row.length);
                out[allLogits ? done + r : 0] = row;
            }
            done += m;
        }
        s.cache.commit(startPos, tokens);
        return out;
    }

    /** One token at {@code pos}; allocates nothing except, every 64 positions, a cache block. */
    @Override
    public synchronized void decode(Sequence seq, int token, int pos, float[] out) {
        State s = (State) seq;
        checkToken(token);
        checkLogits(out);
        s.cache.reserve(pos, 1);
        rows.caches[0] = s.cache;
        rows.tokens[0] = token;
        rows.positions[0] = pos;
        rows.n = 1;
        forwardRows(0);
        System.arraycopy(logits, 0, out, 0, out.length);
        s.cache.commit(pos, token);
    }

    @Override
    public synchronized void decodeBatch(Sequence[] seqs, int[] tokens, int[] positions, int count, float[][] out) {
        for (int i = 0; i < count; i++) {
            checkToken(tokens[i]);
            checkLogits(out[i]);
            for (int j = 0; j < i; j++) {
                if (seqs[j] == seqs[i]) throw new IllegalArgumentException("a sequence appears twice in one batch");
            }
        }
        for (int i = 0; i < count; i++) ((State) seqs[i]).cache.reserve(positions[i], 1);
        for (int done = 0; done < count; done += MAX_ROWS) {
            int m = Math.min(MAX_ROWS, count - done);
            for (int r = 0; r < m; r++) {
                rows.caches[r] = ((State) seqs[done + r]).cache;
                rows.tokens[r] = tokens[done + r];
                rows.positions[r] = positions[done + r];
            }
            rows.n = m;
            forwardRows(0);
            for (int r = 0; r < m; r++) System.arraycopy(logits, r * config.vocabSize(), out[done + r], 0, config.vocabSize());
        }
        for (int i = 0; i < count; i++) ((State) seqs[i]).cache.commit(positions[i], tokens[i]);
    }

    private void checkToken(int token) {
        if (token < 0 || token >= embed.rowCount()) {
            throw new FathomException("token id " + token + " is outside the vocabulary (0.." + (embed.rowCount() - 1) + ")");
        }
    }

    private void checkLogits(float[] out) {
        if (out.length != config.vocabSize()) {
            throw new IllegalArgumentException("logits has length " + out.length + ", vocabulary has " + config.vocabSize());
        }
    }

    // ------------------------------------------------------------------------------------------ the forward pass

    /**
     * Runs the workspace's rows through every layer, writing their keys and values into their caches, and the output
     * head for rows {@code firstLogitRow .. n} into {@code logits}.
     */
    private void forwardRows(int firstLogitRow) {
        int n = rows.n, h = config.hiddenSize();
        float eps = config.rmsNormEps();
        Rope rope = attention.rope();
        for (int r = 0; r < n; r++) {
            embed.dequantizeRow(rows.tokens[r], tmp);
            System.arraycopy(tmp, 0, x, r * h, h);
            rope.angles(rows.positions[r], rows.cos[r], rows.sin[r]);
        }
        for (int l = 0; l < attnNorm.length; l++) {
            for (int r = 0; r < n; r++) k.rmsnorm(x, r * h, attnNorm[l], eps, xn, r * h, h);
            attention.forward(l, rows, xn, tmp);
            for (int r = 0; r < n; r++) k.axpy(1f, tmp, r * h, x, r * h, h);
            for (int r = 0; r < n; r++) k.rmsnorm(x, r * h, ffnNorm[l], eps, xn, r * h, h);
            ffn[l].forward(l, rows, xn, ffnOut);
            for (int r = 0; r < n; r++) k.axpy(1f, ffnOut, r * h, x, r * h, h);
        }
        int m = n - firstLogitRow;
        if (m > 0) {
            for (int r = 0; r < m; r++) k.rmsnorm(x, (firstLogitRow + r) * h, norm, eps, xn, r * h, h);
            int need = m * config.vocabSize();
            if (logits.length < need) logits = new float[need];
            k.matmul(head, 0, config.vocabSize(), xn, 0, h, m, logits, 0, config.vocabSize());
        }
    }
}
