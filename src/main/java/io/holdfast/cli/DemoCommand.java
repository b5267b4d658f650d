package io.holdfast.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.holdfast.local.LocalCluster;
import io.holdfast.local.NodeClient;
import java.io.IOException;
import java.io.PrintStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Semaphore;
import java.util.concurrent.atomic.AtomicLong;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code holdfast demo}: the README's main command. A 3-node cluster on loopback, an R3 stream,
 * {@code --msgs} publishes (64 in flight) with a SIGKILL of the stream's leader halfway and its
 * restart after the publishing, then every replica read back on its own node and compared with
 * the acks. Exit 0 only if no acked message is lost and no replica diverges.
 *
 * <p>Retries: a publish refused as "unavailable" (nothing was appended) or that could not reach
 * a node at all is retried on another node; one whose outcome is unknown (sent, no answer) is
 * not, so it is never stored twice — it counts as published, not acked.
 */
@Command(name = "demo", sortOptions = false,
    description = {"Publish acked messages to a 3-node cluster while SIGKILLing the stream leader; none may be lost.",
        "Reads every replica back and reports {\"published\",\"acked\",\"read\",\"lost\",...}; exit 1 if any was lost."})
final class DemoCommand extends CliCommand {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final int INFLIGHT = 64;

  @Option(names = "--msgs", paramLabel = "N", description = "Messages to publish (default ${DEFAULT-VALUE}).")
  int msgs = 20_000;
  @Option(names = "--kills", paramLabel = "LIST", split = ",",
      description = "Nodes to SIGKILL in turn, each leader or follower (default leader).")
  List<String> kills = List.of("leader");
  @Option(names = "--dir", paramLabel = "DIR", description = "Where the cluster lives (default ${DEFAULT-VALUE}).")
  Path dirOption = Path.of("run/demo");
  @Option(names = "--keep", description = "Leave the nodes running afterwards.")
  boolean keep;

  @Override
  public Integer call() throws Exception {
    PrintStream out = out();
    PrintStream err = err();
    between("--msgs", msgs, 10, 10_000_000);
    for (String k : kills) {
      if (!k.equals("leader") && !k.equals("follower")) {
        throw new UsageException("--kills takes a list of leader and follower, got '" + k + "'");
      }
    }
    Path dir = dirOption.toAbsolutePath().normalize();
    if (Files.exists(dir.resolve("cluster.json"))) {
      LocalCluster old = LocalCluster.open(dir);
      old.stopAll(err);
    }
    LocalCluster.deleteTree(dir);
    long started = System.nanoTime();
    err.println("demo: starting 3 nodes in " + dir + " ...");
    LocalCluster cluster = LocalCluster.openOrCreate(dir, 3);
    Thread killOnExit = cluster.killOnExit();
    try {
      cluster.startAll(err);
      err.printf("demo: cluster ready in %.1f s%n", (System.nanoTime() - started) / 1e9);
      NodeClient admin = new NodeClient(cluster.nodes.get(0).http());
      admin.callJson("POST", "/streams", NodeClient.streamConfig("demo", 3, "demo.>"));
      Report r = publish(cluster, msgs, kills, err);
      Map<Integer, List<String>> replicas = readBack(cluster, err);
      return report(r, replicas, out, err);
    } finally {
      if (!keep) {
        cluster.stopAll(err);
      }
      LocalCluster.keepOnExit(killOnExit);
    }
  }

  private static final class Report {
    long published;
    final ConcurrentHashMap<String, Long> acked = new ConcurrentHashMap<>();
    final AtomicLong unknown = new AtomicLong();
    final AtomicLong retries = new AtomicLong();
    final List<String> killed = new ArrayList<>();
    double seconds;
  }

