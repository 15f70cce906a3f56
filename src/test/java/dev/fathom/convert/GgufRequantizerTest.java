package dev.fathom.convert;

import dev.fathom.FathomException;
import dev.fathom.Fixtures;
import dev.fathom.checkpoint.GgufCheckpoint;
import dev.fathom.gguf.GgufFile;
import dev.fathom.model.LoadedModel;
import dev.fathom.model.Transformer;
import dev.fathom.tensor.TensorType;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.*;

class GgufRequantizerTest {
    @TempDir
    Path dir;

    /** qwen2-tiny (F32, token_embd Q8_0) to Q4_K_M: llama-quantize's types (golden README's worked example), and it runs. */
    @Test
    void q4KmOfTheGoldenQwen2() throws Exception {
        Path out = dir.resolve("q.gguf");
        try (GgufCheckpoint in = GgufCheckpoint.open(Fixtures.golden("qwen2-tiny/model.gguf"))) {
            FathomException e = assertThrows(FathomException.class, () -> GgufRequantizer.prepare(in, QuantMix.Q4_K_M, false));
            assertTrue(e.getMessage().contains("token_embd.weight") && e.getMessage().contains("--allow-requantize"), e.getMessage());
            GgufRequantizer.prepare(in, QuantMix.Q4_K_M, true).write(out);
        }
        try (GgufFile f = GgufFile.open(out)) {
            assertEquals(15, f.metadata().getInt("general.file_type"));
            assertEquals(TensorType.Q5_0, f.tensor("token_embd.weight").type());
            assertEquals(TensorType.Q8_0, f.tensor("output.weight").type());
            assertEquals(TensorType.Q5_0, f.tensor("blk.0.attn_v.weight").type());
            assertEquals(TensorType.Q8_0, f.tensor("blk.2.attn_v.weight").type());
            assertEquals(TensorType.Q8_0, f.tensor("blk.2.ffn_down.weight").type());
            assertEquals(TensorType.F32, f.tensor("blk.0.attn_q.bias").type());
            assertEquals(TensorType.F32, f.tensor("blk.0.attn_norm.weight").type());
        }
        // Q5_0/Q8_0 weights stay close to the F32 model (same argmax on a prompt's last row).
        try (LoadedModel a = LoadedModel.open(Fixtures.golden("qwen2-tiny/model.gguf"), 1); LoadedModel b = LoadedModel.open(out, 1)) {
            int[] tokens = Fixtures.readI32(Fixtures.golden("qwen2-tiny/p0/tokens.i32"));
            Transformer ta = a.model(), tb = b.model();
            float[] la = ta.forward(ta.newSequence(tokens.length), tokens, 0, false)[0];
            float[] lb = tb.forward(tb.newSequence(tokens.length), tokens, 0, false)[0];
            double max = 0;
            for (int i = 0; i < la.length; i++) max = Math.max(max, Math.abs(la[i] - lb[i]));
            assertTrue(max < 0.5, "Q4_K_M logits differ from F32 by " + max);
        }
    }

    /** Requantising to the type a tensor already has copies its bytes. */
    @Test
    void sameTypeIsCopiedExactly() throws Exception {
        Path out = dir.resolve("q8.gguf");
        try (GgufCheckpoint in = GgufCheckpoint.open(Fixtures.golden("v3-tiny-q8_0/model.gguf"))) {
            GgufRequantizer.prepare(in, QuantMix.Q8_0, false).write(out);
        }
        try (GgufFile a = GgufFile.open(Fixtures.golden("v3-tiny-q8_0/model.gguf")); GgufFile b = GgufFile.open(out)) {
            for (var t : a.tensors().values()) {
                assertEquals(-1, t.data().mismatch(b.tensor(t.name()).data()), t.name());
            }
        }
    }
}
