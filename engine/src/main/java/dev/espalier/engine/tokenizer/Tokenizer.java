package dev.espalier.engine.tokenizer;

/** Text to token ids and back, for one vocabulary. Implementations are immutable and thread-safe. */
public interface Tokenizer {

    /** Number of ids (the model's vocabulary may be larger; never smaller). */
    int vocabSize();

    int bosId();

    int eosId();

    /**
     * Encodes text. With {@code addBos} the result starts with {@link #bosId()}; no EOS is appended.
     * Leading-space handling follows the tokenizer's own convention (sentencepiece's dummy prefix, for example).
     */
    int[] encode(String text, boolean addBos);

    /** Decodes ids to text, dropping special tokens (BOS, EOS). */
    String decode(int[] ids);

    /**
     * The text that token {@code id} adds when it follows {@code previousId} during generation (llama2.c
     * semantics: a leading space is dropped right after BOS, byte tokens become their bytes). Byte tokens that
     * are parts of one UTF-8 character may each return an incomplete string; callers that need exact text
     * decode the whole sequence with {@link #decode}.
     */
    String decodeNext(int previousId, int id);
}
