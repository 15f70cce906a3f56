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
