package io.holdfast.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.typesafe.config.ConfigFactory;
import io.holdfast.api.Holdfast;
import io.holdfast.api.Records.StreamConfig;
import io.holdfast.local.LocalCluster;
import io.holdfast.local.NodeClient;
import io.holdfast.stream.ConsumerConfig;
import java.io.PrintStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.stream.javadsl.Sink;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code holdfast bench consume}: fills a stream with {@code --msgs} messages of {@code --size}
 * bytes, then drains it through a consumer — a Pekko Streams {@code Source} in-process, or HTTP
 * pulls with {@code --server} — acking each message ({@code --ack explicit}, acks pipelined 64
 * deep) or not ({@code --ack none}). In-process it starts {@code --replicas} server nodes as
 * ActorSystems in this JVM on 127.0.0.1 (real files under ./target) and measures the raw fsync
 * rate of the same disk as the baseline: a fetch and each batch of acks is one commit.
 */
@Command(name = "consume", sortOptions = false,
    description = "Fill a stream, then drain it through a consumer Source (or HTTP pulls with --server).")
final class ConsumeBench extends CliCommand.Reporting {
  private static final ObjectMapper JSON = new ObjectMapper();

  @Option(names = "--replicas", paramLabel = "1|3", description = "Replicas of the stream (default ${DEFAULT-VALUE}).")
  int replicas = 3;
  @Option(names = "--msgs", paramLabel = "N", description = "Messages to fill and drain (default ${DEFAULT-VALUE}).")
  long msgs = 100_000;
  @Option(names = "--size", paramLabel = "B", description = "Payload bytes per message (default ${DEFAULT-VALUE}).")
  int size = 1024;
  @Option(names = "--ack", paramLabel = "explicit|none", description = "Ack each message or not (default ${DEFAULT-VALUE}).")
  String ack = "explicit";
  @Option(names = "--batch", paramLabel = "N", description = "Messages per HTTP pull (default ${DEFAULT-VALUE}).")
  int batch = 256;
  @Option(names = "--server", paramLabel = "URL", description = "Consume over a node's HTTP API instead of in-process nodes.")
  String server;
  @Option(names = "--dir", paramLabel = "DIR", description = "Where the in-process nodes keep their data (default ${DEFAULT-VALUE}).")
  Path parent = Path.of("target");

  @Override
  public Integer call() throws Exception {
    PrintStream out = out();
    PrintStream err = err();
    between("--replicas", replicas, 1, 5);
    between("--size", size, 0, 128 << 10);
    between("--msgs", msgs, 1, 100_000_000);
    between("--batch", batch, 1, 1000);
    if (!ack.equals("explicit") && !ack.equals("none")) {
      throw new UsageException("--ack must be explicit or none, got '" + ack + "'");
    }
    Map<String, Object> r = new LinkedHashMap<>();
    r.put("msgs", msgs);
    r.put("size", size);
    r.put("ack", ack);
    r.put("replicas", replicas);
    if (server != null) {
      overHttp(new NodeClient(server), replicas, size, msgs, batch, ack, r, err);
      r.put("server", server);
      r.put("raw_fsync_per_s", null);
    } else {
      Files.createDirectories(parent);
      Path base = Files.createTempDirectory(parent, "holdfast-bench-consume-");
      try {
        err.printf("bench consume: raw fsync rate of %s ...%n", base);
        double raw = JournalBench.rawFsync(base.resolve("raw-fsync.dat"), 2)[0];
        inProcess(base, replicas, size, msgs, batch, ack, r, err);
        r.put("raw_fsync_per_s", Math.round(raw));
        r.put("ratio_vs_raw_fsync", Math.round(((Number) r.get("consumed_per_s")).doubleValue() / raw * 10) / 10.0);
      } finally {
        LocalCluster.deleteTree(base);
      }
    }
    out.printf("bench consume: %d messages of %d bytes, %d replicas, ack %s: %s consumed/s (%s MB/s), filled at %s/s%n",
        msgs, size, replicas, ack, r.get("consumed_per_s"), r.get("mb_per_s"), r.get("fill_per_s"));
    if (json) {
      out.println(JSON.writeValueAsString(r));
    }
    return 0;
  }

