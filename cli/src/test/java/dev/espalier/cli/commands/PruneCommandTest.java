package dev.espalier.cli.commands;

import static dev.espalier.cli.commands.CliHarness.assertHelp;
import static dev.espalier.cli.commands.CliHarness.parse;
import static dev.espalier.cli.commands.CliHarness.refused;
import static dev.espalier.cli.commands.CliHarness.run;
import static dev.espalier.cli.commands.CliHarness.shared;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.espalier.cli.EspalierCli;
import dev.espalier.engine.eval.PerplexityProtocol;
import dev.espalier.kernels.cuda.CudaHost;
import dev.espalier.protocol.v1.ExportDType;
import dev.espalier.protocol.v1.JobSpec;
import dev.espalier.protocol.v1.PolicyGradientSettings;
import dev.espalier.protocol.v1.PruneMethod;
import dev.espalier.protocol.v1.SparsityPattern;
import dev.espalier.protocol.v1.UnstructuredSettings;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

class PruneCommandTest {

    @Test
    void parsesTheReadmeExample() {
        PruneCommand prune = parse(
                PruneCommand.class,
                "prune",
                "--model",
                "../shared/models/stories260K/stories260K.bin",
                "--method",
                "wanda",
                "--sparsity",
                "0.5",
                "--pattern",
                "unstructured",
                "--calib",
                "../shared/data/c4/c4_validation_2k.jsonl",
                "--calib-samples",
                "128",
                "--calib-seqlen",
                "0",
                "--seed",
                "0",
                "--devices",
                "cpu:2",
                "--eval-data",
                "../shared/data/tinystories/tinystories_val_sample.txt,../shared/data/wikitext-2/test.txt",
                "--eval-protocol",
                "stream",
                "--eval-max-tokens",
                "20480",
                "--out",
                "out/stories260K-wanda50",
                "--run-dir",
                "runs/w50",
                "--quiet");
        JobSpecOptions job = prune.job;
        assertEquals(Path.of("../shared/models/stories260K/stories260K.bin"), job.inputs.modelOptions.model);
        assertEquals(PruneMethod.PRUNE_METHOD_WANDA, job.what.method);
        assertEquals(0.5, job.sparsity);
        assertEquals(SparsityPattern.SPARSITY_PATTERN_UNSTRUCTURED, job.pattern);
        assertEquals("../shared/data/c4/c4_validation_2k.jsonl", job.inputs.calibration);
        assertEquals(128, job.inputs.calibrationSamples);
        assertEquals(0, job.inputs.calibrationSeqlen);
        assertEquals("cpu:2", job.inputs.devices);
        assertEquals(
                List.of(
                        Path.of("../shared/data/tinystories/tinystories_val_sample.txt"),
                        Path.of("../shared/data/wikitext-2/test.txt")),
                job.inputs.evalData);
        assertEquals(PerplexityProtocol.STREAM, job.inputs.evalProtocol);
        assertEquals(20480, job.inputs.evalMaxTokens);
        assertEquals(Path.of("out/stories260K-wanda50"), job.output);
        assertEquals(Path.of("runs/w50"), prune.runDir);
        assertTrue(prune.output.quiet);
    }

