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
import java.util.function.Consumer;

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

        /** The dtype a model of {@code config} is written in: the chosen one, else the checkpoint's (F64: F32). */
        public DType dtypeFor(LlamaConfig config) {
            return dtype != null ? dtype : config.torchDtype() == DType.F64 ? DType.F32 : config.torchDtype();
        }
    }

    private static final Map<String, String> PT_METADATA = Map.of("format", "pt");

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
        exportInto(output, tokenizerFiles, jobId, overwrite, staging -> exportHf(model, staging, format));
    }

    /**
     * Writes a model of {@code config} (its torch_dtype: the dtype of every tensor) whose tensors {@code producer} makes
     * one at a time, as the Hugging Face folder {@code output}, with the same atomicity and refusals as
     * {@link #export(LlamaModel, Path, Map, String, boolean, Format)}: a model larger than memory needs one tensor's
     * worth of it (synthetic models of real shapes).
     */
    public static void exportProduced(
            LlamaConfig config,
            Path output,
            Map<Path, String> tokenizerFiles,
            String jobId,
            boolean overwrite,
            long maxShardBytes,
            SafetensorsWriter.Producer producer) {
        exportInto(output, tokenizerFiles, jobId, overwrite, staging -> {
            SequencedMap<String, SafetensorsWriter.Layout> layouts = new LinkedHashMap<>();
            HfTensorLayout.expectedShapes(config)
                    .forEach((name, shape) ->
                            layouts.put(name, new SafetensorsWriter.Layout(config.torchDtype(), shape)));
            writeSharded(staging, layouts, maxShardBytes, (file, names) -> {
                SequencedMap<String, SafetensorsWriter.Layout> part = new LinkedHashMap<>();
                names.forEach(n -> part.put(n, layouts.get(n)));
                SafetensorsWriter.writeProduced(file, part, PT_METADATA, producer);
            });
            HfConfigWriter.write(config, staging.resolve("config.json"));
        });
    }

    /** Bytes of the weights of a model of {@code config}, each tensor in the config's torch_dtype. */
    public static long weightBytes(LlamaConfig config) {
        long bytes = 0;
        for (int[] shape : HfTensorLayout.expectedShapes(config).values()) {
            bytes += Tensor.numel(shape) * config.torchDtype().byteSize();
        }
        return bytes;
    }

    /** Writes into a staging sibling of {@code output} with {@code writer}, adds the tokenizer files, then commits it. */
    private static void exportInto(
            Path output, Map<Path, String> tokenizerFiles, String jobId, boolean overwrite, Consumer<Path> writer) {
        OutputFolder.checkReplaceable(output, jobId, overwrite);
        try {
            Path staging = OutputFolder.prepareStaging(output);
            writer.accept(staging);
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
     * Other files in the folder (tokenizer files) are left alone. Tensors are converted a block of rows at a time, and
     * memory-mapped ones dropped from resident memory once written.
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
            SequencedMap<String, SafetensorsWriter.Layout> layouts = new LinkedHashMap<>();
            tensors.forEach((name, t) -> layouts.put(name, new SafetensorsWriter.Layout(dtype, t.shape())));
            writeSharded(folder, layouts, format.maxShardBytes(), (file, names) -> {
                SequencedMap<String, Tensor> part = new LinkedHashMap<>();
                names.forEach(n -> part.put(n, tensors.get(n)));
                SafetensorsWriter.write(file, part, PT_METADATA, dtype);
            });
        }
        HfConfigWriter.write(model.config().withTorchDtype(dtype), folder.resolve("config.json"));
    }

    /** Writes the tensors of one shard file, named in order. */
    private interface ShardWriter {
        void write(Path file, List<String> names);
    }

    /**
     * One {@code model.safetensors}, or shards of at most {@code maxBytes} (one shard at least; a larger tensor gets a
     * shard of its own) named as {@code save_pretrained} names them, with their index.
     */
    private static void writeSharded(
            Path folder, SequencedMap<String, SafetensorsWriter.Layout> layouts, long maxBytes, ShardWriter writer) {
        List<List<String>> shards = new ArrayList<>();
        List<String> current = new ArrayList<>();
        long bytes = 0;
        for (Map.Entry<String, SafetensorsWriter.Layout> t : layouts.entrySet()) {
            long size = bytesOf(t.getValue());
            if (!current.isEmpty() && bytes + size > maxBytes) {
                shards.add(current);
                current = new ArrayList<>();
                bytes = 0;
            }
            current.add(t.getKey());
            bytes += size;
        }
        shards.add(current);
        if (shards.size() == 1) {
            writer.write(folder.resolve(HfCheckpoint.SINGLE), shards.getFirst());
            return;
        }
        ObjectNode index = ModelJson.newObject();
        long total = 0;
        ObjectNode weightMap = ModelJson.newObject();
        for (int i = 0; i < shards.size(); i++) {
            String name = String.format(Locale.ROOT, "model-%05d-of-%05d.safetensors", i + 1, shards.size());
            writer.write(folder.resolve(name), shards.get(i));
            for (String tensor : shards.get(i)) {
                weightMap.put(tensor, name);
                total += bytesOf(layouts.get(tensor));
            }
        }
        index.putObject("metadata").put("total_size", total);
        index.set("weight_map", weightMap);
        AtomicFiles.write(folder.resolve(HfCheckpoint.INDEX), ModelJson.toBytes(index));
    }

    private static long bytesOf(SafetensorsWriter.Layout layout) {
        return Tensor.numel(layout.shape()) * layout.dtype().byteSize();
    }
}
