package dev.espalier.engine.runtime;

import dev.espalier.engine.model.LlamaModel;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The models resident in this host's memory (memory-mapped or loaded by a job), by handle. Jobs register the dense
 * model they load and the pruned model they assemble; device workers read weights through the handle. The registry
 * does not own the models: whoever registered one closes it after {@link #release}.
 */
public final class HostModels {
    private final ConcurrentHashMap<Long, LlamaModel> models = new ConcurrentHashMap<>();
    private final AtomicLong next = new AtomicLong(1);

    public ModelRef register(String name, LlamaModel model) {
        ModelRef ref = new ModelRef(next.getAndIncrement(), name);
        models.put(ref.id(), model);
        return ref;
    }

    public LlamaModel get(ModelRef ref) {
        LlamaModel m = models.get(ref.id());
        if (m == null) {
            throw new IllegalStateException("model " + ref + " is not resident on this host");
        }
        return m;
    }

    public void release(ModelRef ref) {
        models.remove(ref.id());
    }

    public int size() {
        return models.size();
    }
}
