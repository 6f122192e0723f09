package dev.espalier.engine.data;

import java.math.BigDecimal;
import java.math.RoundingMode;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A part of a text file, {@code START:END} (the {@code --calib-range} and {@code --eval-range} flags), so that a model
 * can be calibrated on one part of an in-domain file and evaluated on another.
 *
 * <p>Each side is a fraction of the file's size in [0, 1] written with a decimal point ({@code 0.5}, {@code .25},
 * {@code 1.0}) or a byte offset: an integer with an optional unit B, KB, MB, GB (powers of 1000) or KiB, MiB, GiB
 * (powers of 1024), e.g. {@code 0:400KB}. The bare numbers {@code 0} and {@code 1} are the fractions 0.0 and 1.0 (the
 * start and the end of the file, as in {@code 0.5:1}); byte 1 is written {@code 1B}. An empty side is the start ({@code :0.5}) or the end ({@code 0.5:}) of the
 * file; {@code :} alone is refused (give no range to read the whole file).
 *
 * <p>Definition. For a file of {@code n} bytes, a side resolves to the offset {@code p = floor(f · n)} (fraction
 * {@code f}) or {@code p = b} (bytes {@code b}), with {@code 0 <= start < end <= n}. A line is a run of bytes ending
 * with {@code '\n'} (or with the end of the file). <b>Each resolved offset then moves forward to the first line start
 * at or after it</b> (offset 0, the end of the file and every byte after a {@code '\n'} are line starts): the start
 * moves to the start of the next line unless it already is one, the end moves to the end of the line it falls in. The
 * range selects the bytes {@code [start', end')}, that is, exactly the lines that start in {@code [start, end)}. No
 * line, document, character or token is ever split, and two ranges that meet ({@code 0:0.5} and {@code 0.5:1}) are
 * disjoint and together cover every line. For JSON lines files the selected lines are records, read as without a
 * range.
 *
 * <p>A range is refused, naming its flag, the value and what was expected, when its syntax is wrong, its start is not
 * before its end, a side lies beyond the end of the file, or it selects no line (both offsets inside one line).
 *
 * @param option the flag it was given with, for messages (e.g. "--calib-range")
 * @param start  the first side; null: the start of the file
 * @param end    the second side; null: the end of the file
 */
public record TextRange(String option, Side start, Side end) {
    private static final Pattern FRACTION = Pattern.compile("\\d+\\.\\d*|\\.\\d+");
    private static final Pattern BYTES =
            Pattern.compile("(\\d+)\\s*(B|KB|MB|GB|KiB|MiB|GiB)?", Pattern.CASE_INSENSITIVE);
    /** The syntax, for messages. */
    public static final String SYNTAX = "START:END, each side a fraction in [0, 1] with a decimal point (0.5) or a byte"
            + " offset (400KB, 1MiB, 12345; bare 0 and 1 are fractions), an empty side the start or end of the file (e.g. 0:0.5, 0.5:1, :400KB)";

    /** One side of a range: a fraction of the file's size or a byte offset. */
    public sealed interface Side {
        /** The byte offset in a file of {@code size} bytes (before moving to a line start). */
        long offset(long size);

        /** The canonical spelling: a fraction as a decimal (0, 0.5, 1), a byte offset as a count of bytes (400000B). */
        String text();
    }

    /** {@code floor(value · size)}, value in [0, 1]. */
    public record Fraction(BigDecimal value) implements Side {
        @Override
        public long offset(long size) {
            return value.multiply(BigDecimal.valueOf(size))
                    .setScale(0, RoundingMode.FLOOR)
                    .longValueExact();
        }

        @Override
        public String text() {
            return value.stripTrailingZeros().toPlainString();
        }
    }

    /** A byte offset, ≥ 0. */
    public record Bytes(long value) implements Side {
        @Override
        public long offset(long size) {
            return value;
        }

        @Override
        public String text() {
            return value + "B";
        }
    }

    /** The bytes {@code [from, to)} of a file a range selects, both line starts, {@code from < to}. */
    public record Span(long from, long to) {}

