package dev.fathom.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.fathom.FathomException;
import dev.fathom.tokenizer.Tokenizer;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.concurrent.Callable;

@Command(name = "tokenize", mixinStandardHelpOptions = true,
        header = "Prints the token ids of a text.",
        description = "Prints the token ids of TEXT as a JSON array, or with --jsonl reads JSON Lines with a \"text\" field"
                + " on stdin and writes one JSON array of ids per line. Special-token text such as <｜User｜> is parsed as"
                + " special tokens, and BOS is added when the tokenizer's metadata asks for it (as llama.cpp does).")
final class TokenizeCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Option(names = {"-m", "--model"}, required = true, paramLabel = "FILE",
            description = "A GGUF file, a tokenizer.json, or a Hugging Face model folder.")
    Path model;

    @Parameters(index = "0", arity = "0..1", paramLabel = "TEXT", description = "The text to tokenize.")
    String text;

    @Option(names = "--jsonl", description = "Read JSON Lines ({\"text\": ...}) from stdin; write one id array per line.")
    boolean jsonl;

    @Option(names = "--pieces", description = "Print each token with its text: [{\"id\": 19923, \"piece\": \"Hello\"}, ...].")
    boolean pieces;

    @Option(names = "--no-bos", description = "Never add BOS.")
    boolean noBos;

    @Option(names = "--no-parse-special", description = "Treat special-token text as plain text.")
    boolean noParseSpecial;

    private static final ObjectMapper JSON = new ObjectMapper();

    @Override
    public Integer call() throws Exception {
        if (jsonl == (text != null)) throw new FathomException("give either TEXT or --jsonl (input on stdin)");
        Tokenizer tokenizer = Tokenizer.load(model);
        boolean addBos = tokenizer.addBosByDefault() && !noBos;
        PrintWriter out = spec.commandLine().getOut();
        if (!jsonl) {
            out.println(render(tokenizer, tokenizer.encode(text, addBos, !noParseSpecial)));
            return 0;
        }
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        String line;
        long lineNo = 0;
        while ((line = in.readLine()) != null) {
            lineNo++;
            if (line.isBlank()) continue;
            JsonNode node;
            try {
                node = JSON.readTree(line);
            } catch (com.fasterxml.jackson.core.JacksonException e) {
                throw new FathomException("stdin line " + lineNo + ": not valid JSON (" + e.getOriginalMessage() + ")");
            }
            JsonNode t = node.get("text");
            if (t == null || !t.isTextual()) throw new FathomException("stdin line " + lineNo + ": no string field \"text\"");
            out.println(render(tokenizer, tokenizer.encode(t.asText(), addBos, !noParseSpecial)));
        }
        out.flush();
        return 0;
    }

    private String render(Tokenizer tokenizer, int[] ids) throws Exception {
        if (!pieces) return JSON.writeValueAsString(ids);
        var array = JSON.createArrayNode();
        for (int id : ids) {
            array.addObject().put("id", id).put("piece", new String(tokenizer.tokenBytes(id), StandardCharsets.UTF_8));
        }
        return JSON.writeValueAsString(array);
    }
}
