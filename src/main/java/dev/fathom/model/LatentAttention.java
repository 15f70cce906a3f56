package dev.fathom.model;

import dev.fathom.kernel.Kernels;
import dev.fathom.kernel.WorkerPool;
import dev.fathom.kv.BlockTable;
import dev.fathom.tensor.Tensor;

import java.util.Arrays;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Multi-head latent attention (DeepSeek-V2 section 2.1; {@code MLA} in DeepSeek-V3's model.py, "absorb" mode).
 * Keys and values are compressed jointly into a latent {@code c = kv_norm(wkv_a x)[:kv_lora_rank]} plus one rope
 * key shared by all heads; only those {@code kv_lora_rank + qk_rope_head_dim} floats per token and layer are cached.
 * Weight absorption: the query's nope part is mapped into latent space through {@code wk_b}
 * ({@code q_abs = wk_b^T q_nope}), scores are taken directly against the cached latents (each read once for all
 * heads), and the latent-space context goes through {@code wv_b}, then {@code wo}.
 */
final class LatentAttention implements Attention {
    private record Layer(Tensor wqA, float[] qNorm, Tensor wqB, Tensor wq, Tensor wkvA, float[] kvNorm,
                         Tensor wkB, Tensor wvB, Tensor wo) {}

    private final DeepSeekConfig c;
    private final Kernels k;
    private final WorkerPool pool;
    private final Layer[] layers;
    private final Rope rope;
    private final int q, kv, lat, att;
    private final float[] qa, qs, kva, qAbs, ctx, attn;
    private final ScoreBuffers scores;
    private final AttentionJob job = new AttentionJob();
    private Rows rows;

    LatentAttention(DeepSeekConfig c, Weights w, Kernels k, WorkerPool pool, int maxRows) {
        this.c = c;
        this.k = k;
        this.pool = pool;
        int h = c.hiddenSize(), heads = c.numAttentionHeads(), lora = c.kvLoraRank();
        layers = new Layer[c.numHiddenLayers()];
        boolean qLora = c.qLoraRank() > 0;
        for (int i = 0; i < layers.length; i++) {
            String p = "layers." + i + ".attn.";
            layers[i] = new Layer(
                    qLora ? w.matrix(p + "wq_a.weight", h, c.qLoraRank()) : null,
                    qLora ? w.vector(p + "q_norm.weight", c.qLoraRank()) : null,
                    qLora ? w.matrix(p + "wq_b.weight", c.qLoraRank(), (long) heads * c.qkHeadDim()) : null,
                    qLora ? null : w.matrix(p + "wq.weight", h, (long) heads * c.qkHeadDim()),
                    w.matrix(p + "wkv_a.weight", h, lora + c.qkRopeHeadDim()),
                    w.vector(p + "kv_norm.weight", lora),
                    w.matrix(p + "wk_b.weight", c.qkNopeHeadDim(), lora, heads),
                    w.matrix(p + "wv_b.weight", lora, c.vHeadDim(), heads),
                    w.matrix(p + "wo.weight", (long) heads * c.vHeadDim(), h));
        }
        rope = Rope.deepSeek(c);
        q = heads * c.qkHeadDim();
        kv = lora + c.qkRopeHeadDim();
        lat = heads * lora;
        att = heads * c.vHeadDim();
        qa = new float[maxRows * Math.max(c.qLoraRank(), 1)];
        qs = new float[maxRows * q];
        kva = new float[maxRows * kv];
        qAbs = new float[maxRows * lat];
        ctx = new float[maxRows * lat];
        attn = new float[maxRows * att];
        scores = new ScoreBuffers(pool.threads());
    }

    @Override
    public Rope rope() {
        return rope;
    }

    @Override
    public int kvEntry() {
        return kv;
    }

    @Override
    public void forward(int l, Rows rows, float[] xn, float[] out) {
        Layer L = layers[l];
        int n = rows.n;
        int h = c.hiddenSize(), heads = c.numAttentionHeads(), qHead = c.qkHeadDim(), nope = c.qkNopeHeadDim();
        int lora = c.kvLoraRank(), ropeDim = c.qkRopeHeadDim(), vDim = c.vHeadDim(), qLora = c.qLoraRank();
        // Queries [nope | rope] per head.
        if (L.wqA != null) {
            k.matmul(L.wqA, 0, qLora, xn, 0, h, n, qa, 0, qLora);
            for (int r = 0; r < n; r++) k.rmsnorm(qa, r * qLora, L.qNorm, c.rmsNormEps(), qa, r * qLora, qLora);
            k.matmul(L.wqB, 0, q, qa, 0, qLora, n, qs, 0, q);
        } else {
            k.matmul(L.wq, 0, q, xn, 0, h, n, qs, 0, q);
        }
        // The compressed latent and the shared rope key of every row go into its sequence's cache.
        k.matmul(L.wkvA, 0, kv, xn, 0, h, n, kva, 0, kv);
        for (int r = 0; r < n; r++) {
            for (int hd = 0; hd < heads; hd++) rope.rotate(k, qs, r * q + hd * qHead + nope, rows.cos[r], rows.sin[r]);
            k.rmsnorm(kva, r * kv, L.kvNorm, c.rmsNormEps(), kva, r * kv, lora);
            rope.rotate(k, kva, r * kv + lora, rows.cos[r], rows.sin[r]);
            BlockTable cache = rows.caches[r];
            int pos = rows.positions[r];
            System.arraycopy(kva, r * kv, cache.block(pos), cache.offset(l, pos), kv);
        }
        // Absorb wk_b into the queries: qAbs[c] = sum_d wk_b[head][c][d] * q_nope[d] (its rows are latent dims).
        for (int hd = 0; hd < heads; hd++) {
            k.matmul(L.wkB, (long) hd * lora, lora, qs, hd * qHead, q, n, qAbs, hd * lora, lat);
        }
        job.run(l, rows);
        // Map each head's latent-space context through wv_b, then the output projection.
        for (int hd = 0; hd < heads; hd++) {
            k.matmul(L.wvB, (long) hd * vDim, vDim, ctx, hd * lora, lat, n, attn, hd * vDim, att);
        }
        k.matmul(L.wo, 0, h, attn, 0, att, n, out, 0, h);
    }

    /**
     * Absorbed attention of rows 0..n over their sequences' cached positions, split over the worker threads in
     * units of (row, group of heads): a prompt's rows run in parallel with all heads per unit; a single decode row
     * splits its heads into one group per thread. Each unit reads every cached latent once for its whole group.
     */
    private final class AttentionJob extends WorkerPool.Job {
        private final AtomicInteger next = new AtomicInteger();
        private int layer, units, groups, groupHeads;

        void run(int l, Rows r) {
            int heads = c.numAttentionHeads(), n = r.n;
            int g = n >= pool.threads() ? 1 : Math.min(heads, pool.threads());
            while (heads % g != 0) g--;
            layer = l;
            groups = g;
            groupHeads = heads / g;
            units = n * g;
            scores.reserve(groupHeads * r.maxPositions());
            rows = r;
            next.set(0);
            pool.run(this);
        }

        @Override
        protected void run(int participant) {
            float[] s = scores.of(participant);
            for (int u; (u = next.getAndIncrement()) < units; ) {
                attend(layer, u / groups, (u % groups) * groupHeads, groupHeads, s);
            }
        }
    }

    /** Softmax attention of row r, heads [h0, h0 + nh), over its cached positions 0..pos into ctx. */
    private void attend(int l, int r, int h0, int nh, float[] scores) {
        int qHead = c.qkHeadDim(), nope = c.qkNopeHeadDim(), lora = c.kvLoraRank(), ropeDim = c.qkRopeHeadDim();
        BlockTable cache = rows.caches[r];
        int positions = rows.positions[r] + 1;
        int qa = r * lat, qr = r * q;
        float scale = rope.attentionScale;
        for (int p = 0; p < positions; p++) {
            float[] b = cache.block(p);
            int o = cache.offset(l, p);
            for (int i = 0; i < nh; i++) {
                int hd = h0 + i;
                float s = k.dot(qAbs, qa + hd * lora, b, o, lora) + k.dot(qs, qr + hd * qHead + nope, b, o + lora, ropeDim);
                scores[i * positions + p] = s * scale;
            }
        }
        for (int i = 0; i < nh; i++) k.softmax(scores, i * positions, positions);
        Arrays.fill(ctx, qa + h0 * lora, qa + (h0 + nh) * lora, 0f);
        for (int p = 0; p < positions; p++) {
            float[] b = cache.block(p);
            int o = cache.offset(l, p);
            for (int i = 0; i < nh; i++) k.axpy(scores[i * positions + p], b, o, ctx, qa + (h0 + i) * lora, lora);
        }
    }
}