    @Test
    void defaultsOfTheOptionalFlags() {
        PruneCommand prune =
                parse(PruneCommand.class, "prune", "--model", "m.bin", "--method", "magnitude", "--out", "o");
        JobSpecOptions job = prune.job;
        assertNull(job.sparsity); // 0.5 in the spec
        assertNull(job.pattern); // unstructured in the spec
        assertNull(job.what.recipe);
        assertNull(job.inputs.calibration);
        assertNull(job.inputs.modelOptions.tokenizer);
        assertEquals(128, job.inputs.calibrationSamples);
        assertEquals(0, job.inputs.calibrationSeqlen);
        assertEquals(0, job.inputs.seed);
        assertEquals("cpu", job.inputs.devices);
        assertEquals(List.of(), job.inputs.evalData);
        assertEquals(PerplexityProtocol.STREAM, job.inputs.evalProtocol);
        assertEquals(0, job.inputs.evalMaxTokens);
        assertEquals(Map.of(), job.methodOptions);
        assertNull(job.recovery);
        assertNull(job.export);
        assertNull(job.init);
        assertNull(job.steps);
        assertNull(job.rolloutsInFlight);
        assertNull(prune.runDir);
        assertFalse(prune.output.quiet);
        assertFalse(prune.output.verbose);
        JobSpec spec = parse(
                        PruneCommand.class,
                        "prune",
                        "--model",
                        "m.bin",
                        "--method",
                        "magnitude",
                        "--calib",
                        "c.txt",
                        "--out",
                        "o")
                .job
                .toJobSpec();
        assertEquals(dev.espalier.protocol.v1.PerplexityProtocol.PERPLEXITY_PROTOCOL_STREAM, spec.getEvalProtocol());
    }

    @Test
    void theRangesGoIntoTheSpecCanonicallyAndOnlyWhenGiven() {
        JobSpec ranged = parse(
                        PruneCommand.class,
                        "prune",
                        "--model",
                        "m.bin",
                        "--method",
                        "wanda-sp",
                        "--sparsity",
                        "0.3",
                        "--calib",
                        "c.txt",
                        "--calib-range",
                        "0:400KB",
                        "--eval-data",
                        "e.txt",
                        "--eval-range",
                        ".50:",
                        "--out",
                        "o")
                .job
                .toJobSpec();
        assertEquals("0:400000B", ranged.getCalibrationRange());
        assertEquals("0.5:", ranged.getEvalRange());
        JobSpec plain = parse(
                        PruneCommand.class,
                        "prune",
                        "--model",
                        "m.bin",
                        "--method",
                        "magnitude",
                        "--calib",
                        "c.txt",
                        "--out",
                        "o")
                .job
                .toJobSpec();
        assertEquals("", plain.getCalibrationRange());
        assertEquals("", plain.getEvalRange());
        assertFalse(plain.toString().contains("_range:"), plain.toString()); // not even empty on the wire
    }

    @Test
    void refusesABadRangeNamingTheFlagTheValueAndWhatWasExpected() {
        String message = refused(
                "--calib-range",
                "prune",
                "--model",
                "m.bin",
                "--method",
                "wanda",
                "--calib",
                "c.txt",
                "--calib-range",
                "0.5",
                "--out",
                "o");
        assertTrue(message.contains("--calib-range '0.5': expected START:END"), message);
        message = refused(
                "--eval-range",
                "prune",
                "--model",
                "m.bin",
                "--method",
                "wanda",
                "--calib",
                "c.txt",
                "--eval-data",
                "e.txt",
                "--eval-range",
                "0.6:0.4",
                "--out",
                "o");
        assertTrue(message.contains("--eval-range '0.6:0.4': expected the start before the end"), message);
    }

    @Test
    void aCalibrationRangeBeyondItsFileIsRefusedBeforeAnyWork(@org.junit.jupiter.api.io.TempDir Path tmp) {
        CliHarness.Run run = run(
                "prune",
                "--model",
                shared("models/stories260K/stories260K.bin"),
                "--method",
                "wanda-sp",
                "--sparsity",
                "0.3",
                "--calib",
                shared("data/tinystories/tinystories_val_sample.txt"),
                "--calib-range",
                "0.5:2MiB",
                "--out",
                tmp.resolve("out").toString(),
                "--quiet");
        assertTrue(run.exit() != 0);
        assertTrue(
                run.err()
                        .contains("--calib-range '0.5:2097152B': expected offsets within the file's 794375 bytes,"
                                + " got end 2097152"),
                run.err());
        assertFalse(java.nio.file.Files.exists(tmp.resolve("out")));
    }

