package dev.fathom.model;

import dev.fathom.kernel.Kernels;
import dev.fathom.kernel.WorkerPool;
import dev.fathom.kv.BlockTable;
import dev.fathom.tensor.Tensor;

import java.util.Arrays;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Grouped-query attention (Qwen2, Llama): {@code num_key_value_heads} key/value heads, each shared by
 * {@code num_attention_heads / num_key_value_heads} query heads (query head j uses KV head j / group), optional
 * q/k/v biases (Qwen2), rope over the whole head. The cache holds per token and layer the rotated keys of every KV
 * head, then their values: {@code [k_0 .. k_{kv-1} | v_0 .. v_{kv-1}]}.
 */
final class GroupedQueryAttention implements Attention {
    private record Layer(Tensor wq, float[] bq, Tensor wk, float[] bk, Tensor wv, float[] bv, Tensor wo) {}

    private final DenseConfig c;
    private final Kernels k;
    private final WorkerPool pool;
    private final Layer[] layers;
    private final Rope rope;
    private final int q, kvDim, entry, group;
    private final float[] qs, kvs, ctx;
    private final ScoreBuffers scores;
    private final AttentionJob job = new AttentionJob();
    private Rows rows;

    GroupedQueryAttention(DenseConfig c, Weights w, Rope rope, Kernels k, WorkerPool pool, int maxRows) {
        this.c = c;
        this.k = k;
        this.pool = pool;
        this.rope = rope;
        int h = c.hiddenSize(), hd = c.headDim();
        q = c.numAttentionHeads() * hd;
        kvDim = c.numKeyValueHeads() * hd;
        entry = 2 * kvDim;
        group = c.numAttentionHeads() / c.numKeyValueHeads();
        layers = new Layer[c.numHiddenLayers()];
        for (int i = 0; i < layers.length; i++) {
            String p = "layers." + i + ".attn.";
            layers[i] = new Layer(
                    w.matrix(p + "wq.weight", h, q), w.optionalVector(p + "wq.bias", q),
                    w.matrix(p + "wk.weight", h, kvDim), w.optionalVector(p + "wk.bias", kvDim),
                    w.matrix(p + "wv.weight", h, kvDim), w.optionalVector(p + "wv.bias", kvDim),
                    w.matrix(p + "wo.weight", q, h));
        }
        qs = new float[maxRows * q];
        kvs = new float[maxRows * entry];
        ctx = new float[maxRows * q];
        scores = new ScoreBuffers(pool.threads());
    }

    @Override
    public Rope rope() {
        return rope;
    }

    @Override
    public int kvEntry() {
        return entry;
    }

    @Override
    public void forward(int l, Rows rows, float[] xn, float[] out) {
        Layer L = layers[l];
        int n = rows.n, h = c.hiddenSize(), hd = c.headDim();
        k.matmul(L.wq, 0, q, xn, 0, h, n, qs, 0, q);
        k.matmul(L.wk, 0, kvDim, xn, 0, h, n, kvs, 0, entry);
        k.matmul(L.wv, 0, kvDim, xn, 0, h, n, kvs, kvDim, entry);
        for (int r = 0; r < n; r++) {
            if (L.bq != null) k.axpy(1f, L.bq, 0, qs, r * q, q);
            if (L.bk != null) k.axpy(1f, L.bk, 0, kvs, r * entry, kvDim);
            if (L.bv != null) k.axpy(1f, L.bv, 0, kvs, r * entry + kvDim, kvDim);
            for (int j = 0; j < c.numAttentionHeads(); j++) rope.rotate(k, qs, r * q + j * hd, rows.cos[r], rows.sin[r]);
            for (int j = 0; j < c.numKeyValueHeads(); j++) rope.rotate(k, kvs, r * entry + j * hd, rows.cos[r], rows.sin[r]);
            BlockTable cache = rows.caches[r];
            int pos = rows.positions[r];
            System.arraycopy(kvs, r * entry, cache.block(pos), cache.offset(l, pos), entry);
        }
        job.run(l, rows);
        k.matmul(L.wo, 0, h, ctx, 0, q, n, out, 0, h);
    }

    /** Attention of rows 0..n in units of (row, KV head): each unit reads the head's cached keys and values once for its query heads. */
    private final class AttentionJob extends WorkerPool.Job {
        private final AtomicInteger next = new AtomicInteger();
        private int layer, units;

        void run(int l, Rows r) {
            layer = l;
            units = r.n * c.numKeyValueHeads();
            scores.reserve(group * r.maxPositions());
            rows = r;
            next.set(0);
            pool.run(this);
        }

        @Override
        protected void run(int participant) {
            float[] s = scores.of(participant);
            int kvHeads = c.numKeyValueHeads();
            for (int u; (u = next.getAndIncrement()) < units; ) attend(layer, u / kvHeads, u % kvHeads, s);
        }
    }

    /** Softmax attention of row r's query heads of KV head {@code kvh} over its cached positions into ctx. */
    private void attend(int l, int r, int kvh, float[] scores) {
        int hd = c.headDim();
        BlockTable cache = rows.caches[r];
        int positions = rows.positions[r] + 1;
        int q0 = r * q + kvh * group * hd;
        float scale = rope.attentionScale;
        for (int p = 0; p < positions; p++) {
            float[] b = cache.block(p);
            int o = cache.offset(l, p) + kvh * hd;
            for (int i = 0; i < group; i++) scores[i * positions + p] = k.dot(qs, q0 + i * hd, b, o, hd) * scale;
        }
        for (int i = 0; i < group; i++) k.softmax(scores, i * positions, positions);
        Arrays.fill(ctx, q0, q0 + group * hd, 0f);
        for (int p = 0; p < positions; p++) {
            float[] b = cache.block(p);
            int o = cache.offset(l, p) + kvDim + kvh * hd;
            for (int i = 0; i < group; i++) k.axpy(scores[i * positions + p], b, o, ctx, q0 + i * hd, hd);
        }
    }
}
