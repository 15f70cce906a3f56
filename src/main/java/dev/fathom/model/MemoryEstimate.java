package dev.fathom.model;

import dev.fathom.gguf.GgufFile;
import dev.fathom.gguf.GgufMetadata;

/**
 * What running a GGUF model needs: the weights stay in the memory-mapped file (page cache, not heap); the KV
 * cache grows with the context. For MLA (deepseek2) the cache holds, per token and layer, the compressed
 * latent and the shared rope key: kv_lora_rank + qk_rope_head_dim floats. For grouped-query attention
 * (llama, qwen2) it holds keys and values: 2 x head_count_kv x head_dim floats.
 */
public record MemoryEstimate(long weightBytes, long kvBytesPerToken, int contextLength, String kvLayout) {
    public static final int KV_BYTES_PER_VALUE = Float.BYTES;

    public static MemoryEstimate of(GgufFile file, int contextLength) {
        GgufMetadata m = file.metadata();
        long weights = 0;
        for (var t : file.tensors().values()) weights += t.data().byteSize();
        String arch = m.findString("general.architecture").orElse("unknown");
        long perToken = 0;
        String layout = "unknown architecture: KV cache not estimated";
        if (m.has(arch + ".block_count")) {
            int layers = m.getInt(arch + ".block_count");
            if (m.has(arch + ".attention.kv_lora_rank")) {
                int latent = m.getInt(arch + ".attention.kv_lora_rank");
                int rope = m.getInt(arch + ".rope.dimension_count");
                perToken = (long) layers * (latent + rope) * KV_BYTES_PER_VALUE;
                layout = "MLA latent: " + layers + " layers x (" + latent + " latent + " + rope + " rope) floats";
            } else if (m.has(arch + ".attention.head_count") && m.has(arch + ".embedding_length")) {
                int heads = m.getInt(arch + ".attention.head_count");
                int kvHeads = m.getInt(arch + ".attention.head_count_kv", heads);
                int headDim = m.getInt(arch + ".attention.key_length", m.getInt(arch + ".embedding_length") / heads);
                perToken = 2L * layers * kvHeads * headDim * KV_BYTES_PER_VALUE;
                layout = "keys and values: 2 x " + layers + " layers x " + kvHeads + " heads x " + headDim + " floats";
            }
        }
        return new MemoryEstimate(weights, perToken, contextLength, layout);
    }

    public long kvBytes() {
        return kvBytesPerToken * contextLength;
    }

    public long totalBytes() {
        return weightBytes + kvBytes();
    }
}
