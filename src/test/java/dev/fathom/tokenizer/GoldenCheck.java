package dev.fathom.tokenizer;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.text.Normalizer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import static org.junit.jupiter.api.Assertions.fail;

/**
 * Checks a tokenizer against a golden file, in either format of shared/golden: {@code tokenizer_golden.json}
 * ({@code [{i, text, llama_ids, npm_ids, agree, llama_ids_no_parse_special}]}) or {@code tokenizer_golden.jsonl}
 * ({@code {"text", "ids"}} per line, parse_special on). New golden files need no new code: add a row to
 * {@link GoldenTokenizerTest#cases()}.
 */
final class GoldenCheck {
    private static final ObjectMapper MAPPER = new ObjectMapper();

    /** One golden string; noParse is null when the file has no parse_special=false ids. */
    record Case(int index, String text, int[] parse, int[] noParse) {}

    private GoldenCheck() {}

    /**
     * Reads the cases. With {@code hfSemantics} the expected ids are the Hugging Face ones ({@code npm_ids},
     * @lenml/tokenizers on tokenizer.json), which differ from llama.cpp's only where tokenizer.json has a
     * normalizer llama.cpp ignores (Qwen2's NFC); the no-parse-special ids then follow the HF ids wherever
     * llama.cpp's two tokenisations agree.
     */
    static List<Case> read(Path golden, boolean hfSemantics) {
        List<Case> out = new ArrayList<>();
        try {
            if (golden.toString().endsWith(".jsonl")) {
                int i = 0;
                for (String line : Files.readAllLines(golden)) {
                    if (line.isBlank()) continue;
                    JsonNode n = MAPPER.readTree(line);
                    out.add(new Case(i++, n.get("text").asText(), ints(n.get("ids")), null));
                }
            } else {
                for (JsonNode n : MAPPER.readTree(golden.toFile())) {
                    int[] llama = ints(n.get("llama_ids"));
                    int[] noParse = n.has("llama_ids_no_parse_special") ? ints(n.get("llama_ids_no_parse_special")) : null;
                    int[] parse = llama;
                    if (hfSemantics && n.has("npm_ids")) {
                        parse = ints(n.get("npm_ids"));
                        if (noParse != null && Arrays.equals(noParse, llama)) noParse = parse;
                    }
                    out.add(new Case(n.get("i").asInt(), n.get("text").asText(), parse, noParse));
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return out;
    }

    /**
     * Asserts every case: encode(text, no BOS, parseSpecial) for both settings, and decode(encode(text)) == text
     * (== the normalised text for a tokenizer with a normalizer). Prints the pass counts; returns the case count.
     */
    static int check(Tokenizer t, Path golden, boolean hfSemantics) {
        List<Case> cases = read(golden, hfSemantics);
        int parseOk = 0, noParseOk = 0, noParseTotal = 0, roundOk = 0;
        List<String> failures = new ArrayList<>();
        for (Case c : cases) {
            int[] got = t.encode(c.text, false, true);
            if (Arrays.equals(got, c.parse)) parseOk++;
            else failures.add("case " + c.index + " " + show(c.text) + " parseSpecial=true: expected " + Arrays.toString(c.parse) + " got " + Arrays.toString(got));
            if (c.noParse != null) {
                noParseTotal++;
                int[] got2 = t.encode(c.text, false, false);
                if (Arrays.equals(got2, c.noParse)) noParseOk++;
                else failures.add("case " + c.index + " " + show(c.text) + " parseSpecial=false: expected " + Arrays.toString(c.noParse) + " got " + Arrays.toString(got2));
            }
            String expectedText = t.normalization() == null ? c.text : Normalizer.normalize(c.text, t.normalization());
            String back = t.decode(got);
            if (back.equals(expectedText)) roundOk++;
            else failures.add("case " + c.index + " " + show(c.text) + " round trip gave " + show(back));
        }
        System.out.printf("golden %s with %s: parse_special %d/%d, no_parse_special %d/%d, round trip %d/%d%n",
                golden, t.source(), parseOk, cases.size(), noParseOk, noParseTotal, roundOk, cases.size());
        if (!failures.isEmpty()) {
            fail(failures.size() + " failures against " + golden + " with " + t.source() + ":\n"
                    + String.join("\n", failures.subList(0, Math.min(15, failures.size()))));
        }
        return cases.size();
    }

    private static int[] ints(JsonNode a) {
        int[] r = new int[a.size()];
        for (int i = 0; i < r.length; i++) r[i] = a.get(i).asInt();
        return r;
    }

    private static String show(String s) {
        String e = s.replace("\n", "\\n").replace("\r", "\\r").replace("\t", "\\t");
        return "\"" + (e.length() > 60 ? e.substring(0, 60) + "..." : e) + "\"";
    }
}
