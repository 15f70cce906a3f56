package dev.fathom.tokenizer;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;

/**
 * Turns a stream of token ids into text for display while generating. Byte-level tokens can end in the
 * middle of a multi-byte UTF-8 character (an emoji or a CJK character may span two or three tokens);
 * {@link #next} returns only complete characters and holds back a trailing incomplete sequence until its
 * remaining bytes arrive; if they never do, {@link #reset} drops it. Bytes that can never form a valid character are emitted as U+FFFD at once rather
 * than held. Not thread-safe: one decoder per stream.
 */
public final class StreamDecoder {
    private final Tokenizer tokenizer;
    private final boolean renderSpecial;
    private byte[] pending = new byte[16];
    private int length;

    StreamDecoder(Tokenizer tokenizer, boolean renderSpecial) {
        this.tokenizer = tokenizer;
        this.renderSpecial = renderSpecial;
    }

    /** Adds one token; returns the text that is now complete (possibly empty, never a partial character). */
    public String next(int id) {
        byte[] piece = tokenizer.piece(id, renderSpecial);
        if (length + piece.length > pending.length) pending = Arrays.copyOf(pending, Math.max(pending.length * 2, length + piece.length));
        System.arraycopy(piece, 0, pending, length, piece.length);
        length += piece.length;
        return drain(incompleteTail(pending, length));
    }

    /** Number of bytes currently held back (0 to 3). */
    public int pendingBytes() {
        return length;
    }

    /** Forgets any held-back bytes; at the end of a stream, a character cut by the last token is dropped this way. */
    public void reset() {
        length = 0;
    }

    private String drain(int keep) {
        int emit = length - keep;
        if (emit == 0) return "";
        String s = new String(pending, 0, emit, StandardCharsets.UTF_8);
        System.arraycopy(pending, emit, pending, 0, keep);
        length = keep;
        return s;
    }

    /** Length of a trailing UTF-8 sequence that is valid so far but incomplete, else 0. */
    static int incompleteTail(byte[] b, int len) {
        for (int k = 1; k <= Math.min(3, len); k++) {
            int c = b[len - k] & 0xFF;
            if ((c & 0xC0) == 0x80) continue;
            int need;
            if (c >= 0xC2 && c <= 0xDF) need = 2;
            else if (c >= 0xE0 && c <= 0xEF) need = 3;
            else if (c >= 0xF0 && c <= 0xF4) need = 4;
            else return 0;
            if (need <= k) return 0;
            if (k >= 2) {
                int c1 = b[len - k + 1] & 0xFF;
                int lo = 0x80, hi = 0xBF;
                if (c == 0xE0) lo = 0xA0;
                else if (c == 0xED) hi = 0x9F;
                else if (c == 0xF0) lo = 0x90;
                else if (c == 0xF4) hi = 0x8F;
                if (c1 < lo || c1 > hi) return 0;
            }
            return k;
        }
        return 0;
    }
}
