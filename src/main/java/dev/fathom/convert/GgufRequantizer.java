package dev.fathom.convert;

import dev.fathom.FathomException;
import dev.fathom.checkpoint.GgufCheckpoint;
import dev.fathom.gguf.GgufMetadata;
import dev.fathom.gguf.GgufWriter;
import dev.fathom.tensor.Tensor;
import dev.fathom.tensor.TensorType;

/**
 * Requantises a GGUF as llama-quantize does (without an importance matrix): every quantisable tensor gets the type the
 * {@link QuantMix} chooses for its name and row length; a tensor already of that type, and every norm, bias and router,
 * is copied byte for byte; any other is decoded row by row and encoded with the reference quantisers. Metadata is copied, with
 * {@code general.file_type} set to the mix's and the split keys of a split input dropped (the output is one file).
 * Rows are streamed: memory stays bounded whatever the model's size.
 */
public final class GgufRequantizer {
    private GgufRequantizer() {}

    /**
     * @param allowRequantize also re-encode tensors that are already quantised (as llama-quantize's
     *                        {@code --allow-requantize}: it loses precision, so it is off by default)
     */
    public static GgufWriter prepare(GgufCheckpoint in, QuantMix mix, boolean allowRequantize) {
        String arch = in.architecture();
        int layers = in.config().getInt("num_hidden_layers");
        int experts = arch.equals("deepseek2") ? in.config().getInt("n_routed_experts", 0) : 0;
        GgufMetadata.Builder meta = GgufMetadata.builder().putAll(in.ggufMetadata());
        for (String k : new String[] {GgufCheckpoint.SPLIT_NO, GgufCheckpoint.SPLIT_COUNT, GgufCheckpoint.SPLIT_TENSORS}) meta.remove(k);
        meta.putUint32("general.file_type", mix.fileType);
        if (mix.base.blockSize > 1) meta.putUint32("general.quantization_version", 2);
        GgufWriter w = new GgufWriter(meta.build());
        boolean hasOutput = in.storedTensors().containsKey("output.weight");
        for (Tensor t : in.storedTensors().values()) {
            TensorType target = mix.typeOf(t.name(), t.dims(), t.rowLength(), arch, layers, experts, hasOutput);
            if (target == t.type() || !QuantMix.quantizable(t.name(), t.dims())) { // as llama-quantize: others keep their type
                w.addTensor(t.name(), t.type(), t.shape(), t.data());
                continue;
            }
            if (t.type().blockSize > 1 && !allowRequantize) {
                throw new FathomException(in.source() + ": tensor '" + t.name() + "' is already " + t.type() + "; requantising it to "
                        + target + " loses precision: pass --allow-requantize to do it anyway");
            }
            t.type().format(); // a clear error for a type Fathom cannot decode
            w.addTensor(t.name(), target, t.shape(), t::dequantizeRow);
        }
        return w;
    }
}