  private static void figures(Map<String, Object> r, long msgs, int size, double fillSecs, double drainSecs) {
    r.put("fill_per_s", Math.round(msgs / fillSecs));
    r.put("seconds", Math.round(drainSecs * 100) / 100.0);
    r.put("consumed_per_s", Math.round(msgs / drainSecs));
    r.put("mb_per_s", Math.round(msgs * (double) size / drainSecs / 1e6 * 10) / 10.0);
  }

  private static void inProcess(Path base, int replicas, int size, long msgs, int batch, String ack,
      Map<String, Object> r, PrintStream err) throws Exception {
    List<Integer> ports = new ArrayList<>();
    for (int id = 1; id <= replicas; id++) {
      ports.add(freePort());
    }
    List<ActorSystem<Void>> nodes = new ArrayList<>();
    try {
      for (int id = 1; id <= replicas; id++) {
        nodes.add(startNode(base, id, ports));
      }
      Holdfast h = Holdfast.get(nodes.get(0));
      createOnceFormed(h, new StreamConfig("bench", List.of("bench.>"), replicas));
      err.printf("bench consume: filling stream bench with %d messages of %d bytes (%d replicas) ...%n", msgs, size,
          replicas);
      byte[] payload = new byte[size];
      Semaphore window = new Semaphore(512);
      AtomicLong failed = new AtomicLong();
      long start = System.nanoTime();
      for (long i = 0; i < msgs; i++) {
        window.acquire();
        h.publish("bench.m", null, payload).whenComplete((ok, e) -> {
          if (e != null) {
            failed.incrementAndGet();
          }
          window.release();
        });
      }
      window.acquire(512);
      double fill = (System.nanoTime() - start) / 1e9;
      if (failed.get() > 0) {
        throw new IllegalStateException(failed.get() + " publishes failed while filling");
      }
      h.consumers().create("bench", ConsumerConfig.durable("drain").withAckPolicy(ConsumerConfig.AckPolicy.ofName(ack))
          .withMaxAckPending(-1)).toCompletableFuture().get();
      err.printf("bench consume: draining through a consumer Source, ack %s ...%n", ack);
      start = System.nanoTime();
      var source = h.consumer("bench", "drain").withBatch(batch).withMaxMessages(msgs).source();
      var acked = ack.equals("none") ? source
          : source.mapAsync(64, m -> m.ack().thenApply(d -> m));
      long count = acked.runWith(Sink.fold(0L, (n, m) -> n + 1), nodes.get(0)).toCompletableFuture()
          .get(1, TimeUnit.HOURS);
      double drain = (System.nanoTime() - start) / 1e9;
      if (count != msgs) {
        throw new IllegalStateException("drained " + count + " of " + msgs);
      }
      figures(r, msgs, size, fill, drain);
    } finally {
      for (int i = nodes.size() - 1; i >= 0; i--) {
        nodes.get(i).terminate();
        nodes.get(i).getWhenTerminated().toCompletableFuture().get(60, TimeUnit.SECONDS);
      }
    }
  }

  /**
   * Creates {@code config}'s stream once the in-process cluster has formed (every node registered,
   * or creation would find too few), within 90 s.
   */
  static void createOnceFormed(Holdfast h, StreamConfig config) throws InterruptedException {
    long deadline = System.nanoTime() + Duration.ofSeconds(90).toNanos();
    while (true) {
      try {
        h.createStream(config).toCompletableFuture().get();
        return;
      } catch (Exception notYet) {
        if (System.nanoTime() > deadline) {
          throw new IllegalStateException("the in-process cluster did not form within 90 s: " + notYet.getMessage());
        }
        Thread.sleep(200); // a command-line tool waiting for its cluster, not a test
      }
    }
  }

  /** Server node {@code id} of an in-process cluster on {@code ports}, or with id 0 an application node joining it. */
  static ActorSystem<Void> startNode(Path base, int id, List<Integer> ports) throws java.io.IOException {
    return startNode(base, id, ports, "");
  }

