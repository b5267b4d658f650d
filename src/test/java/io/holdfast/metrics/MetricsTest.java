package io.holdfast.metrics;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.holdfast.api.HttpApi;
import io.holdfast.api.OneNode;
import io.holdfast.api.Records;
import io.holdfast.security.Users;
import io.holdfast.stream.ConsumerConfig;
import java.io.File;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

/**
 * Goal: /metrics is valid Prometheus text that a Prometheus parser reads, and its values move with
 * load — publishes, acks, ack latencies, stream sizes, consumer backlogs, fsyncs, replica indexes
 * and the JVM's heap. Method: a one-node Holdfast with its HTTP API; a scrape, 50 publishes and
 * a consumer, another scrape; both parsed by Prometheus's own Python client (Debian's
 * python3-prometheus-client; .ci/run installs it), whose samples are compared here.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class MetricsTest {
  private static final String PYTHON = "/usr/bin/python3";
  private static final ObjectMapper JSON = new ObjectMapper();
  private OneNode node;
  private String url;

  @BeforeAll
  void start() throws Exception {
    node = OneNode.inTempDirectory("metrics");
    int port = HttpApi.start(node.system, node.holdfast, "127.0.0.1", 0, Users.NONE, null).toCompletableFuture()
        .get(30, TimeUnit.SECONDS).localAddress().getPort();
    url = "http://127.0.0.1:" + port + "/metrics";
  }

  @AfterAll
  void stop() throws Exception {
    node.close();
  }

  @Test
  void theScrapeParsesAndItsValuesMoveWithLoad() throws Exception {
    node.holdfast.createStream(new Records.StreamConfig("M", List.of("m.>"), 1)).toCompletableFuture()
        .get(30, TimeUnit.SECONDS);
    node.holdfast.publish("m.0", new TreeMap<>(), new byte[100]).toCompletableFuture().get(30, TimeUnit.SECONDS);
    JsonNode before = parse(scrape());
    for (int i = 1; i <= 50; i++) {
      node.holdfast.publish("m." + i, new TreeMap<>(), new byte[100]).toCompletableFuture().get(30, TimeUnit.SECONDS);
    }
    node.holdfast.consumers().create("M", ConsumerConfig.durable("c")).toCompletableFuture().get(30, TimeUnit.SECONDS);
    JsonNode after = parse(scrape());

    assertEquals(50, value(after, "holdfast_stream_acks_total", "stream=M")
        - value(before, "holdfast_stream_acks_total", "stream=M"));
    assertEquals(50, value(after, "holdfast_stream_publishes_total", "stream=M")
        - value(before, "holdfast_stream_publishes_total", "stream=M"));
    assertEquals(50, value(after, "holdfast_stream_ack_seconds_count", "stream=M")
        - value(before, "holdfast_stream_ack_seconds_count", "stream=M"));
    assertEquals(51, value(after, "holdfast_stream_messages", "stream=M"));
    assertTrue(value(after, "holdfast_stream_bytes", "stream=M") >= 51 * 100);
    assertEquals(51, value(after, "holdfast_consumer_pending", "stream=M,consumer=c"));
    assertEquals(0, value(after, "holdfast_consumer_ack_pending", "stream=M,consumer=c"));
    assertTrue(value(after, "holdfast_storage_fsync_seconds_count", "") >= value(before,
        "holdfast_storage_fsync_seconds_count", "") + 1, "each publish was fsynced");
    assertTrue(value(after, "holdfast_replica_commit_index", "group=meta") >= 2);
    assertEquals(1, value(after, "holdfast_replica_leader", "group=meta"), "a one-node cluster leads its meta group");
    for (String series : List.of("holdfast_replica_catchup_missing_records", "holdfast_replica_catchup_fetched_bytes",
        "holdfast_replica_snapshot_index")) {
      assertTrue(after.has(series + "{group=meta}"), series + " is reported for each replica");
    }
    assertEquals(0, value(after, "holdfast_replica_catchup_missing_records", "group=meta"), "no catch-up running");
    assertTrue(value(after, "jvm_memory_used_bytes", "area=heap,id=G1 Old Gen") > 0);
    assertTrue(value(after, "holdfast_disk_free_bytes", "") > 0);
  }

  @Test
  void atomicPublishesCountEachMessageAndADeletedStreamsSeriesGo() throws Exception {
    node.holdfast.createStream(new Records.StreamConfig("A", List.of("a.>"), 1)).toCompletableFuture()
        .get(30, TimeUnit.SECONDS);
    List<Records.Outgoing> three = List.of(new Records.Outgoing("a.1", null, new byte[1]),
        new Records.Outgoing("a.2", null, new byte[1]), new Records.Outgoing("a.3", null, new byte[1]));
    node.holdfast.publishAtomic(three, Records.PublishOptions.NONE).toCompletableFuture().get(30, TimeUnit.SECONDS);
    JsonNode published = parse(scrape());
    assertEquals(3, value(published, "holdfast_stream_publishes_total", "stream=A"));
    assertEquals(3, value(published, "holdfast_stream_acks_total", "stream=A"));
    assertEquals(3, value(published, "holdfast_stream_ack_seconds_count", "stream=A"));
    node.holdfast.deleteStream("A").toCompletableFuture().get(30, TimeUnit.SECONDS);
    JsonNode deleted = parse(scrape());
    assertTrue(deleted.fieldNames().hasNext(), "the scrape has series");
    java.util.List<String> left = new java.util.ArrayList<>();
    deleted.fieldNames().forEachRemaining(name -> {
      if (name.contains("stream=A")) {
        left.add(name);
      }
    });
    assertEquals(List.of(), left, "a deleted stream's series leave the scrape");
  }

  @Test
  void topShowsEachStreamsSizeRateAndLeader() throws Exception {
    node.holdfast.createStream(new Records.StreamConfig("T", List.of("t.>"), 1)).toCompletableFuture()
        .get(30, TimeUnit.SECONDS);
    for (int i = 0; i < 10; i++) {
      node.holdfast.publish("t." + i, new TreeMap<>(), new byte[10]).toCompletableFuture().get(30, TimeUnit.SECONDS);
    }
    String server = url.replace("/metrics", "");
    java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream();
    int exit = io.holdfast.cli.Main.run(new String[] {"top", "--server", server, "--count", "2", "--interval", "200ms",
        "--json"}, new java.io.PrintStream(out, true, StandardCharsets.UTF_8), System.err);
    assertEquals(0, exit);
    List<String> frames = out.toString(StandardCharsets.UTF_8).lines().toList();
    assertEquals(2, frames.size(), String.join("\n", frames));
    for (int f = 0; f < 2; f++) {
      JsonNode t = null;
      for (JsonNode s : JSON.readTree(frames.get(f)).path("streams")) {
        t = s.path("name").asText().equals("T") ? s : t;
      }
      assertEquals(10, t.path("messages").asLong(), frames.get(f));
      assertEquals(1, t.path("leader").asInt());
      assertTrue(f == 0 ? t.path("msgs_per_s").isNull() : t.path("msgs_per_s").asLong() == 0,
          "no rate before a second screen, then 0 with nothing published: " + frames.get(f));
    }
    out.reset();
    assertEquals(0, io.holdfast.cli.Main.run(new String[] {"top", "--server", server, "--count", "1"},
        new java.io.PrintStream(out, true, StandardCharsets.UTF_8), System.err));
    String screen = out.toString(StandardCharsets.UTF_8);
    assertTrue(screen.startsWith("holdfast top  " + server) && screen.lines().anyMatch(l -> l.matches("T +10 +\\d+ +- +1 +\\[1\\]")),
        screen);
  }

  private String scrape() throws Exception {
    HttpResponse<String> r = HttpClient.newHttpClient().send(HttpRequest.newBuilder(URI.create(url)).build(),
        HttpResponse.BodyHandlers.ofString());
    assertEquals(200, r.statusCode(), r.body());
    assertTrue(r.headers().firstValue("Content-Type").orElse("").startsWith("text/plain"));
    return r.body();
  }

  /** Every sample of {@code text}, as Prometheus's parser reads it: {"name{k=v,...}": value}. */
  private static JsonNode parse(String text) throws Exception {
    if (!new File(PYTHON).canExecute()) {
      throw new AssertionError("no " + PYTHON + ": this test parses with Prometheus's Python client "
          + "(Debian: apt-get install python3-prometheus-client; .ci/run installs it)");
    }
    String program = """
        import json, sys
        from prometheus_client.parser import text_string_to_metric_families
        out = {}
        for family in text_string_to_metric_families(sys.stdin.read()):
            for s in family.samples:
                key = s.name + "{" + ",".join(k + "=" + v for k, v in sorted(s.labels.items())) + "}"
                out[key] = s.value
        print(json.dumps(out))
        """;
    Process p = new ProcessBuilder(PYTHON, "-c", program).redirectErrorStream(true).start();
    p.getOutputStream().write(text.getBytes(StandardCharsets.UTF_8));
    p.getOutputStream().close();
    String output = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertTrue(p.waitFor(60, TimeUnit.SECONDS) && p.exitValue() == 0, "the Prometheus parser refused: " + output);
    return JSON.readTree(output);
  }

  /** The sample {@code name} whose labels are exactly {@code labels} (sorted "k=v,k=v"), or 0 if there is none. */
  private static double value(JsonNode samples, String name, String labels) {
    String sorted = String.join(",", new java.util.TreeSet<>(labels.isEmpty() ? List.of() : List.of(labels.split(","))));
    return samples.path(name + "{" + sorted + "}").asDouble(0);
  }
}
