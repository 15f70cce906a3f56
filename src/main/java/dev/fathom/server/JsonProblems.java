package dev.fathom.server;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.exc.StreamConstraintsException;

/** Jackson's parse errors in plain words: its messages name its own features and quote its source locations. */
final class JsonProblems {
    private JsonProblems() {}

    static String describe(JsonProcessingException e) {
        if (e instanceof StreamConstraintsException) {
            String m = String.valueOf(e.getOriginalMessage());
            if (m.contains("nesting depth")) return "it is nested more than " + FathomServer.MAX_JSON_DEPTH + " deep";
            return "it exceeds a size limit (" + cut(m) + ")";
        }
        return cut(String.valueOf(e.getOriginalMessage()));
    }

    /** The first line, up to the first clause that is about the parser rather than the input. */
    static String cut(String m) {
        int nl = m.indexOf('\n');
        if (nl >= 0) m = m.substring(0, nl);
        m = m.replaceAll(" \\(code -?\\d+\\)", ""); // "('}' (code 125))": the character is enough
        int internal = firstOf(m, "`", "[Source");
        if (internal >= 0) {
            int clause = Math.max(m.lastIndexOf(": ", internal), m.lastIndexOf(" (", internal));
            m = m.substring(0, clause >= 0 ? clause : internal);
        }
        return m.strip();
    }

    private static int firstOf(String s, String... parts) {
        int best = -1;
        for (String p : parts) {
            int i = s.indexOf(p);
            if (i >= 0 && (best < 0 || i < best)) best = i;
        }
        return best;
    }
}