  static ActorSystem<Void> startNode(Path base, int id, List<Integer> ports, String extraConfig)
      throws java.io.IOException {
    StringBuilder seeds = new StringBuilder();
    StringBuilder voters = new StringBuilder();
    for (int i = 0; i < ports.size(); i++) {
      seeds.append(i == 0 ? "" : ",").append("\"pekko://holdfast@127.0.0.1:").append(ports.get(i)).append('"');
      voters.append(i == 0 ? "" : ",").append(i + 1);
    }
    ActorSystem<Void> system = ActorSystem.create(Behaviors.empty(), "holdfast", ConfigFactory.parseString(extraConfig)
        .withFallback(ConfigFactory.parseString("""
        pekko.loglevel = WARNING
        pekko.actor.provider = cluster
        pekko.remote.artery.canonical.hostname = "127.0.0.1"
        pekko.remote.artery.canonical.port = %d
        pekko.cluster.seed-nodes = [%s]
        pekko.cluster.roles = %s
        pekko.cluster.jmx.multi-mbeans-in-same-jvm = on
        pekko.coordinated-shutdown.exit-jvm = off
        holdfast.node.id = %d
        holdfast.node.data-dir = "%s"
        holdfast.meta.voters = [%s]
        """.formatted(id == 0 ? freePort() : ports.get(id - 1), seeds,
        id == 0 ? "[]" : "[\"holdfast\", \"holdfast-node-" + id + "\"]", id,
        base.resolve("node" + id).toString().replace("\\", "/"), voters))).withFallback(ConfigFactory.load()));
    Holdfast.get(system);
    return system;
  }

  static int freePort() throws java.io.IOException {
    try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      return s.getLocalPort();
    }
  }

  /** The same over a running cluster's HTTP API: pulls of {@code batch}, acks by token 64 in flight. */
  private static void overHttp(NodeClient c, int replicas, int size, long msgs, int batch, String ack,
      Map<String, Object> r, PrintStream err) throws Exception {
    String stream = "bench-consume-" + System.currentTimeMillis();
    try {
      c.callJson("POST", "/streams", NodeClient.streamConfig(stream, replicas));
      java.net.http.HttpClient http = java.net.http.HttpClient.newBuilder()
          .version(java.net.http.HttpClient.Version.HTTP_1_1).build();
      err.printf("bench consume: filling stream %s with %d messages over HTTP ...%n", stream, msgs);
      Semaphore window = new Semaphore(128);
      AtomicLong failed = new AtomicLong();
      java.net.URI pub = java.net.URI.create(c.server() + "/pub/" + stream + ".m");
      byte[] payload = new byte[size];
      long start = System.nanoTime();
      for (long i = 0; i < msgs; i++) {
        window.acquire();
        http.sendAsync(java.net.http.HttpRequest.newBuilder(pub).POST(
                java.net.http.HttpRequest.BodyPublishers.ofByteArray(payload)).build(),
            java.net.http.HttpResponse.BodyHandlers.discarding()).whenComplete((resp, e) -> {
              if (e != null || resp.statusCode() != 200) {
                failed.incrementAndGet();
              }
              window.release();
            });
      }
      window.acquire(128);
      double fill = (System.nanoTime() - start) / 1e9;
      if (failed.get() > 0) {
        throw new IllegalStateException(failed.get() + " publishes failed while filling");
      }
      c.callJson("POST", "/streams/" + stream + "/consumers",
          JSON.createObjectNode().put("name", "drain").put("ack_policy", ack).put("max_ack_pending", -1));
      err.printf("bench consume: draining with HTTP pulls of %d, ack %s ...%n", batch, ack);
      start = System.nanoTime();
      long got = 0;
      Semaphore acks = new Semaphore(64);
      while (got < msgs) {
        JsonNode page = c.call("POST", "/streams/" + stream + "/consumers/drain/next?batch=" + Math.min(batch, msgs - got)
            + "&wait=5s", null);
        for (JsonNode m : page.path("messages")) {
          got++;
          if (ack.equals("explicit")) {
            acks.acquire();
            http.sendAsync(java.net.http.HttpRequest.newBuilder(java.net.URI.create(c.server() + "/ack/"
                    + m.path("ack_token").asText())).POST(java.net.http.HttpRequest.BodyPublishers.noBody()).build(),
                java.net.http.HttpResponse.BodyHandlers.discarding()).whenComplete((resp, e) -> acks.release());
          }
        }
      }
      acks.acquire(64);
      figures(r, msgs, size, fill, (System.nanoTime() - start) / 1e9);
    } finally {
      try {
        c.call("DELETE", "/streams/" + stream, null);
      } catch (NodeClient.ServerError ignored) {
        // the figures stand; the operator sees the stream if it could not be removed
      }
    }
  }
}
