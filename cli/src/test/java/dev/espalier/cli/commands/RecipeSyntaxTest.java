package dev.espalier.cli.commands;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.espalier.protocol.v1.JobSpec;
import dev.espalier.protocol.v1.PruneMethod;
import dev.espalier.protocol.v1.RecipeStage;
import dev.espalier.protocol.v1.SparsityPattern;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

class RecipeSyntaxTest {

    @Test
    void readsStagesWithTargetsAndSettings() {
        List<RecipeStage> stages = RecipeSyntax.parse("goa:0.2:recovery=off, alps:2:4:stop_rho=10");
        assertEquals(2, stages.size());
        assertEquals(PruneMethod.PRUNE_METHOD_GOA, stages.get(0).getMethod());
        assertEquals(0.2, stages.get(0).getSparsity());
        assertEquals(
                SparsityPattern.SPARSITY_PATTERN_UNSTRUCTURED, stages.get(0).getPattern());
        assertFalse(stages.get(0).getStructured().getRecovery());
        assertEquals(PruneMethod.PRUNE_METHOD_ALPS, stages.get(1).getMethod());
        assertEquals(SparsityPattern.SPARSITY_PATTERN_2_4, stages.get(1).getPattern());
        assertEquals(0, stages.get(1).getSparsity());
        assertEquals(10, stages.get(1).getUnstructured().getAlps().getStopRho());
    }

    @Test
    void readsARecipeFileWithComments(@TempDir Path tmp) throws Exception {
        Path file = tmp.resolve("recipe.txt");
        Files.writeString(file, "# structured first\nflap:0.3\n\nwanda:0.5   # then unstructured\n");
        List<RecipeStage> stages = RecipeSyntax.parse(file.toString());
        assertEquals(
                List.of(PruneMethod.PRUNE_METHOD_FLAP, PruneMethod.PRUNE_METHOD_WANDA),
                stages.stream().map(RecipeStage::getMethod).toList());
        assertEquals(0.5, stages.get(1).getSparsity());
    }

    @Test
    void refusesBadStagesNamingThem() {
        assertMessage("--recipe needs at least two stages", "goa:0.2");
        assertMessage("--recipe stage 2 \"alps\": expected method:sparsity or method:N:M", "goa:0.2,alps");
        assertMessage("--recipe stage 1 \"prune-it:0.2\": ", "prune-it:0.2,alps:2:4");
        assertMessage("the target must be a fraction in [0, 1) or N:M, got \"half\"", "goa:half,alps:2:4");
        assertMessage("--recipe stage 2 \"alps:3:4\": ", "goa:0.2,alps:3:4");
        assertMessage("settings are key=value, got \"fast\"", "goa:0.2:fast,alps:2:4");
        assertMessage("unknown --method-option for alps: tau", "goa:0.2,alps:2:4:tau=1");
    }

    private static void assertMessage(String expected, String recipe) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> RecipeSyntax.parse(recipe));
        assertTrue(e.getMessage().contains(expected), e.getMessage());
    }

    private static JobSpecOptions options(String... args) {
        JobSpecOptions options = new JobSpecOptions();
        new CommandLine(options).setCaseInsensitiveEnumValuesAllowed(true).parseArgs(args);
        return options;
    }

    @Test
    void theSpecHoldsTheFirstStageAndTheOthersAsNextStages() {
        JobSpec spec = options("--model", "m", "--calib", "c.txt", "--out", "o", "--recipe", "goa:0.2,alps:2:4")
                .toJobSpec();
        assertEquals(PruneMethod.PRUNE_METHOD_GOA, spec.getMethod());
        assertEquals(0.2, spec.getSparsity());
        assertEquals(1, spec.getNextStagesCount());
        assertEquals(PruneMethod.PRUNE_METHOD_ALPS, spec.getNextStages(0).getMethod());
    }

    @Test
    void methodFlagsCannotBeGivenWithARecipeAndOneOfTheTwoIsRequired() {
        CliHarness.refused("--method", "prune", "--model", "m", "--out", "o");
        CliHarness.refused(
                "--method",
                "prune",
                "--model",
                "m",
                "--out",
                "o",
                "--method",
                "wanda",
                "--recipe",
                "goa:0.2,wanda:0.5");
        IllegalArgumentException e = assertThrows(
                IllegalArgumentException.class,
                () -> options(
                                "--model",
                                "m",
                                "--calib",
                                "c.txt",
                                "--out",
                                "o",
                                "--recipe",
                                "goa:0.2,alps:2:4",
                                "--sparsity",
                                "0.3",
                                "--method-option",
                                "tau=1")
                        .toJobSpec());
        assertTrue(e.getMessage().contains("--sparsity, --method-option cannot be given with it"), e.getMessage());
    }
}
