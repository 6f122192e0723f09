package dev.espalier.cli.commands;

import static dev.espalier.cli.commands.CliHarness.assertHelp;
import static dev.espalier.cli.commands.CliHarness.parse;
import static dev.espalier.cli.commands.CliHarness.refused;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import dev.espalier.engine.eval.PerplexityProtocol;
import dev.espalier.protocol.v1.JobSpec;
import dev.espalier.protocol.v1.PruneMethod;
import dev.espalier.protocol.v1.SparsityPattern;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

class SubmitCommandTest {

    @Test
    void parsesAJobAndTheNodeToSendItTo() {
        SubmitCommand submit = parse(
                SubmitCommand.class,
                "submit",
                "--model",
                "../shared/models/stories260K-hf",
                "--method",
                "sparsegpt",
                "--pattern",
                "2:4",
                "--calib",
                "c4.jsonl",
                "--out",
                "runs/sgpt24",
                "--node",
                "127.0.0.1:7070",
                "--home",
                "/data/espalier");
        assertEquals(Path.of("../shared/models/stories260K-hf"), submit.job.inputs.modelOptions.model);
        assertEquals(PruneMethod.PRUNE_METHOD_SPARSEGPT, submit.job.what.method);
        assertEquals(SparsityPattern.SPARSITY_PATTERN_2_4, submit.job.pattern);
        assertEquals("127.0.0.1:7070", submit.node.node);
        assertEquals(Path.of("/data/espalier"), submit.node.home());
        JobSpec spec = submit.job.toJobSpec();
        assertEquals(Path.of("c4.jsonl").toAbsolutePath().normalize().toString(), spec.getCalibration());
        assertEquals(Path.of("runs/sgpt24").toAbsolutePath().normalize().toString(), spec.getOutput());
    }

    @Test
    void defaultsAreThoseOfPrune() {
        SubmitCommand submit =
                parse(SubmitCommand.class, "submit", "--model", "m", "--method", "wanda-sp", "--out", "o");
        assertEquals(PruneMethod.PRUNE_METHOD_WANDA_SP, submit.job.what.method);
        assertNull(submit.job.sparsity); // 0.5 in the spec, as for prune
        assertEquals(PerplexityProtocol.STREAM, submit.job.inputs.evalProtocol);
        assertEquals("cpu", submit.job.inputs.devices);
        assertNull(submit.node.node);
        assertNull(submit.node.home);
    }

    @Test
    void helpExitsZeroAndEndsWithExamples() {
        assertHelp("submit", "  ./espalier watch \"$id\"");
    }

    @Test
    void refusesBadValuesNamingTheFlag() {
        refused(
                "--calib-samples",
                "submit",
                "--model",
                "m",
                "--method",
                "wanda",
                "--out",
                "o",
                "--calib-samples",
                "lots");
        refused("--recovery", "submit", "--model", "m", "--method", "goa", "--out", "o", "--recovery", "maybe");
        refused("--method", "submit", "--model", "m", "--out", "o");
    }
}
