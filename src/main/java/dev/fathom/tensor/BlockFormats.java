package dev.fathom.tensor;

import java.util.Arrays;
import java.util.EnumMap;
import java.util.Map;
import java.util.stream.Collectors;

/** The registry of implemented block formats: adding a tensor type is one class plus one line here. */
final class BlockFormats {
    private static final Map<TensorType, BlockFormat> FORMATS = new EnumMap<>(TensorType.class);

    static {
        for (BlockFormat f : new BlockFormat[] {
                new F32(),
                new F16(),
                new BF16(),
                new Q8_0(),
                new Q4_0(),
                new Q4_1(),
                new Q5_0(),
                new Q5_1(),
                new Q2_K(),
                new Q3_K(),
                new Q4_K(),
                new Q5_K(),
                new Q6_K(),
                new IQ4_NL(),
                new IQ4_XS(),
                new F8_E4M3(),
        }) {
            FORMATS.put(f.type(), f);
        }
    }

    private BlockFormats() {}

    static BlockFormat of(TensorType type) {
        return FORMATS.get(type);
    }

    static boolean isSupported(TensorType type) {
        return FORMATS.containsKey(type);
    }

    static String supportedNames() {
        return Arrays.stream(TensorType.values()).filter(FORMATS::containsKey).map(Enum::name)
                .collect(Collectors.joining(", "));
    }
}
