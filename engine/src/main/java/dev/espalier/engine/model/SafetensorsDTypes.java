package dev.espalier.engine.model;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;

/** Element sizes of the byte-addressable safetensors dtypes (sub-byte F4/F6 formats are not supported). */
final class SafetensorsDTypes {
    private static final Map<String, Integer> SIZES = new LinkedHashMap<>();

    static {
        for (String n : new String[] {"BOOL", "U8", "I8", "F8_E5M2", "F8_E4M3", "F8_E8M0"}) {
            SIZES.put(n, 1);
        }
        for (String n : new String[] {"I16", "U16", "F16", "BF16"}) {
            SIZES.put(n, 2);
        }
        for (String n : new String[] {"I32", "U32", "F32"}) {
            SIZES.put(n, 4);
        }
        for (String n : new String[] {"I64", "U64", "F64"}) {
            SIZES.put(n, 8);
        }
    }

    private SafetensorsDTypes() {}

    /** Bytes per element, or -1 for an unknown name. */
    static int byteSize(String name) {
        return SIZES.getOrDefault(name, -1);
    }

    static Set<String> names() {
        return SIZES.keySet();
    }
}
