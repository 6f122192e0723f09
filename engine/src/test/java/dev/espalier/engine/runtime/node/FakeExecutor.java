package dev.espalier.engine.runtime.node;

import dev.espalier.engine.io.AtomicFiles;
import dev.espalier.engine.job.CancellationToken;
import dev.espalier.engine.job.EventSink;
import dev.espalier.engine.job.JobExecutor;
import dev.espalier.engine.runtime.store.RunDirectory;
import dev.espalier.protocol.v1.JobEvent;
import dev.espalier.protocol.v1.JobSpec;
import dev.espalier.protocol.v1.LayerPruned;
import dev.espalier.protocol.v1.Progress;
import dev.espalier.protocol.v1.RunReport;
import java.nio.ByteBuffer;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/**
 * A stand-in for the pruning pipeline: "prunes" {@code layers} layers, each committing a small artefact, marking it
 * completed and emitting Progress and LayerPruned, skipping layers a previous run completed. Before layer
 * {@code holdAtLayer} it waits for {@link #release} or a cancellation.
 */
final class FakeExecutor implements JobExecutor {
    final int layers;
    final int holdAtLayer;
    final CountDownLatch held = new CountDownLatch(1);
    final CountDownLatch release = new CountDownLatch(1);
    /** Per job: the layers that were already completed when the executor started. */
    final Map<String, Integer> completedAtStart = new ConcurrentHashMap<>();

    FakeExecutor(int layers, int holdAtLayer) {
        this.layers = layers;
        this.holdAtLayer = holdAtLayer;
    }

    @Override
    public void run(JobSpec spec, RunDirectory run, EventSink events, CancellationToken cancel) throws Exception {
        completedAtStart.put(run.jobId(), run.manifest().getCompletedLayersCount());
        try {
            events.emit(JobEvent.newBuilder().setSucceeded(dev.espalier.protocol.v1.JobSucceeded.getDefaultInstance()));
            throw new AssertionError("the node's sink accepted a terminal event from an executor");
        } catch (IllegalArgumentException expected) {
            // the node alone ends jobs
        }
        for (int layer = 0; layer < layers; layer++) {
            if (run.isLayerCompleted(layer)) {
                run.verifiedLayer(layer);
                continue;
            }
            if (layer == holdAtLayer) {
                held.countDown();
                while (!release.await(10, TimeUnit.MILLISECONDS)) {
                    cancel.throwIfCancelled();
                }
            }
            cancel.throwIfCancelled();
            byte[] weights = new byte[] {(byte) layer, 1, 2, 3};
            run.commitLayer(layer, channel -> AtomicFiles.writeFully(channel, ByteBuffer.wrap(weights)));
            run.markLayerCompleted(layer);
            events.emit(JobEvent.newBuilder()
                    .setLayerPruned(LayerPruned.newBuilder().setLayer(layer).setSparsity(spec.getSparsity())));
            events.emit(JobEvent.newBuilder()
                    .setProgress(Progress.newBuilder()
                            .setStage("prune")
                            .setDone(layer + 1)
                            .setTotal(layers)));
        }
        run.commitReport(RunReport.newBuilder()
                .setJobId(run.jobId())
                .setAchievedSparsity(spec.getSparsity())
                .build());
    }
}
