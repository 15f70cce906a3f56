package dev.fathom.model;

import dev.fathom.kernel.Kernels;
import dev.fathom.tensor.Tensor;

import java.util.Arrays;

/**
 * DeepSeekMoE (DeepSeek-V2 section 2.2; model.py's {@code MoE}): a router ({@code gate}, see {@link MoeRouter})
 * picks {@code num_experts_per_tok} of {@code n_routed_experts} fine-grained experts per token, their SwiGLU outputs
 * are added with the routing weights, and the shared experts (one SwiGLU of {@code n_shared_experts *
 * moe_intermediate_size}) are added for every token. Rows are grouped by expert so each chosen expert's weights are
 * read once for all its rows; a row's expert outputs are added in ascending expert order, which depends only on the
 * row's own choice.
 */
final class DeepSeekMoe implements FeedForward {
    private record Layer(Tensor router, float[] bias, Tensor[] w1, Tensor[] w2, Tensor[] w3,
                         Tensor sharedW1, Tensor sharedW2, Tensor sharedW3) {}

    private final DeepSeekConfig c;
    private final Kernels k;
    private final Layer[] layers;
    private final int sharedF;
    private final SwiGluMlp mlp;
    private final float[] routerLogits, expertWeights, scoresE, choice, groupScores, xe, de, shared;
    private final boolean[] groupKept;
    private final int[] chosen, pairOrder, expertStart;

    DeepSeekMoe(DeepSeekConfig c, Weights w, Kernels k, int maxRows) {
        this.c = c;
        this.k = k;
        int h = c.hiddenSize(), e = c.nRoutedExperts(), f = c.moeIntermediateSize(), used = c.numExpertsPerTok();
        sharedF = c.nSharedExperts() * f;
        layers = new Layer[c.numHiddenLayers()];
        for (int i = 0; i < layers.length; i++) {
            if (!c.isMoeLayer(i)) continue;
            String p = "layers." + i + ".ffn.";
            layers[i] = new Layer(
                    w.matrix(p + "gate.weight", h, e),
                    c.topkMethod() == DeepSeekConfig.TopkMethod.NOAUX_TC ? w.vector(p + "gate.bias", e) : null,
                    w.experts(p + "experts.w1.weight", e, used, h, f),
                    w.experts(p + "experts.w2.weight", e, used, f, h),
                    w.experts(p + "experts.w3.weight", e, used, h, f),
                    sharedF > 0 ? w.matrix(p + "shared_experts.w1.weight", h, sharedF) : null,
                    sharedF > 0 ? w.matrix(p + "shared_experts.w2.weight", sharedF, h) : null,
                    sharedF > 0 ? w.matrix(p + "shared_experts.w3.weight", h, sharedF) : null);
        }
        mlp = new SwiGluMlp(k, h, Math.max(f, sharedF), maxRows);
        int topK = Math.max(used, 1);
        routerLogits = new float[maxRows * e];
        chosen = new int[maxRows * topK];
        expertWeights = new float[maxRows * topK];
        pairOrder = new int[maxRows * topK];
        expertStart = new int[e + 1];
        scoresE = new float[e];
        choice = new float[e];
        groupScores = new float[Math.max(c.nGroup(), 1)];
        groupKept = new boolean[Math.max(c.nGroup(), 1)];
        xe = new float[maxRows * h];
        de = new float[maxRows * h];
        shared = new float[maxRows * h];
    }

    @Override
    public void forward(int layer, Rows rows, float[] xn, float[] out) {
        Layer L = layers[layer];
        int n = rows.n;
        int h = c.hiddenSize(), e = c.nRoutedExperts(), topK = c.numExpertsPerTok(), f = c.moeIntermediateSize();
        k.matmul(L.router, 0, e, xn, 0, h, n, routerLogits, 0, e);
        for (int r = 0; r < n; r++) {
            MoeRouter.route(c, k, routerLogits, r * e, L.bias, scoresE, choice, groupScores, groupKept,
                    chosen, r * topK, expertWeights, r * topK);
        }
        // Counting sort of the (row, slot) pairs by expert, rows ascending within an expert.
        Arrays.fill(expertStart, 0);
        for (int i = 0; i < n * topK; i++) expertStart[chosen[i] + 1]++;
        for (int x = 0; x < e; x++) expertStart[x + 1] += expertStart[x];
        for (int i = 0; i < n * topK; i++) pairOrder[expertStart[chosen[i]]++] = i;
        for (int x = e; x > 0; x--) expertStart[x] = expertStart[x - 1];
        expertStart[0] = 0;

        Arrays.fill(out, 0, n * h, 0f);
        for (int x = 0; x < e; x++) {
            int from = expertStart[x], m = expertStart[x + 1] - from;
            if (m == 0) continue;
            for (int i = 0; i < m; i++) System.arraycopy(xn, (pairOrder[from + i] / topK) * h, xe, i * h, h);
            mlp.apply(L.w1[x], L.w3[x], L.w2[x], f, xe, m, de);
            for (int i = 0; i < m; i++) {
                int pair = pairOrder[from + i];
                k.axpy(expertWeights[pair], de, i * h, out, (pair / topK) * h, h);
            }
        }
        if (L.sharedW1 != null) {
            mlp.apply(L.sharedW1, L.sharedW3, L.sharedW2, sharedF, xn, n, shared);
            for (int r = 0; r < n; r++) k.axpy(1f, shared, r * h, out, r * h, h);
        }
    }
}
