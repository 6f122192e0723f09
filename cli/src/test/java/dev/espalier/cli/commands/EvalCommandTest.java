package dev.espalier.cli.commands;

import static dev.espalier.cli.commands.CliHarness.assertHelp;
import static dev.espalier.cli.commands.CliHarness.parse;
import static dev.espalier.cli.commands.CliHarness.refused;
import static dev.espalier.cli.commands.CliHarness.run;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.espalier.engine.eval.PerplexityProtocol;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

class EvalCommandTest {

    @Test
    void parsesAnEvaluation() {
        EvalCommand eval = parse(EvalCommand.class, "eval", "--model", "../shared/models/stories260K-hf",
                "--tokenizer", "../shared/models/stories260K/tok512.bin", "--data", "../shared/data/wikitext-2/test.txt",
                "--protocol", "seq128", "--max-tokens", "20480", "--backend", "reference", "--threads", "2", "--quiet");
        assertEquals(Path.of("../shared/models/stories260K-hf"), eval.modelOptions.model);
        assertEquals(Path.of("../shared/models/stories260K/tok512.bin"), eval.modelOptions.tokenizer);
        assertEquals(Path.of("../shared/data/wikitext-2/test.txt"), eval.data);
        assertEquals(PerplexityProtocol.SEQ128, eval.protocol);
        assertEquals(20480, eval.maxTokens);
        assertEquals(CommonOptions.Backend.REFERENCE, eval.common.backend);
        assertEquals(2, eval.common.threadCount());
        assertFalse(eval.common.showProgress());
    }

    @Test
    void defaults() {
        EvalCommand eval = parse(EvalCommand.class, "eval", "--model", "m.bin", "--data", "t.txt");
        assertEquals(PerplexityProtocol.STREAM, eval.protocol);
        assertEquals(0, eval.maxTokens);
        assertNull(eval.modelOptions.tokenizer);
        assertEquals(CommonOptions.Backend.CPU, eval.common.backend);
        assertEquals(Runtime.getRuntime().availableProcessors(), eval.common.threadCount());
        assertTrue(eval.common.showProgress());
        assertFalse(eval.common.verbose);
    }

    @Test
    void helpExitsZeroAndEndsWithExamples() {
        assertHelp("eval", "      --data ../shared/data/tinystories/tinystories_val_sample.txt --protocol stream --max-tokens 20480");
    }

    @Test
    void refusesBadValuesNamingTheFlag() {
        String message = refused("--protocol", "eval", "--model", "m.bin", "--data", "t.txt", "--protocol", "windows");
        assertTrue(message.contains("[STREAM, SEQ128, FULL]"), message); // says what was expected
        refused("--max-tokens", "eval", "--model", "m.bin", "--data", "t.txt", "--max-tokens", "many");
        refused("--backend", "eval", "--model", "m.bin", "--data", "t.txt", "--backend", "tpu");
        refused("--data", "eval", "--model", "m.bin");
    }

    @Test
    void refusesANegativeTokenCountBeforeLoadingTheModel() {
        CliHarness.Run run = run("eval", "--model", "no-such-model", "--data", "t.txt", "--max-tokens", "-1");
        assertEquals(2, run.exit());
        assertTrue(run.err().startsWith("espalier eval: error: --max-tokens must be ≥ 0, got -1"), run.err());
    }
}