  /**
   * Publishes {@code msgs} values; the i-th of {@code kills} happens after (i+1)/(kills+1) of
   * them: SIGKILL of the stream's leader or of a follower, which is restarted (in the background,
   * while publishing goes on) once it is dead. Returns when every publish is answered and every
   * killed node is back.
   */
  private static Report publish(LocalCluster cluster, int msgs, List<String> kills, PrintStream err) throws Exception {
    HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();
    Report r = new Report();
    Semaphore inflight = new Semaphore(INFLIGHT);
    Set<Integer> dead = ConcurrentHashMap.newKeySet();
    List<CompletableFuture<Void>> restarts = new ArrayList<>();
    long t0 = System.nanoTime();
    int nextKill = 0;
    for (int i = 1; i <= msgs; i++) {
      if (nextKill < kills.size() && i == (long) msgs * (nextKill + 1) / (kills.size() + 1) + 1) {
        for (CompletableFuture<Void> restart : restarts) {
          restart.get(); // one node down at a time
        }
        inflight.acquire(INFLIGHT); // let what is in flight settle so the kill lands mid-stream
        inflight.release(INFLIGHT);
        String role = kills.get(nextKill++);
        int victim = victim(cluster, role);
        dead.add(victim);
        long pid = cluster.kill(victim);
        r.killed.add(role + " node " + victim);
        err.printf("demo: %d acked; SIGKILLed the stream %s, node %d (pid %d); restarting it%n", r.acked.size(), role,
            victim, pid);
        restarts.add(CompletableFuture.runAsync(() -> {
          try {
            cluster.start(victim);
            cluster.awaitReady(List.of(cluster.node(victim)), err);
            dead.remove(victim);
            err.printf("demo: node %d is back%n", victim);
          } catch (Exception e) {
            throw new IllegalStateException("restarting node " + victim + ": " + e.getMessage(), e);
          }
        }, java.util.concurrent.Executors.newSingleThreadExecutor()));
      }
      inflight.acquire();
      String value = "m-" + i;
      send(http, cluster, dead, value, i, r, 0).whenComplete((v, e) -> inflight.release());
      r.published++;
    }
    inflight.acquire(INFLIGHT);
    r.seconds = (System.nanoTime() - t0) / 1e9;
    for (CompletableFuture<Void> restart : restarts) {
      restart.get();
    }
    err.printf("demo: published %d, acked %d in %.1f s (%d unknown outcome, %d retried)%n", r.published,
        r.acked.size(), r.seconds, r.unknown.get(), r.retries.get());
    return r;
  }

  /** The node of the demo stream's leader, or of one follower; asked of a live node. */
  private static int victim(LocalCluster cluster, String role) throws Exception {
    for (LocalCluster.Node n : cluster.nodes) {
      if (cluster.pid(n.id()).isEmpty()) {
        continue;
      }
      JsonNode info = new NodeClient(n.http()).call("GET", "/streams/demo", null);
      int leader = info.path("cluster").path("leader").asInt();
      if (leader == 0) {
        continue;
      }
      if (role.equals("leader")) {
        return leader;
      }
      for (JsonNode replica : info.path("cluster").path("replicas")) {
        if (replica.asInt() != leader) {
          return replica.asInt();
        }
      }
    }
    throw new IllegalStateException("the demo stream has no leader right now");
  }

