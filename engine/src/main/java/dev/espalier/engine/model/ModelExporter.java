package dev.espalier.engine.model;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.espalier.engine.io.AtomicFiles;
import dev.espalier.engine.io.CrashPoints;
import dev.espalier.engine.io.OutputFolder;
import dev.espalier.kernels.DType;
import dev.espalier.kernels.Tensor;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.foreign.Arena;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.SequencedMap;

/**
 * Writes a {@link LlamaModel} as a Hugging Face folder: the weights in the dtype asked for (by default the one the
 * input checkpoint stored, {@link LlamaConfig#torchDtype()}: a bf16 model comes back bf16), Hugging Face names and
 * order, {@code __metadata__ {"format": "pt"}}, no lm_head when tied; in one {@code model.safetensors} or, beyond the
 * shard size, in {@code model-0000i-of-0000n.safetensors} shards with {@code model.safetensors.index.json}
 * ({@code metadata.total_size}, {@code weight_map}) as {@code save_pretrained} writes them; then {@code config.json}
 * (torch_dtype the written dtype, Espalier's per-layer arrays when layers differ). Each file is written atomically;
 * config.json comes last, so a folder with a config.json always has its weights.
 */
public final class ModelExporter {
    /** Hugging Face's default {@code max_shard_size} ("5GB", in decimal bytes). */
    public static final long DEFAULT_MAX_SHARD_BYTES = 5_000_000_000L;

    /**
     * How the weights are written: {@code dtype} F32, BF16 or F16, or null for the model's own
     * ({@link LlamaConfig#torchDtype()}); shards of at most {@code maxShardBytes} (a tensor larger than that gets a shard
     * of its own).
     */
    public record Format(DType dtype, long maxShardBytes) {
        public static final Format DEFAULT = new Format(null, DEFAULT_MAX_SHARD_BYTES);

        public Format {
            if (dtype == DType.F64) {
                throw new IllegalArgumentException("a checkpoint is exported as F32, BF16 or F16, not F64");
            }
            if (maxShardBytes <= 0) {
                throw new IllegalArgumentException("the shard size must be positive, got " + maxShardBytes);
            }
        }

        DType dtypeFor(LlamaConfig config) {
            return dtype != null ? dtype : config.torchDtype() == DType.F64 ? DType.F32 : config.torchDtype();
        }
    }

    private ModelExporter() {}

    /** As {@link #export(LlamaModel, Path, Map, String, boolean, Format)} in the {@link Format#DEFAULT} format. */
    public static void export(
            LlamaModel model, Path output, Map<Path, String> tokenizerFiles, String jobId, boolean overwrite) {
        export(model, output, tokenizerFiles, jobId, overwrite, Format.DEFAULT);
    }

    /**
     * Writes {@code model} as the Hugging Face folder {@code output} of job {@code jobId} (config, safetensors,
     * tokenizer files: each key of {@code tokenizerFiles} copied under its value, and {@link OutputFolder#MARKER}) so
     * that it appears whole or not at all: everything goes into a staging sibling that is renamed onto {@code output}
     * at the end. What is at {@code output} is replaced only as {@link OutputFolder} allows (an Espalier output of the
     * same job, or of another with {@code overwrite}); anything else is refused before anything is written.
     *
     * @throws OutputFolder.OutputConflictException when {@code output} may not be replaced
     * @throws ModelFormatException naming {@code output} when it cannot be written
     */
    public static void export(
            LlamaModel model,
            Path output,
            Map<Path, String> tokenizerFiles,
            String jobId,
            boolean overwrite,
            Format format) {
        OutputFolder.checkReplaceable(output, jobId, overwrite);
        try {
            Path staging = OutputFolder.prepareStaging(output);
            exportHf(model, staging, format);
            for (Map.Entry<Path, String> f : tokenizerFiles.entrySet()) {
                Files.copy(f.getKey(), staging.resolve(f.getValue()), StandardCopyOption.REPLACE_EXISTING);
            }
            CrashPoints.reach("mid-export");
            OutputFolder.commit(staging, output, jobId, overwrite);
        } catch (IOException | UncheckedIOException e) {
            throw new ModelFormatException(output, "cannot export the model (" + e.getMessage() + ")", e);
        }
    }

