package dev.espalier.cli.commands;

import dev.espalier.protocol.v1.JobSpec;
import dev.espalier.protocol.v1.SubmitJobRequest;
import dev.espalier.protocol.v1.SubmitJobResponse;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;

/** {@code espalier submit}: queue a pruning job on the node and print its id. */
@Command(
        name = "submit",
        mixinStandardHelpOptions = true,
        versionProvider = CliVersion.class,
        description = {
            "Queue a pruning job on a running node (`espalier serve`) and print its id.",
            "The node refuses an --out outside its allowed folders (serve --allow-out; default: the node's home), and calls"
                    + " without its token (ESPALIER_NODE_TOKEN, else <home>/node.token)."
        },
        footer = {
            "",
            "Examples:",
            "  ./espalier serve --allow-out runs &",
            "  ./espalier submit --model ../shared/models/stories260K-hf --method wanda \\",
            "      --sparsity 0.5 --calib ../shared/data/c4/c4_validation_2k.jsonl --out runs/w50",
            "  id=$(./espalier submit --model ../shared/models/stories260K-hf \\",
            "      --method sparsegpt --pattern 2:4 --calib self --out runs/sgpt24)",
            "  ./espalier watch \"$id\""
        })
public final class SubmitCommand implements Callable<Integer> {

    @Mixin
    JobSpecOptions job;

    @Mixin
    NodeClientOptions node;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() {
        JobSpec jobSpec = job.toJobSpec();
        return node.run(spec, client -> {
            if (isLoopback(client.address().host())) {
                JobSpecOptions.checkInputsExist(jobSpec); // the node reads the same files
            }
            SubmitJobResponse response = client.blocking(30)
                    .submitJob(SubmitJobRequest.newBuilder().setSpec(jobSpec).build());
            spec.commandLine().getOut().println(response.getJobId());
            return 0;
        });
    }

    private static boolean isLoopback(String host) {
        try {
            return InetAddress.getByName(host).isLoopbackAddress();
        } catch (UnknownHostException e) {
            return false;
        }
    }
}
