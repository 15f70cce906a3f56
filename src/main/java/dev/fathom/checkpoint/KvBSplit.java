package dev.fathom.checkpoint;

import dev.fathom.FathomException;
import dev.fathom.gguf.GgufWriter.RowSource;
import dev.fathom.tensor.Tensor;

/**
 * DeepSeek's {@code kv_b_proj} (heads x (nope + v) rows of kv_lora) split per head as the absorbed attention uses it
 * (model.py's {@code wkv_b.view(heads, -1, kv_lora)}) and as llama.cpp's converter writes it ({@code attn_k_b},
 * {@code attn_v_b}), row by row: the key part transposed, ggml {nope, kv_lora, heads} (row h * kv_lora + c holds
 * {@code kv_b[h * (nope + v) + d][c]} for d < nope), and the value part, ggml {kv_lora, v, heads} (row h * v + j is
 * {@code kv_b} row h * (nope + v) + nope + j). Rows are decoded from the weight as stored (FP8 with its scales).
 */
public final class KvBSplit {
    private final Tensor kvb;
    private final int heads, nope, v, lora;

    private KvBSplit(Tensor kvb, int heads, int nope, int v) {
        this.kvb = kvb;
        this.heads = heads;
        this.nope = nope;
        this.v = v;
        this.lora = Math.toIntExact(kvb.rowLength());
    }

    /** @param source names the file and tensor in the error for a weight whose row count does not fit the config */
    public static KvBSplit of(Tensor kvb, int heads, int nope, int v, String source) {
        if (kvb.dims() != 2 || kvb.rowCount() != (long) heads * (nope + v)) {
            throw new FathomException(source + " has " + kvb.rowCount() + " rows, the config needs heads x (nope + v) = " + heads * (nope + v));
        }
        return new KvBSplit(kvb, heads, nope, v);
    }

    public long[] keyShape() {
        return new long[] {nope, lora, heads};
    }

    public long[] valueShape() {
        return new long[] {lora, v, heads};
    }

    /** The key part's rows, in any order; each head's nope rows are decoded once while its rows are read in turn. */
    public RowSource keyRows() {
        float[] block = new float[nope * lora];
        float[] row = new float[lora];
        int[] decodedHead = {-1};
        return (r, out) -> {
            int h = (int) (r / lora), c = (int) (r % lora);
            if (h != decodedHead[0]) {
                for (int d = 0; d < nope; d++) {
                    kvb.dequantizeRow((long) h * (nope + v) + d, row);
                    System.arraycopy(row, 0, block, d * lora, lora);
                }
                decodedHead[0] = h;
            }
            for (int d = 0; d < nope; d++) out[d] = block[d * lora + c];
        };
    }

    public RowSource valueRows() {
        return (r, out) -> kvb.dequantizeRow(r / v * (nope + v) + nope + r % v, out);
    }
}
