package dev.espalier.cli.commands;

import static dev.espalier.cli.commands.CliHarness.assertHelp;
import static dev.espalier.cli.commands.CliHarness.parse;
import static dev.espalier.cli.commands.CliHarness.refused;
import static dev.espalier.cli.commands.CliHarness.run;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.espalier.protocol.v1.JobSpec;
import dev.espalier.protocol.v1.PruneMethod;
import dev.espalier.protocol.v1.SparsityPattern;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class CompareCommandTest {
    @TempDir
    Path tmp;

    @Test
    void parsesTheGridAndTheJobInputs() {
        CompareCommand compare = parse(
                CompareCommand.class,
                "compare",
                "--model",
                "m.bin",
                "--methods",
                "wanda,sparsegpt",
                "--sparsities",
                "0.5,0.7",
                "--patterns",
                "unstructured,2:4",
                "--out",
                "cmp");
        assertEquals(List.of(PruneMethod.PRUNE_METHOD_WANDA, PruneMethod.PRUNE_METHOD_SPARSEGPT), compare.methods);
        assertEquals(List.of(0.5, 0.7), compare.sparsities);
        assertEquals(
                List.of(SparsityPattern.SPARSITY_PATTERN_UNSTRUCTURED, SparsityPattern.SPARSITY_PATTERN_2_4),
                compare.patterns);
        assertEquals(Path.of("m.bin"), compare.inputs.modelOptions.model);
    }

    @Test
    void theGridRunsNmOnceAndOnlyForUnstructuredMethods() {
        List<String> skipped = new ArrayList<>();
        List<CompareGrid.Cell> cells = CompareGrid.cells(
                JobSpec.newBuilder().setModel("/m.bin").setCalibration("/c.txt").setCalibrationSamples(4),
                List.of(PruneMethod.PRUNE_METHOD_WANDA, PruneMethod.PRUNE_METHOD_FLAP),
                List.of(SparsityPattern.SPARSITY_PATTERN_UNSTRUCTURED, SparsityPattern.SPARSITY_PATTERN_2_4),
                List.of(0.3, 0.625),
                tmp,
                skipped);
        assertEquals(
                List.of("wanda-30", "wanda-62.5", "wanda-2of4", "flap-30", "flap-62.5"),
                cells.stream().map(CompareGrid.Cell::name).toList());
        assertEquals(List.of("flap 2:4: N:M applies to the unstructured methods only"), skipped);
        CompareGrid.Cell nm = cells.get(2);
        assertEquals(0.5, nm.spec().getSparsity());
        assertEquals(tmp.resolve("cells/wanda-2of4/model").toString(), nm.spec().getOutput());
        IllegalArgumentException e = assertThrows(
                IllegalArgumentException.class,
                () -> CompareGrid.cells(
                        JobSpec.newBuilder().setModel("/m.bin"),
                        List.of(PruneMethod.PRUNE_METHOD_WANDA),
                        List.of(SparsityPattern.SPARSITY_PATTERN_UNSTRUCTURED),
                        List.of(1.0),
                        tmp,
                        skipped));
        assertTrue(e.getMessage().contains("--sparsities must be in (0, 1)"), e.getMessage());
    }

    @Test
    void aCellOfOtherSettingsIsNamedByTheFieldsThatDiffer() {
        JobSpec done = JobSpec.newBuilder()
                .setModel("/m.bin")
                .setSeed(1)
                .setEvalMaxTokens(2048)
                .build();
        assertEquals(
                List.of(),
                CompareCommand.differences(done, done.toBuilder().clearDevices().build()));
        assertEquals(
                List.of("seed", "eval_max_tokens"),
                CompareCommand.differences(
                        done, done.toBuilder().setSeed(2).setEvalMaxTokens(0).build()));
        assertEquals(
                List.of("calibration_range", "eval_range"),
                CompareCommand.differences(
                        done,
                        done.toBuilder()
                                .setCalibrationRange("0:0.5")
                                .setEvalRange("0.5:1")
                                .build()),
                "a cell run on another part of the files is not reused");
    }

    @Test
    void helpExitsZeroAndEndsWithExamples() {
        assertHelp(
                "compare",
                "  ./espalier compare ... --out runs/compare --node 127.0.0.1:7070   # cells run on the node");
    }

    @Test
    void refusesBadInputWithoutWritingAnything() throws Exception {
        refused("--methods", "compare", "--model", "m", "--out", "o");
        refused("--methods", "compare", "--model", "m", "--methods", "wanda,pruneit", "--out", "o");
        Path out = tmp.resolve("cmp");
        Path calib = Files.writeString(tmp.resolve("calib.txt"), "Once upon a time.\n");
        CliHarness.Run missing = run(
                "compare",
                "--model",
                tmp.resolve("absent.bin").toString(),
                "--methods",
                "magnitude",
                "--calib",
                calib.toString(),
                "--out",
                out.toString());
        assertEquals(2, missing.exit(), missing.err());
        assertTrue(missing.err().contains("absent.bin"), missing.err());
        assertFalse(Files.exists(out), "nothing written for a refused comparison");
    }
}
