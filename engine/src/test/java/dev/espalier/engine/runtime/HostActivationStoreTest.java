package dev.espalier.engine.runtime;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.espalier.kernels.Tensor;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Activations beyond the memory budget go to files in the job's spill folder, hold the same values, and are deleted. */
class HostActivationStoreTest {
    private static final int ROWS = 16;
    private static final int COLS = 8; // 512 bytes a tensor

    @TempDir
    Path spill;

    private static ActivationRef ref(long id) {
        return new ActivationRef(id, 1, 0, 0, (int) id);
    }

    @Test
    void activationsBeyondTheBudgetAreFilesThatHoldTheSameValuesAndAreDeletedOnRelease() throws IOException {
        try (HostActivationStore store = new HostActivationStore(1024)) { // two tensors fit
            Tensor[] tensors = new Tensor[4];
            for (int i = 0; i < 4; i++) {
                tensors[i] = store.allocate(7, ref(i), ROWS, COLS, spill);
                for (int j = 0; j < ROWS * COLS; j++) {
                    tensors[i].setFlat(j, i * 1000 + j);
                }
            }
            assertFalse(tensors[0].data().isMapped(), "within the budget: in memory");
            assertFalse(tensors[1].data().isMapped());
            assertTrue(tensors[2].data().isMapped(), "beyond the budget: a file of the spill folder");
            assertTrue(tensors[3].data().isMapped());
            assertEquals(2, fileCount());
            assertEquals(1024, store.peakSpilledBytes(7));
            store.settle(7); // pages dropped: the values come back from the file
            for (int i = 0; i < 4; i++) {
                Tensor t = store.get(ref(i));
                for (int j = 0; j < ROWS * COLS; j++) {
                    assertEquals(i * 1000 + j, t.getFlat(j), "tensor " + i + " element " + j);
                }
            }
            store.release(ref(2));
            assertEquals(1, fileCount(), "a released spill is deleted");
            store.releaseAll(7, -1);
            assertEquals(0, fileCount());
            assertEquals(0, store.held());
        }
    }

    @Test
    void withoutASpillFolderEverythingStaysInMemory() {
        try (HostActivationStore store = new HostActivationStore(0)) {
            assertFalse(store.allocate(1, ref(1), ROWS, COLS, null).data().isMapped());
            assertEquals(0, store.peakSpilledBytes(1));
        }
    }

    @Test
    void aNegativeBudgetIsRefused() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> new HostActivationStore(-1));
        assertTrue(e.getMessage().contains("must not be negative"), e.getMessage());
    }

    private long fileCount() throws IOException {
        try (var files = Files.list(spill)) {
            return files.count();
        }
    }
}
