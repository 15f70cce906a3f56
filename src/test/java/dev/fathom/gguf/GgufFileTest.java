package dev.fathom.gguf;

import dev.fathom.Fixtures;
import dev.fathom.tensor.Tensor;
import dev.fathom.tensor.TensorType;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.*;

class GgufFileTest {

    @Test
    void readsTinyDeepSeekModel() throws Exception {
        try (GgufFile f = GgufFile.open(Fixtures.golden("v3-tiny/model.gguf"))) {
            assertEquals(3, f.version());
            GgufMetadata m = f.metadata();
            assertEquals("deepseek2", m.getString("general.architecture"));
            assertEquals(64, m.getInt("deepseek2.embedding_length"));
            assertEquals(1, m.getInt("deepseek2.attention.head_count_kv"));
            assertEquals(16448, m.getStringArray("tokenizer.ggml.tokens").length);
            assertEquals("deepseek-v3", m.getString("tokenizer.ggml.pre"));
            Tensor emb = f.tensor("token_embd.weight");
            assertEquals(TensorType.Q8_0, emb.type());
            assertArrayEquals(new long[] {64, 16448}, emb.shape());
            assertEquals(16448L * 64 / 32 * 34, emb.data().byteSize());
            assertEquals(0, f.tensorDataOffset(f.tensors().keySet().iterator().next()) % f.alignment());
        }
    }
}
