package dev.fathom.kernel;

import dev.fathom.tensor.TensorType;

/**
 * The registry of row kernels, one per tensor type: a fused Vector API kernel where one is written (and the
 * vectors are 8 or 16 lanes wide), the decoded-row path of {@link RowKernel} for every other supported type.
 */
public final class RowKernels {
    private static final RowKernel[] BY_TYPE = new RowKernel[TensorType.values().length];

    static {
        InliningDirective.install(); // before any kernel runs, so that no kernel is compiled without it
        if (RowKernel.FUSED) {
            for (RowKernel k : new RowKernel[] {
                    new F32Kernel(),
                    Half16Kernel.f16(),
                    Half16Kernel.bf16(),
                    new Q8_0Kernel(),
                    new Q4_0Kernel(),
                    new Q4_KKernel(),
                    new Q5_0Kernel(),
                    new Q6_KKernel(),
                    new F8Kernel(),
                    new Q4_1Kernel(),
                    new Q5_1Kernel(),
                    new IQ4_NLKernel(),
                    new Q3_KKernel(),
                    new Q2_KKernel(),
                    new IQ4_XSKernel(),
                    new Q5_KKernel(),
            }) {
                BY_TYPE[k.type().ordinal()] = k;
            }
        }
        for (TensorType t : TensorType.values()) {
            if (BY_TYPE[t.ordinal()] == null && t.isSupported()) BY_TYPE[t.ordinal()] = new RowKernel(t.format());
        }
    }

    private RowKernels() {}

    /** The kernel for {@code type}; fails with the supported-types message when Fathom cannot read the type. */
    public static RowKernel of(TensorType type) {
        RowKernel k = BY_TYPE[type.ordinal()];
        if (k == null) type.format(); // throws the descriptive error
        return k;
    }
}