  private static CompletableFuture<Void> send(HttpClient http, LocalCluster cluster, Set<Integer> dead, String value,
      int i, Report r, int attempt) {
    List<LocalCluster.Node> live = cluster.nodes.stream().filter(n -> !dead.contains(n.id())).toList();
    LocalCluster.Node node = live.get((i + attempt) % live.size());
    HttpRequest req = HttpRequest.newBuilder(URI.create(node.http() + "/pub/demo.values"))
        .timeout(Duration.ofSeconds(30)).POST(HttpRequest.BodyPublishers.ofString(value)).build();
    return http.sendAsync(req, HttpResponse.BodyHandlers.ofString()).handle((resp, failure) -> {
      if (failure != null) {
        // Could not talk to that node: if the request never left, retrying is safe; a dropped
        // connection after sending is ambiguous, and counts as unknown.
        if (failure.getCause() instanceof java.net.ConnectException && attempt < 50) {
          r.retries.incrementAndGet();
          return send(http, cluster, dead, value, i, r, attempt + 1);
        }
        r.unknown.incrementAndGet();
        return CompletableFuture.<Void>completedFuture(null);
      }
      try {
        JsonNode j = JSON.readTree(resp.body());
        if (resp.statusCode() == 200) {
          r.acked.put(value, j.get("seq").asLong());
        } else if (j.path("error").path("code").asText().equals("unavailable") && attempt < 50) {
          r.retries.incrementAndGet();
          return CompletableFuture.runAsync(() -> { }, CompletableFuture.delayedExecutor(100,
              java.util.concurrent.TimeUnit.MILLISECONDS)).thenCompose(v -> send(http, cluster, dead, value, i, r,
              attempt + 1));
        } else {
          r.unknown.incrementAndGet();
        }
      } catch (IOException e) {
        r.unknown.incrementAndGet();
      }
      return CompletableFuture.<Void>completedFuture(null);
    }).thenCompose(f -> f);
  }

  /** Each node's own replica, in sequence order, once all of them have applied the same last sequence. */
  private static Map<Integer, List<String>> readBack(LocalCluster cluster, PrintStream err) throws Exception {
    long deadline = System.nanoTime() + Duration.ofSeconds(90).toNanos();
    while (true) {
      Map<Integer, List<String>> replicas = new HashMap<>();
      for (LocalCluster.Node n : cluster.nodes) {
        replicas.put(n.id(), readReplica(n));
      }
      long distinctSizes = replicas.values().stream().mapToInt(List::size).distinct().count();
      if (distinctSizes == 1 || System.nanoTime() > deadline) {
        return replicas;
      }
      err.println("demo: waiting for the replicas to converge " + replicas.values().stream().map(List::size).toList());
      Thread.sleep(1000); // polling other processes; the sizes are the condition
    }
  }

  private static List<String> readReplica(LocalCluster.Node n) throws Exception {
    return new NodeClient(n.http()).readReplica("demo");
  }

  private static int report(Report r, Map<Integer, List<String>> replicas, PrintStream out, PrintStream err) {
    // The reference is the longest replica; any replica that is not identical to it diverges.
    List<String> reference = replicas.values().stream().max(java.util.Comparator.comparingInt(List::size)).orElseThrow();
    long divergent = replicas.values().stream().filter(v -> !v.equals(reference)).count();
    Map<String, Integer> count = new HashMap<>();
    reference.forEach(v -> count.merge(v, 1, Integer::sum));
    long duplicates = count.values().stream().filter(c -> c > 1).mapToLong(c -> c - 1).sum();
    long lost = 0;
    for (var e : r.acked.entrySet()) {
      int idx = (int) (e.getValue() - 1);
      if (idx >= reference.size() || !e.getKey().equals(reference.get(idx))) {
        lost++;
      }
    }
    out.printf("published %d messages to an R3 stream on 3 nodes (%.1f s); SIGKILLed and restarted: %s%n",
        r.published, r.seconds, String.join(", ", r.killed));
    out.printf("acked %d (each fsynced on a majority before its ack); %d without an answer (outcome unknown, not"
        + " retried); %d retried after a safe refusal%n", r.acked.size(), r.unknown.get(), r.retries.get());
    replicas.forEach((id, v) -> out.printf("node %d replica: %d messages%s%n", id, v.size(),
        v.equals(reference) ? "" : "  DIVERGES"));
    out.printf("lost %d, duplicates %d, divergent replicas %d: %s%n", lost, duplicates, divergent,
        lost == 0 && divergent == 0 ? "every acked message is on every replica" : "FAILED");
    out.println(JSON.createObjectNode().put("published", r.published).put("acked", r.acked.size())
        .put("read", reference.size()).put("lost", lost).put("duplicates", duplicates)
        .put("divergent_replicas", divergent));
    return lost == 0 && divergent == 0 ? 0 : 1;
  }
}