    /** As {@link #exportHf(LlamaModel, Path, Format)} in the {@link Format#DEFAULT} format. */
    public static void exportHf(LlamaModel model, Path folder) {
        exportHf(model, folder, Format.DEFAULT);
    }

    /**
     * Exports {@code model} into {@code folder} (created if needed; existing files of the same names are replaced).
     * Other files in the folder (tokenizer files) are left alone.
     *
     * @throws ModelFormatException naming the file that cannot be written, or the tensor that the dtype cannot hold
     */
    public static void exportHf(LlamaModel model, Path folder, Format format) {
        try {
            Files.createDirectories(folder);
        } catch (IOException e) {
            throw IoFailures.of(folder, "create the folder", e);
        }
        DType dtype = format.dtypeFor(model.config());
        try (Arena scratch = Arena.ofConfined()) {
            SequencedMap<String, Tensor> tensors = HfTensorLayout.tensorsOf(model, scratch);
            List<SequencedMap<String, Tensor>> shards = shards(tensors, dtype, format.maxShardBytes());
            if (shards.size() == 1) {
                writeShard(folder.resolve(HfCheckpoint.SINGLE), tensors, dtype);
            } else {
                ObjectNode index = ModelJson.newObject();
                long total = 0;
                ObjectNode weightMap = ModelJson.newObject();
                for (int i = 0; i < shards.size(); i++) {
                    String name = String.format(Locale.ROOT, "model-%05d-of-%05d.safetensors", i + 1, shards.size());
                    writeShard(folder.resolve(name), shards.get(i), dtype);
                    for (Map.Entry<String, Tensor> t : shards.get(i).entrySet()) {
                        weightMap.put(t.getKey(), name);
                        total += t.getValue().numel() * dtype.byteSize();
                    }
                }
                index.putObject("metadata").put("total_size", total);
                index.set("weight_map", weightMap);
                AtomicFiles.write(folder.resolve(HfCheckpoint.INDEX), ModelJson.toBytes(index));
            }
        }
        HfConfigWriter.write(model.config().withTorchDtype(dtype), folder.resolve("config.json"));
    }

    /** The tensors in order, cut into shards of at most {@code maxBytes} in {@code dtype} (one shard at least). */
    private static List<SequencedMap<String, Tensor>> shards(
            SequencedMap<String, Tensor> tensors, DType dtype, long maxBytes) {
        List<SequencedMap<String, Tensor>> shards = new ArrayList<>();
        SequencedMap<String, Tensor> current = new LinkedHashMap<>();
        long bytes = 0;
        for (Map.Entry<String, Tensor> t : tensors.entrySet()) {
            long size = t.getValue().numel() * dtype.byteSize();
            if (!current.isEmpty() && bytes + size > maxBytes) {
                shards.add(current);
                current = new LinkedHashMap<>();
                bytes = 0;
            }
            current.put(t.getKey(), t.getValue());
            bytes += size;
        }
        shards.add(current);
        return shards;
    }

    /** One safetensors file of {@code tensors} in {@code dtype}, each converted (one at a time) where it differs. */
    private static void writeShard(Path file, SequencedMap<String, Tensor> tensors, DType dtype) {
        try (Arena converted = Arena.ofConfined()) {
            SequencedMap<String, Tensor> out = new LinkedHashMap<>();
            for (Map.Entry<String, Tensor> t : tensors.entrySet()) {
                out.put(t.getKey(), as(t.getKey(), t.getValue(), dtype, converted));
            }
            SafetensorsWriter.write(file, out, Map.of("format", "pt"));
        }
    }

    /** {@code t} in {@code dtype}: itself when it already is, else a rounded copy (nearest even). */
    private static Tensor as(String name, Tensor t, DType dtype, Arena arena) {
        if (t.dtype() == dtype) {
            return t;
        }
        Tensor copy = t.copyAs(arena, dtype);
        if (dtype == DType.F16) {
            for (long i = 0, n = copy.numel(); i < n; i++) {
                if (Float.isInfinite(copy.getFlat(i))) {
                    throw new ModelFormatException(
                            Path.of(name), "holds a value beyond F16's range (±65504): export it as bf16 or f32");
                }
            }
        }
        return copy;
    }
}
