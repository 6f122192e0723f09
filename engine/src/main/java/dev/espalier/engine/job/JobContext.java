package dev.espalier.engine.job;

import dev.espalier.engine.model.LlamaModel;
import dev.espalier.engine.runtime.Devices;
import dev.espalier.engine.runtime.ModelRef;
import dev.espalier.engine.runtime.PruneSupervisor;
import dev.espalier.engine.runtime.store.RunDirectory;
import dev.espalier.protocol.v1.JobSpec;
import org.apache.pekko.actor.typed.ActorRef;

/**
 * What {@link PruneJob} hands its {@link MethodStep}: the spec, the run directory and where events go, the process's
 * devices with the job's session on them, the dense model (on the host, and its handle), and the calibration sequences.
 *
 * @param pipelineEvents where a {@link PruneSupervisor} of this job reports (written to {@code events} off the actors)
 * @param scoringCalibration sequences of a scoring pass (random token ids in the data-free mode, else the calibration)
 */
public record JobContext(
        JobSpec spec,
        RunDirectory run,
        EventSink events,
        CancellationToken cancel,
        Devices devices,
        Devices.JobDevices jobDevices,
        LlamaModel model,
        ModelRef modelRef,
        int[][] calibration,
        int[][] scoringCalibration,
        int seqlen,
        ActorRef<PruneSupervisor.Event> pipelineEvents) {}
