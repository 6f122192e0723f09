package dev.espalier.cli.commands;

import dev.espalier.engine.model.LlamaModel;
import dev.espalier.engine.model.ModelLoader;
import dev.espalier.engine.tokenizer.Tokenizer;
import dev.espalier.engine.tokenizer.TokenizerLoader;
import java.lang.foreign.Arena;
import java.nio.file.Path;
import picocli.CommandLine.Option;

/** The model and its tokenizer, as given on the command line. */
public final class ModelOptions {

    @Option(
            names = "--model",
            required = true,
            paramLabel = "<dir|file>",
            description = "A Hugging Face folder (config.json + safetensors) or a llama2.c .bin file.")
    Path model;

    @Option(
            names = "--tokenizer",
            paramLabel = "<file>",
            description =
                    "tokenizer.json, tokenizer.model or a llama2.c tokenizer.bin (default: found next to the model).")
    Path tokenizer;

    /** Loads the model; the caller closes it. */
    public LlamaModel loadModel() {
        return ModelLoader.load(model, Arena.ofShared());
    }

    public Tokenizer loadTokenizer(LlamaModel loaded) {
        Tokenizer t = tokenizer != null ? TokenizerLoader.load(tokenizer) : TokenizerLoader.forModel(model);
        if (t.vocabSize() > loaded.config().vocabSize()) {
            throw new IllegalArgumentException("tokenizer " + (tokenizer != null ? tokenizer : "next to " + model)
                    + " has " + t.vocabSize() + " ids but the model's vocabulary has "
                    + loaded.config().vocabSize());
        }
        return t;
    }
}
