package dev.espalier.engine.tokenizer;

/**
 * Sentencepiece's text normalizer with the identity rule (no precompiled character map), from its three flags:
 * {@code remove_extra_whitespaces} drops leading and trailing spaces and collapses runs of spaces to one (only
 * U+0020 counts as whitespace; tabs and newlines are kept); {@code add_dummy_prefix} puts one space in front of
 * non-empty text; {@code escape_whitespaces} writes every space as U+2581. Empty (or all-space) text stays empty.
 */
final class SentencePieceNormalizer {
    /** U+2581 LOWER ONE EIGHTH BLOCK, sentencepiece's visible space. */
    static final char SPACE_SYMBOL = '\u2581';

    private final boolean addDummyPrefix;
    private final boolean removeExtraWhitespaces;
    private final boolean escapeWhitespaces;

    SentencePieceNormalizer(boolean addDummyPrefix, boolean removeExtraWhitespaces, boolean escapeWhitespaces) {
        this.addDummyPrefix = addDummyPrefix;
        this.removeExtraWhitespaces = removeExtraWhitespaces;
        this.escapeWhitespaces = escapeWhitespaces;
    }

    String normalize(String text) {
        int i = 0;
        if (removeExtraWhitespaces) {
            while (i < text.length() && text.charAt(i) == ' ') {
                i++;
            }
        }
        if (i == text.length()) {
            return "";
        }
        char space = escapeWhitespaces ? SPACE_SYMBOL : ' ';
        StringBuilder out = new StringBuilder(text.length() + 1);
        if (addDummyPrefix) {
            out.append(space);
        }
        boolean previousWasSpace = removeExtraWhitespaces;
        for (; i < text.length(); i++) {
            char c = text.charAt(i);
            if (c != ' ') {
                out.append(c);
                previousWasSpace = false;
            } else if (!previousWasSpace) {
                out.append(space);
                previousWasSpace = removeExtraWhitespaces;
            }
        }
        if (removeExtraWhitespaces) {
            int end = out.length();
            while (end > 0 && out.charAt(end - 1) == space) {
                end--; // sentencepiece strips the escaped symbol, so a trailing literal U+2581 goes too
            }
            out.setLength(end);
        }
        return out.toString();
    }
}
