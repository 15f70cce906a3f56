package dev.fathom.model;

import dev.fathom.checkpoint.Checkpoint;

/**
 * What running a model needs: the weights stay in the memory-mapped files (page cache, not heap); the KV cache
 * grows with the context, in 64-token blocks. For MLA (deepseek2) the cache holds, per token and layer, the
 * compressed latent and the shared rope key: kv_lora_rank + qk_rope_head_dim floats; for grouped-query attention
 * (llama, qwen2) the keys and values: 2 x num_key_value_heads x head_dim floats.
 */
public record MemoryEstimate(long weightBytes, long kvBytesPerToken, int contextLength, String kvLayout) {

    public static MemoryEstimate of(Checkpoint checkpoint, int contextLength) {
        long weights = 0;
        for (var t : checkpoint.storedTensors().values()) weights += t.data().byteSize();
        ModelConfig c = ModelConfig.of(checkpoint.architecture(), checkpoint.config());
        return new MemoryEstimate(weights, c.kvBytesPerToken(), contextLength, c.kvLayout());
    }

    /** KV bytes of one 64-token block (all layers). */
    public long kvBytesPerBlock() {
        return kvBytesPerToken * dev.fathom.kv.KvBlockPool.BLOCK_TOKENS;
    }

    public long kvBytes() {
        return kvBytesPerToken * contextLength;
    }

    public long totalBytes() {
        return weightBytes + kvBytes();
    }
}
