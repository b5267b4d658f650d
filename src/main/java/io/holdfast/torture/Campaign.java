package io.holdfast.torture;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.holdfast.base.Prng;
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
import java.util.Collections;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * One run of the fault campaign: starts the cluster, creates the stream and its consumer, runs the
 * {@link Workload} while the {@link Nemesis} injects faults, heals everything, reads every node's
 * replica, counts the history ({@link Checker}) and writes the {@link Report}. It also keeps what
 * the faults share: which nodes are down, which refused to open, and how to restart, wipe and
 * replace nodes as an operator (or a supervisor) would.
 */
public final class Campaign {
  /** Every fault family, as {@code --faults} names them. */
  public static final List<String> FAULTS = Nemesis.names();
  /** Every family {@code --faults} takes: those of {@code all}, and those run only when named. */
  public static final List<String> KNOWN_FAULTS = Nemesis.known();
  static final String STREAM = "torture";
  static final String CONSUMER = "readers";
  private static final ObjectMapper JSON = new ObjectMapper();

  /**
   * A run's parameters: see {@code holdfast torture --help}. {@code overNats}: the clients
   * (publishers, readers) are NATS clients, else HTTP clients ({@link Workload}).
   */
  public record Options(int nodes, int replicas, int seconds, int rate, List<String> faults, long seed, Path dir,
      boolean keep, boolean overNats) {}

  /** What a run found. */
  public record Result(Checker.Counts counts, long published, long unknown, long failed, long consumed,
      int faultsInjected, String faultCounts, int refusals, double maxUnavailableSeconds, double majorityUpSeconds,
      double loadSeconds, Path report) {
    /**
     * Acks per second of load: the load runs until the faults are over, which for an operation
     * (a rolling restart, a drain) is well past {@code --seconds}.
     */
    public double ackedPerSecond() {
      return loadSeconds <= 0 ? 0 : Math.round(counts.acked() * 10.0 / loadSeconds) / 10.0;
    }
  }

  /** A fault window for the report: seconds since the start, and what it was. */
  record Window(double start, double end, String what) {}

