package dev.espalier.engine.runtime;

import com.esotericsoftware.kryo.Kryo;
import com.esotericsoftware.kryo.KryoException;
import com.esotericsoftware.kryo.Registration;
import com.esotericsoftware.kryo.Serializer;
import com.esotericsoftware.kryo.io.Input;
import com.esotericsoftware.kryo.io.Output;
import com.esotericsoftware.kryo.serializers.EnumMapSerializer;
import com.esotericsoftware.kryo.util.DefaultClassResolver;
import com.esotericsoftware.kryo.util.Pool;
import dev.espalier.engine.prune.LayerAllocation;
import dev.espalier.engine.prune.LayerScores;
import dev.espalier.engine.prune.LinearModule;
import dev.espalier.engine.prune.LinearPruner;
import dev.espalier.engine.runtime.store.StagedLayer;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import org.apache.pekko.actor.ExtendedActorSystem;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.ActorRefResolver;
import org.apache.pekko.actor.typed.javadsl.Adapter;
import org.apache.pekko.serialization.JSerializer;

/**
 * The Pekko serializer for {@link CrossJvmMessage}s, over Kryo. Every class that may appear in such a message is
 * registered here with a fixed id, in one list, so both ends of a connection agree; registration is required, so a
 * message holding an unregistered class is refused with an error naming the class instead of being written with its
 * class name. Actor references travel as their serialised paths.
 */
public final class KryoSerializer extends JSerializer {
    /** Serializer id in Pekko's table ("ESPK"). */
    public static final int IDENTIFIER = 0x4553504B;

    /** The registered classes; their position (+ 100) is their Kryo id. Append only: never reorder. */
    static final List<Class<?>> REGISTERED = List.of(
            ActivationRef.class,
            LayerPruner.Batch.class,
            LayerPruner.UpstreamDone.class,
            LayerPruner.Demand.class,
            LayerPruner.LayerPruned.class,
            LayerPruner.LayerStreamed.class,
            LayerPruner.StageFailed.class,
            DeviceWorker.Release.class,
            DeviceWorker.CloseLayer.class,
            DeviceWorker.Stored.class,
            DeviceWorker.Accumulated.class,
            DeviceWorker.Forwarded.class,
            DeviceWorker.CallFailed.class,
            LinearModule.class,
            LinearPruner.PruneOutcome.class,
            EnumMap.class,
            LayerPruner.LayerScored.class,
            LayerScores.class,
            double[].class,
            DeviceWorker.Allocate.class,
            LayerAllocation.class,
            DeviceWorker.RanMasked.class,
            DeviceWorker.LossScored.class,
            SessionRef.class,
            ModelRef.class,
            ProblemRef.class,
            int[].class,
            DeviceWorker.CloseSession.class,
            DeviceWorker.ReleaseGeneration.class,
            DeviceWorker.Embed.class,
            DeviceWorker.Accumulate.class,
            DeviceWorker.ExtractProblems.class,
            DeviceWorker.Solve.class,
            DeviceWorker.Forward.class,
            DeviceWorker.Score.class,
            DeviceWorker.ReportScores.class,
            DeviceWorker.CheckpointLayer.class,
            DeviceWorker.LayerCheckpointed.class,
            DeviceWorker.LayerOpened.class,
            DeviceWorker.ScoreLoss.class,
            byte[].class,
            String[].class,
            ClusterProtocol.Submitted.class,
            ClusterProtocol.NodeReport.class,
            ClusterProtocol.JobEnded.class,
            ClusterProtocol.Cancel.class,
            ClusterProtocol.ListNodes.class,
            ClusterProtocol.RunJob.class,
            ClusterProtocol.CancelJob.class,
            ClusterProtocol.CancelResult.class,
            ClusterProtocol.NodeList.class,
            HandoffFile.class,
            LayerPruner.HandedOff.class,
            LayerPruner.CheckpointCommitted.class,
            StagedLayer.class,
            StageHost.HostStages.class,
            StageHost.ReleaseStages.class,
            StageHost.StagesHosted.class,
            StageHost.StagesRefused.class,
            ArrayList.class);

    private final ActorRefResolver resolver;
    private final Pool<Kryo> pool = new Pool<>(true, false, 16) {
        @Override
        protected Kryo create() {
            return newKryo();
        }
    };

    public KryoSerializer(ExtendedActorSystem system) {
        this.resolver = ActorRefResolver.get(Adapter.toTyped(system));
    }

    @Override
    public int identifier() {
        return IDENTIFIER;
    }

    @Override
    public boolean includeManifest() {
        return false;
    }

    @Override
    public byte[] toBinary(Object message) {
        Kryo kryo = pool.obtain();
        try (Output out = new Output(256, -1)) {
            kryo.writeClassAndObject(out, message);
            return out.toBytes();
        } catch (IllegalArgumentException | KryoException e) {
            throw new IllegalArgumentException(
                    "cannot serialise " + message.getClass().getName() + " for another JVM: " + e.getMessage(), e);
        } finally {
            pool.free(kryo);
        }
    }

    @Override
    public Object fromBinaryJava(byte[] bytes, Class<?> manifest) {
        Kryo kryo = pool.obtain();
        try (Input in = new Input(bytes)) {
            return kryo.readClassAndObject(in);
        } catch (KryoException e) {
            throw new IllegalArgumentException("cannot read a message from another JVM: " + e.getMessage(), e);
        } finally {
            pool.free(kryo);
        }
    }

    private Kryo newKryo() {
        Kryo kryo = new Kryo(new ActorRefClassResolver(), null);
        kryo.setRegistrationRequired(true);
        kryo.setReferences(false);
        for (int i = 0; i < REGISTERED.size(); i++) {
            Class<?> type = REGISTERED.get(i);
            if (type == EnumMap.class) {
                kryo.register(EnumMap.class, new EnumMapSerializer(LinearModule.class), 100 + i);
            } else {
                kryo.register(type, 100 + i);
            }
        }
        // Actor references are written by path; Pekko's local and remote ref classes all map to this one id.
        kryo.register(ActorRef.class, new ActorRefSerializer(resolver), 99);
        return kryo;
    }

    /** Resolves every implementation class of {@link ActorRef} to the one registration of the interface. */
    private static final class ActorRefClassResolver extends DefaultClassResolver {
        @Override
        public Registration getRegistration(Class type) {
            Registration r = super.getRegistration(type);
            if (r == null && ActorRef.class.isAssignableFrom(type)) {
                return super.getRegistration(ActorRef.class);
            }
            return r;
        }
    }

    /** Writes a typed actor reference as its serialised path and resolves it on the other side. */
    private static final class ActorRefSerializer extends Serializer<ActorRef<?>> {
        private final ActorRefResolver resolver;

        ActorRefSerializer(ActorRefResolver resolver) {
            this.resolver = resolver;
        }

        @Override
        public void write(Kryo kryo, Output output, ActorRef<?> ref) {
            output.writeString(resolver.toSerializationFormat(ref));
        }

        @Override
        public ActorRef<?> read(Kryo kryo, Input input, Class<? extends ActorRef<?>> type) {
            return resolver.resolveActorRef(input.readString());
        }
    }
}
