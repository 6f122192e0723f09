package dev.espalier.engine.fuzz;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.math.BigInteger;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;

/** Seeded mutations of bytes and JSON values, biased towards the values that break readers (0, -1, limits, wrong types). */
final class Mutate {
    private static final JsonNodeFactory JSON = JsonNodeFactory.instance;
    static final int[] INTS = {
        0,
        1,
        -1,
        2,
        3,
        7,
        8,
        255,
        256,
        4096,
        65536,
        Integer.MAX_VALUE,
        Integer.MIN_VALUE,
        Integer.MAX_VALUE - 1,
        1 << 30,
        -(1 << 30)
    };

    private Mutate() {}

    static int interestingInt(Random r) {
        return r.nextInt(4) == 0 ? r.nextInt() : INTS[r.nextInt(INTS.length)];
    }

    /** A JSON value of a random kind: ints at the limits, doubles out of range, strings, null, lists, objects. */
    static JsonNode value(Random r, int depth) {
        return switch (r.nextInt(depth > 2 ? 8 : 11)) {
            case 0, 1 -> JSON.numberNode(interestingInt(r));
            case 2 ->
                JSON.numberNode(new double[] {-1.0, 0.0, 1e-300, 1e-60, 0.5, 1.5, 1e5, 1e300, -1e-5}[r.nextInt(9)]);
            case 3 ->
                JSON.numberNode(new BigInteger(
                        new String[] {"2147483648", "9223372036854775808", "-9223372036854775809", "1" + "0".repeat(40)}
                                [r.nextInt(4)]));
            case 4 -> JSON.textNode(new String[] {"", "64", "llama", "silu", "\n", "float32", "null"}[r.nextInt(7)]);
            case 5 -> JSON.nullNode();
            case 6 -> JSON.booleanNode(r.nextBoolean());
            case 7 -> JSON.numberNode(r.nextInt(2000) - 1000);
            case 8, 9 -> {
                ArrayNode a = JSON.arrayNode();
                int n = r.nextInt(7);
                for (int i = 0; i < n; i++) {
                    a.add(r.nextInt(3) == 0 ? value(r, depth + 1) : JSON.numberNode(interestingInt(r)));
                }
                yield a;
            }
            default -> {
                ObjectNode o = JSON.objectNode();
                int n = r.nextInt(5);
                for (int i = 0; i < n; i++) {
                    o.set(
                            new String[] {
                                        "type",
                                        "rope_type",
                                        "factor",
                                        "low_freq_factor",
                                        "high_freq_factor",
                                        "original_max_position_embeddings",
                                        "rope_theta",
                                        "dtype",
                                        "shape",
                                        "data_offsets"
                                    }
                                    [r.nextInt(10)],
                            value(r, depth + 1));
                }
                yield o;
            }
        };
    }

    /** One random edit of {@code bytes}: overwrite, insert, delete, or truncate. */
    static byte[] bytes(Random r, byte[] bytes) {
        byte[] b = bytes.clone();
        if (b.length == 0) {
            return new byte[] {(byte) r.nextInt()};
        }
        int at = r.nextInt(b.length);
        return switch (r.nextInt(5)) {
            case 0 -> {
                int n = 1 + r.nextInt(8);
                for (int i = 0; i < n && at + i < b.length; i++) {
                    b[at + i] = (byte) r.nextInt();
                }
                yield b;
            }
            case 1 -> {
                if (at + 4 <= b.length) {
                    ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN).putInt(at, interestingInt(r));
                }
                yield b;
            }
            case 2 -> Arrays.copyOf(b, at);
            case 3 -> {
                byte[] out = new byte[b.length + 1 + r.nextInt(16)];
                System.arraycopy(b, 0, out, 0, at);
                for (int i = at; i < out.length - (b.length - at); i++) {
                    out[i] = (byte) r.nextInt();
                }
                System.arraycopy(b, at, out, out.length - (b.length - at), b.length - at);
                yield out;
            }
            default -> {
                int n = Math.min(b.length - at, 1 + r.nextInt(64));
                byte[] out = new byte[b.length - n];
                System.arraycopy(b, 0, out, 0, at);
                System.arraycopy(b, at + n, out, at, b.length - at - n);
                yield out;
            }
        };
    }

    /** The field names of {@code o}, in order. */
    static List<String> names(ObjectNode o) {
        List<String> names = new ArrayList<>();
        o.fieldNames().forEachRemaining(names::add);
        return names;
    }

    static <T> T pick(Random r, List<T> items) {
        return items.get(r.nextInt(items.size()));
    }

    static Path write(Path file, byte[] bytes) {
        try {
            Files.createDirectories(file.getParent());
            Files.write(file, bytes);
            return file;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    static byte[] read(Path file) {
        try {
            return Files.readAllBytes(file);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
