package dev.espalier.engine.tokenizer;

import static dev.espalier.engine.tokenizer.SentencePieceModel.BYTE;
import static dev.espalier.engine.tokenizer.SentencePieceModel.CONTROL;
import static dev.espalier.engine.tokenizer.SentencePieceModel.UNKNOWN;
import static dev.espalier.engine.tokenizer.SentencePieceModel.UNUSED;
import static dev.espalier.engine.tokenizer.SentencePieceModel.USER_DEFINED;

import dev.espalier.engine.model.ModelFormatException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * A sentencepiece BPE model ({@code tokenizer.model}) as sentencepiece encodes with it: normalize (identity rule;
 * remove extra spaces when the flag is set, only U+0020 counting as whitespace; dummy prefix; spaces to U+2581),
 * split into characters (user-defined symbols whole and frozen), merge the best-scoring adjacent pair (leftmost
 * on ties) while the concatenation is a normal, user-defined or unused piece, split unused pieces back into the
 * pair they came from, and turn unknown symbols into byte pieces (byte fallback) or {@code <unk>}.
 * Unigram models are rejected: their encoder is a different algorithm.
 */
public final class SentencePieceTokenizer implements Tokenizer {
    private final SentencePieceModel model;
    private final SentencePieceNormalizer normalizer;
    private final Map<String, Integer> mergeablePieces; // NORMAL, USER_DEFINED, UNUSED pieces -> id
    private final Map<Integer, Integer> charIds; // code point -> id of its piece, or a synthetic id >= vocab
    private final int[] syntheticCodePoints; // (synthetic ids) code point of id vocab + k
    private final List<String> userDefined; // user-defined symbols, matched whole before merging
    private final int[] byteIds; // (256) id of piece <0xAB> for byte AB, -1 when absent
    private final int unkId;
    private final int bosId;
    private final int eosId;
    private final boolean hasUnused;
    private final MergeTable merges;
    private final PieceDecoder decoder;

    private SentencePieceTokenizer(Path file, SentencePieceModel model) {
        this.model = model;
        this.normalizer = new SentencePieceNormalizer(
                model.addDummyPrefix(), model.removeExtraWhitespaces(), model.escapeWhitespaces());
        String[] pieces = model.pieces();
        int[] types = model.types();
        Map<String, Integer> mergeable = new HashMap<>();
        Map<String, Integer> all = new HashMap<>();
        List<String> userDefined = new ArrayList<>();
        int[] byteIds = new int[256];
        Arrays.fill(byteIds, -1);
        int unk = -1;
        boolean unused = false;
        for (int id = 0; id < pieces.length; id++) {
            if (all.putIfAbsent(pieces[id], id) != null) {
                throw new ModelFormatException(
                        file,
                        "piece '" + pieces[id] + "' is defined twice (ids " + all.get(pieces[id]) + " and " + id
                                + "); expected unique pieces");
            }
            switch (types[id]) {
                case UNKNOWN -> unk = id;
                case BYTE -> {
                    int b = Llama2cTokenizer.byteTokenValue(pieces[id].getBytes(StandardCharsets.UTF_8));
                    if (b < 0) {
                        throw new ModelFormatException(
                                file, "byte piece " + id + " is '" + pieces[id] + "'; expected <0xAB>");
                    }
                    byteIds[b] = id;
                }
                case CONTROL -> {}
                default -> {
                    mergeable.put(pieces[id], id);
                    unused |= types[id] == UNUSED;
                    if (types[id] == USER_DEFINED) {
                        userDefined.add(pieces[id]);
                    }
                }
            }
        }
        if (unk < 0) {
            throw new ModelFormatException(file, "no piece of type UNKNOWN; expected one (<unk>)");
        }
        this.mergeablePieces = mergeable;
        this.userDefined = List.copyOf(userDefined);
        this.byteIds = byteIds;
        this.unkId = unk;
        this.bosId = controlId(all, types, model.bosPiece());
        this.eosId = controlId(all, types, model.eosPiece());
        this.hasUnused = unused;
        this.charIds = new HashMap<>();
        List<Integer> synthetic = new ArrayList<>();
        for (String piece : mergeable.keySet()) {
            piece.codePoints()
                    .forEach(cp -> charIds.computeIfAbsent(cp, c -> {
                        Integer id = mergeable.get(Character.toString(c));
                        if (id != null) {
                            return id;
                        }
                        synthetic.add(c);
                        return pieces.length + synthetic.size() - 1;
                    }));
        }
        this.syntheticCodePoints =
                synthetic.stream().mapToInt(Integer::intValue).toArray();
        this.merges = mergeTable();
        this.decoder = decoder();
    }

