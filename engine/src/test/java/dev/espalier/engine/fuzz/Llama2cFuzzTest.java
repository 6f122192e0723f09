package dev.espalier.engine.fuzz;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.espalier.engine.SharedFiles;
import dev.espalier.engine.model.LlamaModel;
import dev.espalier.engine.model.ModelLoader;
import java.lang.foreign.Arena;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Mutated headers (negative, zero, huge, inconsistent dimensions), truncations and extensions of stories260K.bin. */
class Llama2cFuzzTest {
    private static final int CASES = 100;

    @TempDir
    Path tmp;

    @Test
    void everyMutatedCheckpointLoadsOrIsRefusedNamingIt() {
        byte[] original = Mutate.read(SharedFiles.storiesBin());
        FuzzTally tally = new FuzzTally("llama2.c .bin");
        assertTimeoutPreemptively(
                Duration.ofSeconds(30),
                () -> {
                    for (int i = 0; i < CASES; i++) {
                        long seed = SafetensorsFuzzTest.SEED + 2000 + i;
                        Path file = Mutate.write(tmp.resolve("case" + i + ".bin"), mutate(new Random(seed), original));
                        tally.run(seed, file, () -> {
                            try (Arena arena = Arena.ofConfined()) { // closing the model would close the arena twice
                                LlamaModel model = ModelLoader.load(file, arena);
                                assertEquals(
                                        model.config().numLayers(),
                                        model.layers().size());
                                assertTrue(model.config().parameterCount() > 0);
                            }
                        });
                        FuzzFiles.deleteTree(file);
                    }
                },
                () -> "llama2.c fuzz (seed " + SafetensorsFuzzTest.SEED + ") did not finish");
        System.out.println(tally.summary());
        assertTrue(tally.cases() >= CASES);
    }

    private static byte[] mutate(Random r, byte[] original) {
        byte[] b = original.clone();
        ByteBuffer header = ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN);
        return switch (r.nextInt(6)) {
            case 0, 1 -> {
                header.putInt(4 * r.nextInt(7), Mutate.interestingInt(r));
                yield b;
            }
            case 2 -> { // the header of another consistent-looking model, keeping the weights
                header.putInt(0, 64 * (1 + r.nextInt(3)))
                        .putInt(20, (r.nextBoolean() ? 1 : -1) * 512 * (1 + r.nextInt(2)));
                yield b;
            }
            case 3 -> Arrays.copyOf(b, r.nextInt(b.length));
            case 4 -> Arrays.copyOf(b, b.length + 4 * (1 + r.nextInt(64)));
            default -> Mutate.bytes(r, Arrays.copyOf(b, 64));
        };
    }
}
