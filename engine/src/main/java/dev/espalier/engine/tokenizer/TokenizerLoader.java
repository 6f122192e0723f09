package dev.espalier.engine.tokenizer;

import dev.espalier.engine.model.ModelFormatException;
import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/** Finds and loads the tokenizer of a model: Hugging Face folders, llama2.c checkpoints, or a tokenizer file. */
public final class TokenizerLoader {
    /** What a model folder is searched for, in order of preference. */
    public static final List<String> FOLDER_TOKENIZERS = List.of("tokenizer.json", "tokenizer.model", "tokenizer.bin");
    /** What is searched for beside a llama2.c {@code .bin} checkpoint, in order of preference. */
    public static final List<String> LLAMA2C_TOKENIZERS = List.of("tokenizer.bin", "tok*.bin", "tokenizer.model");

    private TokenizerLoader() {}

    /**
     * The tokenizer of a model. A folder (or a file inside one that holds {@code config.json}, such as
     * {@code model.safetensors}) uses its {@code tokenizer.json}, else its {@code tokenizer.model}. A llama2.c
     * checkpoint ({@code .bin} without {@code config.json} beside it) uses {@code tokenizer.bin}, else the single
     * other {@code tok*.bin}, else {@code tokenizer.model} from its folder.
     *
     * @throws ModelFormatException one line naming the folder and the names looked for when there is no tokenizer,
     *                              or naming the file when it cannot be used
     */
    public static Tokenizer forModel(Path model) {
        return load(locate(model));
    }

    /** The tokenizer file {@link #forModel} would load for {@code model}. */
    public static Path locate(Path model) {
        if (Files.isDirectory(model)) {
            return inFolder(model);
        }
        if (!Files.isRegularFile(model)) {
            throw new ModelFormatException(
                    model, "no such file or folder; expected a model folder or a llama2.c .bin checkpoint");
        }
        Path folder = model.toAbsolutePath().getParent();
        boolean llama2c =
                model.getFileName().toString().endsWith(".bin") && !Files.exists(folder.resolve("config.json"));
        return llama2c ? besideLlama2c(model, folder) : inFolder(folder);
    }

    /**
     * The files to copy next to an exported model so that it loads with the same tokenizer: the tokenizer file under
     * its canonical folder name (tokenizer.json, tokenizer.model or tokenizer.bin) and the Hugging Face tokenizer and
     * generation configs beside it, when present. Keys are sources, values the names to give them.
     */
    public static Map<Path, String> exportFiles(Path tokenizerFile) {
        Map<Path, String> files = new LinkedHashMap<>();
        String name = tokenizerFile.getFileName().toString();
        String canonical = name.endsWith(".json")
                ? "tokenizer.json"
                : name.endsWith(".model") ? "tokenizer.model" : "tokenizer.bin";
        files.put(tokenizerFile, canonical);
        Path folder = tokenizerFile.toAbsolutePath().getParent();
        for (String extra : List.of("tokenizer_config.json", "special_tokens_map.json", "generation_config.json")) {
            Path f = folder.resolve(extra);
            if (Files.isRegularFile(f)) {
                files.put(f, extra);
            }
        }
        return files;
    }

    /**
     * Loads one tokenizer file by its kind: {@code .json} (Hugging Face), {@code .model} (sentencepiece) or
     * {@code .bin} (llama2.c); a folder is searched as by {@link #forModel}.
     *
     * @throws ModelFormatException naming the file when it is missing, of an unknown kind, unreadable or corrupt
     */
    public static Tokenizer load(Path file) {
        if (Files.isDirectory(file)) {
            return load(inFolder(file));
        }
        if (!Files.isRegularFile(file)) {
            throw new ModelFormatException(
                    file, "no such file; expected a tokenizer.json, tokenizer.model or llama2.c tokenizer .bin");
        }
        String name = file.getFileName().toString();
        if (name.endsWith(".json")) {
            return HuggingFaceTokenizer.read(file);
        }
        if (name.endsWith(".model")) {
            return SentencePieceTokenizer.read(file);
        }
        if (name.endsWith(".bin")) {
            return Llama2cTokenizer.read(file);
        }
        throw new ModelFormatException(
                file,
                "unknown tokenizer file type; expected .json (Hugging Face), "
                        + ".model (sentencepiece) or .bin (llama2.c)");
    }

    /**
     * Whether the tokenizer's own convention starts a text with BOS: the Hugging Face configuration for
     * {@link HuggingFaceTokenizer}, otherwise whether there is a BOS at all (llama2.c, sentencepiece).
     */
    public static boolean addsBosByDefault(Tokenizer tokenizer) {
        return tokenizer instanceof HuggingFaceTokenizer hf ? hf.addsBosByDefault() : tokenizer.bosId() >= 0;
    }

    /**
     * The problem when the tokenizer has more ids than the model's vocabulary (its ids would index past the
     * embedding), else empty. A model vocabulary larger than the tokenizer's is fine (padded embeddings).
     */
    public static Optional<String> vocabularyMismatch(Tokenizer tokenizer, int modelVocabSize) {
        if (tokenizer.vocabSize() <= modelVocabSize) {
            return Optional.empty();
        }
        return Optional.of("the tokenizer has " + tokenizer.vocabSize() + " ids but the model's vocabulary has "
                + modelVocabSize + "; expected at most " + modelVocabSize);
    }

    /**
     * Throws when {@link #vocabularyMismatch} finds a problem.
     *
     * @param tokenizerFile named in the error
     */
    public static void requireFitsModel(Tokenizer tokenizer, int modelVocabSize, Path tokenizerFile) {
        vocabularyMismatch(tokenizer, modelVocabSize).ifPresent(problem -> {
            throw new ModelFormatException(tokenizerFile, problem);
        });
    }

    private static Path inFolder(Path folder) {
        for (String name : FOLDER_TOKENIZERS) {
            Path file = folder.resolve(name);
            if (Files.isRegularFile(file)) {
                return file;
            }
        }
        throw new ModelFormatException(
                folder, "no tokenizer found; looked for " + String.join(", ", FOLDER_TOKENIZERS));
    }

    private static Path besideLlama2c(Path model, Path folder) {
        Path tokenizerBin = folder.resolve("tokenizer.bin");
        if (Files.isRegularFile(tokenizerBin)) {
            return tokenizerBin;
        }
        List<Path> candidates = new ArrayList<>();
        try (DirectoryStream<Path> stream = Files.newDirectoryStream(folder, "tok*.bin")) {
            for (Path p : stream) {
                if (Files.isRegularFile(p) && !p.getFileName().equals(model.getFileName())) {
                    candidates.add(p);
                }
            }
        } catch (IOException e) {
            throw new ModelFormatException(folder, "cannot list the folder: " + e, e);
        }
        if (candidates.size() == 1) {
            return candidates.get(0);
        }
        if (candidates.size() > 1) {
            List<String> names = candidates.stream()
                    .map(p -> p.getFileName().toString())
                    .sorted()
                    .toList();
            throw new ModelFormatException(
                    folder,
                    "several tokenizers beside " + model.getFileName() + ": " + String.join(", ", names)
                            + "; expected one (or name the tokenizer file)");
        }
        Path sentencePiece = folder.resolve("tokenizer.model");
        if (Files.isRegularFile(sentencePiece)) {
            return sentencePiece;
        }
        throw new ModelFormatException(
                folder,
                "no tokenizer found beside llama2.c model " + model.getFileName() + "; looked for "
                        + String.join(", ", LLAMA2C_TOKENIZERS));
    }
}
