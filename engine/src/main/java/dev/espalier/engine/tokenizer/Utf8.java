package dev.espalier.engine.tokenizer;

/** UTF-8 encoding of single code points, shared by the piece tokenizers. */
final class Utf8 {
    private Utf8() {}

    /** The code point at {@code text[i]}; a lone surrogate reads as U+FFFD (what a UTF-8 encoder would emit). */
    static int codePointAt(String text, int i) {
        int cp = text.codePointAt(i);
        return Character.isSurrogate((char) cp) && cp <= 0xFFFF ? 0xFFFD : cp;
    }

    /** Writes the UTF-8 bytes of {@code cp} into {@code out[0..]} and returns how many (1 to 4). */
    static int encode(int cp, byte[] out) {
        if (cp < 0x80) {
            out[0] = (byte) cp;
            return 1;
        }
        if (cp < 0x800) {
            out[0] = (byte) (0xC0 | (cp >>> 6));
            out[1] = (byte) (0x80 | (cp & 0x3F));
            return 2;
        }
        if (cp < 0x10000) {
            out[0] = (byte) (0xE0 | (cp >>> 12));
            out[1] = (byte) (0x80 | ((cp >>> 6) & 0x3F));
            out[2] = (byte) (0x80 | (cp & 0x3F));
            return 3;
        }
        out[0] = (byte) (0xF0 | (cp >>> 18));
        out[1] = (byte) (0x80 | ((cp >>> 12) & 0x3F));
        out[2] = (byte) (0x80 | ((cp >>> 6) & 0x3F));
        out[3] = (byte) (0x80 | (cp & 0x3F));
        return 4;
    }
}
