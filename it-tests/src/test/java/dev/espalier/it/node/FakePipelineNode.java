package dev.espalier.it.node;

import dev.espalier.engine.io.AtomicFiles;
import dev.espalier.engine.job.JobExecutor;
import dev.espalier.engine.runtime.node.Node;
import dev.espalier.engine.runtime.node.NodeOptions;
import dev.espalier.protocol.v1.JobEvent;
import dev.espalier.protocol.v1.LayerPruned;
import dev.espalier.protocol.v1.Progress;
import dev.espalier.protocol.v1.RunReport;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * {@code espalier} with a stand-in pipeline for every method, run as its own process by the node ITs: each job
 * "prunes" {@link #LAYERS} layers of {@link #LAYER_MILLIS} ms, committing one small artefact per layer and skipping the
 * layers a previous (killed) run completed, so resumption is exercised without a model.
 */
public final class FakePipelineNode {
    static final int LAYERS = 4;
    static final long LAYER_MILLIS = 60;

    private FakePipelineNode() {}

    static final JobExecutor EXECUTOR = (spec, run, events, cancel) -> {
        for (int layer = 0; layer < LAYERS; layer++) {
            if (run.isLayerCompleted(layer)) {
                run.verifiedLayer(layer);
                continue;
            }
            cancel.throwIfCancelled();
            Thread.sleep(LAYER_MILLIS);
            byte[] weights = {(byte) layer, (byte) spec.getSeed()};
            run.commitLayer(layer, channel -> AtomicFiles.writeFully(channel, ByteBuffer.wrap(weights)));
            run.markLayerCompleted(layer);
            events.emit(JobEvent.newBuilder()
                    .setLayerPruned(LayerPruned.newBuilder().setLayer(layer).setSparsity(spec.getSparsity())));
            events.emit(JobEvent.newBuilder()
                    .setProgress(Progress.newBuilder()
                            .setStage("prune")
                            .setDone(layer + 1)
                            .setTotal(LAYERS)));
        }
        run.commitReport(RunReport.newBuilder()
                .setJobId(run.jobId())
                .setAchievedSparsity(spec.getSparsity())
                .build());
    };

    /** {@code serve --home DIR --port N --slots N --allow-out DIR}: a node whose every job runs {@link #EXECUTOR}. */
    public static void main(String[] args) throws InterruptedException {
        Map<String, String> flags = new HashMap<>();
        for (int i = 1; i + 1 < args.length; i += 2) {
            flags.put(args[i], args[i + 1]);
        }
        NodeOptions options = new NodeOptions(
                        Path.of(flags.get("--home")),
                        NodeOptions.DEFAULT_BIND,
                        Integer.parseInt(flags.get("--port")),
                        Integer.parseInt(flags.get("--slots")),
                        NodeOptions.DEFAULT_QUEUE_CAPACITY)
                .withAllowedOutputs(
                        flags.containsKey("--allow-out") ? List.of(Path.of(flags.get("--allow-out"))) : List.of());
        Node node = Node.start(options, spec -> EXECUTOR);
        Runtime.getRuntime().addShutdownHook(new Thread(node::close));
        node.awaitTermination();
    }
}
