package io.holdfast.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.holdfast.base.Prng;
import io.holdfast.storage.file.PowerLoss;
import java.io.IOException;
import java.io.PrintStream;
import java.io.RandomAccessFile;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code holdfast torture}: the fault campaign on real processes (Jepsen's NATS findings, tried
 * against Holdfast). Node JVMs on their own loopback addresses, an R-replica stream, publishers
 * of unique values {@code <client>-<counter>} that record what was acked, consumers that read and
 * ack, and a nemesis whose schedule comes from the seed. At the end everything is healed, the
 * stream is read from every node separately, and the history is checked the way Jepsen counts.
 *
 * <p>Faults: {@code kill} (SIGKILL, restart), {@code powerloss} (SIGKILL and every WAL byte past
 * the synced mark cut, on one node or on all at once), {@code pause} (SIGSTOP/SIGCONT),
 * {@code partition} (iptables rules between the nodes' addresses: one node isolated, or a
 * minority from a majority), {@code bitflip} and {@code truncate} (data files of a minority,
 * while it is down), {@code snapshot-corrupt} (snapshot and identity files of a minority),
 * {@code membership} (a replica removed from the stream, its node wiped and started again, so that
 * it comes back as a new member under new replica ids, and the stream grown back onto it; or the
 * node wiped without the removal, so that its return replaces each replica it held)
 * and {@code split-brain} (a minority paused, another node power-lost, then the pause swapped for
 * a partition so that those two could form a majority without the node that has every write).
 *
 * <p>Client rules: a publish refused as {@code unavailable} (nothing appended) or that could not
 * connect is retried, with the same value; one whose outcome is unknown is not retried, so a value
 * at two sequences is never explained by a retry: it counts as a duplicate.
 */
@Command(name = "torture", sortOptions = false,
    description = {"The fault campaign on real node processes, checked as Jepsen counts.",
        "Writes report.html in --dir; exit 1 if an acknowledged publish was lost or read wrong."})
final class TortureCommand extends CliCommand {
  private static final ObjectMapper JSON = new ObjectMapper();
  static final List<String> FAULTS = List.of("kill", "powerloss", "pause", "partition", "bitflip", "truncate",
      "snapshot-corrupt", "membership", "split-brain");
  private static final String STREAM = "torture";
  private static final int CLIENTS = 8;
  private static final int INFLIGHT_PER_CLIENT = 16;

  @Option(names = "--nodes", paramLabel = "3..9", description = "Node processes (default ${DEFAULT-VALUE}).")
  int nodes = 3;
  @Option(names = "--replicas", paramLabel = "R", description = "Replicas of the stream (default: 3, at most --nodes).")
  Integer replicasOption;
  @Option(names = "--seconds", paramLabel = "S", description = "How long the campaign runs (default ${DEFAULT-VALUE}).")
  int seconds = 60;
  @Option(names = "--rate", paramLabel = "N", description = "Publishes per second offered (default ${DEFAULT-VALUE}).")
  int rate = 2000;
  @Option(names = "--faults", paramLabel = "LIST|all|none", completionCandidates = FaultNames.class,
      description = {"Fault families: all, none, or a comma-separated list of ${COMPLETION-CANDIDATES}",
          "(partition and split-brain need root and iptables; default all)."})
  String faultArg = "all";
  @Option(names = "--seed", paramLabel = "S", description = "Seed of the fault schedule (default: from the clock).")
  Long seedOption;
  @Option(names = "--dir", paramLabel = "DIR", description = "Where the cluster and report.html go (default ${DEFAULT-VALUE}).")
  Path dirOption = Path.of("run/torture");
  @Option(names = "--keep", description = "Leave the nodes running afterwards.")
  boolean keep;
  @Option(names = "--json", description = "Also print one JSON object as the last line.")
  boolean json;

  static final class FaultNames extends ArrayList<String> {
    private static final long serialVersionUID = 1L;

    FaultNames() {
      super(FAULTS);
    }
  }

