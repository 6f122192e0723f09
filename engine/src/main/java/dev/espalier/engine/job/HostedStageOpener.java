package dev.espalier.engine.job;

import dev.espalier.engine.model.LlamaModel;
import dev.espalier.engine.model.ModelLoader;
import dev.espalier.engine.prune.LayerMethod;
import dev.espalier.engine.prune.methods.PruneMethods;
import dev.espalier.engine.runtime.DeviceSpec;
import dev.espalier.engine.runtime.Devices;
import dev.espalier.engine.runtime.FaultInjector;
import dev.espalier.engine.runtime.ModelRef;
import dev.espalier.engine.runtime.StageHost;
import dev.espalier.engine.runtime.store.StageCheckpoints;
import dev.espalier.protocol.v1.JobSpec;
import java.lang.foreign.Arena;
import java.nio.file.Path;
import java.util.function.Function;

/**
 * How a cluster node opens the stages it hosts for a job running on another node: the spec from the job's run
 * directory in the shared folder, the model it names (memory-mapped here), the method configured as the job's node
 * configures it, and a session on this node's device workers (at most as many as the job asks for) whose checkpoints
 * are staged for the job's node to commit. The same steps as {@link PruneJob}'s, so both nodes prune alike.
 */
public final class HostedStageOpener implements StageHost.Opener {
    private final Devices devices;
    private final Function<String, Path> runDirectories;

    /** {@code runDirectories}: a job id's run directory as this node sees the shared folder. */
    public HostedStageOpener(Devices devices, Function<String, Path> runDirectories) {
        this.devices = devices;
        this.runDirectories = runDirectories;
    }

    @Override
    public StageHost.OpenedStages open(String job) {
        StageCheckpoints checkpoints = StageCheckpoints.open(runDirectories.apply(job));
        JobSpec spec = checkpoints.spec();
        LlamaModel model = null;
        ModelRef dense = null;
        try {
            model = ModelLoader.load(Path.of(spec.getModel()), Arena.ofShared());
            LayerMethod method = PruneMethods.layerMethod(spec, JobInputs.selfCalibration(spec), model.config());
            int seqlen = JobInputs.seqlen(spec, model.config(), LayerPipelineMethod.DEFAULT_MAX_SEQLEN);
            DeviceSpec wanted = JobInputs.devices(spec);
            DeviceSpec here = new DeviceSpec(Math.min(wanted.count(), devices.count()), wanted.threadsPerDevice());
            dense = devices.models().register(job + "/dense (hosted stages)", model);
            Devices.JobDevices session = devices.open(
                    job,
                    here,
                    dense,
                    seqlen,
                    checkpoints,
                    JobSpecs.exportFormat(spec).dtypeFor(model.config()),
                    FaultInjector.NONE);
            LlamaModel opened = model;
            ModelRef ref = dense;
            return new StageHost.OpenedStages(
                    session, method, model.config().numLayers(), checkpoints::isLayerCompleted, () -> {
                        session.close();
                        devices.models().release(ref);
                        opened.close();
                        checkpoints.close();
                    });
        } catch (RuntimeException e) {
            if (dense != null) {
                devices.models().release(dense);
            }
            if (model != null) {
                model.close();
            }
            checkpoints.close();
            throw e;
        }
    }
}
