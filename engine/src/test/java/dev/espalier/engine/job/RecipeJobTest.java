package dev.espalier.engine.job;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.espalier.protocol.v1.AlpsSettings;
import dev.espalier.protocol.v1.JobSpec;
import dev.espalier.protocol.v1.PerplexityResult;
import dev.espalier.protocol.v1.PruneMethod;
import dev.espalier.protocol.v1.RecipeStage;
import dev.espalier.protocol.v1.RunReport;
import dev.espalier.protocol.v1.SparsityPattern;
import dev.espalier.protocol.v1.StructuredSettings;
import dev.espalier.protocol.v1.UnstructuredSettings;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;

class RecipeJobTest {
    private static final Path RUN = Path.of("/runs/r.run");

    private static JobSpec recipe() {
        return JobSpec.newBuilder()
                .setModel("/models/m.bin")
                .setTokenizer("/models/tok.bin")
                .setMethod(PruneMethod.PRUNE_METHOD_GOA)
                .setSparsity(0.2)
                .setPattern(SparsityPattern.SPARSITY_PATTERN_UNSTRUCTURED)
                .setStructured(StructuredSettings.newBuilder().setRecovery(false))
                .setCalibration("/data/c4.jsonl")
                .setCalibrationSamples(8)
                .setOutput("/out/final")
                .setOverwriteOutput(true)
                .addNextStages(RecipeStage.newBuilder()
                        .setMethod(PruneMethod.PRUNE_METHOD_ALPS)
                        .setPattern(SparsityPattern.SPARSITY_PATTERN_2_4)
                        .setUnstructured(UnstructuredSettings.newBuilder()
                                .setAlps(AlpsSettings.newBuilder().setStopRho(10))))
                .addNextStages(RecipeStage.newBuilder()
                        .setMethod(PruneMethod.PRUNE_METHOD_WANDA)
                        .setSparsity(0.1)
                        .setPattern(SparsityPattern.SPARSITY_PATTERN_UNSTRUCTURED))
                .build();
    }

    @Test
    void eachStageReadsThePreviousStagesExportAndTheLastWritesTheOutput() {
        JobSpec r = recipe();
        assertEquals(3, RecipeJob.stageCount(r));
        JobSpec first = RecipeJob.stageSpec(r, 0, RUN);
        assertEquals("/models/m.bin", first.getModel());
        assertEquals("/models/tok.bin", first.getTokenizer());
        assertEquals("/runs/r.run/stage-1/model", first.getOutput());
        assertFalse(first.getOverwriteOutput(), "an intermediate export is the run's own, never a user's folder");
        assertEquals(0, first.getNextStagesCount());
        assertFalse(first.getStructured().getRecovery());

        JobSpec second = RecipeJob.stageSpec(r, 1, RUN);
        assertEquals(PruneMethod.PRUNE_METHOD_ALPS, second.getMethod());
        assertEquals(SparsityPattern.SPARSITY_PATTERN_2_4, second.getPattern());
        assertEquals(10, second.getUnstructured().getAlps().getStopRho());
        assertEquals("/runs/r.run/stage-1/model", second.getModel());
        assertEquals("", second.getTokenizer(), "the export carries its tokenizer");
        assertEquals("/runs/r.run/stage-2/model", second.getOutput());
        assertEquals("/data/c4.jsonl", second.getCalibration());
        assertEquals(8, second.getCalibrationSamples());

        JobSpec last = RecipeJob.stageSpec(r, 2, RUN);
        assertEquals(PruneMethod.PRUNE_METHOD_WANDA, last.getMethod());
        assertFalse(last.hasUnstructured(), "a stage without settings takes its method's defaults");
        assertEquals("/runs/r.run/stage-2/model", last.getModel());
        assertEquals("/out/final", last.getOutput());
        assertTrue(last.getOverwriteOutput());
        assertEquals(Path.of("/runs/r.run/stage-3.run"), RecipeJob.stageRunDir(RUN, 2));
        assertThrows(IllegalArgumentException.class, () -> RecipeJob.stageSpec(r, 3, RUN));
    }

    @Test
    void stageOfAndWithStageAreInverse() {
        JobSpec r = recipe();
        RecipeStage s = r.getNextStages(0);
        assertEquals(s, RecipeJob.stageOf(RecipeJob.withStage(r.toBuilder(), s).build()));
    }

    @Test
    void aBadLaterStageIsRefusedByItsPlace() {
        JobSpec bad = recipe().toBuilder()
                .setNextStages(
                        1,
                        RecipeStage.newBuilder()
                                .setMethod(PruneMethod.PRUNE_METHOD_WANDA)
                                .setSparsity(1.5)
                                .setPattern(SparsityPattern.SPARSITY_PATTERN_UNSTRUCTURED))
                .build();
        assertEquals(
                List.of("next_stages[1] (recipe stage 3): sparsity must be in [0, 1), got 1.5"),
                JobSpecs.problems(bad));
        assertEquals(List.of(), JobSpecs.problems(recipe()));
    }

    private static RunReport stageReport(JobSpec spec, double achieved, double pplBefore, double pplAfter) {
        return RunReport.newBuilder()
                .setSpec(spec)
                .setAchievedSparsity(achieved)
                .addPerplexitiesBefore(PerplexityResult.newBuilder().setPerplexity(pplBefore))
                .addPerplexitiesAfter(PerplexityResult.newBuilder().setPerplexity(pplAfter))
                .setTotalSeconds(2)
                .build();
    }

    @Test
    void theRecipesReportSpansItsStages() {
        JobSpec r = recipe();
        RunReport report = RecipeJob.report(
                r,
                "job-1",
                List.of(
                        stageReport(RecipeJob.stageSpec(r, 0, RUN), 0.2, 4.0, 9.0),
                        stageReport(RecipeJob.stageSpec(r, 1, RUN), 0.5, 9.0, 45.0),
                        stageReport(RecipeJob.stageSpec(r, 2, RUN), 0.1, 45.0, 50.0)));
        assertEquals("job-1", report.getJobId());
        assertEquals(r, report.getSpec());
        assertEquals(4.0, report.getPerplexitiesBefore(0).getPerplexity());
        assertEquals(50.0, report.getPerplexitiesAfter(0).getPerplexity());
        assertEquals(1 - 0.8 * 0.5 * 0.9, report.getAchievedSparsity(), 1e-15);
        assertEquals(6, report.getTotalSeconds());
        assertEquals(3, report.getStagesCount());
        assertEquals(2, report.getStages(1).getStage());
        assertEquals(PruneMethod.PRUNE_METHOD_ALPS, report.getStages(1).getMethod());
        assertEquals(45.0, report.getStages(1).getPerplexitiesAfter(0).getPerplexity());
        assertEquals("/runs/r.run/stage-2/model", report.getStages(1).getOutput());
    }
}
