package io.holdfast.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.holdfast.api.HttpApi;
import io.holdfast.api.OneNode;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;

/**
 * Goal: consumers over HTTP and the CLI keep their contract (command names, flags, JSON fields),
 * and bad input gets a clear error. Method: one in-JVM node serving HTTP; the CLI runs in-process
 * against it with --server.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class ConsumerCliTest {
  private static final ObjectMapper JSON = new ObjectMapper();
  @TempDir
  static Path tmp;
  private OneNode node;
  private String server;

  private record Run(int exit, String out, String err) {
    List<JsonNode> lines() throws Exception {
      List<JsonNode> out = new ArrayList<>();
      for (String l : this.out.strip().split("\n")) {
        out.add(JSON.readTree(l));
      }
      return out;
    }
  }

  private Run run(String... args) {
    String[] all = new String[args.length + 2];
    System.arraycopy(args, 0, all, 0, args.length);
    all[args.length] = "--server";
    all[args.length + 1] = server;
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    ByteArrayOutputStream err = new ByteArrayOutputStream();
    int exit = Main.run(all, new PrintStream(out, true, StandardCharsets.UTF_8),
        new PrintStream(err, true, StandardCharsets.UTF_8));
    return new Run(exit, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
  }

  @BeforeAll
  void start() throws Exception {
    node = new OneNode(tmp.resolve("node1"));
    int port;
    try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      port = s.getLocalPort();
    }
    HttpApi.start(node.system, node.holdfast, "127.0.0.1", port).toCompletableFuture().get(30, TimeUnit.SECONDS);
    server = "http://127.0.0.1:" + port;
    assertEquals(0, run("stream", "add", "work", "--subjects", "work.>").exit());
    for (String subject : new String[] {"work.a", "work.b", "work.c", "work.a", "work.b"}) {
      assertEquals(0, run("pub", subject, "data-" + subject).exit());
    }
  }

  @AfterAll
  void stop() throws Exception {
    node.close();
  }

  @Test
  void consumerAddTakesEveryFlagAndInfoShowsThem() throws Exception {
    Run add = run("consumer", "add", "work", "ab", "--filter", "work.a", "--filter", "work.b", "--ack-wait", "2s",
        "--max-deliver", "3", "--backoff", "1s,5s", "--max-ack-pending", "7", "--deliver", "seq:2", "--json");
    assertEquals(0, add.exit(), add.err());
    JsonNode cfg = add.lines().get(0).path("config");
    assertEquals("[\"work.a\",\"work.b\"]", cfg.path("filter_subjects").toString());
    assertEquals("2s", cfg.path("ack_wait").asText());
    assertEquals(3, cfg.path("max_deliver").asInt());
    assertEquals("[\"1s\",\"5s\"]", cfg.path("backoff").toString());
    assertEquals(7, cfg.path("max_ack_pending").asInt());
    assertEquals("by_start_sequence", cfg.path("deliver_policy").asText());
    assertEquals(2, cfg.path("opt_start_seq").asInt());
    Run ls = run("consumer", "ls", "work", "--json");
    assertTrue(ls.out().contains("\"name\":\"ab\""), ls.out());
    assertEquals(0, run("consumer", "rm", "work", "ab").exit());
    Run gone = run("consumer", "info", "work", "ab", "--json");
    assertEquals(1, gone.exit());
    assertEquals("no_consumer", gone.lines().get(0).path("error").path("code").asText());
  }

  @Test
  void subPrintsOneContractObjectPerMessageAndExitsAfterCount() throws Exception {
    assertEquals(0, run("consumer", "add", "work", "reader", "--ack", "explicit").exit());
    Run sub = run("sub", "work", "--consumer", "reader", "--count", "3", "--ack", "--json");
    assertEquals(0, sub.exit(), sub.err());
    List<JsonNode> lines = sub.lines();
    assertEquals(3, lines.size());
    for (int i = 0; i < 3; i++) {
      JsonNode m = lines.get(i);
      List<String> fields = new ArrayList<>();
      m.fieldNames().forEachRemaining(fields::add);
      assertEquals(List.of("stream", "seq", "consumer_seq", "delivered", "subject", "data"), fields);
      assertEquals(i + 1, m.path("seq").asInt());
      assertEquals(1, m.path("delivered").asInt());
    }
    assertEquals("data-work.a", lines.get(0).path("data").asText());
    JsonNode info = run("consumer", "info", "work", "reader", "--json").lines().get(0);
    assertEquals(3, info.path("ack_floor").path("stream_seq").asInt(), "--ack acked all three");
    Run ephemeral = run("sub", "work", "--count", "5", "--json");
    assertEquals(5, ephemeral.lines().size(), "without --consumer: an ephemeral consumer of everything");
  }

  @Test
  void badInputGetsAClearErrorAndExitOne() throws Exception {
    Run badName = run("consumer", "add", "work", "bad name", "--json");
    assertEquals(1, badName.exit());
    assertEquals("bad_consumer", badName.lines().get(0).path("error").path("code").asText());
    Run badAck = run("consumer", "add", "work", "x", "--ack", "sometimes", "--json");
    assertTrue(badAck.lines().get(0).path("error").path("message").asText().contains("ack_policy"), badAck.out());
    Run nobody = run("sub", "work", "--consumer", "nobody", "--count", "1", "--json");
    assertEquals(1, nobody.exit());
    assertEquals("no_consumer", nobody.lines().get(0).path("error").path("code").asText());
    Run usage = run("consumer", "add", "work");
    assertEquals(2, usage.exit());
    assertTrue(usage.err().contains("Missing required parameter: 'NAME'"), usage.err());
    assertTrue(usage.err().contains("run 'holdfast consumer add --help' for usage"), usage.err());
  }

  @Test
  void httpPullsWithLongPollAcksByTokenAndStreamsServerSentEvents() throws Exception {
    assertEquals(0, run("consumer", "add", "work", "web", "--ack-wait", "1m").exit());
    HttpClient http = HttpClient.newHttpClient();
    HttpResponse<String> next = http.send(HttpRequest.newBuilder(URI.create(server
        + "/streams/work/consumers/web/next?batch=2&wait=1s")).POST(HttpRequest.BodyPublishers.noBody()).build(),
        HttpResponse.BodyHandlers.ofString());
    JsonNode messages = JSON.readTree(next.body()).path("messages");
    assertEquals(2, messages.size(), next.body());
    String token = messages.get(0).path("ack_token").asText();
    HttpResponse<String> term = http.send(HttpRequest.newBuilder(URI.create(server + "/ack/" + token + "?kind=term"))
        .POST(HttpRequest.BodyPublishers.noBody()).build(), HttpResponse.BodyHandlers.ofString());
    assertEquals(200, term.statusCode(), term.body());
    assertEquals("term", JSON.readTree(term.body()).path("kind").asText());
    HttpResponse<String> bad = http.send(HttpRequest.newBuilder(URI.create(server + "/ack/not-a-token"))
        .POST(HttpRequest.BodyPublishers.noBody()).build(), HttpResponse.BodyHandlers.ofString());
    assertEquals(400, bad.statusCode());
    assertEquals("bad_token", JSON.readTree(bad.body()).path("error").path("code").asText());
    HttpResponse<String> events = http.send(HttpRequest.newBuilder(URI.create(server
        + "/streams/work/consumers/web/events?count=3")).build(), HttpResponse.BodyHandlers.ofString());
    assertEquals("text/event-stream", events.headers().firstValue("content-type").orElse("").split(";")[0]);
    List<Integer> seqs = new ArrayList<>();
    for (String line : events.body().split("\n")) {
      if (line.startsWith("data: ")) {
        seqs.add(JSON.readTree(line.substring(6)).path("seq").asInt());
      }
    }
    assertEquals(List.of(3, 4, 5), seqs, "the next three after the pulled two");
    HttpResponse<String> missing = http.send(HttpRequest.newBuilder(URI.create(server
        + "/streams/work/consumers/nobody/events")).build(), HttpResponse.BodyHandlers.ofString());
    assertEquals(404, missing.statusCode(), missing.body());
  }
}
