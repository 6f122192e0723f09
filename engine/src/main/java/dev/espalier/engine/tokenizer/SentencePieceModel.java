package dev.espalier.engine.tokenizer;

import dev.espalier.engine.model.ModelFormatException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The fields of a sentencepiece {@code ModelProto} ({@code sentencepiece_model.proto}) that encoding and decoding
 * need, with the proto's defaults for absent fields. Field numbers: ModelProto pieces=1, trainer_spec=2,
 * normalizer_spec=3; SentencePiece piece=1, score=2, type=3; TrainerSpec model_type=3, treat_whitespace_as_suffix=24,
 * byte_fallback=35, unk_surface=44, bos_piece=46, eos_piece=47; NormalizerSpec name=1, precompiled_charsmap=2,
 * add_dummy_prefix=3, remove_extra_whitespaces=4, escape_whitespaces=5.
 *
 * @param pieces     (vocab) piece strings, ids are positions
 * @param scores     (vocab) piece scores
 * @param types      (vocab) piece types: {@link #NORMAL}, {@link #UNKNOWN}, {@link #CONTROL}, {@link #USER_DEFINED},
 *                   {@link #UNUSED}, {@link #BYTE}
 * @param modelType  {@link #UNIGRAM}, {@link #BPE}, 3 = WORD, 4 = CHAR
 */
record SentencePieceModel(
        String[] pieces,
        float[] scores,
        int[] types,
        int modelType,
        boolean byteFallback,
        boolean treatWhitespaceAsSuffix,
        String unkSurface,
        String bosPiece,
        String eosPiece,
        String normalizerName,
        int precompiledCharsMapBytes,
        boolean addDummyPrefix,
        boolean removeExtraWhitespaces,
        boolean escapeWhitespaces) {

    static final int NORMAL = 1;
    static final int UNKNOWN = 2;
    static final int CONTROL = 3;
    static final int USER_DEFINED = 4;
    static final int UNUSED = 5;
    static final int BYTE = 6;

    static final int UNIGRAM = 1;
    static final int BPE = 2;

    /**
     * Parses a serialized {@code ModelProto}.
     *
     * @throws ModelFormatException naming the file when it cannot be read or is not a sentencepiece model
     */
    static SentencePieceModel read(Path file) {
        byte[] bytes;
        try {
            bytes = Files.readAllBytes(file);
        } catch (IOException e) {
            throw new ModelFormatException(file, "cannot read the sentencepiece model: " + e, e);
        }
        try {
            return parse(ByteBuffer.wrap(bytes));
        } catch (ProtoReader.MalformedProtoException e) {
            throw new ModelFormatException(
                    file, "not a sentencepiece model (serialized ModelProto): " + e.getMessage(), e);
        }
    }

    static SentencePieceModel parse(ByteBuffer bytes) {
        List<String> pieces = new ArrayList<>();
        List<Float> scores = new ArrayList<>();
        List<Integer> types = new ArrayList<>();
        Builder b = new Builder();
        ProtoReader model = new ProtoReader(bytes);
        while (model.next()) {
            switch (model.fieldNumber()) {
                case 1 -> {
                    ProtoReader piece = model.readMessage();
                    String text = null;
                    float score = 0f;
                    int type = NORMAL;
                    while (piece.next()) {
                        switch (piece.fieldNumber()) {
                            case 1 -> text = piece.readString();
                            case 2 -> score = piece.readFloat();
                            case 3 -> type = piece.readInt32();
                            default -> piece.skip();
                        }
                    }
                    if (text == null || text.isEmpty()) {
                        throw new ProtoReader.MalformedProtoException("piece " + pieces.size() + " has no text");
                    }
                    pieces.add(text);
                    scores.add(score);
                    types.add(type);
                }
                case 2 -> readTrainerSpec(model.readMessage(), b);
                case 3 -> readNormalizerSpec(model.readMessage(), b);
                default -> model.skip();
            }
        }
        if (pieces.isEmpty()) {
            throw new ProtoReader.MalformedProtoException("no pieces (field 1)");
        }
        float[] s = new float[scores.size()];
        int[] t = new int[types.size()];
        for (int i = 0; i < s.length; i++) {
            s[i] = scores.get(i);
            t[i] = types.get(i);
        }
        return new SentencePieceModel(
                pieces.toArray(new String[0]),
                s,
                t,
                b.modelType,
                b.byteFallback,
                b.treatWhitespaceAsSuffix,
                b.unkSurface,
                b.bosPiece,
                b.eosPiece,
                b.normalizerName,
                b.charsMapBytes,
                b.addDummyPrefix,
                b.removeExtraWhitespaces,
                b.escapeWhitespaces);
    }

    private static void readTrainerSpec(ProtoReader spec, Builder b) {
        while (spec.next()) {
            switch (spec.fieldNumber()) {
                case 3 -> b.modelType = spec.readInt32();
                case 24 -> b.treatWhitespaceAsSuffix = spec.readBool();
                case 35 -> b.byteFallback = spec.readBool();
                case 44 -> b.unkSurface = spec.readString();
                case 46 -> b.bosPiece = spec.readString();
                case 47 -> b.eosPiece = spec.readString();
                default -> spec.skip();
            }
        }
    }

    private static void readNormalizerSpec(ProtoReader spec, Builder b) {
        while (spec.next()) {
            switch (spec.fieldNumber()) {
                case 1 -> b.normalizerName = spec.readString();
                case 2 -> b.charsMapBytes = spec.readBytes().remaining();
                case 3 -> b.addDummyPrefix = spec.readBool();
                case 4 -> b.removeExtraWhitespaces = spec.readBool();
                case 5 -> b.escapeWhitespaces = spec.readBool();
                default -> spec.skip();
            }
        }
    }

    /** Proto defaults for every field that may be absent. */
    private static final class Builder {
        int modelType = UNIGRAM;
        boolean byteFallback;
        boolean treatWhitespaceAsSuffix;
        String unkSurface = " \u2047 ";
        String bosPiece = "<s>";
        String eosPiece = "</s>";
        String normalizerName = "";
        int charsMapBytes;
        boolean addDummyPrefix = true;
        boolean removeExtraWhitespaces = true;
        boolean escapeWhitespaces = true;
    }
}
