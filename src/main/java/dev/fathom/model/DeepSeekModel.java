package dev.fathom.model;

import dev.fathom.FathomException;
import dev.fathom.gguf.GgufFile;
import dev.fathom.kernel.Kernels;
import dev.fathom.kernel.WorkerPool;
import dev.fathom.model.DeepSeekConfig.TopkMethod;
import dev.fathom.tensor.Tensor;

import java.util.Arrays;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A DeepSeek-V2 / V3 transformer (llama.cpp {@code deepseek2} GGUF layout) running from weights used in place.
 *
 * <p>Per layer: RMSNorm, multi-head latent attention (MLA), residual, RMSNorm, a dense SwiGLU MLP for the first
 * {@code firstKDenseReplace} layers and a mixture of experts after, residual; then the final norm and the output
 * head.
 *
 * <p>Every entry point runs the same computation over a batch of rows, one row = (sequence, token, position):
 * a prompt is a batch of consecutive positions of one sequence (in chunks of {@link #MAX_ROWS}), a continuous-
 * batching step is one row per sequence. Each weight is applied to all rows at once (matrix-matrix kernels reuse
 * each decoded weight block across rows), and a row's result does not depend on the other rows. Attention uses
 * weight absorption (DeepSeek-V3's "absorb" mode): the query's nope part is mapped into latent space through
 * {@code attn_k_b}, scores are taken directly against the cached latents (each cached latent is read once for
 * all heads), and the latent-space context goes through {@code attn_v_b}; only the {@link LatentKvCache} is read.
 * Calls are serialised: one forward pass at a time runs on the model's kernels (which own the worker threads).
 */
public final class DeepSeekModel implements LanguageModel, AutoCloseable {
    /** Rows per forward pass: prompts run in chunks of this many tokens, batches in groups of this many sequences. */
    public static final int MAX_ROWS = 64;

    /** One transformer block's weights. Dense-MLP fields are null in MoE layers and vice versa. */
    private record Layer(float[] attnNorm, Tensor qA, float[] qANorm, Tensor qB, Tensor q, Tensor kvA, float[] kvANorm,
                         Tensor kB, Tensor vB, Tensor attnOut, float[] ffnNorm,
                         Tensor gate, Tensor up, Tensor down,
                         Tensor router, float[] expertBias, Tensor gateExps, Tensor upExps, Tensor downExps,
                         Tensor gateShexp, Tensor upShexp, Tensor downShexp) {}

    private final DeepSeekConfig config;
    private final Tensor tokenEmbd;
    private final float[] outputNorm;
    private final Tensor output;
    private final Layer[] layers;
    private final int maxRowLength;
    private final int sharedIntermediate;
    private final int ffnScratch;
    private final Rope rope;
    private final float softmaxScale;
    private final long activeBytes;
    private final WorkerPool pool;
    private final Kernels k;
    private final Workspace w;
    private final AttentionJob attentionJob = new AttentionJob();

    private DeepSeekModel(DeepSeekConfig c, GgufFile f, int threads) {
        this.config = c;
        int h = c.hiddenSize(), heads = c.numAttentionHeads(), qHead = c.qkHeadDim(), lora = c.kvLoraRank();
        int ropeDim = c.qkRopeHeadDim();
        this.tokenEmbd = tensor(f, "token_embd.weight", h, c.vocabSize());
        this.outputNorm = vector(f, "output_norm.weight", h);
        this.output = f.hasTensor("output.weight") ? tensor(f, "output.weight", h, c.vocabSize()) : tokenEmbd;
        this.layers = new Layer[c.numHiddenLayers()];
        int shared = 0;
        for (int i = 0; i < layers.length; i++) {
            String p = "blk." + i + ".";
            if (f.hasTensor(p + "attn_kv_b.weight") && !f.hasTensor(p + "attn_k_b.weight")) {
                throw new FathomException(f.path() + ": tensor '" + p + "attn_kv_b.weight' is the old (pre-MLA) layout; "
                        + "re-convert the model with a current llama.cpp (attn_k_b / attn_v_b are needed)");
            }
            boolean qLora = c.qLoraRank() > 0;
            Tensor gate = null, up = null, down = null, router = null, gateExps = null, upExps = null, downExps = null;
            Tensor gateSh = null, upSh = null, downSh = null;
            float[] bias = null;
            if (!c.isMoeLayer(i)) {
                gate = tensor(f, p + "ffn_gate.weight", h, c.intermediateSize());
                up = tensor(f, p + "ffn_up.weight", h, c.intermediateSize());
                down = tensor(f, p + "ffn_down.weight", c.intermediateSize(), h);
            } else {
                int e = c.nRoutedExperts(), fm = c.moeIntermediateSize();
                router = tensor(f, p + "ffn_gate_inp.weight", h, e);
                if (c.topkMethod() == TopkMethod.NOAUX_TC) bias = vector(f, p + "exp_probs_b.bias", e);
                gateExps = tensor(f, p + "ffn_gate_exps.weight", h, fm, e);
                upExps = tensor(f, p + "ffn_up_exps.weight", h, fm, e);
                downExps = tensor(f, p + "ffn_down_exps.weight", fm, h, e);
                if (c.nSharedExperts() > 0) {
                    int fs = c.nSharedExperts() * fm;
                    gateSh = tensor(f, p + "ffn_gate_shexp.weight", h, fs);
                    upSh = tensor(f, p + "ffn_up_shexp.weight", h, fs);
                    downSh = tensor(f, p + "ffn_down_shexp.weight", fs, h);
                    shared = fs;
                }
            }
            layers[i] = new Layer(
                    vector(f, p + "attn_norm.weight", h),
                    qLora ? tensor(f, p + "attn_q_a.weight", h, c.qLoraRank()) : null,
                    qLora ? vector(f, p + "attn_q_a_norm.weight", c.qLoraRank()) : null,
                    qLora ? tensor(f, p + "attn_q_b.weight", c.qLoraRank(), heads * qHead) : null,
                    qLora ? null : tensor(f, p + "attn_q.weight", h, heads * qHead),
                    tensor(f, p + "attn_kv_a_mqa.weight", h, lora + ropeDim),
                    vector(f, p + "attn_kv_a_norm.weight", lora),
                    tensor(f, p + "attn_k_b.weight", c.qkNopeHeadDim(), lora, heads),
                    tensor(f, p + "attn_v_b.weight", lora, c.vHeadDim(), heads),
                    tensor(f, p + "attn_output.weight", heads * c.vHeadDim(), h),
                    vector(f, p + "ffn_norm.weight", h),
                    gate, up, down, router, bias, gateExps, upExps, downExps, gateSh, upSh, downSh);
        }
        this.sharedIntermediate = shared;
        this.ffnScratch = Math.max(Math.max(c.intermediateSize(), c.moeIntermediateSize()), shared);
        int maxRow = 0;
        for (Tensor t : f.tensors().values()) maxRow = (int) Math.max(maxRow, t.rowLength());
        this.maxRowLength = maxRow;
        long active = 0;
        for (Tensor t : f.tensors().values()) {
            long b = t.data().byteSize();
            if (t == tokenEmbd && output != tokenEmbd) b = t.rowBytes(); // a tied head reads it all
            else if (t.name().endsWith("_exps.weight")) b = b / c.nRoutedExperts() * c.numExpertsPerTok();
            active += b;
        }
        this.activeBytes = active;
        this.rope = new Rope(c);
        this.softmaxScale = rope.softmaxScale;
        this.pool = new WorkerPool(threads);
        this.k = Kernels.vector(maxRowLength, pool);
        this.w = new Workspace();
    }

    /** Builds the model over the tensors of {@code f} (which must stay open while the model is used), on all cores. */
    public static DeepSeekModel load(GgufFile f) {
        return load(f, Runtime.getRuntime().availableProcessors());
    }

    /** Builds the model with {@code threads} threads (one pool shared by all its products and its attention). */
    public static DeepSeekModel load(GgufFile f, int threads) {
        if (threads < 1) throw new FathomException("threads must be at least 1, got " + threads);
        return new DeepSeekModel(DeepSeekConfig.fromGguf(f.metadata()), f, threads);
    }

    /** Stops the worker threads. */
    @Override
    public synchronized void close() {
        k.close();
        pool.close();
    }

    public DeepSeekConfig config() {
        return config;
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

    private static Tensor tensor(GgufFile f, String name, long... ne) {
        Tensor t = f.tensor(name);
        long[] shape = t.shape();
        boolean ok = shape.length == ne.length;
        for (int i = 0; ok && i < ne.length; i++) ok = shape[i] == ne[i];
        if (!ok) {
            throw new FathomException(f.path() + ": tensor '" + name + "' has shape " + Arrays.toString(shape)
                    + ", the config needs " + Arrays.toString(ne));
        }
        return t;
    }

    /** Small 1-D tensors (norm weights, biases) are decoded once at load. */
    private static float[] vector(GgufFile f, String name, int n) {
        return tensor(f, name, n).toFloatArray();
    }

    // ------------------------------------------------------------------------------------------ sequences

    @Override
    public State newSequence(int contextLength) {
        return new State(contextLength);
    }

    /** One sequence: its latent cache. All scratch lives in the model's workspace. */
    public final class State implements Sequence {
        final LatentKvCache cache;

        State(int contextLength) {
            DeepSeekConfig c = config;
            cache = new LatentKvCache(c.numHiddenLayers(), c.kvLoraRank(), c.qkRopeHeadDim(), contextLength,
                    LatentKvCache.DEFAULT_BLOCK_TOKENS);
        }

        public LatentKvCache cache() {
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
    }

    /** Activations of up to MAX_ROWS rows, row-major with a fixed stride per kind; allocated once. */
    private final class Workspace {
        final int h, q, kv, lat, att, ffn, experts, topK;
        final float[] x, xn, qa, qs, kva, qAbs, ctx, attn, tmp, ffnOut, gate, up, xe, de;
        final float[][] cos, sin;
        final float[] routerLogits, expertWeights, scoresE, choice, groupScores;
        final boolean[] groupKept;
        final int[] chosen, pairOrder, expertStart;
        final State[] seqs = new State[MAX_ROWS];
        final int[] tokens = new int[MAX_ROWS], positions = new int[MAX_ROWS];
        final float[][] scores = new float[pool.threads()][0];
        float[] logits = new float[0];

        Workspace() {
            DeepSeekConfig c = config;
            int heads = c.numAttentionHeads();
            h = c.hiddenSize();
            q = heads * c.qkHeadDim();
            kv = c.kvLoraRank() + c.qkRopeHeadDim();
            lat = heads * c.kvLoraRank();
            att = heads * c.vHeadDim();
            ffn = ffnScratch;
            experts = Math.max(c.nRoutedExperts(), 1);
            topK = Math.max(c.numExpertsPerTok(), 1);
            int r = MAX_ROWS;
            x = new float[r * h];
            xn = new float[r * h];
            qa = new float[r * Math.max(c.qLoraRank(), 1)];
            qs = new float[r * q];
            kva = new float[r * kv];
            qAbs = new float[r * lat];
            ctx = new float[r * lat];
            attn = new float[r * att];
            tmp = new float[r * h];
            ffnOut = new float[r * h];
            gate = new float[r * ffn];
            up = new float[r * ffn];
            xe = new float[r * h];
            de = new float[r * h];
            cos = new float[r][c.qkRopeHeadDim() / 2];
            sin = new float[r][c.qkRopeHeadDim() / 2];
            routerLogits = new float[r * experts];
            chosen = new int[r * topK];
            expertWeights = new float[r * topK];
            pairOrder = new int[r * topK];
            expertStart = new int[experts + 1];
            scoresE = new float[experts];
            choice = new float[experts];
            groupScores = new float[Math.max(c.nGroup(), 1)];
            groupKept = new boolean[Math.max(c.nGroup(), 1)];
        }

        /** Makes each participant's score buffer hold {@code heads} heads over {@code positions} positions. */
        void reserveScores(int heads, int positions) {
            int need = heads * positions;
            for (int i = 0; i < scores.length; i++) {
                if (scores[i].length < need) scores[i] = new float[Math.max(need, 2 * scores[i].length)];
            }
        }

        float[] logits(int rows) {
            int need = rows * config.vocabSize();
            if (logits.length < need) logits = new float[need];
            return logits;
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
            int rows = Math.min(MAX_ROWS, n - done);
            for (int r = 0; r < rows; r++) {
                w.seqs[r] = s;
                w.tokens[r] = tokens[done + r];
                w.positions[r] = startPos + done + r;
            }
            boolean last = done + rows == n;
            int firstLogitRow = allLogits ? 0 : last ? rows - 1 : rows;
            forwardRows(rows, firstLogitRow);
            for (int r = firstLogitRow; r < rows; r++) {
                float[] row = new float[config.vocabSize()];
                System.arraycopy(w.logits, (r - firstLogitRow) * row.length, row, 0, row.length);
                out[allLogits ? done + r : 0] = row;
            }
            done += rows;
        }
        s.cache.commit(startPos + n);
        return out;
    }

    /** One token at {@code pos}; allocates nothing except, every {@link LatentKvCache#blockTokens()} positions, a cache block. */
    @Override
    public synchronized void decode(Sequence seq, int token, int pos, float[] logits) {
        State s = (State) seq;
        checkToken(token);
        if (logits.length != config.vocabSize()) {
            throw new IllegalArgumentException("logits has length " + logits.length + ", vocabulary has " + config.vocabSize());
        }
        s.cache.reserve(pos, 1);
        w.seqs[0] = s;
        w.tokens[0] = token;
        w.positions[0] = pos;
        forwardRows(1, 0);
        System.arraycopy(w.logits, 0, logits, 0, logits.length);
        s.cache.commit(pos + 1);
    }

    @Override
    public synchronized void decodeBatch(Sequence[] seqs, int[] tokens, int[] positions, int count, float[][] logits) {
        for (int i = 0; i < count; i++) {
            checkToken(tokens[i]);
            if (logits[i].length != config.vocabSize()) {
                throw new IllegalArgumentException("logits has length " + logits[i].length + ", vocabulary has " + config.vocabSize());
            }
            for (int j = 0; j < i; j++) {
                if (seqs[j] == seqs[i]) throw new IllegalArgumentException("a sequence appears twice in one batch");
            }
        }
        for (int i = 0; i < count; i++) ((State) seqs[i]).cache.reserve(positions[i], 1);
        for (int done = 0; done < count; done += MAX_ROWS) {
            int rows = Math.min(MAX_ROWS, count - done);
            for (int r = 0; r < rows; r++) {
                w.seqs[r] = (State) seqs[done + r];
                w.tokens[r] = tokens[done + r];
                w.positions[r] = positions[done + r];
            }
            forwardRows(rows, 0);
            for (int r = 0; r < rows; r++) System.arraycopy(w.logits, r * config.vocabSize(), logits[done + r], 0, config.vocabSize());
        }
        for (int i = 0; i < count; i++) ((State) seqs[i]).cache.commit(positions[i] + 1);
    }

    private void checkToken(int token) {
        if (token < 0 || token >= tokenEmbd.rowCount()) {
            throw new FathomException("token id " + token + " is outside the vocabulary (0.." + (tokenEmbd.rowCount() - 1) + ")");
        }
    }

    // ------------------------------------------------------------------------------------------ the forward pass

    /**
     * Runs rows {@code 0 .. n} of the workspace (seqs, tokens, positions) through every layer, writing their
     * latents into their caches, and the output head for rows {@code firstLogitRow .. n} into {@code w.logits}.
     */
    private void forwardRows(int n, int firstLogitRow) {
        DeepSeekConfig c = config;
        int h = c.hiddenSize();
        for (int r = 0; r < n; r++) {
            tokenEmbd.dequantizeRow(w.tokens[r], w.tmp);
            System.arraycopy(w.tmp, 0, w.x, r * h, h);
            rope.angles(w.positions[r], w.cos[r], w.sin[r]);
        }
        for (int l = 0; l < layers.length; l++) {
            Layer L = layers[l];
            for (int r = 0; r < n; r++) k.rmsnorm(w.x, r * h, L.attnNorm, c.rmsNormEps(), w.xn, r * h, h);
            attention(L, l, n);
            k.matmul(L.attnOut, 0, h, w.attn, 0, w.att, n, w.tmp, 0, h);
            for (int r = 0; r < n; r++) k.axpy(1f, w.tmp, r * h, w.x, r * h, h);
            for (int r = 0; r < n; r++) k.rmsnorm(w.x, r * h, L.ffnNorm, c.rmsNormEps(), w.xn, r * h, h);
            if (L.router == null) {
                swiglu(L.gate, L.up, L.down, 0, c.intermediateSize(), w.xn, n, w.ffnOut);
            } else {
                moe(L, n);
            }
            for (int r = 0; r < n; r++) k.axpy(1f, w.ffnOut, r * h, w.x, r * h, h);
        }
        int m = n - firstLogitRow;
        if (m > 0) {
            for (int r = 0; r < m; r++) k.rmsnorm(w.x, (firstLogitRow + r) * h, outputNorm, c.rmsNormEps(), w.xn, r * h, h);
            k.matmul(output, 0, c.vocabSize(), w.xn, 0, h, m, w.logits(m), 0, c.vocabSize());
        }
    }

    /** MLA for rows 0..n: queries, latents into the caches, absorbed attention, per-head outputs into w.attn. */
    private void attention(Layer L, int l, int n) {
        DeepSeekConfig c = config;
        int h = c.hiddenSize(), heads = c.numAttentionHeads(), qHead = c.qkHeadDim(), nope = c.qkNopeHeadDim();
        int lora = c.kvLoraRank(), ropeDim = c.qkRopeHeadDim(), vDim = c.vHeadDim(), pairs = ropeDim / 2;
        // Queries [nope | rope] per head.
        if (L.qA != null) {
            k.matmul(L.qA, 0, c.qLoraRank(), w.xn, 0, h, n, w.qa, 0, c.qLoraRank());
            for (int r = 0; r < n; r++) k.rmsnorm(w.qa, r * c.qLoraRank(), L.qANorm, c.rmsNormEps(), w.qa, r * c.qLoraRank(), c.qLoraRank());
            k.matmul(L.qB, 0, w.q, w.qa, 0, c.qLoraRank(), n, w.qs, 0, w.q);
        } else {
            k.matmul(L.q, 0, w.q, w.xn, 0, h, n, w.qs, 0, w.q);
        }
        // The compressed latent and the shared rope key of every row go into its sequence's cache.
        k.matmul(L.kvA, 0, w.kv, w.xn, 0, h, n, w.kva, 0, w.kv);
        for (int r = 0; r < n; r++) {
            for (int hd = 0; hd < heads; hd++) k.ropePairs(w.qs, r * w.q + hd * qHead + nope, w.cos[r], w.sin[r], pairs);
            k.rmsnorm(w.kva, r * w.kv, L.kvANorm, c.rmsNormEps(), w.kva, r * w.kv, lora);
            k.ropePairs(w.kva, r * w.kv + lora, w.cos[r], w.sin[r], pairs);
            w.seqs[r].cache.write(l, w.positions[r], w.kva, r * w.kv, w.kva, r * w.kv + lora);
        }
        // Absorb k_b into the queries: qAbs[c] = sum_d k_b[head][c][d] * q_nope[d] (k_b's rows are latent dims).
        for (int hd = 0; hd < heads; hd++) {
            k.matmul(L.kB, (long) hd * lora, lora, w.qs, hd * qHead, w.q, n, w.qAbs, hd * lora, w.lat);
        }
        attentionJob.run(l, n);
        // Map each head's latent-space context through v_b.
        for (int hd = 0; hd < heads; hd++) {
            k.matmul(L.vB, (long) hd * vDim, vDim, w.ctx, hd * lora, w.lat, n, w.attn, hd * vDim, w.att);
        }
    }

    /**
     * Absorbed attention of rows 0..n over their sequences' cached positions, split over the worker threads in
     * units of (row, group of heads): a prompt's rows run in parallel with all heads per unit; a single decode row
     * splits its heads into one group per thread. Each unit reads every cached latent once for its whole group.
     */
    private final class AttentionJob extends WorkerPool.Job {
        private final AtomicInteger next = new AtomicInteger();
        private int layer, units, groups, groupHeads;

        void run(int l, int n) {
            int heads = config.numAttentionHeads();
            int g = n >= pool.threads() ? 1 : Math.min(heads, pool.threads());
            while (heads % g != 0) g--;
            int maxPositions = 0;
            for (int r = 0; r < n; r++) maxPositions = Math.max(maxPositions, w.positions[r] + 1);
            layer = l;
            groups = g;
            groupHeads = heads / g;
            units = n * g;
            w.reserveScores(groupHeads, maxPositions);
            next.set(0);
            pool.run(this);
        }

        @Override
        protected void run(int participant) {
            float[] scores = w.scores[participant];
            for (int u; (u = next.getAndIncrement()) < units; ) {
                attend(layer, u / groups, (u % groups) * groupHeads, groupHeads, scores);
            }
        }
    }

    /** Softmax attention of row r, heads [h0, h0 + nh), over its cached positions 0..pos into w.ctx. */
    private void attend(int l, int r, int h0, int nh, float[] scores) {
        DeepSeekConfig c = config;
        int qHead = c.qkHeadDim(), nope = c.qkNopeHeadDim(), lora = c.kvLoraRank(), ropeDim = c.qkRopeHeadDim();
        LatentKvCache cache = w.seqs[r].cache;
        int positions = w.positions[r] + 1;
        int qAbs = r * w.lat, q = r * w.q;
        for (int p = 0; p < positions; p++) {
            float[] b = cache.block(p);
            int o = cache.offset(l, p);
            for (int i = 0; i < nh; i++) {
                int hd = h0 + i;
                float s = k.dot(w.qAbs, qAbs + hd * lora, b, o, lora) + k.dot(w.qs, q + hd * qHead + nope, b, o + lora, ropeDim);
                scores[i * positions + p] = s * softmaxScale;
            }
        }
        for (int i = 0; i < nh; i++) k.softmax(scores, i * positions, positions);
        Arrays.fill(w.ctx, qAbs + h0 * lora, qAbs + (h0 + nh) * lora, 0f);
        for (int p = 0; p < positions; p++) {
            float[] b = cache.block(p);
            int o = cache.offset(l, p);
            for (int i = 0; i < nh; i++) k.axpy(scores[i * positions + p], b, o, w.ctx, qAbs + (h0 + i) * lora, lora);
        }
    }

    /** down(silu(gate x) * up x) over n rows of {@code xs} (stride h) with expert {@code e}'s slice (e = 0: plain). */
    private void swiglu(Tensor gate, Tensor up, Tensor down, int e, int f, float[] xs, int n, float[] out) {
        int h = config.hiddenSize();
        k.matmul(gate, (long) e * f, f, xs, 0, h, n, w.gate, 0, f);
        k.matmul(up, (long) e * f, f, xs, 0, h, n, w.up, 0, f);
        k.swiglu(w.gate, w.up, n * f);
        k.matmul(down, (long) e * h, h, w.gate, 0, f, n, out, 0, h);
    }

    /**
     * Routed experts plus shared experts for rows 0..n into w.ffnOut. Rows are grouped by expert so each chosen
     * expert's weights are read once for all its rows; a row's expert outputs are added in ascending expert order,
     * which depends only on the row's own choice.
     */
    private void moe(Layer L, int n) {
        DeepSeekConfig c = config;
        int h = c.hiddenSize(), e = c.nRoutedExperts(), topK = c.numExpertsPerTok(), f = c.moeIntermediateSize();
        k.matmul(L.router, 0, e, w.xn, 0, h, n, w.routerLogits, 0, e);
        for (int r = 0; r < n; r++) {
            MoeRouter.route(c, k, w.routerLogits, r * e, L.expertBias, w.scoresE, w.choice, w.groupScores, w.groupKept,
                    w.chosen, r * topK, w.expertWeights, r * topK);
        }
        // Counting sort of the (row, slot) pairs by expert, rows ascending within an expert.
        Arrays.fill(w.expertStart, 0);
        for (int i = 0; i < n * topK; i++) w.expertStart[w.chosen[i] + 1]++;
        for (int x = 0; x < e; x++) w.expertStart[x + 1] += w.expertStart[x];
        for (int i = 0; i < n * topK; i++) w.pairOrder[w.expertStart[w.chosen[i]]++] = i;
        for (int x = e; x > 0; x--) w.expertStart[x] = w.expertStart[x - 1];
        w.expertStart[0] = 0;

        Arrays.fill(w.ffnOut, 0, n * h, 0f);
        for (int x = 0; x < e; x++) {
            int from = w.expertStart[x], m = w.expertStart[x + 1] - from;
            if (m == 0) continue;
            for (int i = 0; i < m; i++) System.arraycopy(w.xn, (w.pairOrder[from + i] / topK) * h, w.xe, i * h, h);
            swiglu(L.gateExps, L.upExps, L.downExps, x, f, w.xe, m, w.de);
            for (int i = 0; i < m; i++) {
                int pair = w.pairOrder[from + i];
                k.axpy(w.expertWeights[pair], w.de, i * h, w.ffnOut, (pair / topK) * h, h);
            }
        }
        if (L.gateShexp != null) {
            swiglu(L.gateShexp, L.upShexp, L.downShexp, 0, sharedIntermediate, w.xn, n, w.tmp);
            for (int r = 0; r < n; r++) k.axpy(1f, w.tmp, r * h, w.ffnOut, r * h, h);
        }
    }
}
