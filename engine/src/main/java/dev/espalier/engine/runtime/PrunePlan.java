package dev.espalier.engine.runtime;

import dev.espalier.engine.eval.PerplexityProtocol;
import dev.espalier.engine.model.LlamaModel;
import dev.espalier.engine.prune.LayerMethod;
import dev.espalier.kernels.TensorOps;
import java.nio.file.Path;
import java.util.List;
import java.util.function.IntFunction;

/**
 * Everything a {@link PruneSupervisor} needs, prepared outside the actors: the dense model, calibration sequences
 * (token ids), evaluation streams and the method.
 *
 * @param method       the method, configured with its target (sparsity, pattern, options)
 * @param calibration  one token sequence per calibration batch, in order
 * @param scoringCalibration the sequences of a scoring pass (the same as {@code calibration}, except in the data-free
 *                     mode, where the scoring pass reads random token ids and pruning reads the model's own text)
 * @param devices      number of device workers
 * @param opsForDevice the backend of device i
 * @param window       batches of demand a stage grants at once (bounds activations in flight between stages)
 * @param maxRestarts  pipeline restarts from the last checkpoint allowed after device failures
 * @param output       folder the pruned model is exported to
 * @param maskedDense  structured methods: export the masked-dense form (dense shapes, zeros) instead of the compact one
 * @param tokenizerFiles files copied next to the exported model (source → name) so that it loads on its own
 */
public record PrunePlan(LlamaModel model, LayerMethod method, int[][] calibration, int[][] scoringCalibration, List<EvalSet> evals, PerplexityProtocol protocol, int evalMaxTokens, int devices,
                        IntFunction<TensorOps> opsForDevice, int window, int maxRestarts, FaultInjector faults, Path output, boolean maskedDense,
                        java.util.Map<Path, String> tokenizerFiles) {

    /** A text file's token stream, scored before and after pruning. */
    public record EvalSet(String dataset, int[] stream) {}

    public int maxTokens() {
        int n = 1;
        for (int[] seq : calibration) {
            n = Math.max(n, seq.length);
        }
        return n;
    }
}