  final LocalCluster cluster;
  final Prng prng;
  final PrintStream err;
  final int replicas;
  final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2))
      .version(HttpClient.Version.HTTP_1_1).build();
  final List<Window> windows = Collections.synchronizedList(new ArrayList<>());
  final Set<Integer> down = ConcurrentHashMap.newKeySet();
  /**
   * Nodes whose storage refused to open after damage (fail-stop, D5/D6), until the operator's
   * remedy: {@link #replaceRefused} gives each a new disk, and it comes back as a new member (D9).
   */
  final Map<Integer, String> refused = new ConcurrentHashMap<>();
  /** How many times a node refused to open, over the run. */
  final AtomicInteger refusals = new AtomicInteger();
  final Availability availability = new Availability(this);
  private long t0 = System.nanoTime();

  private Campaign(LocalCluster cluster, long seed, int replicas, PrintStream err) {
    this.cluster = cluster;
    this.prng = Prng.of(seed);
    this.replicas = replicas;
    this.err = err;
  }

  /** Runs the campaign; progress on {@code err}. Partitions need {@link Network#unavailable} to be null. */
  public static Result run(Options o, PrintStream err) throws Exception {
    List<Fault> faults = Nemesis.faults(o.faults());
    boolean partitions = o.faults().contains("partition") || o.faults().contains("split-brain");
    Path dir = o.dir().toAbsolutePath().normalize();
    if (Files.exists(dir.resolve("cluster.json"))) {
      LocalCluster.open(dir).stopAll(err);
    }
    LocalCluster.deleteTree(dir);
    err.printf("torture: %d nodes, R%d stream, %d s at %d publishes/s over %s, faults %s, seed %d, in %s%n",
        o.nodes(), o.replicas(), o.seconds(), o.rate(), o.overNats() ? "NATS" : "HTTP", String.join(",", o.faults()),
        o.seed(), dir);
    LocalCluster cluster = LocalCluster.openOrCreate(dir, o.nodes(), true);
    Campaign c = new Campaign(cluster, o.seed(), o.replicas(), err);
    Workload workload = new Workload(c, o.overNats());
    Thread killOnExit = cluster.killOnExit();
    try {
      if (partitions) {
        String note = Network.setUp();
        if (note != null) {
          err.println("torture: " + note);
        }
      }
      cluster.startAll(err);
      c.setUp("/streams", NodeClient.streamConfig(STREAM, o.replicas(), STREAM + ".>"), "stream_exists");
      c.setUp("/streams/" + STREAM + "/consumers", JSON.createObjectNode().put("name", CONSUMER).put("ack_wait", "10s"),
          "consumer_exists");
      c.t0 = System.nanoTime();
      workload.start(o.rate());
      c.availability.start();
      new Nemesis(c, faults).run(o.seconds());
      workload.stop();
      double loadSeconds = Math.round(c.now() * 10) / 10.0;
      c.availability.stop();
      c.heal();
      Checker.Counts counts = c.check(workload);
      Path report = new Report(c, workload).write(counts, o);
      return new Result(counts, workload.published.get(), workload.unknown.size(), workload.failed.get(),
          workload.consumed.get(), c.windows.size(), c.faultCounts(), c.refusals.get(),
          c.availability.maxUnavailableSeconds(), c.availability.majorityUpSeconds(o.seconds()), loadSeconds, report);
    } finally {
      workload.stopped.set(true);
      workload.close();
      if (partitions) {
        Network.tearDown();
      }
      cluster.resumeAll();
      if (!o.keep()) {
        cluster.stopAll(err);
      }
      LocalCluster.keepOnExit(killOnExit);
    }
  }

  /**
   * Creates what the campaign uses (POST {@code path}), node after node, until one takes it (60 s at
   * most): a fresh cluster may still be settling (two halves that formed side by side, one of them
   * restarting to join the other, closed the first request's connection). {@code exists}, the
   * error of a second create, means an earlier attempt took effect and its answer was lost.
   */
  private void setUp(String path, JsonNode body, String exists) throws Exception {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
    for (int i = 0; ; i++) {
      try {
        new NodeClient(cluster.nodes.get(i % cluster.nodes.size()).http()).callJson("POST", path, body);
        return;
      } catch (NodeClient.ServerError e) {
        if (e.code().equals(exists) && i > 0) {
          return;
        }
        if ((!e.code().equals("unavailable") && !e.code().equals("outcome_unknown")) || System.nanoTime() > deadline) {
          throw e;
        }
      } catch (IOException e) {
        if (System.nanoTime() > deadline) {
          throw e;
        }
      }
      sleepMillis(500);
    }
  }

  /** Seconds since the workload started. */
  double now() {
    return secondsAt(System.nanoTime());
  }

  /** Seconds from the workload's start to {@code nanoTime}. */
  double secondsAt(long nanoTime) {
    return (nanoTime - t0) / 1e9;
  }

  static void sleepMillis(long millis) {
    try {
      Thread.sleep(millis); // the nemesis's schedule and client pacing, not a wait for a condition
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  /** Records a fault window and says so on the progress stream. */
  void window(double start, String what) {
    windows.add(new Window(start, now(), what));
    // The wall clock too, to line the fault up with the nodes' logs.
    err.printf("torture: %.1f s (%s): %s%n", now(),
        java.time.LocalTime.now().truncatedTo(java.time.temporal.ChronoUnit.MILLIS), what);
  }

  // =========================================================================================
  // Nodes, as an operator sees them
  // =========================================================================================

  Path dataDir(int id) {
    return cluster.dir.resolve("node" + id).resolve("data");
  }

  List<Integer> allIds() {
    List<Integer> ids = new ArrayList<>();
    cluster.nodes.forEach(x -> ids.add(x.id()));
    return ids;
  }

  /** Nodes whose storage has not refused to open. */
  List<Integer> live() {
    List<Integer> ids = new ArrayList<>();
    for (int id : allIds()) {
      if (!refused.containsKey(id)) {
        ids.add(id);
      }
    }
    return ids;
  }

  int randomLiveNode() {
    List<Integer> up = new ArrayList<>();
    for (int id : live()) {
      if (!down.contains(id)) {
        up.add(id);
      }
    }
    return up.isEmpty() ? live().get(0) : up.get(prng.nextInt(up.size()));
  }

  /** The stream's leader as some live node sees it, else a random node. */
  int leaderOrAny() {
    for (LocalCluster.Node node : cluster.nodes) {
      try {
        HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create(node.http() + "/streams/" + STREAM))
            .timeout(Duration.ofSeconds(2)).build(), HttpResponse.BodyHandlers.ofString());
        int leader = JSON.readTree(r.body()).path("cluster").path("leader").asInt();
        if (leader > 0) {
          return leader;
        }
      } catch (Exception e) {
        // ask the next node
      }
    }
    return randomLiveNode();
  }

  /** Whether node {@code id} serves and none of its replicas is still recovering a cut-off WAL tail. */
  boolean recovered(int id) {
    return LocalCluster.healthy(http, cluster.node(id), true);
  }

  private void refuse(int id, String why) {
    refused.put(id, why);
    refusals.incrementAndGet();
  }

  /** The node's own last word on why it stopped (its "failed to start" line), from its log. */
  String whyExited(int id) {
    return LocalCluster.tail(cluster.log(id), 40).lines().filter(l -> l.contains("failed to start"))
        .reduce((x, y) -> y).orElse("exited");
  }

  /**
   * A live node that is not running although the nemesis did not stop it has exited by itself:
   * refused, if its storage would not open (down until {@link #replaceRefused}). Any other exit is
   * not expected (a node the cluster downs starts a new ActorSystem in its own process); it is
   * recorded, and the node started again, as its supervisor would.
   */
  void noticeExits() throws Exception {
    for (int id : live()) {
      if (!down.contains(id) && cluster.pid(id).isEmpty()) {
        String why = whyExited(id);
        if (why.contains("failed to start")) {
          refuse(id, why);
          windows.add(new Window(now(), now(), "refused: node " + id + ": " + why));
          err.printf("torture: %.1f s: node %d refused to open: %s%n", now(), id, why);
        } else {
          windows.add(new Window(now(), now(), "exited: node " + id + " exited by itself; started again"));
          err.printf("torture: %.1f s: node %d exited by itself; starting it again%n", now(), id);
          restart(List.of(id), false);
        }
      }
    }
  }

  /**
   * What an operator does with a node whose storage refuses to open: replaces its disk. The
   * data directory is wiped and the node started again; with {@code holdfast.node.rejoin} on it
   * registers the new disk and each of its replicas comes back as a new member, caught up from
   * the others before the next fault (as after the membership fault).
   */
  void replaceRefused() throws Exception {
    for (int id : List.copyOf(refused.keySet())) {
      double start = now();
      refused.remove(id);
      wipeAndRestart(id);
      boolean caughtUp = cluster.pid(id).isPresent() && awaitCaughtUp(id);
      window(start, "replaced: node " + id + "'s refused disk wiped; back as a new member"
          + (caughtUp ? ", caught up" : ", NOT caught up within 90 s"));
    }
  }

  /** A stopped node's data directory deleted, and the node started again: it rejoins with a new disk. */
  void wipeAndRestart(int id) throws Exception {
    down.add(id);
    LocalCluster.deleteTree(dataDir(id));
    restart(List.of(id), true);
  }

  /**
   * Until node {@code id}'s own replica holds what the leader held when this began (90 s at
   * most); at once if the stream is not placed there (with spare nodes it may have grown elsewhere).
   */
  boolean awaitCaughtUp(int id) {
    long target = -1;
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(90);
    while (System.nanoTime() < deadline) {
      try {
        NodeClient node = new NodeClient(cluster.node(id).http());
        JsonNode info = node.call("GET", "/streams/" + STREAM, null);
        if (!placement(info).contains(id)) {
          return true;
        }
        if (target < 0) {
          target = info.path("state").path("last_seq").asLong(-1);
        }
        if (target >= 0 && node.readReplica(STREAM).size() >= target) {
          return true;
        }
      } catch (Exception e) {
        // not serving yet, or no replica there yet
      }
      sleepMillis(500); // another process's progress is the condition
    }
    return false;
  }

  /**
   * Starts nodes again. With {@code wait} (after damage, and when healing), waits up to 90 s until
   * each serves or has exited; one that exits is refused (its storage would not open: it stays
   * down, as an operator would leave it until replacing the node). Without, the faults go on while
   * the nodes rejoin; a node that exits anyway is found when healing. Nodes started when none runs
   * form the cluster anew by themselves, in whatever order they come up (ClusterFormation).
   */
  void restart(List<Integer> ids, boolean wait) throws Exception {
    for (int id : ids) {
      cluster.start(id);
    }
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(90);
    List<Integer> waiting = new ArrayList<>(wait ? ids : List.of());
    while (!waiting.isEmpty() && System.nanoTime() < deadline) {
      for (int id : new ArrayList<>(waiting)) {
        if (cluster.pid(id).isEmpty()) {
          String why = whyExited(id);
          if (why.contains("failed to start")) {
            refuse(id, why);
          }
          waiting.remove((Integer) id);
        } else if (LocalCluster.healthy(http, cluster.node(id))) {
          waiting.remove((Integer) id);
        }
      }
      sleepMillis(250); // polling other processes: their health is the condition
    }
    for (int id : ids) {
      down.remove(id);
    }
  }

  // =========================================================================================
  // The stream, through the API
  // =========================================================================================

  /** Sets the stream's replica count; returns once the stream's leader applied it. */
  void setReplicas(List<Integer> via, int count) throws Exception {
    call(via, "PUT", "/streams/" + STREAM, JSON.writeValueAsBytes(JSON.createObjectNode().put("replicas", count)));
  }

  /**
   * An idempotent API call through one of {@code via} after another, made again while the
   * answer is an error — no leader yet, one changing, the meta group changing its own
   * membership — for 60 s at most; then every node's view is logged and the error thrown.
   */
  private JsonNode call(List<Integer> via, String method, String path, byte[] body) throws Exception {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
    for (int attempt = 0; ; attempt++) {
      NodeClient c = new NodeClient(cluster.node(via.get(attempt % via.size())).http());
      try {
        return c.call(method, path, body);
      } catch (NodeClient.ServerError | IOException e) {
        if (System.nanoTime() > deadline) {
          for (LocalCluster.Node node : cluster.nodes) { // what each replica thought, for the log
            try {
              for (String what : List.of("/health", "/streams/" + STREAM)) {
                err.println("torture: node " + node.id() + " " + what + ": " + http.send(HttpRequest.newBuilder(
                    URI.create(node.http() + what)).timeout(Duration.ofSeconds(10)).build(),
                    HttpResponse.BodyHandlers.ofString()).body());
              }
            } catch (IOException unreachable) {
              err.println("torture: node " + node.id() + " health: " + unreachable);
            }
          }
          throw e;
        }
        sleepMillis(500); // the next node, a little later
      }
    }
  }

  List<Integer> placement(List<Integer> via) throws Exception {
    return placement(call(via, "GET", "/streams/" + STREAM, null));
  }

  static List<Integer> placement(JsonNode streamInfo) {
    List<Integer> ids = new ArrayList<>();
    streamInfo.path("cluster").path("replicas").forEach(x -> ids.add(x.asInt()));
    return ids;
  }

  int generation(List<Integer> via, int node) throws Exception {
    for (JsonNode x : call(via, "GET", "/cluster", null).path("nodes")) {
      if (x.path("id").asInt() == node) {
        return x.path("generation").asInt();
      }
    }
    return -1;
  }

  // =========================================================================================
  // The end: heal, read, count
  // =========================================================================================

  /** Everything healed: no partition, nobody paused, every node started; then the replicas converge. */
  private void heal() throws Exception {
    Network.heal();
    cluster.resumeAll();
    replaceRefused();
    List<Integer> stopped = new ArrayList<>();
    for (int id : live()) {
      if (cluster.pid(id).isEmpty()) {
        stopped.add(id);
      }
    }
    if (!stopped.isEmpty()) {
      restart(stopped, true);
    }
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(180);
    while (System.nanoTime() < deadline) {
      List<LocalCluster.Node> up = new ArrayList<>();
      for (LocalCluster.Node node : cluster.nodes) {
        if (cluster.pid(node.id()).isPresent() && LocalCluster.healthy(http, node)) {
          up.add(node);
        }
      }
      noticeExits(); // exited while the cluster settles: started again
      replaceRefused(); // or refused: given a new disk
      // Converged: every node's own replica reaches the last sequence the leader reports. Equal
      // sizes alone are not enough: right after every node restarted, all replicas read empty
      // until they learn the commit index again.
      Set<Integer> sizes = new HashSet<>();
      long lastSeq = -1;
      boolean allRead = !up.isEmpty();
      List<String> errors = new ArrayList<>();
      Set<Integer> placement = null;
      for (LocalCluster.Node node : up) {
        NodeClient client = new NodeClient(node.http());
        try {
          if (lastSeq < 0) {
            JsonNode info = client.call("GET", "/streams/" + STREAM, null);
            lastSeq = info.path("state").path("last_seq").asLong(-1);
            placement = new HashSet<>();
            for (JsonNode n : info.path("cluster").path("replicas")) {
              placement.add(n.asInt());
            }
          }
        } catch (Exception e) {
          errors.add("node " + node.id() + " stream info: " + e.getMessage()); // the next node may answer
        }
      }
      for (LocalCluster.Node node : up) {
        if (placement != null && !placement.contains(node.id())) {
          continue; // a node the stream is not placed on (more nodes than replicas, or drained)
        }
        NodeClient client = new NodeClient(node.http());
        try {
          sizes.add(client.readReplica(STREAM).size());
        } catch (Exception e) {
          allRead = false;
          errors.add("node " + node.id() + " replica: " + e.getMessage());
        }
      }
      if (allRead && lastSeq >= 0 && sizes.equals(Set.of((int) lastSeq)) && up.size() == live().size()) {
        return;
      }
      err.println("torture: healing: " + up.size() + " of " + cluster.nodes.size() + " nodes up, replica sizes "
          + sizes + ", leader's last sequence " + lastSeq + (errors.isEmpty() ? "" : "; " + errors));
      sleepMillis(2000); // polling other processes: their state is the condition
    }
    err.println("torture: the replicas did not converge within 180 s after healing");
  }

  /** Reads every node's own replica (a node without one says so and is skipped) and counts. */
  private Checker.Counts check(Workload w) {
    Checker.Counts c = new Checker.Counts(replicas);
    c.acked = w.acked.size();
    Map<Integer, List<String>> read = new LinkedHashMap<>();
    for (LocalCluster.Node node : cluster.nodes) {
      if (refused.containsKey(node.id()) || cluster.pid(node.id()).isEmpty()) {
        c.notes.add("node " + node.id() + " is down: " + refused.getOrDefault(node.id(), "not running"));
        continue;
      }
      try {
        read.put(node.id(), new NodeClient(node.http()).readReplica(STREAM));
      } catch (NodeClient.ServerError e) {
        if (!e.code().equals("no_local_replica")) {
          c.notes.add("node " + node.id() + " could not be read: " + e.getMessage());
        }
      } catch (Exception e) {
        c.notes.add("node " + node.id() + " could not be read: " + e.getMessage());
      }
    }
    Checker.count(read, w.attempted, w.acked, c);
    c.duplicated.forEach((value, at) -> c.notes.add("value " + value + " stored at sequences " + at + "; "
        + (w.acked.containsKey(value) ? "acked at " + w.acked.get(value) : "not acked")
        + (w.retriedAfter.containsKey(value) ? "; retried after: " + w.retriedAfter.get(value) : "; never retried")));
    c.readNodes = read.size();
    if (read.isEmpty()) {
      c.notes.add("no node could be read");
    }
    return c;
  }

  private String faultCounts() {
    Map<String, Integer> counts = new LinkedHashMap<>();
    synchronized (windows) {
      for (Window w : windows) {
        counts.merge(w.what().split(" ")[0].replace(":", ""), 1, Integer::sum);
      }
    }
    return counts.toString();
  }
}
