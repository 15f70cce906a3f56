package dev.fathom.model;

import java.util.ArrayList;
import java.util.List;

/**
 * The tensors a model of a config has in a llama.cpp GGUF, by canonical name (see {@code Checkpoint}) with shapes in
 * ggml order, in the order llama.cpp's converter writes them: the embedding, per layer the attention then the
 * feed-forward, the final norm and the output head; MLA's {@code wkv_b} as its split key and value parts, experts
 * stacked, a Llama's llama3 scaling as {@code rope.freqs}. The files Fathom writes (test models, conversions) all
 * follow it.
 */
public final class TensorLayout {
    private TensorLayout() {}

    /** What a tensor holds, for writers that make up or derive values. */
    public enum Kind {
        /** A weight matrix or a bias. */
        WEIGHT,
        /** The routed experts' weights of one projection, stacked: [in, out, experts]. */
        EXPERTS,
        /** An RMSNorm weight. */
        NORM,
        /** DeepSeek-V3's {@code e_score_correction_bias}. */
        ROUTER_BIAS,
        /** The llama3 per-pair frequency divisors ({@link DenseConfig#llama3Divisors}). */
        ROPE_FREQS
    }

    public record Entry(String name, long[] shape, Kind kind) {}

    /** @param attentionBiases whether the q/k/v projections of a dense model have biases (Qwen2) */
    public static List<Entry> of(ModelConfig config, boolean attentionBiases) {
        List<Entry> out = new ArrayList<>();
        long h = config.hiddenSize();
        out.add(new Entry("embed.weight", new long[] {h, config.vocabSize()}, Kind.WEIGHT));
        switch (config) {
            case DeepSeekConfig d -> deepSeekLayers(out, d);
            case DenseConfig d -> denseLayers(out, d, attentionBiases);
        }
        out.add(new Entry("norm.weight", new long[] {h}, Kind.NORM));
        out.add(new Entry("head.weight", new long[] {h, config.vocabSize()}, Kind.WEIGHT));
        return out;
    }

    private static void deepSeekLayers(List<Entry> out, DeepSeekConfig c) {
        long h = c.hiddenSize(), heads = c.numAttentionHeads();
        for (int i = 0; i < c.numHiddenLayers(); i++) {
            String p = "layers." + i + ".";
            add(out, p + "attn_norm.weight", Kind.NORM, h);
            if (c.qLoraRank() > 0) {
                add(out, p + "attn.wq_a.weight", Kind.WEIGHT, h, c.qLoraRank());
                add(out, p + "attn.q_norm.weight", Kind.NORM, c.qLoraRank());
                add(out, p + "attn.wq_b.weight", Kind.WEIGHT, c.qLoraRank(), heads * c.qkHeadDim());
            } else {
                add(out, p + "attn.wq.weight", Kind.WEIGHT, h, heads * c.qkHeadDim());
            }
            add(out, p + "attn.wkv_a.weight", Kind.WEIGHT, h, c.kvLoraRank() + c.qkRopeHeadDim());
            add(out, p + "attn.kv_norm.weight", Kind.NORM, c.kvLoraRank());
            add(out, p + "attn.wk_b.weight", Kind.WEIGHT, c.qkNopeHeadDim(), c.kvLoraRank(), heads);
            add(out, p + "attn.wv_b.weight", Kind.WEIGHT, c.kvLoraRank(), c.vHeadDim(), heads);
            add(out, p + "attn.wo.weight", Kind.WEIGHT, heads * c.vHeadDim(), h);
            add(out, p + "ffn_norm.weight", Kind.NORM, h);
            if (!c.isMoeLayer(i)) {
                mlp(out, p + "ffn.", h, c.intermediateSize());
            } else {
                long e = c.nRoutedExperts(), f = c.moeIntermediateSize();
                add(out, p + "ffn.gate.weight", Kind.WEIGHT, h, e);
                if (c.scoringFunc() == DeepSeekConfig.ScoringFunc.SIGMOID) add(out, p + "ffn.gate.bias", Kind.ROUTER_BIAS, e);
                add(out, p + "ffn.experts.w1.weight", Kind.EXPERTS, h, f, e);
                add(out, p + "ffn.experts.w3.weight", Kind.EXPERTS, h, f, e);
                add(out, p + "ffn.experts.w2.weight", Kind.EXPERTS, f, h, e);
                if (c.nSharedExperts() > 0) mlp(out, p + "ffn.shared_experts.", h, f * c.nSharedExperts());
            }
        }
    }

    private static void denseLayers(List<Entry> out, DenseConfig c, boolean biases) {
        long h = c.hiddenSize(), q = (long) c.numAttentionHeads() * c.headDim(), kv = (long) c.numKeyValueHeads() * c.headDim();
        if (c.ropeScaling() != null && c.ropeScaling().type().equals("llama3")) add(out, "rope.freqs", Kind.ROPE_FREQS, c.headDim() / 2);
        for (int i = 0; i < c.numHiddenLayers(); i++) {
            String p = "layers." + i + ".";
            add(out, p + "attn_norm.weight", Kind.NORM, h);
            add(out, p + "attn.wq.weight", Kind.WEIGHT, h, q);
            if (biases) add(out, p + "attn.wq.bias", Kind.WEIGHT, q);
            add(out, p + "attn.wk.weight", Kind.WEIGHT, h, kv);
            if (biases) add(out, p + "attn.wk.bias", Kind.WEIGHT, kv);
            add(out, p + "attn.wv.weight", Kind.WEIGHT, h, kv);
            if (biases) add(out, p + "attn.wv.bias", Kind.WEIGHT, kv);
            add(out, p + "attn.wo.weight", Kind.WEIGHT, q, h);
            add(out, p + "ffn_norm.weight", Kind.NORM, h);
            mlp(out, p + "ffn.", h, c.intermediateSize());
        }
    }

    /** SwiGLU: gate (w1), up (w3), down (w2). */
    private static void mlp(List<Entry> out, String prefix, long h, long f) {
        add(out, prefix + "w1.weight", Kind.WEIGHT, h, f);
        add(out, prefix + "w3.weight", Kind.WEIGHT, h, f);
        add(out, prefix + "w2.weight", Kind.WEIGHT, f, h);
    }

    private static void add(List<Entry> out, String name, Kind kind, long... shape) {
        out.add(new Entry(name, shape, kind));
    }
}
