package dev.espalier.engine.data;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.espalier.engine.SharedFiles;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TextRangeTest {
    private static final Path TINY = SharedFiles.path("data/tinystories/tinystories_val_sample.txt");

    @TempDir
    Path tmp;

    private static TextRange parse(String value) {
        return TextRange.parse("--calib-range", value);
    }

    private static String refusal(String value) {
        return assertThrows(IllegalArgumentException.class, () -> parse(value)).getMessage();
    }

    @Test
    void readsFractionsBytesUnitsAndOpenEnds() {
        assertEquals("0:0.5", parse("0:0.5").text());
        assertEquals("0.5:1", parse("0.5:1").text());
        assertEquals("0.5:1", parse(".50:1.0").text());
        assertEquals("0:400000B", parse("0:400KB").text());
        assertEquals("0:409600B", parse("0:400KiB").text());
        assertEquals("2000000B:3145728B", parse("2MB:3MiB").text());
        assertEquals("12345B:", parse(" 12345 : ").text());
        assertEquals(":0.25", parse(":0.25").text());
        assertNull(parse(":0.25").start());
        assertNull(parse("0.5:").end());
        assertEquals(new TextRange.Bytes(1), parse("1B:2B").start());
        assertEquals(
                new TextRange.Fraction(java.math.BigDecimal.ONE), parse("0.5:1").end());
    }

    @Test
    void resolvesEachSideToAByteOffset() {
        assertEquals(250, new TextRange.Fraction(new java.math.BigDecimal("0.25")).offset(1000));
        assertEquals(333, new TextRange.Fraction(new java.math.BigDecimal("0.3333")).offset(1000)); // floor
        assertEquals(1000, new TextRange.Fraction(java.math.BigDecimal.ONE).offset(1000));
        assertEquals(7, new TextRange.Bytes(7).offset(1000));
    }

    @Test
    void refusesBadSyntaxNamingTheFlagTheValueAndWhatWasExpected() {
        assertTrue(refusal("0.5").startsWith("--calib-range '0.5': expected START:END"), refusal("0.5"));
        assertTrue(refusal("0:1:2").startsWith("--calib-range '0:1:2': expected START:END"));
        assertTrue(refusal("a:0.5").contains("'a' is neither"), refusal("a:0.5"));
        assertTrue(refusal("0:5XB").contains("'5XB' is neither"));
        assertTrue(refusal("-0.1:0.5").contains("is neither"));
        assertEquals("--calib-range '0:1.5': expected a fraction in [0, 1], got 1.5", refusal("0:1.5"));
        assertEquals(
                "--calib-range ':': expected at least one side (give no range to read the whole file)", refusal(":"));
        assertEquals("--calib-range '0.5:0.5': expected the start before the end", refusal("0.5:0.5"));
        assertEquals("--calib-range '0.7:0.2': expected the start before the end", refusal("0.7:0.2"));
        assertEquals("--calib-range '3KB:2KB': expected the start before the end", refusal("3KB:2KB"));
        assertEquals("--calib-range '1:': expected the start before the end", refusal("1:"));
        assertEquals("--calib-range ':0': expected the start before the end", refusal(":0"));
        assertTrue(refusal("0:99999999999999999999").contains("too large"));
    }

    @Test
    void refusesARangeThatDoesNotFitItsFile() {
        byte[] content = "one\ntwo\nthree\n".getBytes(StandardCharsets.UTF_8); // 14 bytes
        assertEquals(
                "--calib-range '0:20B': expected offsets within the file's 14 bytes, got end 20",
                assertThrows(
                                IllegalArgumentException.class,
                                () -> parse("0:20B").select(content))
                        .getMessage());
        assertEquals(
                "--calib-range '0.9:10B': expected the start before the end; in this file of 14 bytes they are 12 and"
                        + " 10",
                assertThrows(
                                IllegalArgumentException.class,
                                () -> parse("0.9:10B").select(content))
                        .getMessage());
        assertEquals(
                "--calib-range '9B:11B': selects no line: bytes 9 to 11 lie inside one line (ranges cut at line"
                        + " starts)",
                assertThrows(
                                IllegalArgumentException.class,
                                () -> parse("9B:11B").select(content))
                        .getMessage());
    }

    @Test
    void movesBothEndsForwardToTheNextLineStart() {
        byte[] content = "one\ntwo\nthree\n".getBytes(StandardCharsets.UTF_8); // lines start at 0, 4, 8
        assertEquals(new TextRange.Span(0, 4), parse("0:1B").select(content)); // end inside "one" -> its end
        assertEquals(new TextRange.Span(4, 8), parse("4B:8B").select(content)); // both already line starts
        assertEquals(new TextRange.Span(4, 14), parse("1B:9B").select(content)); // start to the next line
        assertEquals(new TextRange.Span(8, 14), parse("0.5:").select(content)); // 7 -> 8
        byte[] noNewline = "ab\ncd".getBytes(StandardCharsets.UTF_8);
        assertEquals(new TextRange.Span(3, 5), parse("0.5:1").select(noNewline)); // the last line has no '\n'
    }

    /** Brute force: the lines (start offsets) whose first byte lies in [s, e). */
    private static List<Integer> linesStartingIn(byte[] content, long s, long e) {
        List<Integer> starts = new ArrayList<>();
        for (int i = 0; i < content.length; i++) {
            if ((i == 0 || content[i - 1] == '\n') && i >= s && i < e) {
                starts.add(i);
            }
        }
        return starts;
    }

    @Test
    void selectsExactlyTheLinesThatStartInTheRangeOnRandomTexts() {
        SplittableRandom random = new SplittableRandom(3);
        for (int trial = 0; trial < 2000; trial++) {
            byte[] content = new byte[1 + random.nextInt(40)];
            for (int i = 0; i < content.length; i++) {
                content[i] = (byte) (random.nextInt(4) == 0 ? '\n' : 'a');
            }
            int s = random.nextInt(content.length);
            int e = s + 1 + random.nextInt(content.length - s);
            List<Integer> expected = linesStartingIn(content, s, e);
            TextRange range = parse(s + "B:" + e + "B");
            if (expected.isEmpty()) {
                assertThrows(IllegalArgumentException.class, () -> range.select(content));
                continue;
            }
            TextRange.Span span = range.select(content);
            assertEquals(expected, linesStartingIn(content, span.from(), span.to()), "trial " + trial);
            assertEquals(expected.getFirst(), (int) span.from());
            assertTrue(span.to() == content.length || content[(int) span.to() - 1] == '\n', "ends at a line end");
        }
    }

    private static List<String> lines(String text) {
        return List.of(text.split("\n", -1)).stream().filter(l -> !l.isEmpty()).toList();
    }

    @Test
    void theTwoHalvesOfTinyStoriesAreDisjointAndCoverEveryLine() throws Exception {
        byte[] content = Files.readAllBytes(TINY);
        TextRange.Span first = parse("0:0.5").select(content);
        TextRange.Span second = parse("0.5:1").select(content);
        assertEquals(0, first.from());
        assertEquals(first.to(), second.from(), "they meet at one line start");
        assertEquals(content.length, second.to());
        assertTrue(first.to() > content.length / 2 - 2000 && first.to() < content.length / 2 + 2000);

        String a = TextCorpus.read(TINY, parse("0:0.5"));
        String b = TextCorpus.read(TINY, TextRange.parse("--eval-range", "0.5:1"));
        assertEquals(TextCorpus.read(TINY), a + b, "together: every byte of the file, in order");
        assertTrue(a.endsWith("\n"), "the first half ends with a whole line");
        List<String> all = lines(TextCorpus.read(TINY));
        List<String> linesA = lines(a);
        List<String> linesB = lines(b);
        assertEquals(all.size(), linesA.size() + linesB.size());
        assertEquals(all, concat(linesA, linesB));
    }

    private static List<String> concat(List<String> a, List<String> b) {
        List<String> out = new ArrayList<>(a);
        out.addAll(b);
        return out;
    }

    @Test
    void aRangeOfJsonLinesSelectsWholeRecords() throws Exception {
        String one = "{\"text\": \"first record\"}\n";
        String two = "{\"text\": \"second record\"}\n";
        String three = "{\"text\": \"third\"}\n";
        Path f = Files.writeString(tmp.resolve("c4.jsonl"), one + two + three);
        assertEquals("first record\n\nsecond record", TextCorpus.read(f, parse("0:" + (one.length() + 1) + "B")));
        assertEquals("third", TextCorpus.read(f, parse("0.7:")));
        assertEquals(TextCorpus.read(f), TextCorpus.read(f, parse("0:1")));
    }

    @Test
    void withoutARangeReadsTheWholeFileAsBefore() throws Exception {
        assertEquals(TextCorpus.read(TINY), TextCorpus.read(TINY, null));
        assertEquals(TextCorpus.read(TINY), TextCorpus.read(TINY, parse("0:1")));
    }

    @Test
    void aRangeOfBlankLinesOrBeyondTheFileIsRefusedNamingTheFile() throws Exception {
        Path f = Files.writeString(tmp.resolve("t.txt"), "text\n\n\n\n");
        DataFormatException blank = assertThrows(DataFormatException.class, () -> TextCorpus.read(f, parse("5B:")));
        assertEquals(f + ": --calib-range '5B:' selects no text", blank.getMessage());
        DataFormatException beyond = assertThrows(
                DataFormatException.class, () -> TextCorpus.read(f, TextRange.parse("--eval-range", "0:1MB")));
        assertEquals(
                f + ": --eval-range '0:1000000B': expected offsets within the file's 8 bytes, got end 1000000",
                beyond.getMessage());
        assertFalse(Files.readString(f).isBlank());
    }
}