  @Override
  public Integer call() throws Exception {
    PrintStream out = out();
    PrintStream err = err();
    between("--nodes", nodes, 3, 9);
    int replicas = between("--replicas", replicasOption != null ? replicasOption : Math.min(nodes, 3), 1, nodes);
    between("--seconds", seconds, 5, 86_400);
    between("--rate", rate, 1, 1_000_000);
    long seed = between("--seed", seedOption != null ? seedOption : System.currentTimeMillis() % 1_000_000, 0,
        Long.MAX_VALUE);
    List<String> faults = faultArg.equals("all") ? FAULTS : faultArg.equals("none") ? List.of()
        : List.of(faultArg.split(","));
    for (String f : faults) {
      if (!FAULTS.contains(f)) {
        throw new UsageException("unknown fault '" + f + "' (expected all, none, or a list of "
            + String.join(", ", FAULTS) + ")");
      }
    }
    boolean partitions = faults.contains("partition") || faults.contains("split-brain");
    if (partitions) {
      Net.check();
    }
    Path dir = dirOption.toAbsolutePath().normalize();
    if (Files.exists(dir.resolve("cluster.json"))) {
      LocalCluster.open(dir).stopAll(err);
    }
    DemoCommand.deleteTree(dir);
    err.printf("torture: %d nodes, R%d stream, %d s at %d publishes/s, faults %s, seed %d, in %s%n", nodes, replicas,
        seconds, rate, String.join(",", faults), seed, dir);
    LocalCluster cluster = LocalCluster.openOrCreate(dir, nodes, true);
    Run run = new Run(cluster, seed, err);
    Thread killOnExit = cluster.killOnExit();
    try {
      if (partitions) {
        Net.setUp();
      }
      cluster.startAll(err);
      new ClientCommands.Client(cluster.nodes.get(0).http()).callJson("POST", "/streams",
          ClientCommands.streamConfig(STREAM, replicas, STREAM + ".>"));
      new ClientCommands.Client(cluster.nodes.get(0).http()).callJson("POST", "/streams/" + STREAM + "/consumers",
          JSON.createObjectNode().put("name", "readers").put("ack_wait", "10s"));
      run.workload(seconds, rate, faults, replicas);
      run.heal();
      Check c = run.check(replicas);
      Path report = run.report(c, seconds, faultArg, nodes, replicas);
      out.printf("torture: %d s, %d nodes, R%d, faults %s, seed %d%n", seconds, nodes, replicas, faultArg, seed);
      out.printf("  acked %d of %d published (%d unknown outcome, %d failed after retries), consumed %d%n", c.acked,
          run.published.get(), run.unknown.size(), run.failed.get(), run.consumed.get());
      out.printf("  lost %d (in the middle %d), lost on a node %d, unexpected %d, recovered %d, duplicates %d,"
          + " misplaced %d%n", c.lost, c.lostMiddle, c.lostOnNode, c.unexpected, c.recovered, c.duplicates, c.misplaced);
      for (String note : c.notes) {
        out.println("  " + note);
      }
      out.printf("  faults injected: %d (%s); report %s%n", run.windows.size(), run.faultCounts(), report);
      out.println(c.valid() ? "  VALID: every acked value is on every node" : "  INVALID");
      if (json) {
        ObjectNode j = JSON.createObjectNode().put("seconds", seconds).put("faults", faultArg).put("seed", seed)
            .put("nodes", nodes).put("replicas", replicas).put("published", run.published.get()).put("acked", c.acked)
            .put("lost", c.lost).put("lost_middle", c.lostMiddle).put("lost_on_node", c.lostOnNode)
            .put("unexpected", c.unexpected).put("recovered", c.recovered).put("duplicates", c.duplicates)
            .put("misplaced", c.misplaced)
            .put("unknown", run.unknown.size()).put("consumed", run.consumed.get())
            .put("faults_injected", run.windows.size()).put("nodes_refused", run.refusals.get())
            .put("nodes_read", c.readNodes)
            .put("valid", c.valid());
        out.println(j);
      }
      return c.valid() ? 0 : 1;
    } finally {
      run.stopped.set(true);
      if (partitions) {
        Net.tearDown();
      }
      cluster.resumeAll();
      if (!keep) {
        cluster.stopAll(err);
      }
      LocalCluster.keepOnExit(killOnExit);
    }
  }

  // =========================================================================================
  // The run: workload, nemesis, healing
  // =========================================================================================

  /** A fault window for the report: seconds since the start, and what it was. */
  record Window(double start, double end, String what) {}

