package dev.espalier.engine.tokenizer;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;

/**
 * Ids back to text for a piece vocabulary (llama2.c {@code tokenizer.bin}, sentencepiece): each id adds the UTF-8
 * bytes of its surface (a piece with U+2581 already turned into a space; a byte token its one raw byte; control
 * tokens nothing). A leading space of an ordinary piece is dropped right after BOS (llama2.c), and in
 * {@link #decode} also at the very start, which undoes the dummy prefix that encoding adds.
 */
final class PieceDecoder {
    private final byte[][] surfaces; // (vocab) bytes each id adds
    private final boolean[] strippable; // (vocab) ordinary pieces, whose leading space is the dummy prefix after BOS
    private final boolean[] dropped; // (vocab) ids that add nothing (BOS, EOS, other control tokens)
    private final int bosId;

    PieceDecoder(byte[][] surfaces, boolean[] strippable, boolean[] dropped, int bosId) {
        this.surfaces = surfaces;
        this.strippable = strippable;
        this.dropped = dropped;
        this.bosId = bosId;
    }

    /** UTF-8 decoding of the concatenated surfaces (malformed bytes become U+FFFD), BOS and EOS dropped. */
    String decode(int[] ids) {
        ByteArrayOutputStream out = new ByteArrayOutputStream(ids.length * 4);
        boolean atStart = true;
        for (int id : ids) {
            check(id);
            if (dropped[id]) {
                atStart |= id == bosId;
                continue;
            }
            write(out, id, atStart);
            atStart = false;
        }
        return out.toString(StandardCharsets.UTF_8);
    }

    /** The text {@code id} adds after {@code previousId}, llama2.c style; see {@link Tokenizer#decodeNext}. */
    String decodeNext(int previousId, int id) {
        check(id);
        if (dropped[id]) {
            return "";
        }
        ByteArrayOutputStream out = new ByteArrayOutputStream(surfaces[id].length);
        write(out, id, previousId == bosId);
        return out.toString(StandardCharsets.UTF_8);
    }

    private void write(ByteArrayOutputStream out, int id, boolean stripLeadingSpace) {
        byte[] s = surfaces[id];
        int from = stripLeadingSpace && strippable[id] && s.length > 0 && s[0] == ' ' ? 1 : 0;
        out.write(s, from, s.length - from);
    }

    private void check(int id) {
        if (id < 0 || id >= surfaces.length) {
            throw new IllegalArgumentException(
                    "token id " + id + " is outside the vocabulary 0.." + (surfaces.length - 1));
        }
    }
}
