package dev.espalier.engine.tokenizer;

import dev.espalier.engine.model.ModelFormatException;
import java.io.IOException;
import java.nio.BufferUnderflowException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The llama2.c tokenizer ({@code tokenizer.bin}: int32 max_token_length, then per token float32 score, int32
 * length and the piece's bytes; little-endian), encoding exactly as {@code run.c} does: optional BOS, a dummy-prefix
 * space when the text is non-empty, one symbol per UTF-8 character (its piece, or byte tokens {@code b + 3} when
 * the character is not a piece), then merges of the best-scoring adjacent pair (leftmost on ties) while any pair's
 * concatenation is a piece with score above -1e10. BOS = 1, EOS = 2.
 */
public final class Llama2cTokenizer implements Tokenizer {
    /** Id of {@code <s>} in every llama2.c vocabulary. */
    public static final int BOS = 1;
    /** Id of {@code </s>} in every llama2.c vocabulary. */
    public static final int EOS = 2;

    private static final int BYTE_OFFSET = 3;
    private static final float RUN_C_MIN_SCORE = -1e10f;

    private final byte[][] pieces; // (vocab) bytes of each piece as stored
    private final float[] scores; // (vocab) merge score of each piece
    private final Map<Integer, Integer> singleCharIds; // code point -> id of the piece that is exactly that character
    private final int spaceId; // id of the piece " " (dummy prefix), or -1
    private final MergeTable merges;
    private final PieceDecoder decoder;

    private Llama2cTokenizer(byte[][] pieces, float[] scores) {
        this.pieces = pieces;
        this.scores = scores;
        Map<String, Integer> ids = new HashMap<>(pieces.length * 2);
        for (int id = 0; id < pieces.length; id++) {
            ids.putIfAbsent(latin1(pieces[id]), id); // run.c's bsearch on duplicates is unspecified: keep the first
        }
        this.singleCharIds = singleCharacterPieces(pieces, ids);
        this.spaceId = ids.getOrDefault(" ", -1);
        this.merges = mergeTable(pieces, scores, ids);
        this.decoder = decoder(pieces);
    }

    /**
     * Reads a llama2.c {@code tokenizer.bin}.
     *
     * @throws ModelFormatException naming the file when it cannot be read or is not in that format
     */
    public static Llama2cTokenizer read(Path file) {
        byte[] bytes;
        try {
            bytes = Files.readAllBytes(file);
        } catch (IOException e) {
            throw new ModelFormatException(file, "cannot read the llama2.c tokenizer: " + e, e);
        }
        ByteBuffer in = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
        List<byte[]> pieces = new ArrayList<>();
        List<Float> scores = new ArrayList<>();
        try {
            int maxTokenLength = in.getInt();
            if (maxTokenLength <= 0 || maxTokenLength > 4096) {
                throw new ModelFormatException(
                        file,
                        "max_token_length " + maxTokenLength
                                + " in the first 4 bytes; expected a llama2.c tokenizer.bin (1..4096)");
            }
            while (in.hasRemaining()) {
                long offset = in.position();
                float score = in.getFloat();
                int length = in.getInt();
                if (length < 0 || length > maxTokenLength) {
                    throw new ModelFormatException(
                            file,
                            "token " + pieces.size() + " at byte " + offset + " has length " + length + "; expected 0.."
                                    + maxTokenLength + " (max_token_length)");
                }
                byte[] piece = new byte[length];
                in.get(piece);
                pieces.add(piece);
                scores.add(score);
            }
        } catch (BufferUnderflowException e) {
            throw new ModelFormatException(
                    file,
                    "truncated after " + pieces.size()
                            + " tokens; expected int32 max_token_length then (float32 score, int32 length, bytes) per token");
        }
        if (pieces.size() < BYTE_OFFSET + 256) {
            throw new ModelFormatException(
                    file, pieces.size() + " tokens; expected at least 259 (<unk>, <s>, </s> and the 256 byte tokens)");
        }
        float[] s = new float[scores.size()];
        for (int i = 0; i < s.length; i++) {
            s[i] = scores.get(i);
        }
        return new Llama2cTokenizer(pieces.toArray(new byte[0][]), s);
    }

    /** A tokenizer over the given pieces and scores (ids are list positions), for tests and converters. */
    static Llama2cTokenizer of(List<byte[]> pieces, float[] scores) {
        return new Llama2cTokenizer(pieces.toArray(new byte[0][]), scores.clone());
    }

    @Override
    public int vocabSize() {
        return pieces.length;
    }

    @Override
    public int bosId() {
        return BOS;
    }

    @Override
    public int eosId() {
        return EOS;
    }

    /** The piece of {@code id} as stored, decoded as UTF-8 (byte tokens read {@code <0xAB>}, BOS {@code "\n<s>\n"}). */
    public String piece(int id) {
        return new String(pieces[id], StandardCharsets.UTF_8);
    }

    /** The merge score of {@code id}. */
    public float score(int id) {
        return scores[id];
    }

    /**
     * run.c's encoder: {@code [BOS] + merge(" " + per-character pieces)}; see the class comment. The dummy-prefix
     * space is added only when {@code text} is non-empty.
     */
    @Override
    public int[] encode(String text, boolean addBos) {
        int[] symbols = new int[text.length() * 4 + 1];
        int n = 0;
        byte[] utf8 = new byte[4];
        if (!text.isEmpty()) {
            symbols[n++] = spaceId >= 0 ? spaceId : ' ' + BYTE_OFFSET;
        }
        for (int i = 0; i < text.length(); ) {
            int cp = Utf8.codePointAt(text, i);
            i += Character.charCount(text.codePointAt(i));
            Integer id = singleCharIds.get(cp);
            if (id != null) {
                symbols[n++] = id;
            } else {
                int len = Utf8.encode(cp, utf8);
                for (int b = 0; b < len; b++) {
                    symbols[n++] = (utf8[b] & 0xFF) + BYTE_OFFSET;
                }
            }
        }
        int[] ids = Arrays.copyOf(symbols, n);
        int[] positions = BpeMerger.merge(ids, null, merges, null);
        int offset = addBos ? 1 : 0;
        int[] out = new int[positions.length + offset];
        if (addBos) {
            out[0] = BOS;
        }
        for (int k = 0; k < positions.length; k++) {
            out[k + offset] = ids[positions[k]];
        }
        return out;
    }

    @Override
    public String decode(int[] ids) {
        return decoder.decode(ids);
    }

    @Override
    public String decodeNext(int previousId, int id) {
        return decoder.decodeNext(previousId, id);
    }

    /** The bytes as a string of chars 0..255, so that concatenation and hashing are exact on bytes. */
    private static String latin1(byte[] bytes) {
        return new String(bytes, StandardCharsets.ISO_8859_1);
    }

    private static Map<Integer, Integer> singleCharacterPieces(byte[][] pieces, Map<String, Integer> ids) {
        Map<Integer, Integer> result = new HashMap<>();
        byte[] utf8 = new byte[4];
        for (byte[] piece : pieces) {
            String text = new String(piece, StandardCharsets.UTF_8);
            if (text.isEmpty() || text.codePointCount(0, text.length()) != 1) {
                continue;
            }
            int cp = text.codePointAt(0);
            int len = Utf8.encode(cp, utf8);
            String key = latin1(Arrays.copyOf(utf8, len));
            if (key.equals(latin1(piece))) { // the piece is exactly the UTF-8 of one character (not a lossy decode)
                result.put(cp, ids.get(key));
            }
        }
        return result;
    }

    /** Every split of every piece into two pieces is a merge rule; run.c only merges pieces scored above -1e10. */
    private static MergeTable mergeTable(byte[][] pieces, float[] scores, Map<String, Integer> ids) {
        MergeTable table = new MergeTable(scores);
        for (int id = 0; id < pieces.length; id++) {
            if (!(scores[id] > RUN_C_MIN_SCORE) || ids.get(latin1(pieces[id])) != id) {
                continue;
            }
            String piece = latin1(pieces[id]);
            for (int k = 1; k < piece.length(); k++) {
                Integer left = ids.get(piece.substring(0, k));
                Integer right = ids.get(piece.substring(k));
                if (left != null && right != null) {
                    table.put(left, right, id);
                }
            }
        }
        return table;
    }

    private static PieceDecoder decoder(byte[][] pieces) {
        int n = pieces.length;
        byte[][] surfaces = new byte[n][];
        boolean[] strippable = new boolean[n];
        boolean[] dropped = new boolean[n];
        for (int id = 0; id < n; id++) {
            int byteValue = byteTokenValue(pieces[id]);
            surfaces[id] = byteValue >= 0 ? new byte[] {(byte) byteValue} : pieces[id];
            strippable[id] = byteValue < 0;
        }
        dropped[BOS] = true;
        dropped[EOS] = true;
        return new PieceDecoder(surfaces, strippable, dropped, BOS);
    }

    /** The byte of a piece spelled {@code <0xAB>} (two hex digits), else -1. */
    static int byteTokenValue(byte[] piece) {
        if (piece.length != 6 || piece[0] != '<' || piece[1] != '0' || piece[2] != 'x' || piece[5] != '>') {
            return -1;
        }
        int hi = Character.digit(piece[3], 16);
        int lo = Character.digit(piece[4], 16);
        return hi < 0 || lo < 0 ? -1 : hi * 16 + lo;
    }
}
