package dev.espalier.engine.job;

import dev.espalier.engine.model.LlamaConfig;
import dev.espalier.engine.model.ModelExporter;
import dev.espalier.engine.prune.LayerMethod;
import dev.espalier.engine.prune.ReconstructionError;
import dev.espalier.engine.prune.methods.PruneMethods;
import dev.espalier.engine.report.ReportFormat;
import dev.espalier.kernels.DType;
import dev.espalier.protocol.v1.JobSpec;
import dev.espalier.protocol.v1.PruneMethod;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * What a layer-pipeline run will cost, estimated before it starts from the model's shapes, the calibration size, the
 * method and a GEMM rate measured on this machine: the work in FLOPs (the calibration forward passes, Gram accumulation
 * and the solves; the attention counted causally), hence the least time the run can take at that rate (its FLOP
 * bound), the peak memory and the disk it writes (checkpoints, export, spilled activations).
 *
 * <p>The counts: a linear map of r×c weights costs 2·r·c FLOPs a token; attention 2·s·q a token of a sequence of s
 * tokens (QKᵀ and AV over the causal half, q the query width); a Gram of width d costs T·d² (SYRK); SparseGPT's solve
 * d³ + 2·r·d² per matrix (Cholesky inverse and the OBS sweep), ALPS's 9·d³ (eigendecomposition) and 300 ADMM iterations
 * of 4·r·d² each; magnitude and Wanda nothing worth counting. Measuring an unstructured run's reconstruction errors
 * (the default) costs two traces tr(M H Mᵀ) per matrix ({@code ReconstructionError}: M = ΔW and W, each the GEMMs
 * of the lower triangle of MᵀM, r·d² + r·d·512), plus the Grams H that magnitude and Wanda need for nothing else.
 * Every pass runs each layer once: an unstructured run accumulates once per solve phase and forwards once more to stream; a structured one adds its scoring pass and, with
 * recovery, the dense stream's forward.
 *
 * <p>The peak resident memory is the larger of two moments, plus the JVM. While layer l streams its outputs, layer
 * l + 1 opens and accumulates: two layers' pages mapped from the checkpoint in its dtype, their two writable f32
 * copies, one layer's Grams, the activations and the forward's scratch. While a layer solves its largest matrix: it
 * and the next layer mapped (the next is read ahead), its f32 copy and Grams, the solve's scratch (SparseGPT's and
 * ALPS's d×d factors, the reconstruction error's two r×d f32 matrices and its d×512 block of MᵀM) and the
 * activations. The JVM is counted with its heap at the maximum, because the parallel collector lets the old
 * generation fill with dead score arrays (magnitude's and Wanda's, 5 bytes a weight) before it collects. Measured (Wanda, bf16, heap at most 2.9 GiB): the 32-layer Llama-3-8B shape with 2 × 2048 tokens
 * peaked at 6.74 GiB against this count's 7.43 GiB, the 40-layer LLaMA-2-13B shape with 2 × 512 tokens at 7.86 GiB
 * against 8.11 GiB, the 32-layer LLaMA-2-7B shape with 2 × 2048 tokens on huge pages at 6.51 GiB against 6.86 GiB
 * ({@code RunPlanTest}).
 *
 * @param tokens          calibration tokens (sequences × sequence length)
 * @param forwardFlops    the calibration passes through every layer
 * @param gramFlops       the Grams of every layer
 * @param solveFlops      the solves of every layer
 * @param errorFlops      the reconstruction errors of every matrix (0 when they are not measured)
 * @param peakMemoryBytes the estimated peak resident memory
 * @param checkpointBytes the layer checkpoints in the run directory
 * @param exportBytes     the exported model
 * @param spillBytes      activations beyond the memory budget, written to the run directory
 */