  private static final class Run {
    final LocalCluster cluster;
    final Prng prng;
    final PrintStream err;
    final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2))
        .version(HttpClient.Version.HTTP_1_1).build();
    final ConcurrentHashMap<String, Long> acked = new ConcurrentHashMap<>();
    final Set<String> unknown = ConcurrentHashMap.newKeySet();
    final Set<String> attempted = ConcurrentHashMap.newKeySet();
    final AtomicLong published = new AtomicLong();
    final AtomicLong failed = new AtomicLong();
    final AtomicLong consumed = new AtomicLong();
    final AtomicBoolean stopped = new AtomicBoolean();
    final AtomicBoolean publishing = new AtomicBoolean(true);
    /** Per second since the start: acked publishes and their latencies in microseconds. */
    final ConcurrentHashMap<Integer, List<Long>> latencies = new ConcurrentHashMap<>();
    final List<Window> windows = Collections.synchronizedList(new ArrayList<>());
    final Set<Integer> down = ConcurrentHashMap.newKeySet();
    /**
     * Nodes whose storage refused to open after damage (fail-stop, D5/D6), until the operator's
     * remedy: {@link #replaceRefused} gives each a new disk, and it comes back as a new member (D9).
     */
    final Map<Integer, String> refused = new ConcurrentHashMap<>();
    /** How many times a node refused to open, over the run. */
    final AtomicInteger refusals = new AtomicInteger();
    long t0;

    Run(LocalCluster cluster, long seed, PrintStream err) {
      this.cluster = cluster;
      this.prng = Prng.of(seed);
      this.err = err;
    }

    double now() {
      return (System.nanoTime() - t0) / 1e9;
    }

    void workload(int seconds, int rate, List<String> faults, int replicas) throws Exception {
      t0 = System.nanoTime();
      List<Thread> threads = new ArrayList<>();
      threads.add(started(new Thread(() -> publishers(rate), "torture-publishers")));
      for (int i = 0; i < 2; i++) {
        int reader = i;
        threads.add(started(new Thread(() -> reader(reader), "torture-reader-" + i)));
      }
      nemesis(seconds, faults, replicas);
      publishing.set(false);
      for (Thread t : threads) {
        if (t.getName().startsWith("torture-publishers")) {
          t.join();
        }
      }
      stopped.set(true);
      for (Thread t : threads) {
        t.join(TimeUnit.SECONDS.toMillis(30));
      }
    }

    private static Thread started(Thread t) {
      t.setDaemon(true);
      t.start();
      return t;
    }

    // ---- publishers ----

    void publishers(int rate) {
      Semaphore[] windowOf = new Semaphore[CLIENTS];
      long[] counter = new long[CLIENTS];
      for (int c = 0; c < CLIENTS; c++) {
        windowOf[c] = new Semaphore(INFLIGHT_PER_CLIENT);
      }
      long sent = 0;
      int client = 0;
      while (publishing.get()) {
        long due = (long) (now() * rate);
        while (sent < due && publishing.get()) {
          client = (client + 1) % CLIENTS;
          if (!windowOf[client].tryAcquire()) {
            break; // this client has too much in flight (the cluster is slow or down): skip this slot
          }
          String value = client + "-" + (++counter[client]);
          attempted.add(value);
          published.incrementAndGet();
          Semaphore w = windowOf[client];
          publish(value, System.nanoTime(), 0).whenComplete((v, e) -> w.release());
          sent++;
        }
        sent = Math.max(sent, due - rate); // never more than a second of backlog
        sleepMillis(5);
      }
      for (Semaphore w : windowOf) {
        try {
          if (!w.tryAcquire(INFLIGHT_PER_CLIENT, 60, TimeUnit.SECONDS)) {
            err.println("torture: some publishes still unanswered after 60 s");
          }
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        }
      }
    }

    private CompletableFuture<Void> publish(String value, long started, int attempt) {
      List<LocalCluster.Node> nodes = cluster.nodes;
      LocalCluster.Node node = nodes.get(Math.floorMod(value.hashCode() + attempt, nodes.size()));
      HttpRequest req = HttpRequest.newBuilder(URI.create(node.http() + "/pub/" + STREAM + ".v"))
          .timeout(Duration.ofSeconds(10)).POST(HttpRequest.BodyPublishers.ofString(value)).build();
      return http.sendAsync(req, HttpResponse.BodyHandlers.ofString()).handle((resp, failure) -> {
        boolean safeToRetry;
        if (failure != null) {
          // Only a connection that was never made is known not to have carried the request.
          safeToRetry = failure instanceof java.net.ConnectException
              || failure.getCause() instanceof java.net.ConnectException;
        } else if (resp.statusCode() == 200) {
          try {
            acked.put(value, JSON.readTree(resp.body()).get("seq").asLong());
            latencies.computeIfAbsent((int) now(), k -> Collections.synchronizedList(new ArrayList<>()))
                .add((System.nanoTime() - started) / 1000);
          } catch (IOException e) {
            unknown.add(value);
          }
          return CompletableFuture.<Void>completedFuture(null);
        } else {
          safeToRetry = ClientCommands.errorCode(resp.body()).equals("unavailable");
        }
        if (!safeToRetry) {
          unknown.add(value);
          return CompletableFuture.<Void>completedFuture(null);
        }
        if (System.nanoTime() - started > TimeUnit.SECONDS.toNanos(20) || stopped.get()) {
          failed.incrementAndGet(); // refused every time: known not stored
          return CompletableFuture.<Void>completedFuture(null);
        }
        return CompletableFuture.runAsync(() -> { }, CompletableFuture.delayedExecutor(50, TimeUnit.MILLISECONDS))
            .thenCompose(x -> publish(value, started, attempt + 1));
      }).thenCompose(f -> f);
    }

    // ---- consumers ----

    void reader(int which) {
      int i = which;
      while (!stopped.get()) {
        LocalCluster.Node node = cluster.nodes.get(i++ % cluster.nodes.size());
        try {
          HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create(node.http() + "/streams/" + STREAM
              + "/consumers/readers/next?batch=100&wait=1s")).timeout(Duration.ofSeconds(10))
              .POST(HttpRequest.BodyPublishers.noBody()).build(), HttpResponse.BodyHandlers.ofString());
          if (r.statusCode() != 200) {
            sleepMillis(200);
            continue;
          }
          for (JsonNode m : JSON.readTree(r.body()).path("messages")) {
            consumed.incrementAndGet();
            http.sendAsync(HttpRequest.newBuilder(URI.create(node.http() + "/ack/" + m.path("ack_token").asText()))
                .timeout(Duration.ofSeconds(10)).POST(HttpRequest.BodyPublishers.noBody()).build(),
                HttpResponse.BodyHandlers.discarding());
          }
        } catch (IOException e) {
          sleepMillis(200); // that node is down or cut off; the next one
        } catch (InterruptedException e) {
          return;
        }
      }
    }

    // ---- nemesis ----

    void nemesis(int seconds, List<String> faults, int replicas) throws Exception {
      List<String> order = new ArrayList<>(faults);
      if (order.isEmpty()) {
        sleepMillis((long) Math.max(0, (seconds - now()) * 1000)); // --faults none: the baseline
        return;
      }
      int next = 0;
      while (now() < seconds - 3) {
        sleepMillis(prng.between(1500, 3500));
        if (now() >= seconds - 3) {
          break;
        }
        noticeExits();
        replaceRefused();
        if (next % order.size() == 0) {
          prng.shuffle(order);
        }
        String fault = order.get(next++ % order.size());
        double start = now();
        String what = inject(fault, replicas);
        if (what != null) {
          windows.add(new Window(start, now(), what));
          err.printf("torture: %.1f s: %s%n", now(), what);
        }
      }
    }

    /** Injects one fault and heals it; returns what was done, or null if it could not be applied now. */
    String inject(String fault, int replicas) throws Exception {
      int n = cluster.nodes.size();
      int minority = (n - 1) / 2;
      List<Integer> live = live();
      switch (fault) {
        case "kill" -> {
          int victim = prng.nextInt(2) == 0 ? leaderOrAny() : randomLiveNode();
          cluster.kill(victim);
          down.add(victim);
          sleepMillis(prng.between(500, 3000));
          restart(List.of(victim), false);
          return "kill node " + victim;
        }
        case "powerloss" -> {
          List<Integer> victims = prng.nextInt(3) == 0 ? live : List.of(randomLiveNode());
          long cut = 0;
          for (int v : victims) {
            cluster.kill(v);
            down.add(v);
          }
          for (int v : victims) {
            cut += PowerLoss.cutUnsynced(dataDir(v));
          }
          sleepMillis(prng.between(500, 2000));
          restart(victims, false);
          return "power loss on " + (victims.size() > 1 ? "all nodes " + victims : "node " + victims.get(0)) + " ("
              + cut + " unsynced bytes gone)";
        }
        case "pause" -> {
          int victim = prng.nextInt(2) == 0 ? leaderOrAny() : randomLiveNode();
          cluster.signal(victim, "STOP");
          sleepMillis(prng.between(2000, 6000));
          cluster.signal(victim, "CONT");
          return "pause node " + victim;
        }
        case "partition" -> {
          List<Integer> ids = new ArrayList<>(live);
          prng.shuffle(ids);
          List<Integer> side = new ArrayList<>(ids.subList(0, prng.nextInt(2) == 0 ? 1 : Math.max(1, minority)));
          Net.isolate(cluster, side);
          sleepMillis(prng.between(3000, 7000));
          Net.heal();
          return "partition " + side + " from the rest";
        }
        case "bitflip", "truncate", "snapshot-corrupt" -> {
          if (refused.size() >= minority
              || live.stream().anyMatch(id -> !LocalCluster.healthy(http, cluster.node(id), true))) {
            // Damage stays on a minority: one already refused to open, or may be about to, or is
            // still recovering what a cut-off tail took.
            return null;
          }
          List<Integer> victims = new ArrayList<>(live);
          prng.shuffle(victims);
          victims = new ArrayList<>(victims.subList(0, 1 + prng.nextInt(minority - refused.size())));
          List<String> done = new ArrayList<>();
          for (int v : victims) {
            cluster.kill(v);
            down.add(v);
            done.add("node " + v + ": " + damage(fault, dataDir(v)));
          }
          restart(victims, false); // whether they open again is noticed before the next fault
          return fault + " " + String.join("; ", done);
        }
        case "membership" -> {
          return membership(replicas);
        }
        default -> { // split-brain
          if (live.size() < n) {
            return null; // the schedule needs every node
          }
          List<Integer> ids = new ArrayList<>(live);
          prng.shuffle(ids);
          int paused = ids.get(0);
          int powerLost = ids.get(1);
          List<Integer> full = new ArrayList<>(ids.subList(2, ids.size()));
          cluster.signal(paused, "STOP"); // misses the writes that follow
          sleepMillis(prng.between(1500, 3000));
          cluster.kill(powerLost);
          down.add(powerLost);
          long cut = PowerLoss.cutUnsynced(dataDir(powerLost));
          Net.isolate(cluster, full); // the nodes holding every write are cut off ...
          cluster.signal(paused, "CONT"); // ... while the paused node and the power-lost one could form a majority
          restart(List.of(powerLost), false);
          sleepMillis(prng.between(3000, 6000));
          Net.heal();
          return "split-brain: node " + paused + " paused, node " + powerLost + " power-lost (" + cut
              + " bytes), then " + full + " partitioned away";
        }
      }
    }

    /**
     * D9 under load: removes a replica (the stream shrunk by one; the meta group picks the node),
     * wipes that node's data directory and starts it again. It registers its new disk with
     * {@code holdfast.node.rejoin} on, so its meta replica comes back as a new member under a new
     * id; then the stream is grown back and its replica there joins the same way. Every other
     * time the removal is skipped: the node is wiped while it holds the replica, and its return
     * alone replaces the replica by a new member. Like damage, a wipe lands only while every other
     * node is whole, and the fault ends once the new replica has caught up, so that no later
     * damage meets a majority without the data.
     */
    String membership(int replicas) throws Exception {
      List<Integer> live = live();
      if (!refused.isEmpty() || !down.isEmpty()
          || live.stream().anyMatch(id -> cluster.pid(id).isEmpty() || !LocalCluster.healthy(http, cluster.node(id), true))) {
        return null;
      }
      List<Integer> before = placement(live);
      boolean remove = replicas > 1 && prng.nextInt(2) == 0;
      int victim;
      StringBuilder what = new StringBuilder("membership: ");
      if (remove) {
        setReplicas(live, replicas - 1);
        List<Integer> after = placement(live);
        victim = before.stream().filter(id -> !after.contains(id)).findFirst().orElse(before.get(before.size() - 1));
        what.append("replica on node ").append(victim).append(" removed (R").append(replicas).append(" -> R")
            .append(replicas - 1).append("), ");
      } else {
        victim = before.get(prng.nextInt(before.size()));
      }
      cluster.kill(victim);
      wipeAndRestart(victim);
      what.append("node ").append(victim).append(" wiped and back as a new member (generation ")
          .append(generation(live, victim)).append(")");
      if (remove) {
        setReplicas(live, replicas);
        what.append(", stream grown back to R").append(replicas).append(" on ").append(placement(live));
      }
      what.append(awaitCaughtUp(victim) ? "; caught up" : "; NOT caught up within 90 s");
      return what.toString();
    }

    /** Sets the stream's replica count; returns once the stream's leader applied it. */
    private void setReplicas(List<Integer> via, int replicas) throws Exception {
      call(via, "PUT", "/streams/" + STREAM, JSON.writeValueAsBytes(JSON.createObjectNode().put("replicas", replicas)));
    }

    /**
     * An idempotent API call through one of {@code via} after another, made again while the
     * answer is an error — no leader yet, one changing, the meta group changing its own
     * membership — for 60 s at most; then every node's view is logged and the error thrown.
     */
    private JsonNode call(List<Integer> via, String method, String path, byte[] body) throws Exception {
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
      for (int attempt = 0; ; attempt++) {
        ClientCommands.Client c = new ClientCommands.Client(cluster.node(via.get(attempt % via.size())).http());
        try {
          return c.call(method, path, body);
        } catch (ClientCommands.ServerError | IOException e) {
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

    private List<Integer> placement(List<Integer> via) throws Exception {
      return placement(call(via, "GET", "/streams/" + STREAM, null));
    }

    private static List<Integer> placement(JsonNode streamInfo) {
      List<Integer> ids = new ArrayList<>();
      streamInfo.path("cluster").path("replicas").forEach(x -> ids.add(x.asInt()));
      return ids;
    }

    private int generation(List<Integer> via, int node) throws Exception {
      for (JsonNode x : call(via, "GET", "/cluster", null).path("nodes")) {
        if (x.path("id").asInt() == node) {
          return x.path("generation").asInt();
        }
      }
      return -1;
    }

    private void refuse(int id, String why) {
      refused.put(id, why);
      refusals.incrementAndGet();
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
        String what = "replaced: node " + id + "'s refused disk wiped; back as a new member"
            + (caughtUp ? ", caught up" : ", NOT caught up within 90 s");
        windows.add(new Window(start, now(), what));
        err.printf("torture: %.1f s: %s%n", now(), what);
      }
    }

    /**
     * Until node {@code id}'s own replica holds what the leader held when this began (90 s at
     * most); at once if the stream is not placed there (with spare nodes it may have grown elsewhere).
     */
    private boolean awaitCaughtUp(int id) throws Exception {
      long target = -1;
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(90);
      while (System.nanoTime() < deadline) {
        try {
          JsonNode info = new ClientCommands.Client(cluster.node(id).http()).call("GET", "/streams/" + STREAM, null);
          if (!placement(info).contains(id)) {
            return true;
          }
          if (target < 0) {
            target = info.path("state").path("last_seq").asLong(-1);
          }
          if (target >= 0 && DemoCommand.readReplica(cluster.node(id), STREAM).size() >= target) {
            return true;
          }
        } catch (Exception e) {
          // not serving yet, or no replica there yet
        }
        sleepMillis(500); // another process's progress is the condition
      }
      return false;
    }

    /** A stopped node's data directory deleted, and the node started again: it rejoins with a new disk. */
    private void wipeAndRestart(int id) throws Exception {
      down.add(id);
      DemoCommand.deleteTree(dataDir(id));
      restart(List.of(id), true);
    }

    /**
     * Damages the data directory of a stopped node. bitflip: 1–8 random bits in random files;
     * truncate: the end of one random file cut by 1 byte to 4 KiB. Half the files hit are a stream
     * store's segment or index files (either kind alike), the rest any file weighted by size (WAL
     * files, snapshots, identity, tail marker, store files); snapshot-corrupt: bytes flipped in every snapshot file and
     * in the identity file.
     */
    String damage(String fault, Path data) throws IOException {
      List<Path> files = new ArrayList<>();
      if (Files.isDirectory(data)) {
        try (var s = Files.walk(data)) {
          s.filter(Files::isRegularFile).filter(p -> {
            try {
              return Files.size(p) > 0;
            } catch (IOException e) {
              return false;
            }
          }).sorted().forEach(files::add);
        }
      }
      if (files.isEmpty()) {
        return "no data files yet";
      }
      switch (fault) {
        case "bitflip" -> {
          List<String> flipped = new ArrayList<>();
          for (int i = prng.between(1, 8); i > 0; i--) {
            Path f = target(files);
            long at = prng.nextLong(Files.size(f));
            flip(f, at, 1 << prng.nextInt(8));
            flipped.add(data.relativize(f) + "@" + at);
          }
          return "flipped " + String.join(", ", flipped);
        }
        case "truncate" -> {
          Path f = target(files);
          long size = Files.size(f);
          long cut = Math.min(size, prng.between(1, 4096));
          try (RandomAccessFile r = new RandomAccessFile(f.toFile(), "rw")) {
            r.setLength(size - cut);
          }
          return "cut " + cut + " bytes off " + data.relativize(f);
        }
        default -> {
          List<String> hit = new ArrayList<>();
          for (Path f : files) {
            String name = data.relativize(f).toString();
            if (name.startsWith("snapshots") || name.equals("holdfast.id")) {
              for (int i = 0; i < 4; i++) {
                flip(f, prng.nextLong(Files.size(f)), 0xff);
              }
              hit.add(name);
            }
          }
          return hit.isEmpty() ? "no snapshot or identity file yet" : "corrupted " + String.join(", ", hit);
        }
      }
    }

    /** A file to damage: half the time a store's segment or index file (if there is one), else any. */
    private Path target(List<Path> files) throws IOException {
      if (prng.nextInt(2) == 0) {
        String kind = prng.nextInt(2) == 0 ? ".seg" : ".idx";
        List<Path> store = files.stream().filter(f -> f.getFileName().toString().endsWith(kind)).toList();
        if (!store.isEmpty()) {
          return store.get(prng.nextInt(store.size()));
        }
      }
      return weightedBySize(files);
    }

    private Path weightedBySize(List<Path> files) throws IOException {
      long[] sizes = new long[files.size()];
      long total = 0;
      for (int i = 0; i < sizes.length; i++) {
        sizes[i] = Files.size(files.get(i));
        total += sizes[i];
      }
      long pick = prng.nextLong(total);
      for (int i = 0; i < sizes.length; i++) {
        pick -= sizes[i];
        if (pick < 0) {
          return files.get(i);
        }
      }
      return files.get(files.size() - 1);
    }

    private static void flip(Path f, long at, int mask) throws IOException {
      try (RandomAccessFile r = new RandomAccessFile(f.toFile(), "rw")) {
        r.seek(at);
        int b = r.read();
        r.seek(at);
        r.write(b ^ mask);
      }
    }

    Path dataDir(int id) {
      return cluster.dir.resolve("node" + id).resolve("data");
    }

    List<Integer> allIds() {
      List<Integer> ids = new ArrayList<>();
      cluster.nodes.forEach(x -> ids.add(x.id()));
      return ids;
    }

    /**
     * A live node that is not running although the nemesis did not stop it has exited by itself:
     * refused, if its storage would not open (down until {@link #replaceRefused}); otherwise the
     * cluster downed it (the split-brain resolver, on the losing side of a partition: the node
     * leaves and its JVM exits), and it is started again, as its supervisor would.
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
            windows.add(new Window(now(), now(), "downed: node " + id + " left the cluster; restarted"));
            err.printf("torture: %.1f s: node %d was downed by the cluster and exited; restarting it%n", now(), id);
            restart(List.of(id), false);
          }
        }
      }
    }

    /** The node's own last word on why it stopped (its "failed to start" line), from its log. */
    String whyExited(int id) {
      return LocalCluster.tail(cluster.log(id), 40).lines().filter(l -> l.contains("failed to start"))
          .reduce((x, y) -> y).orElse("exited (downed by the cluster)");
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

    /**
     * Starts nodes again. With {@code wait} (after damage, and when healing), waits up to 90 s until
     * each serves or has exited; one that exits is refused (its storage would not open: it stays
     * down, as an operator would leave it until replacing the node). Without, the faults go on while
     * the nodes rejoin; a node that exits anyway is found when healing. When no node runs, the first
     * of them may form the cluster anew (and then this always waits).
     */
    void restart(List<Integer> ids, boolean wait) throws Exception {
      boolean noneRunning = allIds().stream().allMatch(id -> cluster.pid(id).isEmpty());
      if (noneRunning) {
        cluster.restartWhenAllDown(ids);
      } else {
        for (int id : ids) {
          cluster.start(id);
        }
      }
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(90);
      List<Integer> waiting = new ArrayList<>(wait || noneRunning ? ids : List.of());
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
      if (noneRunning) {
        cluster.noBootstrap();
      }
      for (int id : ids) {
        down.remove(id);
      }
    }

    /** Everything healed: no partition, nobody paused, every node started; then the replicas converge. */
    void heal() throws Exception {
      Net.heal();
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
      long noneUpSince = System.nanoTime();
      boolean rebootstrapped = false;
      while (System.nanoTime() < deadline) {
        List<LocalCluster.Node> up = new ArrayList<>();
        for (LocalCluster.Node node : cluster.nodes) {
          if (cluster.pid(node.id()).isPresent() && LocalCluster.healthy(http, node)) {
            up.add(node);
          }
        }
        noticeExits(); // downed again while the cluster settles: started again
        replaceRefused(); // or refused: given a new disk
        if (!up.isEmpty()) {
          noneUpSince = System.nanoTime();
        } else if (!rebootstrapped && System.nanoTime() - noneUpSince > TimeUnit.SECONDS.toNanos(30)) {
          // The Pekko cluster dissolved (its split-brain resolver downs every node when membership
          // stays unstable) and the nodes, restarted, wait to join a cluster nobody forms. An
          // operator starts them again with one of them allowed to form it.
          rebootstrapped = true;
          err.println("torture: healing: no node up for 30 s: the cluster dissolved; starting it again");
          windows.add(new Window(now(), now(), "rebootstrap: the Pekko cluster had dissolved"));
          for (int id : live()) {
            cluster.kill(id);
          }
          restart(live(), true);
          continue;
        }
        // Converged: every node's own replica reaches the last sequence the leader reports. Equal
        // sizes alone are not enough: right after every node restarted, all replicas read empty
        // until they learn the commit index again.
        Set<Integer> sizes = new HashSet<>();
        long lastSeq = -1;
        boolean allRead = !up.isEmpty();
        List<String> errors = new ArrayList<>();
        for (LocalCluster.Node node : up) {
          try {
            if (lastSeq < 0) {
              lastSeq = new ClientCommands.Client(node.http()).call("GET", "/streams/" + STREAM, null)
                  .path("state").path("last_seq").asLong(-1);
            }
          } catch (Exception e) {
            errors.add("node " + node.id() + " stream info: " + e.getMessage()); // the next node may answer
          }
          try {
            sizes.add(DemoCommand.readReplica(node, STREAM).size());
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

    // ---- checking ----

    /** Reads every node's own replica (a node without one says so and is skipped) and counts. */
    Check check(int replicaCount) throws Exception {
      Check c = new Check(replicaCount);
      c.acked = acked.size();
      Map<Integer, List<String>> replicas = new LinkedHashMap<>();
      for (LocalCluster.Node node : cluster.nodes) {
        if (refused.containsKey(node.id()) || cluster.pid(node.id()).isEmpty()) {
          c.notes.add("node " + node.id() + " is down: " + refused.getOrDefault(node.id(), "not running"));
          continue;
        }
        try {
          replicas.put(node.id(), DemoCommand.readReplica(node, STREAM));
        } catch (ClientCommands.ServerError e) {
          if (!e.code().equals("no_local_replica")) {
            c.notes.add("node " + node.id() + " could not be read: " + e.getMessage());
          }
        } catch (Exception e) {
          c.notes.add("node " + node.id() + " could not be read: " + e.getMessage());
        }
      }
      count(replicas, attempted, acked, c);
      c.readNodes = replicas.size();
      if (replicas.isEmpty()) {
        c.notes.add("no node could be read");
      }
      return c;
    }

    String faultCounts() {
      Map<String, Integer> counts = new LinkedHashMap<>();
      synchronized (windows) {
        for (Window w : windows) {
          counts.merge(w.what().split(" ")[0].replace(":", ""), 1, Integer::sum);
        }
      }
      return counts.toString();
    }

    /** report.html in the cluster directory: throughput and latency per second, fault windows shaded, the counts. */
    Path report(Check c, int seconds, String faults, int nodes, int replicas) throws IOException {
      int span = Math.max(seconds, (int) Math.ceil(now()));
      int w = 900;
      int h = 260;
      double xs = (double) w / span;
      long maxRate = 1;
      long maxP99 = 1;
      long[] rates = new long[span + 1];
      long[] p99 = new long[span + 1];
      for (int s = 0; s <= span; s++) {
        List<Long> l = latencies.getOrDefault(s, List.of());
        List<Long> sorted;
        synchronized (l) {
          sorted = new ArrayList<>(l);
        }
        Collections.sort(sorted);
        rates[s] = sorted.size();
        p99[s] = sorted.isEmpty() ? 0 : sorted.get((int) Math.min(sorted.size() - 1, Math.floor(sorted.size() * 0.99)));
        maxRate = Math.max(maxRate, rates[s]);
        maxP99 = Math.max(maxP99, p99[s]);
      }
      StringBuilder svg = new StringBuilder("<svg xmlns='http://www.w3.org/2000/svg' width='" + (w + 60) + "' height='"
          + (2 * h + 80) + "' font-family='sans-serif' font-size='11'>");
      synchronized (windows) {
        for (Window win : windows) {
          double x = 50 + win.start() * xs;
          double width = Math.max(2, (win.end() - win.start()) * xs);
          svg.append("<rect x='").append(x).append("' y='10' width='").append(width).append("' height='")
              .append(2 * h + 40).append("' fill='#f4b' fill-opacity='0.15'><title>").append(escape(win.what()))
              .append("</title></rect>");
        }
      }
      svg.append("<text x='50' y='8'>acked publishes per second (max ").append(maxRate).append(")</text>");
      svg.append("<text x='50' y='").append(h + 48).append("'>p99 publish latency per second, ms (max ")
          .append(maxP99 / 1000).append(")</text>");
      StringBuilder rateLine = new StringBuilder();
      StringBuilder latLine = new StringBuilder();
      for (int s = 0; s <= span; s++) {
        double x = 50 + s * xs;
        rateLine.append(x).append(',').append(10 + h - (double) rates[s] / maxRate * h).append(' ');
        latLine.append(x).append(',').append(h + 60 + h - (double) p99[s] / maxP99 * h).append(' ');
      }
      svg.append("<polyline fill='none' stroke='#262' stroke-width='1.5' points='").append(rateLine).append("'/>");
      svg.append("<polyline fill='none' stroke='#226' stroke-width='1.5' points='").append(latLine).append("'/>");
      svg.append("</svg>");
      StringBuilder rows = new StringBuilder();
      synchronized (windows) {
        for (Window win : windows) {
          rows.append(String.format("<tr><td>%.1f–%.1f s</td><td>%s</td></tr>", win.start(), win.end(),
              escape(win.what())));
        }
      }
      String html = "<!doctype html><meta charset='utf-8'><title>Holdfast torture</title>"
          + "<body style='font-family:sans-serif'><h1>Holdfast torture: " + (c.valid() ? "valid" : "INVALID") + "</h1>"
          + "<p>" + nodes + " nodes, R" + replicas + ", " + seconds + " s, faults " + escape(faults) + "</p>"
          + "<table border=1 cellpadding=4><tr><th>acked</th><th>lost</th><th>lost_middle</th><th>lost_on_node</th>"
          + "<th>unexpected</th><th>recovered</th><th>duplicates</th><th>misplaced</th><th>unknown</th><th>consumed</th>"
          + "</tr><tr><td>" + c.acked + "</td><td>" + c.lost + "</td><td>" + c.lostMiddle + "</td><td>" + c.lostOnNode
          + "</td><td>" + c.unexpected + "</td><td>" + c.recovered + "</td><td>" + c.duplicates + "</td><td>"
          + c.misplaced + "</td><td>" + unknown.size()
          + "</td><td>" + consumed.get() + "</td></tr></table><p>Shaded: fault windows (hover for what).</p>" + svg
          + "<h2>Faults</h2><table border=1 cellpadding=4>" + rows + "</table>"
          + (c.notes.isEmpty() ? "" : "<h2>Notes</h2><ul><li>" + escape(String.join("\n", c.notes))
              .replace("\n", "</li><li>") + "</li></ul>") + "</body>";
      Path file = cluster.dir.resolve("report.html");
      Files.writeString(file, html);
      return file;
    }

    private static String escape(String s) {
      return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("'", "&#39;");
    }
  }

  /**
   * Counts a history as Jepsen does, from what each node holds ({@code replicas}: values by stream
   * sequence from 1, null for a hole), what clients attempted and what was acked (value → seq):
   * lost (acked, read nowhere), lost_middle (lost, while a later value of the same client was
   * read), lost_on_node (read on some node, missing on another), unexpected (read, never
   * attempted), recovered (read, not acked), duplicates (extra copies of a value on a node; no
   * client retries an ambiguous publish, so none is explained by a retry), misplaced (acked at one
   * sequence, stored at another).
   */
  static void count(Map<Integer, List<String>> replicas, Set<String> attempted, Map<String, Long> acked, Check c) {
    Map<String, Integer> nodesHolding = new HashMap<>();
    Set<String> union = new HashSet<>();
    Set<String> misplaced = new HashSet<>();
    for (List<String> values : replicas.values()) {
      Map<String, Integer> copies = new HashMap<>();
      for (String v : values) {
        if (v != null) {
          copies.merge(v, 1, Integer::sum);
          union.add(v);
        }
      }
      long extra = 0;
      for (var x : copies.entrySet()) {
        nodesHolding.merge(x.getKey(), 1, Integer::sum);
        extra += x.getValue() - 1;
      }
      c.duplicates = Math.max(c.duplicates, extra);
      for (var a : acked.entrySet()) {
        int at = (int) (a.getValue() - 1);
        if (copies.containsKey(a.getKey()) && (at >= values.size() || !a.getKey().equals(values.get(at)))) {
          misplaced.add(a.getKey());
        }
      }
    }
    c.misplaced = misplaced.size();
    for (int holding : nodesHolding.values()) {
      if (holding < replicas.size()) {
        c.lostOnNode++;
      }
    }
    Map<String, Long> newestReadOfClient = new HashMap<>();
    for (String v : union) {
      if (!attempted.contains(v)) {
        c.unexpected++;
        continue;
      }
      if (!acked.containsKey(v)) {
        c.recovered++;
      }
      String[] parts = v.split("-");
      newestReadOfClient.merge(parts[0], Long.parseLong(parts[1]), Math::max);
    }
    for (String v : acked.keySet()) {
      if (!union.contains(v)) {
        c.lost++;
        String[] parts = v.split("-");
        if (newestReadOfClient.getOrDefault(parts[0], 0L) > Long.parseLong(parts[1])) {
          c.lostMiddle++;
        }
      }
    }
  }

  /** The history's counts, as Jepsen counts them. */
  static final class Check {
    /** The stream's replica count: a majority of them must be read. */
    final int nodes;
    long acked;
    long lost;
    long lostMiddle;
    long lostOnNode;
    long unexpected;
    long recovered;
    long duplicates;
    long misplaced;
    int readNodes;
    final List<String> notes = new ArrayList<>();

    Check(int nodes) {
      this.nodes = nodes;
    }

    /** Nothing acked lost, no divergence, nothing invented, doubled or moved — read from a majority of the replicas. */
    boolean valid() {
      return readNodes > nodes / 2 && lost == 0 && lostOnNode == 0 && unexpected == 0 && duplicates == 0
          && misplaced == 0;
    }
  }

  static void sleepMillis(long millis) {
    try {
      Thread.sleep(millis); // the nemesis's schedule and client pacing, not a wait for a condition
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  // =========================================================================================
  // Network partitions: iptables rules between the nodes' loopback addresses
  // =========================================================================================

  /**
   * Partitions with iptables, in a chain of our own ({@value #CHAIN}) jumped to from INPUT: a rule
   * drops packets from one node's address to another's. Each node binds its own loopback address
   * and connects from it, so these rules cut exactly the links between nodes; clients (from
   * 127.0.0.1) still reach every node, as in Jepsen's tests. Needs root and iptables.
   */
  static final class Net {
    static final String CHAIN = "HOLDFAST-TORTURE";

    private Net() {}

    static void check() {
      try {
        if (exec(false, "iptables", "-L", "INPUT", "-n") != 0) {
          throw new UsageException("partitions need root and iptables (apt-get install iptables); "
              + "run as root, or leave out partition and split-brain with --faults");
        }
      } catch (IOException e) {
        throw new UsageException("partitions need iptables, which is not installed (apt-get install iptables)");
      }
    }

    static void setUp() throws IOException {
      exec(false, "iptables", "-N", CHAIN); // exists already after an interrupted run: fine
      exec(true, "iptables", "-F", CHAIN);
      if (exec(false, "iptables", "-C", "INPUT", "-j", CHAIN) != 0) {
        exec(true, "iptables", "-I", "INPUT", "-j", CHAIN);
      }
    }

    /** Cuts every link between the nodes in {@code side} and the others. */
    static void isolate(LocalCluster cluster, List<Integer> side) throws IOException {
      for (LocalCluster.Node a : cluster.nodes) {
        for (LocalCluster.Node b : cluster.nodes) {
          if (side.contains(a.id()) && !side.contains(b.id())) {
            exec(true, "iptables", "-A", CHAIN, "-s", a.host(), "-d", b.host(), "-j", "DROP");
            exec(true, "iptables", "-A", CHAIN, "-s", b.host(), "-d", a.host(), "-j", "DROP");
          }
        }
      }
    }

    static void heal() throws IOException {
      exec(false, "iptables", "-F", CHAIN);
    }

    static void tearDown() {
      try {
        exec(false, "iptables", "-F", CHAIN);
        exec(false, "iptables", "-D", "INPUT", "-j", CHAIN);
        exec(false, "iptables", "-X", CHAIN);
      } catch (IOException e) {
        System.err.println("torture: could not remove iptables chain " + CHAIN + ": " + e.getMessage());
      }
    }

    private static int exec(boolean mustSucceed, String... cmd) throws IOException {
      Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
      try {
        String output = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        int code = p.waitFor();
        if (mustSucceed && code != 0) {
          throw new IOException(String.join(" ", cmd) + " failed (" + code + "): " + output.strip());
        }
        return code;
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new IOException("interrupted", e);
      }
    }
  }
}