    @Test
    void theExportDtypeAndShardSizeGoIntoTheSpecOnlyWhenGiven() {
        JobSpec defaults = parse(
                        PruneCommand.class,
                        "prune",
                        "--model",
                        "m.bin",
                        "--method",
                        "wanda",
                        "--out",
                        "o",
                        "--calib",
                        "c.txt")
                .job
                .toJobSpec();
        assertEquals(ExportDType.EXPORT_D_TYPE_UNSPECIFIED, defaults.getExportDtype());
        assertEquals(0, defaults.getMaxShardBytes());
        JobSpec given = parse(
                        PruneCommand.class,
                        "prune",
                        "--model",
                        "m.bin",
                        "--method",
                        "wanda",
                        "--out",
                        "o",
                        "--calib",
                        "c.txt",
                        "--export-dtype",
                        "bf16",
                        "--max-shard-size",
                        "2GiB")
                .job
                .toJobSpec();
        assertEquals(ExportDType.EXPORT_D_TYPE_BF16, given.getExportDtype());
        assertEquals(2L << 30, given.getMaxShardBytes());
        assertEquals(
                500_000_000L,
                parse(
                                PruneCommand.class,
                                "prune",
                                "--model",
                                "m",
                                "--method",
                                "wanda",
                                "--out",
                                "o",
                                "--max-shard-size",
                                "500MB")
                        .job
                        .inputs
                        .maxShardBytes);
    }

    @Test
    void evalProtocolDefaultIsTheOneOfTheEvalVerb() {
        CommandLine cli = EspalierCli.commandLine();
        String prune = cli.getSubcommands()
                .get("prune")
                .getCommandSpec()
                .findOption("--eval-protocol")
                .defaultValue();
        String eval = cli.getSubcommands()
                .get("eval")
                .getCommandSpec()
                .findOption("--protocol")
                .defaultValue();
        assertEquals("stream", prune);
        assertEquals(eval, prune);
    }

    @Test
    void everyInitialisationOfPolicyGradientHasItsFlag() {
        Map<String, PolicyGradientSettings.Init> inits = Map.of(
                "wanda-sp", PolicyGradientSettings.Init.INIT_WANDA_SP,
                "goa", PolicyGradientSettings.Init.INIT_GOA,
                "random", PolicyGradientSettings.Init.INIT_RANDOM,
                "uniform", PolicyGradientSettings.Init.INIT_UNIFORM);
        inits.forEach((flag, expected) -> {
            PruneCommand prune = parse(
                    PruneCommand.class,
                    "prune",
                    "--model",
                    "m.bin",
                    "--method",
                    "policy-gradient",
                    "--init",
                    flag,
                    "--calib",
                    "c.txt",
                    "--out",
                    "o");
            assertEquals(expected, prune.job.toJobSpec().getPolicyGradient().getInit(), flag);
        });
        for (PolicyGradientSettings.Init value : PolicyGradientSettings.Init.values()) {
            boolean placeholder = value == PolicyGradientSettings.Init.INIT_UNSPECIFIED
                    || value == PolicyGradientSettings.Init.UNRECOGNIZED;
            assertTrue(placeholder || inits.containsValue(value), value + " has no --init flag");
        }
    }

    @Test
    void methodSpecificFlagsBecomeMethodOptions() {
        PruneCommand prune = parse(
                PruneCommand.class,
                "prune",
                "--model",
                "m.bin",
                "--method",
                "policy-gradient",
                "--sparsity",
                "0.3",
                "--init",
                "goa",
                "--steps",
                "1000",
                "--rollouts-in-flight",
                "3",
                "--calib",
                "c.txt",
                "--out",
                "o",
                "--method-option",
                "lr=0.05",
                "--method-option",
                "rollouts=2");
        JobSpec spec = prune.job.toJobSpec();
        assertEquals(PruneMethod.PRUNE_METHOD_POLICY_GRADIENT, spec.getMethod());
        assertTrue(spec.hasPolicyGradient(), spec.toString());
        assertEquals(
                PolicyGradientSettings.Init.INIT_GOA, spec.getPolicyGradient().getInit());
        assertEquals(1000, spec.getPolicyGradient().getSteps());
        assertEquals(3, spec.getPolicyGradient().getRolloutsInFlight());
        assertEquals(0.05, spec.getPolicyGradient().getLr());
        assertEquals(2, spec.getPolicyGradient().getRollouts());
        assertTrue(Path.of(spec.getModel()).isAbsolute(), spec.getModel());
    }

