package dev.espalier.engine.report;

import dev.espalier.protocol.v1.JobSpec;
import dev.espalier.protocol.v1.PerplexityProtocol;
import dev.espalier.protocol.v1.PerplexityResult;
import dev.espalier.protocol.v1.PruneMethod;
import dev.espalier.protocol.v1.RunReport;
import dev.espalier.protocol.v1.SparsityPattern;
import dev.espalier.protocol.v1.TaskAccuracy;

/** Run reports made up for the report tests: a dense perplexity of 4 and a dense piqa accuracy of 0.5. */
final class Reports {
    static final String DATA = "/data/tinystories/tinystories_val_sample.txt";

    private Reports() {}

    static RunReport run(String id, PruneMethod method, double sparsity, double pplAfter, double piqaAfter) {
        return RunReport.newBuilder()
                .setJobId(id)
                .setSpec(JobSpec.newBuilder()
                        .setModel("/models/stories260K.bin")
                        .setMethod(method)
                        .setPattern(SparsityPattern.SPARSITY_PATTERN_UNSTRUCTURED)
                        .setSparsity(sparsity)
                        .setOutput("/out/" + id))
                .addPerplexitiesBefore(ppl(4.0))
                .addPerplexitiesAfter(ppl(pplAfter))
                .addTasksBefore(piqa(0.5))
                .addTasksAfter(piqa(piqaAfter))
                .setAchievedSparsity(sparsity)
                .build();
    }

    static PerplexityResult ppl(double value) {
        return PerplexityResult.newBuilder()
                .setDataset(DATA)
                .setProtocol(PerplexityProtocol.PERPLEXITY_PROTOCOL_STREAM)
                .setWindow(512)
                .setTokensScored(2047)
                .setPerplexity(value)
                .build();
    }

    static TaskAccuracy piqa(double acc) {
        return TaskAccuracy.newBuilder()
                .setTask("piqa")
                .setFile("/data/zeroshot/piqa.jsonl")
                .setItems(100)
                .setAcc(acc)
                .setAccStderr(0.05)
                .setAccNorm(acc + 0.01)
                .setAccNormStderr(0.05)
                .setChance(0.5)
                .setPapersReportAccNorm(true)
                .build();
    }
}
