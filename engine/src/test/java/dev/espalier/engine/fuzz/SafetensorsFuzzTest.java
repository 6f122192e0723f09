package dev.espalier.engine.fuzz;

import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.espalier.engine.SharedFiles;
import dev.espalier.engine.model.HfModelLoader;
import dev.espalier.engine.model.SafetensorsFile;
import java.lang.foreign.Arena;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Mutated headers (length prefix, JSON, dtype, shape, data_offsets) and truncations of stories260K's model.safetensors. */
class SafetensorsFuzzTest {
    static final long SEED = Long.getLong("espalier.fuzz.seed", 20240917L);
    private static final int CASES = 150;
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path tmp;

    @Test
    void everyMutatedSafetensorsFileLoadsOrIsRefusedNamingIt() throws Exception {
        Path folder = SharedFiles.storiesHf();
        byte[] original = Mutate.read(folder.resolve("model.safetensors"));
        long headerLength =
                ByteBuffer.wrap(original).order(ByteOrder.LITTLE_ENDIAN).getLong(0);
        ObjectNode header =
                (ObjectNode) JSON.readTree(new String(original, 8, (int) headerLength, StandardCharsets.UTF_8));
        byte[] data = Arrays.copyOfRange(original, 8 + (int) headerLength, original.length);
        FuzzTally tally = new FuzzTally("safetensors");
        assertTimeoutPreemptively(
                Duration.ofSeconds(30),
                () -> {
                    for (int i = 0; i < CASES; i++) {
                        long seed = SEED + i;
                        Path dir = tmp.resolve("case" + i);
                        Path file = dir.resolve("model.safetensors");
                        Mutate.write(file, mutate(new Random(seed), header, data, original));
                        Files.copy(folder.resolve("config.json"), dir.resolve("config.json"));
                        tally.run(seed, file.getParent(), () -> readEverything(file));
                        FuzzFiles.deleteTree(dir);
                    }
                },
                () -> "safetensors fuzz (seed " + SEED + ") did not finish");
        System.out.println(tally.summary());
        assertTrue(tally.cases() >= CASES);
    }

    /** Opens the file, touches the last byte of every tensor, then loads the folder as a model. */
    private static void readEverything(Path file) {
        try (Arena arena = Arena.ofConfined()) {
            SafetensorsFile st = SafetensorsFile.open(file, arena);
            for (String name : st.entries().keySet()) {
                var bytes = st.bytes(name);
                if (bytes.byteSize() > 0) {
                    bytes.get(ValueLayout.JAVA_BYTE, bytes.byteSize() - 1);
                }
                if (st.entry(name).dtype() != null) {
                    st.tensor(name);
                }
            }
            HfModelLoader.load(file.getParent(), arena);
        }
    }

    private static byte[] mutate(Random r, ObjectNode original, byte[] data, byte[] file) {
        ObjectNode h = original.deepCopy();
        List<String> names =
                Mutate.names(h).stream().filter(n -> !n.equals("__metadata__")).toList();
        String name = Mutate.pick(r, names);
        ObjectNode entry = (ObjectNode) h.get(name);
        switch (r.nextInt(10)) {
            case 0 -> {
                return withLength(
                        file,
                        new long[] {
                                    0,
                                    1,
                                    7,
                                    -1,
                                    Long.MAX_VALUE,
                                    Long.MIN_VALUE,
                                    file.length,
                                    file.length - 8,
                                    file.length - 7,
                                    1L << 32,
                                    100_000_001L
                                }
                                [r.nextInt(11)]);
            }
            case 1 -> {
                return Mutate.bytes(r, file);
            }
            case 2 ->
                entry.set(
                        "dtype",
                        r.nextBoolean()
                                ? JSON.getNodeFactory()
                                        .textNode(Mutate.pick(
                                                r,
                                                List.of(
                                                        "F32", "F16", "BF16", "F64", "I64", "U8", "BOOL", "F4", "f32",
                                                        "")))
                                : Mutate.value(r, 1));
            case 3 -> {
                ArrayNode shape = JSON.createArrayNode();
                int n = r.nextInt(4);
                for (int d = 0; d < n; d++) {
                    shape.add(Mutate.interestingInt(r));
                }
                entry.set("shape", r.nextInt(4) == 0 ? Mutate.value(r, 1) : shape);
            }
            case 4 -> {
                ArrayNode offsets = JSON.createArrayNode();
                long begin = entry.get("data_offsets").get(0).longValue();
                long[] picks = {
                    0, -1, begin, begin + 4, data.length, data.length + 1L, Long.MAX_VALUE, 1L << 62, begin - 4
                };
                offsets.add(picks[r.nextInt(picks.length)]).add(picks[r.nextInt(picks.length)]);
                if (r.nextInt(5) == 0) {
                    offsets.add(0);
                }
                entry.set("data_offsets", r.nextInt(5) == 0 ? Mutate.value(r, 1) : offsets);
            }
            case 5 -> entry.remove(Mutate.pick(r, List.of("dtype", "shape", "data_offsets")));
            case 6 -> h.remove(name);
            case 7 -> h.set(r.nextBoolean() ? "__metadata__" : name, Mutate.value(r, 0));
            case 8 -> { // two tensors swap offsets, or one overlaps another
                ObjectNode other = (ObjectNode) h.get(Mutate.pick(r, names));
                JsonNode tmp = entry.get("data_offsets");
                entry.set("data_offsets", other.get("data_offsets"));
                other.set("data_offsets", tmp);
            }
            default -> { // huge shape with matching offsets
                entry.set(
                        "shape",
                        JSON.createArrayNode()
                                .add(Integer.MAX_VALUE)
                                .add(Integer.MAX_VALUE)
                                .add(r.nextInt(4) + 1));
            }
        }
        return safetensors(h, data);
    }

    private static byte[] withLength(byte[] file, long length) {
        byte[] b = file.clone();
        ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN).putLong(0, length);
        return b;
    }

    private static byte[] safetensors(ObjectNode header, byte[] data) {
        byte[] h;
        try {
            h = JSON.writeValueAsBytes(header);
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
        int padded = h.length + (8 - h.length % 8) % 8;
        ByteBuffer out = ByteBuffer.allocate(8 + padded + data.length).order(ByteOrder.LITTLE_ENDIAN);
        out.putLong(padded).put(h);
        for (int i = h.length; i < padded; i++) {
            out.put((byte) ' ');
        }
        return out.put(data).array();
    }
}
