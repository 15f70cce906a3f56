package dev.fathom.tokenizer;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Finds added/special tokens in raw text before pre-tokenisation, with llama.cpp's rule
 * ({@code tokenizer_st_partition}): tokens are taken longest first (UTF-8 length; ties by id), each one's
 * occurrences left to right, skipping occurrences that overlap text already claimed by a longer token.
 * Only text between claimed occurrences is tokenised by BPE.
 */
final class SpecialTokens {
    private record Entry(int id, String text, int order, boolean lstrip, boolean rstrip) {}

    /** first char -> entries starting with it, in priority order. */
    private final Map<Character, Entry[]> byFirst;
    private final boolean[] firstAscii = new boolean[128];
    /** entries by priority order. */
    private final Entry[] byOrder;

    SpecialTokens(List<int[]> idsAndFlags, String[] texts) {
        record Cand(int id, String text, int bytes, boolean l, boolean r) {}
        List<Cand> cands = new ArrayList<>();
        for (int[] f : idsAndFlags) {
            String t = texts[f[0]];
            if (t == null || t.isEmpty()) continue;
            cands.add(new Cand(f[0], t, t.getBytes(StandardCharsets.UTF_8).length, f[1] != 0, f[2] != 0));
        }
        cands.sort(Comparator.comparingInt((Cand c) -> -c.bytes).thenComparingInt(c -> c.id));
        Map<Character, List<Entry>> m = new HashMap<>();
        for (int i = 0; i < cands.size(); i++) {
            Cand c = cands.get(i);
            m.computeIfAbsent(c.text.charAt(0), k -> new ArrayList<>()).add(new Entry(c.id, c.text, i, c.l, c.r));
        }
        byFirst = new HashMap<>();
        m.forEach((k, v) -> byFirst.put(k, v.toArray(Entry[]::new)));
        for (char c : byFirst.keySet()) if (c < 128) firstAscii[c] = true;
        byOrder = new Entry[cands.size()];
        for (Entry[] es : byFirst.values()) for (Entry e : es) byOrder[e.order] = e;
    }

    boolean isEmpty() {
        return byFirst.isEmpty();
    }

    /**
     * Partitions text into segments, appended to out as triples (start, end, tokenId): tokenId >= 0 for a matched
     * special token, -1 for plain text [start, end).
     */
    void partition(String text, IntList out) {
        int n = text.length();
        if (byFirst.isEmpty()) {
            if (n > 0) out.add(0, n, -1);
            return;
        }
        // all occurrences of all tokens: (order, position)
        long[] occ = new long[16];
        int count = 0;
        for (int i = 0; i < n; i++) {
            char c = text.charAt(i);
            if (c < 128 ? !firstAscii[c] : !byFirst.containsKey(c)) continue;
            Entry[] es = byFirst.get(c);
            if (es == null) continue;
            for (Entry e : es) {
                if (text.startsWith(e.text, i)) {
                    if (count == occ.length) occ = Arrays.copyOf(occ, count * 2);
                    occ[count++] = ((long) e.order << 32) | i;
                }
            }
        }
        if (count == 0) {
            if (n > 0) out.add(0, n, -1);
            return;
        }
        Arrays.sort(occ, 0, count);
        boolean[] claimed = new boolean[n];
        int[] tokenAt = new int[n];
        Arrays.fill(tokenAt, -1);
        for (int k = 0; k < count; k++) {
            Entry e = byOrder[(int) (occ[k] >>> 32)];
            int s = (int) occ[k], len = e.text.length();
            boolean free = true;
            for (int j = s; j < s + len && free; j++) free = !claimed[j];
            if (!free) continue;
            for (int j = s; j < s + len; j++) claimed[j] = true;
            tokenAt[s] = e.order;
        }
        int textStart = 0;
        Entry prev = null;
        for (int i = 0; i < n; ) {
            if (tokenAt[i] < 0) {
                i++;
                continue;
            }
            Entry e = byOrder[tokenAt[i]];
            emitText(text, textStart, i, prev, e, out);
            out.add(i, i + e.text.length(), e.id);
            i += e.text.length();
            textStart = i;
            prev = e;
        }
        emitText(text, textStart, n, prev, null, out);
    }

    private static void emitText(String text, int s, int e, Entry before, Entry after, IntList out) {
        if (before != null && before.rstrip) while (s < e && isSpace(text.charAt(s))) s++;
        if (after != null && after.lstrip) while (e > s && isSpace(text.charAt(e - 1))) e--;
        if (e > s) out.add(s, e, -1);
    }

    /** C isspace: the strip rule llama.cpp applies for lstrip/rstrip tokens. */
    private static boolean isSpace(char c) {
        return c == ' ' || (c >= '\t' && c <= '\r');
    }
}
