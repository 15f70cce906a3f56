package dev.fathom.model;

import dev.fathom.FathomException;
import dev.fathom.gguf.GgufFile;
import dev.fathom.kernel.Kernels;
import dev.fathom.model.DeepSeekConfig.TopkMethod;
import dev.fathom.tensor.Tensor;

import java.util.Arrays;

/**
 * A DeepSeek-V2 / V3 transformer (llama.cpp {@code deepseek2} GGUF layout) running from weights used in place.
 *
 * <p>Per layer: RMSNorm, multi-head latent attention (MLA), residual, RMSNorm, a dense SwiGLU MLP for the first
 * {@code firstKDenseReplace} layers and a mixture of experts after, residual; then the final norm and the output
 * head. There are two attention paths that compute the same function:
 * <ul>
 *   <li>{@link #forward} (prefill) expands every cached latent into per-head keys and values (HF's "naive" MLA);
 *   <li>{@link #decode} uses weight absorption (DeepSeek-V3's "absorb" mode): the query's nope part is mapped
 *       into latent space through {@code attn_k_b}, scores are taken directly against the cached latents, and
 *       the latent-space context goes through {@code attn_v_b}. It reads only the {@link LatentKvCache}.
 * </ul>
 */
public final class DeepSeekModel implements LanguageModel {

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

