package dev.espalier.engine.eval.zeroshot;

import java.util.Locale;

/** The few Python {@code str} methods the harness's prompt code uses, with Python's semantics. */
final class PythonStrings {
    private PythonStrings() {}

    /** Python's {@code str.isspace} for one code point (Java's isWhitespace misses no-break spaces). */
    static boolean isSpace(int codePoint) {
        return Character.isWhitespace(codePoint) || Character.isSpaceChar(codePoint);
    }

    /** {@code str.strip()}: leading and trailing whitespace removed. */
    static String strip(String s) {
        String right = s.substring(0, s.length() - trailingSpaces(s));
        return right.substring(leadingSpaces(right));
    }

    /** {@code len(s) - len(s.rstrip())}, in chars of {@code s}. */
    static int trailingSpaces(String s) {
        int end = s.length();
        while (end > 0) {
            int cp = s.codePointBefore(end);
            if (!isSpace(cp)) {
                break;
            }
            end -= Character.charCount(cp);
        }
        return s.length() - end;
    }

    private static int leadingSpaces(String s) {
        int start = 0;
        while (start < s.length()) {
            int cp = s.codePointAt(start);
            if (!isSpace(cp)) {
                break;
            }
            start += Character.charCount(cp);
        }
        return start;
    }

    /** {@code str.capitalize()}: the first character in title case, every other one in lower case. */
    static String capitalize(String s) {
        if (s.isEmpty()) {
            return s;
        }
        int first = s.codePointAt(0);
        int rest = Character.charCount(first);
        return new StringBuilder()
                .appendCodePoint(Character.toTitleCase(first))
                .append(s.substring(rest).toLowerCase(Locale.ROOT))
                .toString();
    }

    /** {@code len(s)}: code points, not UTF-16 chars. */
    static int length(String s) {
        return s.codePointCount(0, s.length());
    }
}