    /**
     * Reads a sentencepiece {@code tokenizer.model}.
     *
     * @throws ModelFormatException naming the file when it is unreadable, not a sentencepiece model, a unigram model
     *                              ("unigram sentencepiece models are not supported; give a tokenizer.json"), or
     *                              uses a feature this encoder does not implement (a normalization rule other than
     *                              identity, whitespace as suffix)
     */
    public static SentencePieceTokenizer read(Path file) {
        SentencePieceModel model = SentencePieceModel.read(file);
        if (model.modelType() == SentencePieceModel.UNIGRAM) {
            throw new ModelFormatException(
                    file, "unigram sentencepiece models are not supported; give a tokenizer.json");
        }
        if (model.modelType() != SentencePieceModel.BPE) {
            throw new ModelFormatException(
                    file, "sentencepiece model_type " + model.modelType() + " is not supported; expected BPE (2)");
        }
        if (model.precompiledCharsMapBytes() > 0) {
            throw new ModelFormatException(
                    file,
                    "normalization rule '" + model.normalizerName() + "' (" + model.precompiledCharsMapBytes()
                            + "-byte precompiled_charsmap) is not supported; expected identity");
        }
        if (model.treatWhitespaceAsSuffix()) {
            throw new ModelFormatException(file, "treat_whitespace_as_suffix is not supported; expected false");
        }
        return new SentencePieceTokenizer(file, model);
    }

    @Override
    public int vocabSize() {
        return model.pieces().length;
    }

    /** Id of the control piece {@code <s>} (trainer_spec.bos_piece), or -1 when the model has none. */
    @Override
    public int bosId() {
        return bosId;
    }

    /** Id of the control piece {@code </s>} (trainer_spec.eos_piece), or -1 when the model has none. */
    @Override
    public int eosId() {
        return eosId;
    }

    /** The piece of {@code id}, with U+2581 for spaces as stored. */
    public String piece(int id) {
        return model.pieces()[id];
    }

    /** The score of {@code id}. */
    public float score(int id) {
        return model.scores()[id];
    }

    /** Sentencepiece's BPE encoding of {@code text}, BOS first when asked and the model has one. */
    @Override
    public int[] encode(String text, boolean addBos) {
        String normalized = normalize(text);
        int[] ids = new int[normalized.length()];
        int[] starts = new int[normalized.length()];
        int[] ends = new int[normalized.length()];
        boolean[] frozen = userDefined.isEmpty() ? null : new boolean[normalized.length()];
        int n = 0;
        for (int i = 0; i < normalized.length(); n++) {
            String symbol = userDefined.isEmpty() ? null : longestUserDefined(normalized, i);
            starts[n] = i;
            if (symbol != null) {
                ids[n] = mergeablePieces.get(symbol);
                frozen[n] = true;
                i += symbol.length();
            } else {
                int cp = Utf8.codePointAt(normalized, i);
                ids[n] = charIds.getOrDefault(cp, -1);
                i += Character.charCount(normalized.codePointAt(i));
            }
            ends[n] = i;
        }
        ids = Arrays.copyOf(ids, n);
        Map<Integer, long[]> reverseMerges = hasUnused ? new HashMap<>() : null;
        BpeMerger.Listener listener = reverseMerges == null
                ? null
                : (merged, left, right) -> reverseMerges.put(merged, new long[] {left, right});
        int[] positions = BpeMerger.merge(ids, frozen == null ? null : Arrays.copyOf(frozen, n), merges, listener);
        IntList out = new IntList(positions.length + 1);
        if (addBos && bosId >= 0) {
            out.add(bosId);
        }
        for (int p : positions) {
            emit(ids[p], normalized.substring(starts[p], ends[p]), reverseMerges, out);
        }
        return out.toArray();
    }

    @Override
    public String decode(int[] ids) {
        return decoder.decode(ids);
    }

