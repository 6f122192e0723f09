package dev.espalier.engine.tokenizer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;

class BpeMergerTest {

    /** run.c's loop, transcribed: rescan all pairs, take the first with the strictly highest score, merge, repeat. */
    private static int[] runCLoop(int[] start, List<String> pieces, float[] scores) {
        Map<String, Integer> ids = new HashMap<>();
        for (int i = 0; i < pieces.size(); i++) {
            ids.putIfAbsent(pieces.get(i), i);
        }
        List<Integer> tokens = new ArrayList<>();
        for (int t : start) {
            tokens.add(t);
        }
        while (true) {
            float best = -1e10f;
            int bestId = -1;
            int bestIdx = -1;
            for (int i = 0; i + 1 < tokens.size(); i++) {
                Integer id = ids.get(pieces.get(tokens.get(i)) + pieces.get(tokens.get(i + 1)));
                if (id != null && scores[id] > best) {
                    best = scores[id];
                    bestId = id;
                    bestIdx = i;
                }
            }
            if (bestIdx < 0) {
                break;
            }
            tokens.set(bestIdx, bestId);
            tokens.remove(bestIdx + 1);
        }
        return tokens.stream().mapToInt(Integer::intValue).toArray();
    }

    @Test
    void heapMergeEqualsRunCLoopOnRandomVocabulariesWithManyTies() {
        Random random = new Random(42);
        String alphabet = "ab c";
        for (int trial = 0; trial < 300; trial++) {
            List<String> pieces = new ArrayList<>();
            for (char c : alphabet.toCharArray()) {
                pieces.add(String.valueOf(c));
            }
            while (pieces.size() < 40) {
                String a = pieces.get(random.nextInt(pieces.size()));
                String b = pieces.get(random.nextInt(pieces.size()));
                if (!pieces.contains(a + b) && (a + b).length() <= 6) {
                    pieces.add(a + b);
                }
            }
            float[] scores = new float[pieces.size()];
            for (int i = 0; i < scores.length; i++) {
                scores[i] = random.nextInt(4); // few distinct scores: ties everywhere
            }
            Map<String, Integer> ids = new HashMap<>();
            for (int i = 0; i < pieces.size(); i++) {
                ids.put(pieces.get(i), i);
            }
            MergeTable table = new MergeTable(scores);
            for (int id = 0; id < pieces.size(); id++) {
                String p = pieces.get(id);
                for (int k = 1; k < p.length(); k++) {
                    Integer l = ids.get(p.substring(0, k));
                    Integer r = ids.get(p.substring(k));
                    if (l != null && r != null) {
                        table.put(l, r, id);
                    }
                }
            }
            int[] start = new int[1 + random.nextInt(60)];
            for (int i = 0; i < start.length; i++) {
                start[i] = alphabet.indexOf(alphabet.charAt(random.nextInt(alphabet.length())));
            }
            int[] expected = runCLoop(start, pieces, scores);
            int[] ids2 = start.clone();
            int[] positions = BpeMerger.merge(ids2, null, table, null);
            int[] actual = Arrays.stream(positions).map(p -> ids2[p]).toArray();
            assertArrayEquals(expected, actual, "trial " + trial);
        }
    }

    @Test
    void frozenSymbolsNeverMerge() {
        float[] scores = {0, 0, 5};
        MergeTable table = new MergeTable(scores);
        table.put(0, 1, 2);
        int[] ids = {0, 1, 0, 1};
        int[] positions = BpeMerger.merge(ids, new boolean[] {false, true, false, false}, table, null);
        assertArrayEquals(new int[] {0, 1, 2}, positions);
        assertEquals(2, ids[2]);
    }

    @Test
    void tokenizerOverSyntheticVocabularyMatchesRunCLoop() {
        List<byte[]> pieces = new ArrayList<>(List.of(bytes("<unk>"), bytes("\n<s>\n"), bytes("\n</s>\n")));
        for (int b = 0; b < 256; b++) {
            pieces.add(bytes(String.format("<0x%02X>", b)));
        }
        List<String> extra = List.of(" ", "a", "b", "é", " a", "ab", "aa", " ab", "bé", "abé", "<0", "x4");
        float[] scores = new float[pieces.size() + extra.size()];
        for (int i = 0; i < extra.size(); i++) {
            pieces.add(bytes(extra.get(i)));
            scores[259 + i] = -(i % 3);
        }
        Llama2cTokenizer tokenizer = Llama2cTokenizer.of(pieces, scores);
        List<String> asStrings = pieces.stream()
                .map(p -> new String(p, StandardCharsets.ISO_8859_1))
                .toList();
        String text = "abé aab zß ab a";
        List<Integer> start = new ArrayList<>(List.of(259)); // the dummy prefix " "
        for (int i = 0; i < text.length(); ) {
            int cp = text.codePointAt(i);
            String ch = new String(Character.toChars(cp));
            int idx = extra.indexOf(ch);
            if (idx >= 0) {
                start.add(259 + idx);
            } else {
                for (byte b : ch.getBytes(StandardCharsets.UTF_8)) {
                    start.add((b & 0xFF) + 3);
                }
            }
            i += Character.charCount(cp);
        }
        int[] expected = runCLoop(start.stream().mapToInt(Integer::intValue).toArray(), asStrings, scores);
        int[] actual = tokenizer.encode(text, false);
        assertArrayEquals(expected, actual);
        assertEquals(text, tokenizer.decode(actual));
    }

    private static byte[] bytes(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }
}
