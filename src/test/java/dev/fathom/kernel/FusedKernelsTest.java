package dev.fathom.kernel;

import dev.fathom.tensor.Tensor;
import dev.fathom.tensor.TensorType;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.*;

/**
 * Every fused kernel against the decoded-row path of its type, bit for bit: its vector decode against the
 * format's {@code dequantize}, its one-row sums and dotRows against the canonical sum of those decoded values.
 * Together with the batch tests of {@link VectorKernelsTest} this holds decode alone == batch == prompt rows.
 */
class FusedKernelsTest {
    /** The types of llama-quantize's common mixes and of Hugging Face checkpoints: none may take the decoded-row path. */
    private static final Set<TensorType> MUST_BE_FUSED = EnumSet.of(TensorType.F32, TensorType.F16, TensorType.BF16,
            TensorType.Q8_0, TensorType.Q4_0, TensorType.Q4_1, TensorType.Q5_0, TensorType.Q5_1, TensorType.Q2_K,
            TensorType.Q3_K, TensorType.Q4_K, TensorType.Q5_K, TensorType.Q6_K, TensorType.IQ4_NL, TensorType.IQ4_XS,
            TensorType.F8_E4M3);

    static List<TensorType> fusedTypes() {
        List<TensorType> fused = new ArrayList<>();
        for (TensorType t : TestTensors.supportedTypes()) {
            if (RowKernels.of(t).getClass() != RowKernel.class) fused.add(t);
        }
        return fused;
    }

    @Test
    void everyCommonTypeHasAFusedKernel() {
        if (!RowKernel.FUSED) return; // 128-bit vectors: every type takes the decoded-row path by design
        for (TensorType t : MUST_BE_FUSED) {
            assertNotSame(RowKernel.class, RowKernels.of(t).getClass(), t + " runs decode-then-dot");
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("fusedTypes")
    void fusedKernelGivesTheBitsOfTheDecodedRows(TensorType type) {
        RowKernel fused = RowKernels.of(type), plain = new RowKernel(type.format());
        int rows = 6;
        try (Arena arena = Arena.ofConfined()) {
            for (int n : VectorKernelsTest.lengths(type)) {
                Tensor w = TestTensors.random(type, rows, n, 31L * n + type.ordinal(), arena);
                MemorySegment data = w.data();
                long rowBytes = w.rowBytes();
                float[] scratchA = new float[RowKernel.scratchLength(n)], scratchB = new float[RowKernel.scratchLength(n)];
                int xOff = 3;
                float[] xs = new float[xOff + n];
                System.arraycopy(TestTensors.gaussian(n, n), 0, xs, xOff, n);
                for (int r = 0; r < rows; r++) {
                    long p = r * rowBytes;
                    float[] a = new float[n + 5], b = new float[n + 5];
                    fused.decode(data, p, n, a, 5, scratchA);
                    plain.decode(data, p, n, b, 5, scratchB);
                    assertArrayEquals(b, a, type + " n=" + n + " row " + r + ": vector decode");
                    assertEquals(plain.dot(data, p, n, xs, xOff, scratchB), fused.dot(data, p, n, xs, xOff, scratchA),
                            type + " n=" + n + " row " + r + ": one-row sum");
                }
                float[] outA = new float[rows], outB = new float[rows];
                fused.dotRows(data, 0, rowBytes, rows, n, xs, xOff, outA, 0, scratchA);
                plain.dotRows(data, 0, rowBytes, rows, n, xs, xOff, outB, 0, scratchB);
                assertArrayEquals(outB, outA, type + " n=" + n + ": dotRows");
            }
        }
    }
}
