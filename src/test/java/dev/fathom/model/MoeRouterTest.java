package dev.fathom.model;

import dev.fathom.kernel.Kernels;
import dev.fathom.model.DeepSeekConfig.ScoringFunc;
import dev.fathom.model.DeepSeekConfig.TopkMethod;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.*;

class MoeRouterTest {

    private static DeepSeekConfig config(ScoringFunc f, TopkMethod m, int nGroup, int topkGroup, int k, boolean norm, float scale) {
        return new DeepSeekConfig(16, 8, 8, 8, 2, 1, 0, 8, 8, 2, 8, 8, 0, k, nGroup, topkGroup, scale, norm, f, m, 1,
                1e-6f, 1e4f, 64, null, 0, 1);
    }

    private static int[] route(DeepSeekConfig c, float[] logits, float[] bias, float[] weights) {
        int[] chosen = new int[c.numExpertsPerTok()];
        MoeRouter.route(c, Kernels.scalar(8), logits, 0, bias, new float[8], new float[8], new float[c.nGroup()],
                new boolean[c.nGroup()], chosen, 0, weights, 0);
        return chosen;
    }

    @Test
    void v2GroupLimitedRanksGroupsByTheirMaximum() {
        // 4 groups of 2. Group 0 = {3.0, -9}: best max; group 1 = {2.0, 2.0}: best top-2 sum; group 2 = {2.5, -9}.
        float[] logits = {3.0f, -9f, 2.0f, 2.0f, 2.5f, -9f, -9f, -9f};
        DeepSeekConfig c = config(ScoringFunc.SOFTMAX, TopkMethod.GROUP_LIMITED_GREEDY, 4, 2, 2, false, 1f);
        float[] w = new float[2];
        assertArrayEquals(new int[] {0, 4}, route(c, logits, null, w)); // groups 0 and 2 (max), not group 1
        assertTrue(w[0] > w[1]);
    }

    @Test
    void v3BiasChoosesGroupsByTop2SumButWeightsAreUnbiased() {
        float[] logits = {3.0f, -9f, 2.0f, 2.0f, 2.5f, -9f, -9f, -9f};
        float[] bias = {0, 0, 0, 0, 0, 0, 0, 0.9f};
        DeepSeekConfig c = config(ScoringFunc.SIGMOID, TopkMethod.NOAUX_TC, 4, 2, 3, true, 2.5f);
        float[] w = new float[3];
        int[] chosen = route(c, logits, bias, w);
        // Group sums of the top two biased sigmoid scores: g0 0.95+0.0001, g1 0.88+0.88, g2 0.92+0.0001, g3 0.0001+0.9001.
        assertArrayEquals(new int[] {0, 2, 3}, chosen);
        double s0 = 1 / (1 + Math.exp(-3.0)), s2 = 1 / (1 + Math.exp(-2.0));
        double sum = s0 + 2 * s2;
        assertEquals(2.5 * s0 / sum, w[0], 1e-6);
        assertEquals(2.5 * s2 / sum, w[1], 1e-6);
        assertEquals(2.5, w[0] + w[1] + w[2], 1e-5);
    }

    @Test
    void greedySoftmaxWithoutNormalisation() {
        float[] logits = {0, 1, 2, 3, 4, 5, 6, 7};
        DeepSeekConfig c = config(ScoringFunc.SOFTMAX, TopkMethod.GREEDY, 1, 1, 2, false, 1f);
        float[] w = new float[2];
        assertArrayEquals(new int[] {7, 6}, route(c, logits, null, w));
        double z = 0;
        for (float l : logits) z += Math.exp(l);
        assertEquals(Math.exp(7) / z, w[0], 1e-6);
    }
}
