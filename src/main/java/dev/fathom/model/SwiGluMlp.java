package dev.fathom.model;

import dev.fathom.kernel.Kernels;
import dev.fathom.tensor.Tensor;

/**
 * The dense SwiGLU MLP {@code w2(silu(w1 x) * w3 x)} (model.py's {@code MLP}: w1 gate, w3 up, w2 down), for the
 * layers that have one (every layer of a dense model, DeepSeek's first {@code first_k_dense_replace}); also the
 * product DeepSeekMoE runs for each expert.
 */
final class SwiGluMlp implements FeedForward {
    private record Layer(Tensor w1, Tensor w2, Tensor w3, int f) {}

    private final Kernels k;
    private final int h;
    private final Layer[] layers;
    private final float[] gate, up;

    /** An MLP for the layers {@code dense[i]} is true for, each with intermediate size {@code f}. */
    SwiGluMlp(Weights w, Kernels k, int hidden, int f, boolean[] dense, int maxRows) {
        this.k = k;
        this.h = hidden;
        this.layers = new Layer[dense.length];
        gate = new float[maxRows * f];
        up = new float[maxRows * f];
        for (int i = 0; i < dense.length; i++) {
            if (!dense[i]) continue;
            String p = "layers." + i + ".ffn.";
            layers[i] = new Layer(w.matrix(p + "w1.weight", hidden, f), w.matrix(p + "w2.weight", f, hidden),
                    w.matrix(p + "w3.weight", hidden, f), f);
        }
    }

    /** Scratch for products of intermediate size up to {@code maxF} (MoE experts), no layers of its own. */
    SwiGluMlp(Kernels k, int hidden, int maxF, int maxRows) {
        this.k = k;
        this.h = hidden;
        this.layers = new Layer[0];
        gate = new float[maxRows * maxF];
        up = new float[maxRows * maxF];
    }

    @Override
    public void forward(int layer, Rows rows, float[] xn, float[] out) {
        Layer L = layers[layer];
        apply(L.w1, L.w3, L.w2, L.f, xn, rows.n, out);
    }

    /** {@code out = down(silu(gate x) * up x)} over n rows of {@code xs} (stride hidden), intermediate size f. */
    void apply(Tensor w1, Tensor w3, Tensor w2, int f, float[] xs, int n, float[] out) {
        k.matmul(w1, 0, f, xs, 0, h, n, gate, 0, f);
        k.matmul(w3, 0, f, xs, 0, h, n, up, 0, f);
        k.swiglu(gate, up, n * f);
        k.matmul(w2, 0, h, gate, 0, f, n, out, 0, h);
    }
}
