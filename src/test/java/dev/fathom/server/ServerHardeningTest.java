package dev.fathom.server;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.io.InputStream;

import java.net.Socket;
import java.util.ArrayList;
import java.util.List;

import static dev.fathom.server.ServerBehaviourTest.*;
import static dev.fathom.server.TestServers.*;
import static org.junit.jupiter.api.Assertions.*;

/** Requests from clients that behave oddly but legally, or badly: each gets a clear answer and nothing worse. */
class ServerHardeningTest {
    static FathomServer server;

    @BeforeAll
    static void start() {
        server = TestServers.start(ServerConfig.defaults().withBatching(4, 512, 16), tinyModel());
    }

    @AfterAll
    static void stop() {
        server.close();
    }

    /** A client that shuts down its write side after its request (legal in HTTP/1.1) still gets the whole answer. */
    @Test
    void halfClosedClientGetsTheWholeAnswer() throws Exception {
        try (Socket c = rawPost(server, "/v1/completions", "{\"prompt\":\"a\",\"max_tokens\":20,\"temperature\":0}")) {
            c.setSoTimeout(120_000);
            c.shutdownOutput();
            JsonNode r = JSON.readTree(readResponse(c.getInputStream()));
            assertEquals(20, r.at("/usage/completion_tokens").asInt(), r.toString());
            assertEquals("length", r.at("/choices/0/finish_reason").asText(), r.toString());
        }
        try (Socket c = rawPost(server, "/v1/chat/completions", "{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"max_tokens\":20,"
                + "\"temperature\":0,\"stream\":true,\"stream_options\":{\"include_usage\":true}}")) {
            c.setSoTimeout(120_000);
            c.shutdownOutput();
            List<String> data = dataLines(readResponse(c.getInputStream()));
            assertEquals("data: [DONE]", data.getLast());
            assertEquals(20, JSON.readTree(data.get(data.size() - 2).substring(6)).at("/usage/completion_tokens").asInt(), data.toString());
            assertEquals("length", JSON.readTree(data.get(data.size() - 3).substring(6)).at("/choices/0/finish_reason").asText(), data.toString());
        }
    }

    static List<String> dataLines(String body) {
        List<String> out = new ArrayList<>();
        for (String line : body.split("\n")) if (line.startsWith("data: ")) out.add(line);
        return out;
    }
}
