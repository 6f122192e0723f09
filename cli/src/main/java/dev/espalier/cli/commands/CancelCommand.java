package dev.espalier.cli.commands;

import dev.espalier.protocol.v1.CancelJobRequest;
import dev.espalier.protocol.v1.JobStatus;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** {@code espalier cancel JOB}: cancel a queued job, or ask a running one to stop at its next safe point. */
@Command(
        name = "cancel",
        mixinStandardHelpOptions = true,
        versionProvider = CliVersion.class,
        description = "Cancel a queued job at once, or ask a running job to stop at its next safe point.",
        footer = {
            "",
            "Examples:",
            "  ./espalier cancel 20261122-163827-3fa9",
            "  ./espalier cancel 20261122-163827-3fa9 --node 127.0.0.1:7070"
        })
public final class CancelCommand implements Callable<Integer> {

    @Parameters(index = "0", paramLabel = "<job-id>", description = "The job to cancel.")
    String jobId;

    @Mixin
    NodeClientOptions node;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() {
        return node.run(spec, client -> {
            JobStatus status = client.blocking(10)
                    .cancelJob(CancelJobRequest.newBuilder().setJobId(jobId).build());
            spec.commandLine()
                    .getOut()
                    .println(status.getJobId() + ": " + StatusCommand.state(status.getState()) + " ("
                            + status.getMessage() + ")");
            return 0;
        });
    }
}
