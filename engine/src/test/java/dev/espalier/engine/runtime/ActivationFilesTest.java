package dev.espalier.engine.runtime;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.espalier.engine.runtime.store.CorruptArtefactException;
import dev.espalier.kernels.DType;
import dev.espalier.kernels.Tensor;
import java.lang.foreign.Arena;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A batch handed to a stage on another node arrives with exactly its bytes, or is refused. */
class ActivationFilesTest {

    @TempDir
    Path tmp;

    private static Tensor randomBatch(Arena arena, int rows, int cols, long seed) {
        Random random = new Random(seed);
        Tensor t = Tensor.allocate(arena, DType.F32, rows, cols);
        for (long i = 0; i < t.numel(); i++) {
            t.setFlat(i, (float) random.nextGaussian());
        }
        t.setFlat(3, Float.intBitsToFloat(0x7fc00001)); // a NaN payload and a subnormal survive too
        t.setFlat(4, Float.MIN_VALUE);
        return t;
    }

    @Test
    void aHandedOffBatchIsReadBackBitForBitAndItsFileDeleted() {
        try (Arena arena = Arena.ofConfined()) {
            Tensor batch = randomBatch(arena, 37, 64, 1);
            HandoffFile file = ActivationFiles.write(batch, tmp.resolve("handoff"), "b0.f32");
            assertEquals(37, file.rows());
            assertEquals(64, file.cols());
            Tensor back = Tensor.allocate(arena, DType.F32, 37, 64);
            ActivationFiles.readInto(tmp.resolve("handoff"), file, back);
            for (long i = 0; i < batch.numel(); i++) {
                assertEquals(
                        Float.floatToRawIntBits(batch.getFlat(i)), Float.floatToRawIntBits(back.getFlat(i)), "at " + i);
            }
            assertFalse(Files.exists(tmp.resolve("handoff").resolve("b0.f32")), "taken over: deleted");
        }
    }

    @Test
    void aDamagedOrMissingHandOffIsRefusedNamingTheFile() throws Exception {
        try (Arena arena = Arena.ofConfined()) {
            Tensor batch = randomBatch(arena, 8, 16, 2);
            Path dir = tmp.resolve("handoff");
            HandoffFile file = ActivationFiles.write(batch, dir, "b1.f32");
            byte[] bytes = Files.readAllBytes(dir.resolve("b1.f32"));
            bytes[100] ^= 1;
            Files.write(dir.resolve("b1.f32"), bytes);
            Tensor back = Tensor.allocate(arena, DType.F32, 8, 16);
            CorruptArtefactException flipped =
                    assertThrows(CorruptArtefactException.class, () -> ActivationFiles.readInto(dir, file, back));
            assertTrue(
                    flipped.getMessage().contains("b1.f32")
                            && flipped.getMessage().contains("checksum"),
                    flipped.getMessage());

            Files.write(dir.resolve("b1.f32"), new byte[10]);
            CorruptArtefactException truncated =
                    assertThrows(CorruptArtefactException.class, () -> ActivationFiles.readInto(dir, file, back));
            assertTrue(truncated.getMessage().contains("10 bytes, expected 512"), truncated.getMessage());

            Files.delete(dir.resolve("b1.f32"));
            CorruptArtefactException missing =
                    assertThrows(CorruptArtefactException.class, () -> ActivationFiles.readInto(dir, file, back));
            assertTrue(missing.getMessage().contains("missing"), missing.getMessage());
        }
    }
}