    @Test
    void recoveryReachesEveryStructuredMethodAndPolicyGradientAndIsRefusedForUnstructuredByName() {
        for (String method : new String[] {"wanda-sp", "flap", "goa", "policy-gradient"}) {
            for (String onOff : new String[] {"on", "off"}) {
                JobSpec spec = parse(
                                PruneCommand.class,
                                "prune",
                                "--model",
                                "m.bin",
                                "--method",
                                method,
                                "--recovery",
                                onOff,
                                "--calib",
                                "c.txt",
                                "--out",
                                "o")
                        .job
                        .toJobSpec();
                boolean recovery = method.equals("policy-gradient")
                        ? spec.getPolicyGradient().getRecovery()
                        : spec.getStructured().getRecovery();
                assertEquals(onOff.equals("on"), recovery, method + " --recovery " + onOff);
            }
        }
        for (String method : new String[] {"magnitude", "wanda", "sparsegpt", "alps"}) {
            PruneCommand prune = parse(
                    PruneCommand.class,
                    "prune",
                    "--model",
                    "m.bin",
                    "--method",
                    method,
                    "--recovery",
                    "on",
                    "--calib",
                    "c.txt",
                    "--out",
                    "o");
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, prune.job::toJobSpec);
            assertEquals(
                    "--recovery applies to the structured methods (wanda-sp, flap, goa) and policy-gradient, not to "
                            + method,
                    e.getMessage());
        }
    }

    @Test
    void helpExitsZeroAndEndsWithExamples() {
        assertHelp("prune", "  ./espalier resume out/stories-wanda50.run    # after an interruption");
    }

    @Test
    void refusesBadValuesNamingTheFlag() {
        refused(
                "--eval-protocol",
                "prune",
                "--model",
                "m",
                "--method",
                "wanda",
                "--out",
                "o",
                "--eval-protocol",
                "perplexity");
        refused("--method", "prune", "--model", "m", "--method", "pruney", "--out", "o");
        refused("--export-dtype", "prune", "--model", "m", "--method", "wanda", "--out", "o", "--export-dtype", "int8");
        refused(
                "--max-shard-size",
                "prune",
                "--model",
                "m",
                "--method",
                "wanda",
                "--out",
                "o",
                "--max-shard-size",
                "5XB");
        refused("--sparsity", "prune", "--model", "m", "--method", "wanda", "--out", "o", "--sparsity", "half");
        refused("--init", "prune", "--model", "m", "--method", "policy-gradient", "--out", "o", "--init", "wanda");
        refused("--out", "prune", "--model", "m", "--method", "wanda");
        refused(
                "--layer-sparsity",
                "prune",
                "--model",
                "m",
                "--method",
                "wanda",
                "--out",
                "o",
                "--layer-sparsity",
                "outlier");
    }

    @Test
    void layerSparsityOwlAndItsOptionsReachTheUnstructuredSettings() {
        PruneCommand prune = parse(
                PruneCommand.class,
                "prune",
                "--model",
                "m.bin",
                "--method",
                "sparsegpt",
                "--sparsity",
                "0.7",
                "--layer-sparsity",
                "owl",
                "--calib",
                "c.txt",
                "--out",
                "o",
                "--method-option",
                "owl_m=3",
                "--method-option",
                "owl_lambda=0.05");
        JobSpec spec = prune.job.toJobSpec();
        assertEquals(
                UnstructuredSettings.LayerSparsity.LAYER_SPARSITY_OWL,
                spec.getUnstructured().getLayerSparsity());
        assertEquals(3, spec.getUnstructured().getOwlM());
        assertEquals(0.05, spec.getUnstructured().getOwlLambda());
        PruneCommand flap = parse(
                PruneCommand.class,
                "prune",
                "--model",
                "m.bin",
                "--method",
                "flap",
                "--layer-sparsity",
                "owl",
                "--out",
                "o");
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, flap.job::toJobSpec);
        assertEquals(
                "--layer-sparsity owl applies to the unstructured methods (magnitude, wanda, sparsegpt, alps), not to"
                        + " flap",
                e.getMessage());
    }

    @Test
    void refusesASparsityOutsideTheRangeBeforeReadingAnything() {
        CliHarness.Run run =
                run("prune", "--model", "no-such-model", "--method", "wanda", "--out", "o", "--sparsity", "1.5");
        assertEquals(2, run.exit());
        assertTrue(
                run.err().startsWith("espalier prune: error: invalid job spec: sparsity must be in [0, 1), got 1.5"),
                run.err());
    }

    @Test
    void planAndMemoryBudgetAreRunOptionsNotSpecFields() {
        PruneCommand prune = parse(
                PruneCommand.class,
                "prune",
                "--model",
                "m.bin",
                "--method",
                "wanda",
                "--out",
                "o",
                "--plan",
                "--memory-budget",
                "2GiB");
        assertTrue(prune.plan);
        assertEquals(2L << 30, prune.memory.bytes());
        refused(
                "--memory-budget",
                "prune",
                "--model",
                "m",
                "--method",
                "wanda",
                "--out",
                "o",
                "--memory-budget",
                "much");
    }

    @Test
    void cudaDevicesOnAHostWithoutThemFailAtOnceInOneLineWritingNothing(@TempDir Path dir) {
        String reason = CudaHost.unavailableReason();
        assumeTrue(reason != null, "this host has CUDA: the refusal cannot be seen here");
        Path out = dir.resolve("o");
        for (String devices : new String[] {"cuda", "cuda:0,cuda:1"}) {
            CliHarness.Run run = run(
                    "prune",
                    "--model",
                    shared("models/stories260K/stories260K.bin"),
                    "--method",
                    "wanda",
                    "--calib",
                    shared("data/c4/c4_validation_2k.jsonl"),
                    "--out",
                    out.toString(),
                    "--devices",
                    devices);
            assertEquals(1, run.exit(), run.err());
            String first = run.err().lines().findFirst().orElse("");
            assertEquals("espalier prune: error: --devices " + devices + ": " + reason, first);
            assertFalse(Files.exists(out) || Files.exists(Path.of(out + ".run")), "nothing is written");
        }
    }

    @Test
    void aRunOnTwoHalvesReportsItsRangesAndAnotherRangeIsAnotherSpec(@TempDir Path dir) throws Exception {
        String tiny = shared("data/tinystories/tinystories_val_sample.txt");
        Path out = dir.resolve("o");
        java.util.function.Function<String, CliHarness.Run> prune = calibRange -> run(
                "prune",
                "--model",
                shared("models/stories260K/stories260K.bin"),
                "--method",
                "wanda-sp",
                "--sparsity",
                "0.3",
                "--calib",
                tiny,
                "--calib-range",
                calibRange,
                "--calib-samples",
                "4",
                "--calib-seqlen",
                "64",
                "--eval-data",
                tiny,
                "--eval-range",
                "0.5:1",
                "--eval-max-tokens",
                "1024",
                "--out",
                out.toString(),
                "--quiet");
        CliHarness.Run first = prune.apply("0:0.5");
        assertEquals(0, first.exit(), first.err());
        assertTrue(first.out().contains("tinystories_val_sample.txt [0.5:1] (stream, "), first.out());
        String md = Files.readString(Path.of(out + ".run", "report.md"));
        assertTrue(md.contains("tinystories_val_sample.txt (range 0:0.5): 4 × 64 tokens"), md);
        assertTrue(md.contains("| tinystories_val_sample.txt [0.5:1] | stream |"), md);
        CliHarness.Run other = prune.apply("0:0.4");
        assertTrue(other.exit() != 0);
        assertTrue(other.err().contains("spec differs: calibration_range"), other.err());
    }
}
