package dev.fathom.model;

import dev.fathom.kernel.Kernels;
import dev.fathom.model.DeepSeekConfig.ScoringFunc;
import dev.fathom.model.DeepSeekConfig.TopkMethod;

import java.util.Arrays;

/** DeepSeek's expert selection (the "gate" of DeepSeek-V2 / V3 MoE layers). Allocates nothing. */
final class MoeRouter {
    private MoeRouter() {}

    /**
     * Chooses the experts of one token into chosen[chosenOff ..] / weights[weightsOff ..] (top-k each).
     * <ul>
     *   <li>softmax scoring (V2): greedy top-k of the probabilities, or with group_limited_greedy first the
     *       topk_group groups with the largest MAXIMUM probability (DeepSeek-V2's own rule; llama.cpp applies
     *       V3's top-2 sum to every model - we follow DeepSeek).
     *   <li>sigmoid scoring with noaux_tc (V3): e_score_correction_bias is added for choosing only; groups are
     *       ranked by the sum of their two best biased scores; the weights are the unbiased scores.
     * </ul>
     * Weights are normalised to sum 1 when normTopkProb (and top-k > 1), then multiplied by routedScalingFactor
     * (as V3 and llama.cpp; DeepSeek-V2's HF code scales only un-normalised weights, which coincides for every
     * released V2 config).
     */
    static void route(DeepSeekConfig c, Kernels k, float[] logits, int logitsOff, float[] bias, float[] scores, float[] choice,
                      float[] groupScores, boolean[] groupKept, int[] chosen, int chosenOff, float[] weights, int weightsOff) {
        int e = c.nRoutedExperts(), topK = c.numExpertsPerTok();
        System.arraycopy(logits, logitsOff, scores, 0, e);
        if (c.scoringFunc() == ScoringFunc.SOFTMAX) {
            k.softmax(scores, 0, e);
        } else {
            for (int i = 0; i < e; i++) scores[i] = (float) (1.0 / (1.0 + Math.exp(-scores[i])));
        }
        for (int i = 0; i < e; i++) choice[i] = bias != null ? scores[i] + bias[i] : scores[i];
        int groups = c.nGroup();
        if (groups > 1 && c.topkGroup() < groups && c.topkMethod() != TopkMethod.GREEDY) {
            int per = e / groups;
            for (int g = 0; g < groups; g++) {
                float best = Float.NEGATIVE_INFINITY, second = Float.NEGATIVE_INFINITY;
                for (int i = g * per; i < (g + 1) * per; i++) {
                    float v = choice[i];
                    if (v > best) {
                        second = best;
                        best = v;
                    } else if (v > second) {
                        second = v;
                    }
                }
                groupScores[g] = c.topkMethod() == TopkMethod.NOAUX_TC && per > 1 ? best + second : best;
                groupKept[g] = false;
            }
            for (int j = 0; j < c.topkGroup(); j++) {
                int bestG = -1;
                for (int g = 0; g < groups; g++) {
                    if (!groupKept[g] && (bestG < 0 || groupScores[g] > groupScores[bestG])) bestG = g;
                }
                groupKept[bestG] = true;
            }
            for (int g = 0; g < groups; g++) {
                if (!groupKept[g]) Arrays.fill(choice, g * per, (g + 1) * per, Float.NEGATIVE_INFINITY);
            }
        }
        float sum = 0;
        for (int j = 0; j < topK; j++) {
            int best = -1;
            for (int i = 0; i < e; i++) {
                if (Float.isNaN(choice[i])) continue; // already chosen
                if (best < 0 || choice[i] > choice[best]) best = i; // ties: the lower id
            }
            chosen[chosenOff + j] = best;
            choice[best] = Float.NaN;
            weights[weightsOff + j] = scores[best];
            sum += scores[best];
        }
        float scale = c.routedScalingFactor();
        if (c.normTopkProb() && topK > 1) scale /= (sum + 1e-20f);
        for (int j = 0; j < topK; j++) weights[weightsOff + j] *= scale;
    }
}
