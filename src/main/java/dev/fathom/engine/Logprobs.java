package dev.fathom.engine;

import dev.fathom.tokenizer.Tokenizer;

import java.util.ArrayList;
import java.util.List;

/** Log-probabilities from logits: log-softmax at temperature 1, as OpenAI and DeepSeek report them. */
final class Logprobs {
    private Logprobs() {}

    static TokenInfo of(Tokenizer tokenizer, float[] logits, int chosen, int top) {
        float max = Float.NEGATIVE_INFINITY;
        for (float l : logits) if (l > max) max = l;
        double sum = 0;
        for (float l : logits) sum += Math.exp(l - max);
        float logZ = (float) (max + Math.log(sum));
        List<TokenInfo.Alternative> alts = new ArrayList<>(top);
        if (top > 0) {
            int[] best = new int[top];
            int n = 0;
            for (int i = 0; i < logits.length; i++) {
                float l = logits[i];
                if (n == top && !(l > logits[best[n - 1]])) continue;
                int j = n < top ? n++ : n - 1;
                while (j > 0 && l > logits[best[j - 1]]) {
                    best[j] = best[j - 1];
                    j--;
                }
                best[j] = i;
            }
            for (int i = 0; i < n; i++) {
                int id = best[i];
                byte[] b = tokenizer.decodeBytes(new int[] {id}, true);
                alts.add(new TokenInfo.Alternative(id, tokenizer.decode(new int[] {id}), b, logits[id] - logZ));
            }
        }
        byte[] b = tokenizer.decodeBytes(new int[] {chosen}, true);
        return new TokenInfo(chosen, tokenizer.decode(new int[] {chosen}), b, logits[chosen] - logZ, List.copyOf(alts));
    }
}