    /**
     * Reads {@code value} given with {@code option}; throws {@link IllegalArgumentException} naming both and the
     * expected syntax when it is malformed or its start is not before its end (when both sides are of one kind).
     */
    public static TextRange parse(String option, String value) {
        String v = value == null ? "" : value.trim();
        int colon = v.indexOf(':');
        if (colon < 0 || colon != v.lastIndexOf(':')) {
            throw refused(option, value, "expected " + SYNTAX);
        }
        String left = v.substring(0, colon).trim();
        String right = v.substring(colon + 1).trim();
        if (left.isEmpty() && right.isEmpty()) {
            throw refused(option, value, "expected at least one side (give no range to read the whole file)");
        }
        Side start = left.isEmpty() ? null : side(option, value, left);
        Side end = right.isEmpty() ? null : side(option, value, right);
        TextRange range = new TextRange(option, start, end);
        if (startsAtOrAfterEnd(start, end)) {
            throw refused(option, value, "expected the start before the end");
        }
        return range;
    }

    /** Whether the range is empty in every file: same-kind sides out of order, a start of 1.0 or an end of 0. */
    private static boolean startsAtOrAfterEnd(Side start, Side end) {
        if (start instanceof Fraction a && end instanceof Fraction b) {
            return a.value().compareTo(b.value()) >= 0;
        }
        if (start instanceof Bytes a && end instanceof Bytes b) {
            return a.value() >= b.value();
        }
        if (end == null && start instanceof Fraction f) {
            return f.value().compareTo(BigDecimal.ONE) >= 0;
        }
        return start == null
                && (end instanceof Bytes b && b.value() == 0
                        || end instanceof Fraction f && f.value().signum() == 0);
    }

    private static Side side(String option, String value, String text) {
        if (FRACTION.matcher(text).matches() || text.equals("0") || text.equals("1")) {
            BigDecimal f = new BigDecimal(text.startsWith(".") ? "0" + text : text);
            if (f.compareTo(BigDecimal.ONE) > 0) {
                throw refused(option, value, "expected a fraction in [0, 1], got " + text);
            }
            return new Fraction(f);
        }
        Matcher m = BYTES.matcher(text);
        if (!m.matches()) {
            throw refused(option, value, "expected " + SYNTAX + "; '" + text + "' is neither");
        }
        String unit = m.group(2) == null ? "B" : m.group(2).toUpperCase(Locale.ROOT);
        long scale = (long) Math.pow(unit.contains("I") ? 1024 : 1000, "BKMG".indexOf(unit.charAt(0)));
        try {
            return new Bytes(Math.multiplyExact(Long.parseLong(m.group(1)), scale));
        } catch (NumberFormatException | ArithmeticException e) {
            throw refused(option, value, "byte offset " + text + " is too large");
        }
    }

    /** The canonical spelling, e.g. "0:0.5", "0.5:1", ":400000B" (what a job spec stores). */
    public String text() {
        return (start == null ? "" : start.text()) + ":" + (end == null ? "" : end.text());
    }

    /**
     * The bytes this range selects in {@code content} (a whole file); throws {@link IllegalArgumentException} naming
     * the flag and the value when a side lies beyond the end of the file, the start is not before the end, or no line
     * is selected.
     */
    public Span select(byte[] content) {
        long size = content.length;
        long s = start == null ? 0 : start.offset(size);
        long e = end == null ? size : end.offset(size);
        if (s > size || e > size) {
            throw refused(
                    option,
                    text(),
                    "expected offsets within the file's " + size + " bytes, got "
                            + (e > size ? "end " + e : "start " + s));
        }
        if (s >= e) {
            throw refused(
                    option,
                    text(),
                    "expected the start before the end; in this file of " + size + " bytes they are " + s + " and "
                            + e);
        }
        long from = lineStartAtOrAfter(content, s);
        long to = lineStartAtOrAfter(content, e);
        if (from >= to) {
            throw refused(
                    option,
                    text(),
                    "selects no line: bytes " + s + " to " + e + " lie inside one line (ranges cut at line starts)");
        }
        return new Span(from, to);
    }

    /** The first line start at or after {@code p}: p itself when p is 0, the end, or follows a '\n'. */
    static long lineStartAtOrAfter(byte[] content, long p) {
        int i = (int) p;
        if (i == 0 || i >= content.length || content[i - 1] == '\n') {
            return i;
        }
        while (i < content.length && content[i] != '\n') {
            i++;
        }
        return Math.min(i + 1L, content.length);
    }

    private static IllegalArgumentException refused(String option, String value, String expected) {
        return new IllegalArgumentException(option + " '" + value + "': " + expected);
    }
}
