package io.holdfast.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import io.holdfast.api.Holdfast;
import io.holdfast.api.HoldfastException;
import io.holdfast.api.Records;
import io.holdfast.local.LocalCluster;
import io.holdfast.local.NodeClient;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code holdfast bench capacity}: how a stream that outgrows memory behaves. Starts its own node
 * processes (each with {@code --heap}), fills one stream (or {@code --streams N}, round robin) with
 * {@code --gib} GiB through the Java API on an application node in this process, then restarts one follower (SIGKILL) and times it
 * until it serves and has caught up, then wipes one follower's disk and times its rejoin as a new
 * member (its replica fetches the stream from a peer's store), and reads samples of what was acked
 * back from every replica. In the same run it measures the disk's sequential 1 MiB append+fsync
 * rate: catch-up is read against it. Heap is the live set after a full GC ({@code jcmd}), per
 * node, the largest over nodes; write amplification is what the node processes wrote to disk
 * ({@code /proc/PID/io}) per payload byte per replica. The last line is JSON.
 */
@Command(name = "capacity", sortOptions = false,
    description = {"A stream that outgrows memory: fill it, restart a node, wipe one and time its rejoin, read",
        "samples back from every replica; heap, write amplification, catch-up vs raw disk."})
final class CapacityBench extends CliCommand.Reporting {
  private static final ObjectMapper JSON = new ObjectMapper();

  @Option(names = "--nodes", paramLabel = "N", description = "Node processes (default ${DEFAULT-VALUE}).")
  int nodes = 3;
  @Option(names = "--replicas", paramLabel = "R", description = "Replicas per stream (default ${DEFAULT-VALUE}).")
  int replicas = 3;
  @Option(names = "--gib", paramLabel = "GIB", description = "Payload to fill, in GiB (default ${DEFAULT-VALUE}).")
  double gib = 4;
  @Option(names = "--size", paramLabel = "B", description = "Payload bytes per message (default ${DEFAULT-VALUE}).")
  int size = 65536;
  @Option(names = "--subjects", paramLabel = "N", description = "Distinct subjects, round robin (default ${DEFAULT-VALUE}).")
  int subjects = 1;
  @Option(names = "--streams", paramLabel = "N", description = "Streams, round robin (default ${DEFAULT-VALUE}).")
  int streams = 1;
  @Option(names = "--heap", paramLabel = "SIZE", description = "Each node's -Xmx (default ${DEFAULT-VALUE}).")
  String heapOption = "256m";
  @Option(names = "--inflight", paramLabel = "N",
      description = "Publishes in flight (default: 4 MiB of payload, 64 to 1,024 publishes).")
  Integer inflightOption;
  @Option(names = "--dir", paramLabel = "DIR", description = "Where the cluster lives (default ${DEFAULT-VALUE}).")
  Path dirOption = Path.of("target/bench-capacity");
  @Option(names = "--keep", description = "Leave the nodes running and the files in place.")
  boolean keep;

  @Override
  public Integer call() throws Exception {
    PrintStream out = out();
    PrintStream err = err();
    between("--nodes", nodes, 1, 9);
    between("--replicas", replicas, 1, 5);
    if (replicas > nodes) {
      throw new UsageException("--replicas " + replicas + " needs at least that many --nodes");
    }
    if (!(gib > 0 && gib <= 1024)) {
      throw new UsageException("--gib must be above 0 and at most 1024, got " + gib);
    }
    between("--size", size, 16, 128 << 10);
    between("--subjects", subjects, 1, 10_000_000);
    between("--streams", streams, 1, 10_000);
    // In flight by default: 4 MiB of payload, 64 to 1,024 publishes (64 x 64 KiB; 1 KiB messages
    // at 64 in flight were round-trip bound at ~1,600 msgs/s, a 4 GiB fill would take 45 minutes).
    int inflight = between("--inflight", inflightOption != null ? inflightOption
        : Math.max(64, Math.min(1024, (4 << 20) / size)), 1, 100_000);
    String heap = LocalCluster.heap(heapOption);
    Path dir = dirOption.toAbsolutePath().normalize();
    long payloadBytes = (long) (gib * (1L << 30));
    long msgs = Math.max(1, payloadBytes / size);
    long free = Files.getFileStore(dir.getParent() == null ? dir : Files.createDirectories(dir.getParent()))
        .getUsableSpace();
    long needed = (long) (payloadBytes * replicas * 1.3) + (1L << 30);
    if (free < needed) {
      throw new UsageException("--gib " + gib + " with " + replicas + " replicas needs about " + (needed >> 20)
          + " MiB of disk under " + dir + ", only " + (free >> 20) + " MiB are free");
    }
    LocalCluster.deleteTree(dir);
    Files.createDirectories(dir);

    err.printf("bench capacity: raw 1 MiB append+fsync rate of %s ...%n", dir);
    double rawMbPerS = rawWrite(dir.resolve("raw-write.dat"));
    err.printf("bench capacity: raw sequential write with fsync: %.0f MB/s%n", rawMbPerS);

    LocalCluster cluster = LocalCluster.openOrCreate(dir.resolve("cluster"), nodes, false, heap);
    ObjectNode result = JSON.createObjectNode();
    ActorSystem<Void> app = null;
    int failures = 0;
    Thread killOnExit = cluster.killOnExit();
    try {
      cluster.startAll(err);
      app = ActorSystem.create(Behaviors.empty(), "holdfast", appConfig(cluster));
      Holdfast h = Holdfast.get(app);
      awaitCluster(h, err);
      // Up to 32 creates in flight: each waits for the meta commit and the new group's first
      // leader, ~1.5 s here, so one after another 1,000 streams took ~25 minutes.
      List<CompletableFuture<?>> creating = new ArrayList<>();
      for (int k = 0; k < streams; k++) {
        creating.add(h.createStream(new Records.StreamConfig(stream(k, streams), List.of(stream(k, streams) + ".>"),
            replicas)).toCompletableFuture());
        if (creating.size() == 32 || k == streams - 1) {
          CompletableFuture.allOf(creating.toArray(new CompletableFuture[0])).get(120, TimeUnit.SECONDS);
          creating.clear();
          err.printf("bench capacity: %d of %d streams created%n", k + 1, streams);
        }
      }
      Placement placement = new Placement(cluster, streams);
      long baseline = liveHeapMax(cluster);

      long[] seqs = new long[(int) Math.min(msgs, Integer.MAX_VALUE - 8)];
      long[] writtenBefore = writeBytes(cluster);
      long began = System.nanoTime();
      Fill fill = fill(h, msgs, size, subjects, inflight, seqs, placement, err);
      double fillSeconds = (System.nanoTime() - began) / 1e9;
      long[] writtenAfter = writeBytes(cluster);
      long heapEnd = settledLiveHeap(placement, err);
      long written = 0;
      for (int i = 0; i < writtenAfter.length; i++) {
        written += writtenAfter[i] - writtenBefore[i];
      }
      double ackedPayload = (double) fill.acked.get() * size;
      result.put("gib", gib).put("msgs", fill.acked.get()).put("size", size).put("replicas", replicas)
          .put("nodes", nodes).put("streams", streams).put("subjects", subjects).put("heap_mb", heapMb(heap))
          .put("fill_mb_per_s", round(ackedPayload / 1e6 / fillSeconds))
          .put("raw_write_mb_per_s", round(rawMbPerS))
          .put("unknown_outcomes", fill.unknown.get())
          .put("live_heap_mb_before", round(baseline / 1048576.0))
          .put("live_heap_mb_at_10pct", round(fill.heapAt10 / 1048576.0))
          .put("live_heap_mb_at_end", round(heapEnd / 1048576.0))
          .put("write_amplification", round(written / Math.max(1, ackedPayload * replicas)));
      if (subjects > 1) {
        result.put("heap_bytes_per_subject", Math.round((double) (heapEnd - baseline) / subjects));
      }
      err.printf("bench capacity: filled %d messages (%.0f MB) in %.0f s%n", fill.acked.get(), ackedPayload / 1e6,
          fillSeconds);

      // The nodes restarted and wiped hold the first stream without leading it.
      JsonNode info = placement.info(0);
      int leader = info.path("cluster").path("leader").asInt();
      List<Integer> followers = new ArrayList<>();
      info.path("cluster").path("replicas").forEach(r -> {
        if (r.asInt() != leader) {
          followers.add(r.asInt());
        }
      });
      if (replicas > 1 && !followers.isEmpty()) {
        int restarted = followers.get(0);
        err.printf("bench capacity: SIGKILL node %d, then start it and wait until it serves and caught up ...%n",
            restarted);
        cluster.kill(restarted);
        long t0 = System.nanoTime();
        cluster.start(restarted);
        cluster.awaitReady(List.of(cluster.node(restarted)), err);
        awaitCaughtUp(placement, restarted, err);
        result.put("restart_s", round((System.nanoTime() - t0) / 1e9));

        int wiped = followers.get(followers.size() - 1);
        err.printf("bench capacity: wipe node %d and time its rejoin as a new member ...%n", wiped);
        cluster.kill(wiped);
        LocalCluster.deleteTree(dir.resolve("cluster").resolve("node" + wiped).resolve("data"));
        long t1 = System.nanoTime();
        cluster.start(wiped);
        cluster.awaitReady(List.of(cluster.node(wiped)), err);
        awaitCaughtUp(placement, wiped, err);
        double seconds = (System.nanoTime() - t1) / 1e9;
        result.put("rejoin_s", round(seconds)).put("catchup_mb_per_s", round(ackedPayload / 1e6 / seconds));
      }
      long[] lost = verify(placement, seqs, fill.acked.get(), size, err);
      result.put("samples", lost[2]).put("lost", lost[0]).put("lost_on_replica", lost[1]);
    } catch (NodeDied e) {
      // The figures so far and node_failures still print: a dead node is a result, not a crash.
      err.printf("bench capacity: stopped: %s%n", e.getMessage());
      result.put("error", e.getMessage());
    } finally {
      if (app != null) {
        app.terminate();
        app.getWhenTerminated().toCompletableFuture().get(30, TimeUnit.SECONDS);
      }
      failures = nodeFailures(cluster);
      if (!keep) {
        cluster.stopAll(err);
      }
      LocalCluster.keepOnExit(killOnExit);
    }
    result.put("node_failures", failures);
    out.printf("bench capacity: %s%n", result.toPrettyString());
    if (json) {
      out.println(result);
    }
    if (!keep) {
      LocalCluster.deleteTree(dir);
    }
    return failures == 0 && result.path("lost").asLong() == 0 && !result.has("error") ? 0 : 1;
  }

  /** A node process the benchmark waits on is gone. */
  private static final class NodeDied extends RuntimeException {
    NodeDied(String message) {
      super(message);
    }
  }

  private static double round(double v) {
    return Math.round(v * 100) / 100.0;
  }

  private static long heapMb(String heap) {
    long n = Long.parseLong(heap.substring(0, heap.length() - 1));
    return heap.endsWith("g") ? n * 1024 : n;
  }

  /** MB/s of 1 MiB appends each followed by fsync, for about two seconds (at least 64 MiB). */
  static double rawWrite(Path file) throws IOException {
    ByteBuffer chunk = ByteBuffer.allocateDirect(1 << 20);
    new java.util.Random(1).ints(1 << 18).forEach(chunk::putInt);
    long written = 0;
    long began = System.nanoTime();
    try (FileChannel ch = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
        StandardOpenOption.TRUNCATE_EXISTING)) {
      while (written < (64L << 20) || System.nanoTime() - began < 2_000_000_000L) {
        chunk.clear();
        while (chunk.hasRemaining()) {
          ch.write(chunk);
        }
        ch.force(false);
        written += 1 << 20;
      }
    } finally {
      Files.deleteIfExists(file);
    }
    return written / 1e6 / ((System.nanoTime() - began) / 1e9);
  }

  /** An application node of the cluster (Holdfast node id 0) in this process. */
  private static Config appConfig(LocalCluster c) {
    StringBuilder seeds = new StringBuilder();
    for (LocalCluster.Node n : c.nodes.subList(0, Math.min(3, c.nodes.size()))) {
      seeds.append(seeds.length() == 0 ? "" : ", ").append(n.artery());
    }
    return ConfigFactory.parseString("""
        pekko.loglevel = WARNING
        pekko.actor.provider = cluster
        pekko.remote.artery.canonical.hostname = "127.0.0.1"
        pekko.remote.artery.canonical.port = 0
        pekko.cluster.seed-nodes = [%s]
        pekko.cluster.roles = []
        # the nodes' downing provider (conf/holdfast.conf): Pekko refuses a member that differs
        pekko.cluster.downing-provider-class = "io.holdfast.server.MajorityDowning"
        pekko.coordinated-shutdown.exit-jvm = off
        holdfast.node.id = 0
        holdfast.client.request-timeout = 10s
        """.formatted(seeds)).withFallback(ConfigFactory.load());
  }

  private static void awaitCluster(Holdfast h, PrintStream err) throws Exception {
    long deadline = System.nanoTime() + 120_000_000_000L;
    while (true) {
      try {
        if (h.clusterStatus().toCompletableFuture().get(10, TimeUnit.SECONDS).metaIndex() > 0) {
          return;
        }
      } catch (Exception e) {
        if (System.nanoTime() > deadline) {
          throw new IllegalStateException("the application node did not see the cluster in 120 s: " + e);
        }
      }
      Thread.sleep(200); // polling the cluster's state: there is no event to wait on from here
    }
  }

  private static final class Fill {
    final AtomicLong acked = new AtomicLong();
    final AtomicLong unknown = new AtomicLong();
    volatile Throwable lastFailure;
    long heapAt10;
  }

  /** The payload of message {@code i}: its number, then a pattern of it (every replica must read exactly this). */
  static byte[] payload(long i, int size) {
    byte[] p = new byte[size];
    ByteBuffer b = ByteBuffer.wrap(p);
    b.putLong(0, i);
    for (int at = 8; at + 8 <= size; at += 8) {
      b.putLong(at, i * 0x9E3779B97F4A7C15L + at);
    }
    return p;
  }

  private static Fill fill(Holdfast h, long msgs, int size, int subjects, int inflight, long[] seqs,
      Placement placement, PrintStream err) throws Exception {
    Fill f = new Fill();
    Semaphore window = new Semaphore(inflight);
    long lastNote = System.nanoTime();
    long tenth = Math.max(1, msgs / 10);
    for (long i = 0; i < msgs; i++) {
      window.acquire();
      long n = i;
      String subject = placement.streamOf(i) + "." + (i % subjects);
      publishRetrying(h, subject, payload(i, size), 0).whenComplete((ack, e) -> {
        if (e == null) {
          if (n < seqs.length) {
            seqs[(int) n] = ack.seq();
          }
          f.acked.incrementAndGet();
        } else {
          f.unknown.incrementAndGet();
          f.lastFailure = e;
        }
        window.release();
      });
      if (i + 1 == tenth) {
        window.acquire(inflight);
        f.heapAt10 = settledLiveHeap(placement, err);
        window.release(inflight);
      }
      if (System.nanoTime() - lastNote > 5_000_000_000L) {
        Throwable failure = f.lastFailure;
        err.printf("bench capacity: %d of %d messages acked (%.0f%%)%s%n", f.acked.get(), msgs, 100.0 * i / msgs,
            failure == null ? "" : "; " + f.unknown.get() + " failed, the last with: " + failure);
        lastNote = System.nanoTime();
      }
    }
    window.acquire(inflight);
    return f;
  }

  /**
   * A publish, tried again while the cluster says nothing was done ({@code unavailable}: e.g.
   * storage pushing back); an outcome that is unknown is not retried (it may have been stored).
   */
  private static CompletableFuture<Records.PubAck> publishRetrying(Holdfast h, String subject, byte[] payload,
      int attempt) {
    return h.publish(subject, null, payload).toCompletableFuture().handle((ack, e) -> {
      Throwable cause = e instanceof java.util.concurrent.CompletionException ? e.getCause() : e;
      if (cause instanceof HoldfastException.Unavailable && attempt < 100) {
        CompletableFuture<Records.PubAck> again = new CompletableFuture<>();
        CompletableFuture.delayedExecutor(50, TimeUnit.MILLISECONDS).execute(() ->
            publishRetrying(h, subject, payload, attempt + 1).whenComplete((a2, e2) -> {
              if (e2 != null) {
                again.completeExceptionally(e2);
              } else {
                again.complete(a2);
              }
            }));
        return again;
      }
      return e != null ? CompletableFuture.<Records.PubAck>failedFuture(cause) : CompletableFuture.completedFuture(ack);
    }).thenCompose(x -> x);
  }

  /**
   * The live heap once every replica has applied what the leader committed (nothing in flight, so
   * two measurements compare like with like), the largest over the nodes.
   */
  private static long settledLiveHeap(Placement p, PrintStream err) throws Exception {
    for (LocalCluster.Node n : p.cluster.nodes) {
      awaitCaughtUp(p, n.id(), err);
    }
    return liveHeapMax(p.cluster);
  }

  /** The live heap (after a full GC) of each running node, the largest; via jcmd. */
  static long liveHeapMax(LocalCluster c) throws Exception {
    long max = 0;
    for (LocalCluster.Node n : c.nodes) {
      var pid = c.pid(n.id());
      if (pid.isPresent()) {
        max = Math.max(max, liveHeap(pid.get()));
      }
    }
    return max;
  }

  static long liveHeap(long pid) throws Exception {
    jcmd(pid, "GC.run");
    String info = jcmd(pid, "GC.heap_info");
    // G1 and Parallel: "total 1234K, used 567K"; ZGC: "used 58M"; Shenandoah: "58M used".
    for (String pattern : List.of("total \\d+K, used (\\d+)([KMG])", "used (\\d+)([KMG])", "(\\d+)([KMG]) used")) {
      java.util.regex.Matcher m = java.util.regex.Pattern.compile(pattern).matcher(info);
      if (m.find()) {
        return Long.parseLong(m.group(1)) << (10 * ("KMG".indexOf(m.group(2)) + 1));
      }
    }
    throw new IllegalStateException("cannot read the heap of process " + pid + " from jcmd: " + info);
  }

  private static String jcmd(long pid, String command) throws Exception {
    Path jcmd = Path.of(System.getProperty("java.home"), "bin", "jcmd");
    Process p = new ProcessBuilder(jcmd.toString(), Long.toString(pid), command).redirectErrorStream(true).start();
    String text = new String(p.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
    if (!p.waitFor(60, TimeUnit.SECONDS) || p.exitValue() != 0) {
      throw new IllegalStateException("jcmd " + pid + " " + command + " failed: " + text);
    }
    return text;
  }

  /** Bytes each node process caused to be written to storage so far ({@code write_bytes} of /proc/PID/io). */
  static long[] writeBytes(LocalCluster c) throws IOException {
    long[] out = new long[c.nodes.size()];
    for (int i = 0; i < c.nodes.size(); i++) {
      var pid = c.pid(c.nodes.get(i).id());
      if (pid.isPresent()) {
        for (String line : Files.readAllLines(Path.of("/proc", pid.get().toString(), "io"))) {
          if (line.startsWith("write_bytes:")) {
            out[i] = Long.parseLong(line.substring(12).trim());
          }
        }
      }
    }
    return out;
  }

  /**
   * Waits until node {@code id}'s replica of every stream has applied what that stream's leader had
   * committed when the wait began, lacks nothing in its store, and is a voter.
   */
  private static void awaitCaughtUp(Placement p, int id, PrintStream err) throws Exception {
    long deadline = System.nanoTime() + TimeUnit.MINUTES.toNanos(30);
    Map<String, Long> target = new HashMap<>();
    while (target.size() < p.streams) { // every stream's leader, once each has one that answers
      for (Map.Entry<String, JsonNode> e : leaders(replicasByNode(p.cluster)).entrySet()) {
        target.putIfAbsent(e.getKey(), e.getValue().path("commit").asLong());
      }
      if (System.nanoTime() > deadline) {
        throw new IllegalStateException("only " + target.size() + " of " + p.streams + " streams have a leader");
      }
      if (target.size() < p.streams) {
        Thread.sleep(pollMillis(p)); // polling other processes' state: there is no event to wait on
      }
    }
    long lastNote = System.nanoTime();
    while (true) {
      if (p.cluster.pid(id).isEmpty()) {
        throw new NodeDied("node " + id + " is not running (see " + p.cluster.log(id) + ")");
      }
      Map<Integer, Map<String, JsonNode>> byNode = replicasByNode(p.cluster); // one /health per node a round
      Map<String, JsonNode> mine = byNode.getOrDefault(id, Map.of());
      Map<String, JsonNode> leaders = leaders(byNode);
      int behind = 0;
      String example = "";
      for (Map.Entry<String, Long> e : target.entrySet()) {
        JsonNode r = mine.get(e.getKey());
        JsonNode leader = leaders.get(e.getKey());
        boolean voter = false;
        if (r != null && leader != null) {
          for (JsonNode v : leader.path("voters")) {
            voter |= v.asInt() == r.path("id").asInt();
          }
        }
        if (r == null || r.path("applied").asLong() < e.getValue() || r.path("store_missing").asLong() != 0 || !voter) {
          if (behind++ == 0) {
            example = e.getKey() + (r == null ? " not running" : " applied " + r.path("applied").asLong() + " of "
                + e.getValue() + (voter ? "" : " (not a voter yet)"));
          }
        }
      }
      if (behind == 0) {
        return;
      }
      if (System.nanoTime() > deadline) {
        throw new IllegalStateException("node " + id + " did not catch up in 30 minutes: " + example);
      }
      if (System.nanoTime() - lastNote > 5_000_000_000L) {
        err.printf("bench capacity: node %d: %d of %d streams behind, e.g. %s%n", id, behind, target.size(), example);
        lastNote = System.nanoTime();
      }
      Thread.sleep(pollMillis(p)); // polling other processes' state: there is no event to wait on
    }
  }

  /**
   * Between two rounds of /health calls: each asks every replica of every node for its status, so
   * with 1,000 streams a round at 200 ms kept 15,000 asks a second going on two cores and slowed
   * the very restart it timed. 1 ms per stream, 200 ms at least.
   */
  private static long pollMillis(Placement p) {
    return Math.max(200, p.streams);
  }

  /** Each running node's replicas of the benchmark's streams, by node id. */
  private static Map<Integer, Map<String, JsonNode>> replicasByNode(LocalCluster c) throws Exception {
    Map<Integer, Map<String, JsonNode>> out = new HashMap<>();
    for (LocalCluster.Node n : c.nodes) {
      if (c.pid(n.id()).isPresent()) {
        out.put(n.id(), streamReplicas(c, n.id()));
      }
    }
    return out;
  }

  /** Each stream's leading replica, by group. */
  private static Map<String, JsonNode> leaders(Map<Integer, Map<String, JsonNode>> byNode) {
    Map<String, JsonNode> out = new HashMap<>();
    byNode.values().forEach(replicas -> replicas.forEach((g, r) -> {
      if (r.path("role").asText().equals("leader")) {
        out.put(g, r);
      }
    }));
    return out;
  }

  /** Node {@code id}'s replicas of the benchmark's streams, by group, as its /health shows them. */
  private static Map<String, JsonNode> streamReplicas(LocalCluster c, int id) throws Exception {
    Map<String, JsonNode> out = new HashMap<>();
    JsonNode health;
    try {
      health = new NodeClient(c.node(id).http()).call("GET", "/health", null);
    } catch (NodeClient.ServerError e) {
      return out; // starting (503): nothing to report yet; the caller polls again
    }
    for (var it = health.path("replicas").fields(); it.hasNext(); ) {
      var e = it.next();
      if (e.getKey().startsWith("cap")) {
        out.put(e.getKey(), e.getValue());
      }
    }
    return out;
  }

  /** The benchmark's streams: names, and which nodes hold each (asked once, then kept). */
  private static final class Placement {
    final LocalCluster cluster;
    final int streams;
    private final Map<Integer, JsonNode> info = new HashMap<>();

    Placement(LocalCluster cluster, int streams) {
      this.cluster = cluster;
      this.streams = streams;
    }

    String streamOf(long message) {
      return stream((int) (message % streams), streams);
    }

    JsonNode info(int k) throws Exception {
      JsonNode i = info.get(k);
      if (i == null) {
        i = new NodeClient(cluster.nodes.get(0).http()).call("GET", "/streams/" + stream(k, streams), null);
        info.put(k, i);
      }
      return i;
    }

    List<LocalCluster.Node> holders(long message) throws Exception {
      List<LocalCluster.Node> out = new ArrayList<>();
      info((int) (message % streams)).path("cluster").path("replicas").forEach(r -> out.add(cluster.node(r.asInt())));
      return out;
    }
  }

  private static String stream(int k, int streams) {
    return streams == 1 ? "cap" : "cap" + k;
  }

  /**
   * Reads up to 2,000 acked messages, spread over the stream, back from every node's own replica
   * and compares them byte for byte. Returns {lost everywhere, lost on some replica, samples}.
   */
  private static long[] verify(Placement placement, long[] seqs, long acked, int size, PrintStream err)
      throws Exception {
    int filled = (int) Math.min(acked, seqs.length);
    long samples = Math.min(2000, filled);
    long lost = 0;
    long lostOnReplica = 0;
    err.printf("bench capacity: reading %d acked messages back from every replica ...%n", samples);
    for (long k = 0; k < samples; k++) {
      int i = (int) (k * filled / samples);
      if (seqs[i] == 0) {
        continue; // its outcome was unknown
      }
      byte[] want = payload(i, size);
      int have = 0;
      List<LocalCluster.Node> holders = placement.holders(i);
      for (LocalCluster.Node n : holders) {
        JsonNode page = readOne(new NodeClient(n.http()), "/streams/" + placement.streamOf(i) + "/local?from="
            + seqs[i] + "&max=1", err).path("messages");
        if (page.size() == 1 && page.get(0).path("seq").asLong() == seqs[i]
            && java.util.Arrays.equals(want, data(page.get(0)))) {
          have++;
        }
      }
      if (have == 0) {
        lost++;
      } else if (have < holders.size()) {
        lostOnReplica++;
      }
    }
    return new long[] {lost, lostOnReplica, samples};
  }

  /**
   * One local read, tried up to three times: a node that has just caught up a thousand replicas
   * can leave one answer past the client's 30 s timeout (seen once at --streams 1000 --gib 2).
   */
  private static JsonNode readOne(NodeClient c, String path, PrintStream err) throws Exception {
    for (int attempt = 1; ; attempt++) {
      try {
        return c.call("GET", path, null);
      } catch (java.net.http.HttpTimeoutException e) {
        if (attempt == 3) {
          throw e;
        }
        err.printf("bench capacity: %s%s timed out; reading it again%n", c.server(), path);
      }
    }
  }

  private static byte[] data(JsonNode m) {
    return m.path("encoding").asText("").equals("base64") ? Base64.getDecoder().decode(m.path("data").asText())
        : m.path("data").asText().getBytes(java.nio.charset.StandardCharsets.UTF_8);
  }

  /** Nodes whose process died on its own, or whose log shows an OutOfMemoryError. */
  private static int nodeFailures(LocalCluster c) throws IOException {
    int failures = 0;
    for (LocalCluster.Node n : c.nodes) {
      String log = Files.exists(c.log(n.id())) ? Files.readString(c.log(n.id())) : "";
      if (c.pid(n.id()).isEmpty() || log.contains("OutOfMemoryError")) {
        failures++;
      }
    }
    return failures;
  }
}
