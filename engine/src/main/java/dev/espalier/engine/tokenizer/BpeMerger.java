package dev.espalier.engine.tokenizer;

import java.util.Arrays;

/**
 * Score-driven BPE merging, as llama2.c's {@code run.c} and sentencepiece's BPE model do it: repeatedly merge the
 * adjacent pair of symbols whose merged piece has the highest score, the leftmost such pair on ties, until no
 * adjacent pair merges. Implemented with a linked list of symbols and a max-heap of candidate pairs (stale entries
 * are skipped when popped), so it runs in O(n log n) instead of run.c's O(n^2) rescans, with the same result:
 * the heap orders by (score descending, left position ascending), and positions keep their left-to-right order.
 */
final class BpeMerger {

    /** Told about every merge, in the order they happen. */
    interface Listener {
        void merged(int mergedId, int leftId, int rightId);
    }

    private static final int DEAD = Integer.MIN_VALUE;

    private BpeMerger() {}

    /**
     * Merges {@code ids} in place.
     *
     * @param ids      (n) symbol ids, left to right; on return, {@code ids[p]} is the final id of the symbol that
     *                 starts at position p, for every surviving position p
     * @param frozen   (n) symbols that never merge (sentencepiece user-defined symbols), or null for none
     * @param table    the merge rules
     * @param listener told about each merge, or null
     * @return the surviving positions, ascending
     */
    static int[] merge(int[] ids, boolean[] frozen, MergeTable table, Listener listener) {
        int n = ids.length;
        if (n == 0) {
            return new int[0];
        }
        int[] prev = new int[n]; // (n) previous surviving position, -1 at the start
        int[] next = new int[n]; // (n) next surviving position, -1 at the end
        for (int i = 0; i < n; i++) {
            prev[i] = i - 1;
            next[i] = i + 1 < n ? i + 1 : -1;
        }
        PairHeap heap = new PairHeap(Math.max(16, n));
        for (int i = 0; i + 1 < n; i++) {
            offer(heap, ids, frozen, table, i, i + 1);
        }
        int survivors = n;
        while (heap.size() > 0) {
            int left = heap.topLeft();
            int leftId = heap.topLeftId();
            int rightId = heap.topRightId();
            heap.pop();
            if (ids[left] != leftId) {
                continue; // the left symbol merged since (or died): stale
            }
            int right = next[left];
            if (right < 0 || ids[right] != rightId) {
                continue; // the right neighbour changed since: stale
            }
            int merged = table.merged(leftId, rightId);
            ids[left] = merged;
            ids[right] = DEAD;
            next[left] = next[right];
            if (next[right] >= 0) {
                prev[next[right]] = left;
            }
            survivors--;
            if (listener != null) {
                listener.merged(merged, leftId, rightId);
            }
            offer(heap, ids, frozen, table, prev[left], left);
            offer(heap, ids, frozen, table, left, next[left]);
        }
        int[] positions = new int[survivors];
        int k = 0;
        for (int p = 0; p >= 0; p = next[p]) {
            positions[k++] = p;
        }
        return positions;
    }

    private static void offer(PairHeap heap, int[] ids, boolean[] frozen, MergeTable table, int left, int right) {
        if (left < 0 || right < 0 || (frozen != null && (frozen[left] || frozen[right]))) {
            return;
        }
        int merged = table.merged(ids[left], ids[right]);
        if (merged >= 0) {
            heap.push(table.score(merged), left, ids[left], ids[right]);
        }
    }

    /** Max-heap of candidate pairs ordered by (score descending, left position ascending); parallel arrays. */
    private static final class PairHeap {
        private float[] score; // (capacity) score of the merged piece
        private int[] left; // (capacity) position of the pair's left symbol
        private int[] leftId; // (capacity) id of the left symbol when the pair was offered
        private int[] rightId; // (capacity) id of the right symbol when the pair was offered
        private int size;

        PairHeap(int capacity) {
            score = new float[capacity];
            left = new int[capacity];
            leftId = new int[capacity];
            rightId = new int[capacity];
        }

        int size() {
            return size;
        }

        int topLeft() {
            return left[0];
        }

        int topLeftId() {
            return leftId[0];
        }

        int topRightId() {
            return rightId[0];
        }

        void push(float s, int l, int lid, int rid) {
            if (size == score.length) {
                int capacity = size * 2;
                score = Arrays.copyOf(score, capacity);
                left = Arrays.copyOf(left, capacity);
                leftId = Arrays.copyOf(leftId, capacity);
                rightId = Arrays.copyOf(rightId, capacity);
            }
            int i = size++;
            while (i > 0) {
                int parent = (i - 1) >>> 1;
                if (!before(s, l, score[parent], left[parent])) {
                    break;
                }
                move(parent, i);
                i = parent;
            }
            set(i, s, l, lid, rid);
        }

        void pop() {
            size--;
            if (size == 0) {
                return;
            }
            float s = score[size];
            int l = left[size];
            int lid = leftId[size];
            int rid = rightId[size];
            int i = 0;
            while (true) {
                int child = 2 * i + 1;
                if (child >= size) {
                    break;
                }
                if (child + 1 < size && before(score[child + 1], left[child + 1], score[child], left[child])) {
                    child++;
                }
                if (!before(score[child], left[child], s, l)) {
                    break;
                }
                move(child, i);
                i = child;
            }
            set(i, s, l, lid, rid);
        }

        private static boolean before(float s1, int l1, float s2, int l2) {
            return s1 > s2 || (s1 == s2 && l1 < l2);
        }

        private void move(int from, int to) {
            set(to, score[from], left[from], leftId[from], rightId[from]);
        }

        private void set(int i, float s, int l, int lid, int rid) {
            score[i] = s;
            left[i] = l;
            leftId[i] = lid;
            rightId[i] = rid;
        }
    }
}
