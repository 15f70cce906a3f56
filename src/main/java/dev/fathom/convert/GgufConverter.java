package dev.fathom.convert;

import dev.fathom.checkpoint.GgufNames;
import dev.fathom.checkpoint.HfCheckpoint;
import dev.fathom.checkpoint.KvBSplit;
import dev.fathom.checkpoint.SamplingDefaults;
import dev.fathom.gguf.GgufMetadata;
import dev.fathom.gguf.GgufWriter;
import dev.fathom.gguf.GgufWriter.RowSource;
import dev.fathom.model.DeepSeekConfig;
import dev.fathom.model.DenseConfig;
import dev.fathom.model.ModelConfig;
import dev.fathom.model.TensorLayout;
import dev.fathom.tensor.Tensor;
import dev.fathom.tensor.TensorType;
import dev.fathom.tokenizer.GgufVocabulary;

import java.util.function.Supplier;

/**
 * Converts a Hugging Face folder to a GGUF as llama.cpp's {@code convert_hf_to_gguf.py} writes it (architectures
 * deepseek2, qwen2, llama: its tensor names, metadata keys, tokenizer metadata and chat template), with the weights
 * encoded by a {@link QuantMix} as llama-quantize chooses them. What the converter changes is done here too: DeepSeek's
 * {@code kv_b_proj} split into {@code attn_k_b} / {@code attn_v_b} ({@link KvBSplit}), experts stacked into
 * {@code ffn_*_exps}, Llama's q/k rows permuted from HF's rotate-half order to llama.cpp's adjacent pairs, llama3
 * scaling written as {@code rope_freqs}; the multi-token-prediction layers are left out, as llama.cpp does. FP8
 * weights are decoded with their block scales. Rows are produced while the file is written: memory stays bounded
 * whatever the model's size.
 */
public final class GgufConverter {
    private GgufConverter() {}

    /** Prepares the GGUF of {@code in}; its tensors are looked up (names and shapes checked) now, read when it is written. */
    public static GgufWriter prepare(HfCheckpoint in, QuantMix mix) {
        String arch = in.architecture();
        ModelConfig c = ModelConfig.of(arch, in.config());
        GgufMetadata.Builder meta = GgufMetadata.builder();
        GgufNames.toGguf(arch, c.toConfig(), meta);
        meta.putString("general.type", "model");
        meta.putString("general.name", in.name());
        meta.putUint32("general.file_type", mix.fileType);
        meta.putUint32("general.quantization_version", 2);
        GgufVocabulary.fromHuggingFace(in.folder(), c.vocabSize(), meta);
        in.chatTemplate().ifPresent(t -> meta.putString("tokenizer.chat_template", t));
        SamplingDefaults sampling = in.samplingDefaults(); // generation_config.json, as llama.cpp's converter keeps it
        if (sampling.temperature() != null) meta.putFloat32("general.sampling.temp", sampling.temperature());
        if (sampling.topP() != null) meta.putFloat32("general.sampling.top_p", sampling.topP());
        if (sampling.topK() != null) meta.putInt32("general.sampling.top_k", sampling.topK());

        GgufWriter w = new GgufWriter(meta.build());
        int experts = c instanceof DeepSeekConfig d ? d.nRoutedExperts() : 0;
        boolean hasOutput = in.has("head.weight");
        for (TensorLayout.Entry e : TensorLayout.of(c, in.has("layers.0.attn.wq.bias"))) {
            if (e.name().equals("head.weight") && !hasOutput) continue; // tied to the embedding: llama.cpp writes no output
            String name = GgufNames.tensor(e.name());
            long[] shape = e.shape();
            TensorType type = mix.typeOf(name, shape.length, shape[0], arch, c.numHiddenLayers(), experts, hasOutput);
            w.addTensor(name, type, shape, rows(in, c, e));
        }
        return w;
    }

    /** The rows of one layout entry, from the checkpoint's tensors as they are stored. */
    private static Supplier<RowSource> rows(HfCheckpoint in, ModelConfig c, TensorLayout.Entry e) {
        String name = e.name();
        long[] shape = e.shape();
        switch (e.kind()) {
            case ROPE_FREQS -> {
                float[] divisors = ((DenseConfig) c).llama3Divisors();
                return () -> (row, out) -> System.arraycopy(divisors, 0, out, 0, out.length);
            }
            case EXPERTS -> {
                long rowsPerExpert = shape[1];
                Tensor[] experts = in.experts(name, (int) shape[2], shape[0], rowsPerExpert);
                return () -> (row, out) -> experts[(int) (row / rowsPerExpert)].dequantizeRow(row % rowsPerExpert, out);
            }
            default -> {}
        }
        if (c instanceof DeepSeekConfig d && (name.endsWith(".attn.wk_b.weight") || name.endsWith(".attn.wv_b.weight"))) {
            String kvb = name.replaceFirst("w[kv]_b\\.weight$", "wkv_b.weight");
            int heads = d.numAttentionHeads(), nope = d.qkNopeHeadDim(), v = d.vHeadDim();
            KvBSplit split = KvBSplit.of(in.tensor(kvb, d.kvLoraRank(), (long) heads * (nope + v)), heads, nope, v,
                    in.source() + ": tensor '" + kvb + "'");
            return name.endsWith("wk_b.weight") ? split::keyRows : split::valueRows; // a key reader holds one head's rows
        }
        Tensor t = in.tensor(name, shape);
        if (c instanceof DenseConfig d && d.architecture().equals("llama")) { // HF's Llama weights are in rotate-half order
            boolean q = name.matches("layers\\.\\d+\\.attn\\.wq\\.(weight|bias)"), k = name.matches("layers\\.\\d+\\.attn\\.wk\\.(weight|bias)");
            if (q || k) return () -> permuted(t, d.headDim());
        }
        return () -> t::dequantizeRow;
    }

    /**
     * llama.cpp's Llama q/k permutation ({@code LlamaModel.permute}): per head, HF's rotate-half pairs (i, i + d/2)
     * become adjacent pairs (2i, 2i + 1), the order llama.cpp's NORM rope rotates. Row (or, for a bias, element) j of a
     * head comes from its row (j % 2) * d/2 + j / 2.
     */
    private static RowSource permuted(Tensor t, int headDim) {
        int half = headDim / 2;
        if (t.dims() == 1) {
            float[] bias = t.toFloatArray();
            return (row, out) -> {
                for (int j = 0; j < out.length; j++) out[j] = bias[j / headDim * headDim + j % 2 * half + j % headDim / 2];
            };
        }
        return (row, out) -> {
            long head = row / headDim, j = row % headDim;
            t.dequantizeRow(head * headDim + j % 2 * half + j / 2, out);
        };
    }
}