public record RunPlan(
        long tokens,
        int sequences,
        int seqlen,
        double forwardFlops,
        double gramFlops,
        double solveFlops,
        double errorFlops,
        long peakMemoryBytes,
        long checkpointBytes,
        long exportBytes,
        long spillBytes) {

    private static final int ALPS_ITERATIONS = 300;
    private static final long JVM_NON_HEAP_BYTES =
            450L << 20; // metaspace, code, thread stacks, the collector's tables, huge-page rounding

    public double flops() {
        return forwardFlops + gramFlops + solveFlops + errorFlops;
    }

    /** The least wall time at {@code gflops} GFLOP/s. */
    public double boundSeconds(double gflops) {
        return flops() / (gflops * 1e9);
    }

    /**
     * The plan of {@code spec} on a model of {@code config} (its calibration sequences as the run will draw them) with a
     * host budget of {@code memoryBudget} bytes for activations in memory, in a JVM whose heap may grow to
     * {@code maxHeapBytes} ({@link Runtime#maxMemory()} of the process that runs it).
     *
     * @throws IllegalArgumentException for policy-gradient runs, whose cost depends on the rollouts, not on the layers
     */
    public static RunPlan of(JobSpec spec, LlamaConfig config, long memoryBudget, long maxHeapBytes) {
        if (spec.getMethod() == PruneMethod.PRUNE_METHOD_POLICY_GRADIENT) {
            throw new IllegalArgumentException("--plan estimates layer-pipeline methods; policy-gradient's cost is its"
                    + " --steps rollouts (see `espalier bench --policy-rollouts`)");
        }
        LayerMethod method = PruneMethods.layerMethod(spec, JobInputs.selfCalibration(spec), config);
        int sequences = spec.getCalibrationSamples();
        int seqlen = JobInputs.seqlen(spec, config, LayerPipelineMethod.DEFAULT_MAX_SEQLEN);
        boolean structured = PruneMethods.structuredKind(spec.getMethod()) != null;
        long tokens = (long) sequences * seqlen;
        int passes = method.phases() + 1 + (method.scoresGlobally() ? 1 : 0);
        if (method.usesDenseStream()) {
            passes += method.phases() + 1;
        }
        boolean errors = !structured
                && (!spec.getUnstructured().hasReconstructionError()
                        || spec.getUnstructured().getReconstructionError());
        boolean grams = spec.getMethod() == PruneMethod.PRUNE_METHOD_SPARSEGPT
                || spec.getMethod() == PruneMethod.PRUNE_METHOD_ALPS
                || structured
                || errors;
        double forward = 0;
        double gram = 0;
        double solve = 0;
        double error = 0;
        long layerWeights = 0; // the writable f32 copy
        long layerMapped = 0; // the dense layer's pages, in the dtype the model stores
        long layerGrams = 0;
        long solveScratch = 0;
        boolean factors = spec.getMethod() == PruneMethod.PRUNE_METHOD_SPARSEGPT
                || spec.getMethod() == PruneMethod.PRUNE_METHOD_ALPS
                || structured;
        long checkpoints = 0;
        DType out = JobSpecs.exportFormat(spec).dtypeFor(config);
        for (int l = 0; l < config.numLayers(); l++) {
            LlamaConfig.LayerDims d = config.layer(l);
            long h = config.hiddenSize();
            long q = (long) d.numHeads() * config.headDim();
            long kv = (long) d.numKvHeads() * config.headDim();
            long f = d.intermediateSize();
            long[][] maps = {{q, h}, {kv, h}, {kv, h}, {h, q}, {f, h}, {f, h}, {h, f}}; // rows, cols
            long params = 0;
            for (long[] m : maps) {
                params += m[0] * m[1];
            }
            forward += passes * (2.0 * params * tokens + 2.0 * sequences * (double) seqlen * seqlen * q);
            long[] inputs = {h, q, h, f}; // attention, attention output, MLP, down
            if (grams) {
                for (long w : inputs) {
                    gram += (double) tokens * w * w;
                }
                layerGrams = Math.max(layerGrams, 4 * (h * h * 2 + q * q + f * f));
            }
            for (long[] m : maps) {
                double r = m[0];
                double c = m[1];
                switch (spec.getMethod()) {
                    case PRUNE_METHOD_SPARSEGPT -> solve += c * c * c + 2 * r * c * c;
                    case PRUNE_METHOD_ALPS -> solve += 9 * c * c * c + ALPS_ITERATIONS * 4 * r * c * c;
                    default -> {}
                }
                if (errors) {
                    error += 2 * (r * c * c + r * c * Math.min(c, ReconstructionError.TRACE_BLOCK));
                }
                long scratch = (factors ? (long) (4 * (2 * c * c + r * c)) : 0)
                        + (errors ? (long) (4 * (2 * r * c + c * Math.min(c, ReconstructionError.TRACE_BLOCK))) : 0);
                solveScratch = Math.max(solveScratch, scratch);
            }
            layerWeights = Math.max(layerWeights, 4 * params);
            layerMapped = Math.max(layerMapped, params * config.torchDtype().byteSize());
            checkpoints += (params + 2 * h) * out.byteSize();
        }
        long activationSet = tokens * config.hiddenSize() * 4L * (method.usesDenseStream() ? 2 : 1);
        long activations = 2 * activationSet; // a layer's inputs and the next layer's, as it fills them
        long inMemory = Math.min(activations, memoryBudget);
        long scratch =
                (long) seqlen * (6L * config.hiddenSize() + 3L * maxFfn(config)) * 4L + (long) seqlen * seqlen * 4L;
        long streaming = 2 * (layerWeights + layerMapped) + layerGrams + inMemory + scratch;
        long solving = layerWeights + 2 * layerMapped + layerGrams + solveScratch + inMemory; // the next one read ahead
        long peak = Math.max(streaming, solving) + maxHeapBytes + JVM_NON_HEAP_BYTES;
        long export = ModelExporter.weightBytes(config.withTorchDtype(out));
        return new RunPlan(
                tokens,
                sequences,
                seqlen,
                forward,
                gram,
                solve,
                error,
                peak,
                checkpoints,
                export,
                Math.max(0, activations - memoryBudget));
    }

    private static long maxFfn(LlamaConfig config) {
        long f = 0;
        for (LlamaConfig.LayerDims d : config.layers()) {
            f = Math.max(f, d.intermediateSize());
        }
        return f;
    }

    /** The plan as printed by {@code prune --plan}: work and bound at {@code gflops}, memory, disk. */
    public List<String> describe(double gflops, String rateSource) {
        List<String> lines = new ArrayList<>();
        lines.add(String.format(Locale.ROOT, "calibration: %d × %d = %d tokens", sequences, seqlen, tokens));
        lines.add(String.format(
                Locale.ROOT,
                "work: %.1f TFLOP (forward passes %.1f, Grams %.1f, solves %.1f, reconstruction errors %.1f%s)",
                flops() / 1e12,
                forwardFlops / 1e12,
                gramFlops / 1e12,
                solveFlops / 1e12,
                errorFlops / 1e12,
                errorFlops > 0 ? "; --method-option reconstruction_error=0 skips them" : ""));
        lines.add(String.format(
                Locale.ROOT,
                "time: at least %s at %.1f GFLOP/s (%s)",
                ReportFormat.seconds(boundSeconds(gflops)),
                gflops,
                rateSource));
        lines.add("memory: peak about " + ReportFormat.bytes(peakMemoryBytes)
                + " (two layers in flight or one layer's solve, activations up to the budget, the JVM's heap at its"
                + " maximum)");
        lines.add("disk: checkpoints " + ReportFormat.bytes(checkpointBytes) + ", export "
                + ReportFormat.bytes(exportBytes) + ", spilled activations " + ReportFormat.bytes(spillBytes));
        return lines;
    }
}