    private DeepSeekModel(DeepSeekConfig c, GgufFile f) {
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
            if (t == tokenEmbd) b = t.rowBytes();
            else if (t.name().endsWith("_exps.weight")) b = b / c.nRoutedExperts() * c.numExpertsPerTok();
            active += b;
        }
        this.activeBytes = active;
        this.rope = new Rope(c);
        this.softmaxScale = rope.softmaxScale;
    }

    /** Builds the model over the tensors of {@code f} (which must stay open while the model is used). */
    public static DeepSeekModel load(GgufFile f) {
        return new DeepSeekModel(DeepSeekConfig.fromGguf(f.metadata()), f);
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

    // ------------------------------------------------------------------------------------------ state

    /** Starts a sequence with room for {@code contextLength} positions. */
    @Override
    public State newSequence(int contextLength) {
        return new State(contextLength);
    }

    /** Everything one sequence needs: its latent cache and preallocated scratch (decode allocates nothing). */
    public final class State implements Sequence {
        final LatentKvCache cache;
        final Kernels k;
        final float[] x, xn, tmp, qa, q, kva, qAbs, attn, ctx, scores, cos, sin;
        final float[] gate, up, ffnOut, routerLogits, expertScores, choice, groupScores, expertWeights;
        final int[] chosen;
        final boolean[] groupKept;

        State(int contextLength) {
            DeepSeekConfig c = config;
            cache = new LatentKvCache(c.numHiddenLayers(), c.kvLoraRank(), c.qkRopeHeadDim(), contextLength,
                    LatentKvCache.DEFAULT_BLOCK_TOKENS);
            k = Kernels.scalar(maxRowLength);
            int h = c.hiddenSize(), heads = c.numAttentionHeads();
            x = new float[h];
            xn = new float[h];
            tmp = new float[h];
            qa = new float[Math.max(c.qLoraRank(), 1)];
            q = new float[heads * c.qkHeadDim()];
            kva = new float[c.kvLoraRank() + c.qkRopeHeadDim()];
            qAbs = new float[heads * c.kvLoraRank()];
            attn = new float[heads * c.vHeadDim()];
            ctx = new float[c.kvLoraRank()];
            scores = new float[contextLength];
            cos = new float[c.qkRopeHeadDim() / 2];
            sin = new float[c.qkRopeHeadDim() / 2];
            gate = new float[ffnScratch];
            up = new float[ffnScratch];
            ffnOut = new float[h];
            int e = Math.max(c.nRoutedExperts(), 1);
            routerLogits = new float[e];
            expertScores = new float[e];
            choice = new float[e];
            groupScores = new float[Math.max(c.nGroup(), 1)];
            groupKept = new boolean[Math.max(c.nGroup(), 1)];
            chosen = new int[Math.max(c.numExpertsPerTok(), 1)];
            expertWeights = new float[Math.max(c.numExpertsPerTok(), 1)];
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

    // ------------------------------------------------------------------------------------------ prefill

    /**
     * Runs {@code tokens} at positions {@code startPos ..} (startPos must not exceed the cached length; a smaller
     * value rewinds), filling the cache, with the expanded (per-head keys and values) attention.
     *
     * @return the logits of every position ({@code allLogits}) or one row for the last position
     */
    @Override
    public float[][] forward(Sequence seq, int[] tokens, int startPos, boolean allLogits) {
        State s = (State) seq;
        DeepSeekConfig c = config;
        int n = tokens.length;
        if (n == 0) throw new FathomException("no tokens to run");
        s.cache.reserve(startPos, n);
        int end = startPos + n;
        int h = c.hiddenSize(), heads = c.numAttentionHeads(), qHead = c.qkHeadDim(), nope = c.qkNopeHeadDim();
        int lora = c.kvLoraRank(), vDim = c.vHeadDim();
        Kernels k = s.k;
        float[][] xs = new float[n][];
        for (int t = 0; t < n; t++) xs[t] = embed(tokens[t], new float[h]);
        float[][] qs = new float[n][heads * qHead];
        float[] keys = new float[heads * end * nope];
        float[] values = new float[heads * end * vDim];
        for (int l = 0; l < layers.length; l++) {
            Layer L = layers[l];
            for (int t = 0; t < n; t++) {
                int pos = startPos + t;
                k.rmsnorm(xs[t], 0, L.attnNorm, c.rmsNormEps(), s.xn, 0, h);
                rope.angles(pos, s.cos, s.sin);
                query(s, L, s.xn, qs[t]);
                latentAndRopeKey(s, L, l, pos, s.xn);
            }
            // Expand every cached latent (this call's and earlier ones) into per-head keys and values.
            for (int p = 0; p < end; p++) {
                float[] b = s.cache.block(p);
                int o = s.cache.offset(l, p);
                for (int hd = 0; hd < heads; hd++) {
                    k.matvecTransposed(L.kB, (long) hd * lora, lora, b, o, keys, (hd * end + p) * nope);
                    k.matvec(L.vB, (long) hd * vDim, vDim, b, o, values, (hd * end + p) * vDim);
                }
            }
            for (int t = 0; t < n; t++) {
                int pos = startPos + t;
                float[] q = qs[t];
                for (int hd = 0; hd < heads; hd++) {
                    for (int p = 0; p <= pos; p++) {
                        float[] b = s.cache.block(p);
                        int o = s.cache.offset(l, p) + lora;
                        float score = k.dot(q, hd * qHead, keys, (hd * end + p) * nope, nope)
                                + k.dot(q, hd * qHead + nope, b, o, c.qkRopeHeadDim());
                        s.scores[p] = score * softmaxScale;
                    }
                    k.softmax(s.scores, 0, pos + 1);
                    Arrays.fill(s.attn, hd * vDim, (hd + 1) * vDim, 0f);
                    for (int p = 0; p <= pos; p++) {
                        k.axpy(s.scores[p], values, (hd * end + p) * vDim, s.attn, hd * vDim, vDim);
                    }
                }
                k.matvec(L.attnOut, 0, h, s.attn, 0, s.tmp, 0);
                k.axpy(1f, s.tmp, 0, xs[t], 0, h);
                k.rmsnorm(xs[t], 0, L.ffnNorm, c.rmsNormEps(), s.xn, 0, h);
                ffn(s, L, s.xn, s.ffnOut);
                k.axpy(1f, s.ffnOut, 0, xs[t], 0, h);
            }
        }
        s.cache.commit(end);
        float[][] logits = new float[allLogits ? n : 1][];
        for (int i = 0; i < logits.length; i++) {
            logits[i] = new float[c.vocabSize()];
            head(s, xs[allLogits ? i : n - 1], logits[i]);
        }
        return logits;
    }

    // ------------------------------------------------------------------------------------------ decode

    /**
     * Runs one token at {@code pos} (at most the cached length; smaller rewinds) through the weight-absorbed
     * attention over the latent cache, writing its logits into {@code logits} (length vocabSize). Allocates
     * nothing except, once every {@link LatentKvCache#blockTokens()} positions, a new cache block.
     */
    @Override
    public void decode(Sequence seq, int token, int pos, float[] logits) {
        State s = (State) seq;
        DeepSeekConfig c = config;
        if (logits.length != c.vocabSize()) {
            throw new IllegalArgumentException("logits has length " + logits.length + ", vocabulary has " + c.vocabSize());
        }
        s.cache.reserve(pos, 1);
        int h = c.hiddenSize(), heads = c.numAttentionHeads(), qHead = c.qkHeadDim(), lora = c.kvLoraRank();
        int vDim = c.vHeadDim(), ropeDim = c.qkRopeHeadDim();
        Kernels k = s.k;
        embed(token, s.x);
        rope.angles(pos, s.cos, s.sin);
        for (int l = 0; l < layers.length; l++) {
            Layer L = layers[l];
            k.rmsnorm(s.x, 0, L.attnNorm, c.rmsNormEps(), s.xn, 0, h);
            query(s, L, s.xn, s.q);
            latentAndRopeKey(s, L, l, pos, s.xn);
            for (int hd = 0; hd < heads; hd++) {
                // Absorb k_b into the query: qAbs[c] = sum_d k_b[hd][c][d] * q_nope[d] (k_b rows are latent dims).
                k.matvec(L.kB, (long) hd * lora, lora, s.q, hd * qHead, s.qAbs, hd * lora);
                for (int p = 0; p <= pos; p++) {
                    float[] b = s.cache.block(p);
                    int o = s.cache.offset(l, p);
                    float score = k.dot(s.qAbs, hd * lora, b, o, lora)
                            + k.dot(s.q, hd * qHead + c.qkNopeHeadDim(), b, o + lora, ropeDim);
                    s.scores[p] = score * softmaxScale;
                }
                k.softmax(s.scores, 0, pos + 1);
                Arrays.fill(s.ctx, 0f);
                for (int p = 0; p <= pos; p++) {
                    k.axpy(s.scores[p], s.cache.block(p), s.cache.offset(l, p), s.ctx, 0, lora);
                }
                k.matvec(L.vB, (long) hd * vDim, vDim, s.ctx, 0, s.attn, hd * vDim);
            }
            k.matvec(L.attnOut, 0, h, s.attn, 0, s.tmp, 0);
            k.axpy(1f, s.tmp, 0, s.x, 0, h);
            k.rmsnorm(s.x, 0, L.ffnNorm, c.rmsNormEps(), s.xn, 0, h);
            ffn(s, L, s.xn, s.ffnOut);
            k.axpy(1f, s.ffnOut, 0, s.x, 0, h);
        }
        s.cache.commit(pos + 1);
        head(s, s.x, logits);
    }

    // ------------------------------------------------------------------------------------------ pieces

    private float[] embed(int token, float[] dst) {
        if (token < 0 || token >= tokenEmbd.rowCount()) {
            throw new FathomException("token id " + token + " is outside the vocabulary (0.." + (tokenEmbd.rowCount() - 1) + ")");
        }
        tokenEmbd.dequantizeRow(token, dst);
        return dst;
    }

    private void head(State s, float[] x, float[] logits) {
        s.k.rmsnorm(x, 0, outputNorm, config.rmsNormEps(), s.xn, 0, config.hiddenSize());
        s.k.matvec(output, 0, config.vocabSize(), s.xn, 0, logits, 0);
    }

    /** All heads' queries [nope | rope] into {@code q}, the rope parts rotated by the angles in s.cos / s.sin. */
    private void query(State s, Layer L, float[] xn, float[] q) {
        DeepSeekConfig c = config;
        int rows = c.numAttentionHeads() * c.qkHeadDim();
        if (L.qA != null) {
            s.k.matvec(L.qA, 0, c.qLoraRank(), xn, 0, s.qa, 0);
            s.k.rmsnorm(s.qa, 0, L.qANorm, c.rmsNormEps(), s.qa, 0, c.qLoraRank());
            s.k.matvec(L.qB, 0, rows, s.qa, 0, q, 0);
        } else {
            s.k.matvec(L.q, 0, rows, xn, 0, q, 0);
        }
        for (int hd = 0; hd < c.numAttentionHeads(); hd++) {
            s.k.ropePairs(q, hd * c.qkHeadDim() + c.qkNopeHeadDim(), s.cos, s.sin, s.cos.length);
        }
    }

    /** Computes and caches (layer, pos): the normalised kv latent and the rotated shared rope key. */
    private void latentAndRopeKey(State s, Layer L, int layer, int pos, float[] xn) {
        DeepSeekConfig c = config;
        int lora = c.kvLoraRank();
        s.k.matvec(L.kvA, 0, lora + c.qkRopeHeadDim(), xn, 0, s.kva, 0);
        s.k.rmsnorm(s.kva, 0, L.kvANorm, c.rmsNormEps(), s.kva, 0, lora);
        s.k.ropePairs(s.kva, lora, s.cos, s.sin, s.cos.length);
        s.cache.write(layer, pos, s.kva, 0, s.kva, lora);
    }

    private void ffn(State s, Layer L, float[] xn, float[] out) {
        DeepSeekConfig c = config;
        int h = c.hiddenSize();
        if (L.router == null) {
            swigluMlp(s, L.gate, L.up, L.down, 0, c.intermediateSize(), xn, out);
            return;
        }
        route(s, L, xn);
        Arrays.fill(out, 0, h, 0f);
        int fm = c.moeIntermediateSize();
        for (int j = 0; j < c.numExpertsPerTok(); j++) {
            swigluMlp(s, L.gateExps, L.upExps, L.downExps, s.chosen[j], fm, xn, s.tmp);
            s.k.axpy(s.expertWeights[j], s.tmp, 0, out, 0, h);
        }
        if (L.gateShexp != null) {
            swigluMlp(s, L.gateShexp, L.upShexp, L.downShexp, 0, sharedIntermediate, xn, s.tmp);
            s.k.axpy(1f, s.tmp, 0, out, 0, h);
        }
    }

    /** down(silu(gate x) * up x) with the weights of expert {@code e} of stacked tensors (e = 0 for plain ones). */
    private void swigluMlp(State s, Tensor gate, Tensor up, Tensor down, int e, int f, float[] xn, float[] out) {
        int h = config.hiddenSize();
        s.k.matvec(gate, (long) e * f, f, xn, 0, s.gate, 0);
        s.k.matvec(up, (long) e * f, f, xn, 0, s.up, 0);
        s.k.swiglu(s.gate, s.up, f);
        s.k.matvec(down, (long) e * h, h, s.gate, 0, out, 0);
    }

    private void route(State s, Layer L, float[] xn) {
        s.k.matvec(L.router, 0, config.nRoutedExperts(), xn, 0, s.routerLogits, 0);
        MoeRouter.route(config, s.k, s.routerLogits, L.expertBias, s.expertScores, s.choice, s.groupScores,
                s.groupKept, s.chosen, s.expertWeights);
    }
}