    @Override
    public String decodeNext(int previousId, int id) {
        return decoder.decodeNext(previousId, id);
    }

    /** Sentencepiece's normalizer with this model's flags; see {@link SentencePieceNormalizer}. */
    String normalize(String text) {
        return normalizer.normalize(text);
    }

    private void emit(int id, String symbol, Map<Integer, long[]> reverseMerges, IntList out) {
        int vocab = model.pieces().length;
        if (id >= 0 && id < vocab) {
            long[] pair = model.types()[id] == UNUSED && reverseMerges != null ? reverseMerges.get(id) : null;
            if (pair == null) {
                out.add(id);
            } else {
                emit((int) pair[0], null, reverseMerges, out);
                emit((int) pair[1], null, reverseMerges, out);
            }
            return;
        }
        String text = id >= vocab ? Character.toString(syntheticCodePoints[id - vocab]) : symbol;
        if (!model.byteFallback()) {
            out.add(unkId);
            return;
        }
        for (byte b : text.getBytes(StandardCharsets.UTF_8)) {
            int byteId = byteIds[b & 0xFF];
            out.add(byteId >= 0 ? byteId : unkId);
        }
    }

    private String longestUserDefined(String text, int at) {
        String best = null;
        for (String symbol : userDefined) {
            if ((best == null || symbol.length() > best.length()) && text.startsWith(symbol, at)) {
                best = symbol;
            }
        }
        return best;
    }

    /** Symbol id of a string: its mergeable piece, else the synthetic id of a single character, else -1. */
    private int symbolId(String s) {
        Integer id = mergeablePieces.get(s);
        if (id != null) {
            return id;
        }
        if (s.codePointCount(0, s.length()) == 1) {
            return charIds.getOrDefault(s.codePointAt(0), -1);
        }
        return -1;
    }

    /** Every split of a mergeable piece into two symbols (pieces or single characters) is a merge rule. */
    private MergeTable mergeTable() {
        MergeTable table = new MergeTable(model.scores());
        for (Map.Entry<String, Integer> e : mergeablePieces.entrySet()) {
            String piece = e.getKey();
            for (int k = piece.offsetByCodePoints(0, 1); k < piece.length(); k = piece.offsetByCodePoints(k, 1)) {
                int left = symbolId(piece.substring(0, k));
                int right = symbolId(piece.substring(k));
                if (left >= 0 && right >= 0) {
                    table.put(left, right, e.getValue());
                }
            }
        }
        return table;
    }

    private PieceDecoder decoder() {
        String[] pieces = model.pieces();
        int[] types = model.types();
        byte[][] surfaces = new byte[pieces.length][];
        boolean[] strippable = new boolean[pieces.length];
        boolean[] dropped = new boolean[pieces.length];
        for (int id = 0; id < pieces.length; id++) {
            switch (types[id]) {
                case CONTROL -> {
                    surfaces[id] = new byte[0];
                    dropped[id] = true;
                }
                case UNKNOWN -> surfaces[id] = model.unkSurface().getBytes(StandardCharsets.UTF_8);
                case BYTE ->
                    surfaces[id] = new byte[] {
                        (byte) Llama2cTokenizer.byteTokenValue(pieces[id].getBytes(StandardCharsets.UTF_8))
                    };
                default -> {
                    String text = pieces[id].replace(SentencePieceNormalizer.SPACE_SYMBOL, ' ');
                    surfaces[id] = text.getBytes(StandardCharsets.UTF_8);
                    strippable[id] = model.addDummyPrefix();
                }
            }
        }
        return new PieceDecoder(surfaces, strippable, dropped, bosId);
    }

    private static int controlId(Map<String, Integer> ids, int[] types, String piece) {
        Integer id = ids.get(piece);
        return id != null && types[id] == CONTROL ? id : -1;
    }

    /** A growable int array. */
    private static final class IntList {
        private int[] values;
        private int size;

        IntList(int capacity) {
            values = new int[Math.max(4, capacity)];
        }

        void add(int v) {
            if (size == values.length) {
                values = Arrays.copyOf(values, size * 2);
            }
            values[size++] = v;
        }

        int[] toArray() {
            return Arrays.copyOf(values, size);
        }
    }
}
