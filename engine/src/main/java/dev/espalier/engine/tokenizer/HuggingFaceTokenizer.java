package dev.espalier.engine.tokenizer;

import ai.djl.huggingface.tokenizers.Encoding;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.espalier.engine.model.ModelFormatException;
import java.io.ByteArrayInputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/**
 * A Hugging Face {@code tokenizer.json}, run by Hugging Face's Rust tokenizers through DJL (offline: the native
 * library comes from the DJL jar, and DJL's telemetry and downloads are switched off before first use). The library
 * never adds special tokens, truncates or pads here; BOS is added by {@link #encode} from the tokenizer's own
 * configuration (see {@link HuggingFaceTokenizerConfig}). Literal special-token text in the input (for example
 * {@code <unk>} in WikiText) is matched as that token, as the Hugging Face libraries do.
 */
public final class HuggingFaceTokenizer implements Tokenizer, AutoCloseable {

    private static final ObjectMapper JSON = new ObjectMapper();

    private final ai.djl.huggingface.tokenizers.HuggingFaceTokenizer rust;
    private final HuggingFaceTokenizerConfig config;
    private final List<String> repairs;

    private HuggingFaceTokenizer(
            ai.djl.huggingface.tokenizers.HuggingFaceTokenizer rust,
            HuggingFaceTokenizerConfig config,
            List<String> repairs) {
        this.rust = rust;
        this.config = config;
        this.repairs = List.copyOf(repairs);
    }

    /**
     * Loads a {@code tokenizer.json}; BOS/EOS and the default BOS policy come from the files beside it. Defects that
     * the Rust library refuses but the Hugging Face JavaScript libraries accept are repaired first (see
     * {@link TokenizerJsonRepair}) and listed by {@link #repairs()}.
     *
     * @throws ModelFormatException naming the file when it is missing, not JSON, or rejected by the tokenizers library
     */
    public static HuggingFaceTokenizer read(Path tokenizerJson) {
        if (!Files.isRegularFile(tokenizerJson)) {
            throw new ModelFormatException(tokenizerJson, "no such file; expected a Hugging Face tokenizer.json");
        }
        if (!(HuggingFaceTokenizerConfig.readJson(tokenizerJson) instanceof ObjectNode tree)) {
            throw new ModelFormatException(tokenizerJson, "not a JSON object; expected a Hugging Face tokenizer.json");
        }
        List<String> repairs = TokenizerJsonRepair.repair(tokenizerJson, tree);
        HuggingFaceTokenizerConfig config = HuggingFaceTokenizerConfig.of(tokenizerJson, tree);
        keepDjlOffline();
        Map<String, String> options = Map.of(
                "addSpecialTokens", "false",
                "truncation", "false",
                "padding", "false");
        try {
            ai.djl.huggingface.tokenizers.HuggingFaceTokenizer rust = repairs.isEmpty()
                    ? ai.djl.huggingface.tokenizers.HuggingFaceTokenizer.newInstance(tokenizerJson, options)
                    : ai.djl.huggingface.tokenizers.HuggingFaceTokenizer.newInstance(
                            new ByteArrayInputStream(JSON.writeValueAsBytes(tree)), options);
            return new HuggingFaceTokenizer(rust, config, repairs);
        } catch (Exception | LinkageError e) {
            String message = String.valueOf(e.getMessage()).lines().findFirst().orElse("");
            throw new ModelFormatException(
                    tokenizerJson,
                    "the Hugging Face tokenizers library rejected it: "
                            + e.getClass().getSimpleName() + ": " + message,
                    e);
        }
    }

    /** What was repaired in the file before loading it, one line each; empty for a well-formed file. */
    public List<String> repairs() {
        return repairs;
    }

    /** 1 + the largest id of the vocabulary and the added tokens. */
    @Override
    public int vocabSize() {
        return config.vocabSize();
    }

    /** The BOS id named by the tokenizer's configuration, or -1 when it names none (GPT-2 style). */
    @Override
    public int bosId() {
        return config.bosId();
    }

    /** The EOS id named by the tokenizer's configuration, or -1 when it names none. */
    @Override
    public int eosId() {
        return config.eosId();
    }

    /**
     * Whether the Hugging Face libraries add BOS by default ({@code add_special_tokens=true}): {@code add_bos_token},
     * else the post-processor's template. {@code encode(text, addsBosByDefault())} reproduces their default ids.
     */
    public boolean addsBosByDefault() {
        return config.addsBosByDefault();
    }

    /** The library's ids without special tokens, with {@link #bosId()} first when asked and the tokenizer has one. */
    @Override
    public int[] encode(String text, boolean addBos) {
        Encoding encoding = rust.encode(text, false, false);
        long[] ids = encoding.getIds();
        int offset = addBos && config.bosId() >= 0 ? 1 : 0;
        int[] out = new int[ids.length + offset];
        if (offset == 1) {
            out[0] = config.bosId();
        }
        for (int i = 0; i < ids.length; i++) {
            out[i + offset] = Math.toIntExact(ids[i]);
        }
        return out;
    }

    /** The library's decoder with special tokens skipped. */
    @Override
    public String decode(int[] ids) {
        return rust.decode(toLongs(ids), true);
    }

    /**
     * decode([previous, id]) minus decode([previous]): the decoder's own rules (a leading space dropped at the start,
     * hence right after BOS; byte tokens) decide. When the shorter text is not a prefix (incomplete UTF-8), the text
     * of {@code id} alone.
     */
    @Override
    public String decodeNext(int previousId, int id) {
        if (id < 0 || id >= config.vocabSize()) {
            throw new IllegalArgumentException(
                    "token id " + id + " is outside the vocabulary 0.." + (config.vocabSize() - 1));
        }
        if (previousId < 0 || previousId >= config.vocabSize()) {
            return rust.decode(new long[] {id}, true);
        }
        String both = rust.decode(new long[] {previousId, id}, true);
        String before = rust.decode(new long[] {previousId}, true);
        return both.startsWith(before) ? both.substring(before.length()) : rust.decode(new long[] {id}, true);
    }

    /** Frees the native tokenizer; the object must not be used afterwards. */
    @Override
    public void close() {
        rust.close();
    }

    private static long[] toLongs(int[] ids) {
        long[] out = new long[ids.length];
        for (int i = 0; i < ids.length; i++) {
            out[i] = ids[i];
        }
        return out;
    }

    /**
     * DJL calls home (EC2 metadata, telemetry) on every tokenizer load and may download a CUDA build of the native
     * library unless offline mode is on; switch both off unless the user configured them.
     */
    private static synchronized void keepDjlOffline() {
        setIfUnset("ai.djl.offline", "DJL_OFFLINE", "true");
        setIfUnset("OPT_OUT_TRACKING", "OPT_OUT_TRACKING", "true");
    }

    private static void setIfUnset(String property, String environmentVariable, String value) {
        if (System.getProperty(property) == null && System.getenv(environmentVariable) == null) {
            System.setProperty(property, value);
        }
    }
}
