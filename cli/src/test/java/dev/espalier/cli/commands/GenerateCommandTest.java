package dev.espalier.cli.commands;

import static dev.espalier.cli.commands.CliHarness.assertHelp;
import static dev.espalier.cli.commands.CliHarness.parse;
import static dev.espalier.cli.commands.CliHarness.refused;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.file.Path;
import org.junit.jupiter.api.Test;

class GenerateCommandTest {

    @Test
    void parsesASampledGeneration() {
        GenerateCommand generate = parse(
                GenerateCommand.class,
                "generate",
                "--model",
                "../shared/models/stories260K-hf",
                "--prompt",
                "Once upon a time",
                "--steps",
                "120",
                "--temperature",
                "0.8",
                "--seed",
                "7",
                "--threads",
                "1");
        assertEquals(Path.of("../shared/models/stories260K-hf"), generate.modelOptions.model);
        assertEquals("Once upon a time", generate.prompt);
        assertEquals(120, generate.steps);
        assertEquals(0.8f, generate.temperature);
        assertEquals(7, generate.seed);
        assertEquals(1, generate.common.threadCount());
    }

    @Test
    void defaultsAreGreedyFromBos() {
        GenerateCommand generate = parse(GenerateCommand.class, "generate", "--model", "m.bin");
        assertEquals("", generate.prompt);
        assertEquals(256, generate.steps);
        assertEquals(0f, generate.temperature);
        assertEquals(42, generate.seed);
        assertEquals(CommonOptions.Backend.CPU, generate.common.backend);
    }

    @Test
    void helpExitsZeroAndEndsWithExamples() {
        assertHelp(
                "generate",
                "  ./espalier generate --model ../shared/models/stories260K/stories260K.bin --steps 200 --temperature 0");
    }

    @Test
    void refusesBadValuesNamingTheFlag() {
        refused("--temperature", "generate", "--model", "m.bin", "--temperature", "hot");
        refused("--steps", "generate", "--model", "m.bin", "--steps", "1.5");
        refused("--model", "generate", "--steps", "10");
    }
}
