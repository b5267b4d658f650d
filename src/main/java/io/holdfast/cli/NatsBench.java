package io.holdfast.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.holdfast.local.LocalCluster;
import io.nats.client.Connection;
import io.nats.client.ConsumerContext;
import io.nats.client.JetStream;
import io.nats.client.JetStreamApiException;
import io.nats.client.JetStreamManagement;
import io.nats.client.Message;
import io.nats.client.MessageConsumer;
import io.nats.client.Nats;
import io.nats.client.Options;
import io.nats.client.api.AckPolicy;
import io.nats.client.api.ConsumerConfiguration;
import io.nats.client.api.StorageType;
import io.nats.client.api.StreamConfiguration;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.HdrHistogram.Histogram;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code holdfast bench nats}: a NATS JetStream workload driven by jnats, the same against
 * Holdfast's NATS listener or a nats-server ({@code --server}): asynchronous publishes with
 * {@code --inflight} acks outstanding to a stream of {@code --replicas} (created if missing,
 * purged first), then with {@code --consume} a drain through a pull consumer that acks each
 * message. Without {@code --server} it starts a 3-node process cluster of its own under
 * {@code --dir} and measures that disk's raw fsync rate as the baseline. With {@code --streams N}
 * the publishes go round robin to N streams (one subject each), created in parallel; the run then
 * also reports how their leaders spread over the servers and the servers' memory. Every run
 * reports the bytes the servers wrote per acked payload byte, and with its own cluster the share
 * of the disk's sequential fsynced bandwidth that took (the measure for large messages).
 */
@Command(name = "nats", sortOptions = false,
    description = "Publish (and with --consume drain) a stream through a NATS client; Holdfast or nats-server.")
final class NatsBench extends CliCommand.Reporting {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final String STREAM = "BENCH";
  private static final String SUBJECT = "bench.nats";
  /** Warm-up rounds that always run (of --warmup messages each, by default 200k of 1 KiB: 800k messages). */
  private static final int MIN_WARMUP_ROUNDS = 4;

  @Option(names = "--server", paramLabel = "nats://HOST:PORT",
      description = "A running server (Holdfast node or nats-server); default: start a 3-node Holdfast cluster.")
  String server;
  @Option(names = "--replicas", paramLabel = "1|3", description = "Replicas of the stream (default ${DEFAULT-VALUE}).")
  int replicas = 3;
  @Option(names = "--size", paramLabel = "B", description = "Payload bytes per message (default ${DEFAULT-VALUE}).")
  int size = 1024;
  @Option(names = "--inflight", paramLabel = "N", description = "Publishes awaiting their ack at most (default ${DEFAULT-VALUE}).")
  int inflight = 1000;
  @Option(names = "--msgs", paramLabel = "N", description = "Messages to publish (default ${DEFAULT-VALUE}).")
  long msgs = 100_000;
  @Option(names = "--streams", paramLabel = "N", description = "Streams the publishes go to, round robin, one"
      + " subject each (default ${DEFAULT-VALUE}).")
  int streams = 1;
  @Option(names = "--consume", description = "Then drain the stream through a pull consumer, acking each message.")
  boolean consume;
  @Option(names = "--warmup", paramLabel = "N", description = "Messages of a warm-up round: published (and with"
      + " --consume drained) unmeasured, then purged; 0: no warm-up (default: 200000, or 200 MiB of payload if"
      + " fewer, at least 100).")
  Long warmupOption;
  /** The warm-up round's messages, from --warmup or its default ({@link #warmUp}). */
  long warmup;
  @Option(names = "--warmup-rounds", paramLabel = "N", description = "Warm-up rounds at most; past the fourth they end"
      + " once a round's rate is within 10%% of the round before (default ${DEFAULT-VALUE}).")
  int warmupRounds = 10;
  @Option(names = "--dir", paramLabel = "DIR", description = "Where the own cluster keeps its data; after the run"
      + " only the servers' logs stay there (default ${DEFAULT-VALUE}).")
  Path dirOption = Path.of("target", "bench-nats");
  @Option(names = "--heap", paramLabel = "SIZE", description = "-Xmx of the own cluster's nodes (default ${DEFAULT-VALUE}).")
  String heapOption = "512m";
  @Option(names = "--peer", description = "Then run the same workload against 3 nats-server processes started under"
      + " --dir (nats-server on the PATH); their figures go under \"nats_server\".")
  boolean peer;
  @Option(names = "--tls", description = "Then run the same workload against a second own cluster with TLS everywhere"
      + " (cluster start --tls: between nodes and for NATS clients); its figures go under \"tls\".")
  boolean tls;

  /** Why the first failed publish of a round failed. */
  private volatile String firstFailure;

  /** The server processes this run measures the CPU of (own clusters only; empty with --server). */
  private List<Long> serverPids = List.of();

  /** CPU time (user + system) the processes {@code pids} used so far, in ms; from /proc/PID/stat (100 ticks/s). */
  static long cpuMillis(List<Long> pids) {
    return 10 * sumOverProcesses(pids, "stat", stat -> {
      String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
      return Long.parseLong(f[11]) + Long.parseLong(f[12]); // utime, stime: fields 14 and 15
    });
  }

  /**
   * Bytes the processes {@code pids} sent towards storage so far (/proc/PID/io write_bytes: pages
   * they dirtied, whether or not written back yet): what their writes cost the disk.
   */
  static long diskWriteBytes(List<Long> pids) {
    return sumOverProcesses(pids, "io", io -> io.lines().filter(l -> l.startsWith("write_bytes:"))
        .mapToLong(l -> Long.parseLong(l.substring("write_bytes:".length()).trim())).sum());
  }

  /** {@code figure} of /proc/PID/{@code file}, summed over {@code pids}; a process that exited counts nothing. */
  private static long sumOverProcesses(List<Long> pids, String file, java.util.function.ToLongFunction<String> figure) {
    long sum = 0;
    for (long pid : pids) {
      try {
        sum += figure.applyAsLong(Files.readString(Path.of("/proc", Long.toString(pid), file)));
      } catch (java.io.IOException | RuntimeException gone) {
        // exited: it no longer counts
      }
    }
    return sum;
  }

  @Override
  public Integer call() throws Exception {
    PrintStream out = out();
    PrintStream err = err();
    between("--replicas", replicas, 1, 5);
    between("--size", size, 0, 1 << 20);
    between("--inflight", inflight, 1, 100_000);
    between("--streams", streams, 1, 10_000);
    if (consume && streams > 1) {
      // A drain of many streams would measure how the client spreads its pulls, not the servers.
      throw new UsageException("--consume drains one stream: leave out --streams");
    }
    between("--msgs", msgs, 1, 100_000_000);
    warmup = warmupOption != null ? warmupOption : Math.max(100, Math.min(200_000, (200L << 20) / Math.max(1, size)));
    between("--warmup", warmup, 0, 100_000_000);
    between("--warmup-rounds", warmupRounds, 1, 100);
    if (server != null && !server.startsWith("nats://")) {
      throw new UsageException("--server must be a nats:// URL, got '" + server + "'");
    }
    if (server != null && tls) {
      throw new UsageException("--tls compares with the cluster this command starts: leave out --server");
    }
    if (server != null && peer) {
      throw new UsageException("--peer compares with the cluster this command starts: leave out --server");
    }
    if (peer) {
      NatsServerCluster.requireInstalled();
    }
    ObjectNode r = JSON.createObjectNode();
    LocalCluster cluster = null;
    Thread killOnExit = null;
    Path dir = dirOption.toAbsolutePath().normalize();
    List<String> urls = new ArrayList<>();
    try {
      if (server == null) {
        String heap = LocalCluster.heap(heapOption);
        LocalCluster.deleteTree(dir);
        Files.createDirectories(dir);
        err.printf("bench nats: raw fsync rate of %s ...%n", dir);
        double[] raw = JournalBench.rawFsync(dir.resolve("raw-fsync.dat"), 2);
        r.put("raw_fsync_per_s", Math.round(raw[0])).put("raw_fsync_p50_us", Math.round(raw[1]));
        // Sequential 1 MiB writes, each fsynced: the bandwidth large messages are measured against.
        double[] seq = JournalBench.rawFsync(dir.resolve("raw-sequential.dat"), 2, 1 << 20);
        Files.deleteIfExists(dir.resolve("raw-sequential.dat"));
        r.put("raw_seq_fsync_mib_per_s", Math.round(seq[0]));
        cluster = LocalCluster.openOrCreate(dir.resolve("cluster"), 3, false, heap);
        killOnExit = cluster.killOnExit();
        err.printf("bench nats: starting a 3-node Holdfast cluster under %s ...%n", dir);
        cluster.startAll(err);
        cluster.nodes.forEach(n -> urls.add(n.nats()));
        LocalCluster started = cluster;
        serverPids = cluster.nodes.stream().map(n -> started.pid(n.id()).orElse(-1L)).toList();
      } else {
        urls.add(server);
      }
      run(urls, null, r, err);
      diskShare(r, r);
      if (cluster != null) {
        // The nodes' live set after a full GC (jcmd), the largest: what the streams cost the heap.
        r.put("node_live_heap_mib_max", CapacityBench.liveHeapMax(cluster) / 1048576);
      }
    } finally {
      if (cluster != null) {
        cluster.stopAll(err);
        LocalCluster.keepOnExit(killOnExit);
      }
    }
    ObjectNode peerFigures = null;
    if (peer) {
      // After the Holdfast nodes stopped: the two never share the cores or the disk.
      err.printf("bench nats: the same workload against nats-server ...%n");
      peerFigures = r.putObject("nats_server");
      try (NatsServerCluster nats = NatsServerCluster.start(dir.resolve("nats-server"), err)) {
        serverPids = nats.pids();
        run(nats.urls, null, peerFigures, err);
      }
      diskShare(r, peerFigures);
      r.put("acked_vs_nats_server", ratio(r.path("acked_per_s").asDouble(), peerFigures.path("acked_per_s").asDouble()));
      if (consume) {
        r.put("consumed_vs_nats_server", ratio(r.path("consumed_per_s").asDouble(),
            peerFigures.path("consumed_per_s").asDouble()));
      }
    }
    ObjectNode tlsFigures = tls ? tlsRun(dir, r, err) : null;
    if (server == null) {
      // The data goes; the servers' logs of this run stay (until the next run), so that a stall or
      // a failure the figures show can still be looked into.
      LocalCluster.deleteTreeBut(dir, p -> p.getFileName().toString().endsWith(".log"));
      err.printf("bench nats: the servers' logs of this run stay under %s%n", dir);
    }
    out.println(summary(r));
    if (tlsFigures != null) {
      out.println(summary(tlsFigures));
    }
    if (peerFigures != null) {
      out.println(summary(peerFigures));
    }
    if (json) {
      out.println(JSON.writeValueAsString(r));
    }
    return r.path("failed").asLong() + (peerFigures == null ? 0 : peerFigures.path("failed").asLong())
        + (tlsFigures == null ? 0 : tlsFigures.path("failed").asLong()) == 0 ? 0 : 1;
  }

  /**
   * The same workload against a second own cluster with TLS everywhere (its own directory, after
   * the first cluster stopped): figures under "tls", and the ratio of its acked and consumed rates
   * to the plaintext cluster's of this run.
   */
  private ObjectNode tlsRun(Path dir, ObjectNode r, PrintStream err) throws Exception {
    ObjectNode t = r.putObject("tls");
    LocalCluster cluster = LocalCluster.openOrCreate(dir.resolve("cluster-tls"), 3, false, LocalCluster.heap(heapOption),
        true);
    Thread killOnExit = cluster.killOnExit();
    try {
      err.printf("bench nats: the same workload against a 3-node Holdfast cluster with TLS ...%n");
      cluster.startAll(err);
      serverPids = cluster.nodes.stream().map(n -> cluster.pid(n.id()).orElse(-1L)).toList();
      run(cluster.nodes.stream().map(LocalCluster.Node::nats).toList(), cluster.trust(), t, err);
    } finally {
      cluster.stopAll(err);
      LocalCluster.keepOnExit(killOnExit);
    }
    r.put("acked_tls_vs_plain", ratio(t.path("acked_per_s").asDouble(), r.path("acked_per_s").asDouble()));
    if (consume) {
      r.put("consumed_tls_vs_plain", ratio(t.path("consumed_per_s").asDouble(), r.path("consumed_per_s").asDouble()));
    }
    return t;
  }

  private String summary(ObjectNode r) {
    return String.format("bench nats: %s: %d messages of %d bytes, %d replicas, %s%d in flight: %s acked/s (p50 %s us,"
        + " p99 %s us)%s", r.path("server").asText(), msgs, size, replicas, streams > 1 ? streams + " streams, " : "",
        inflight, r.get("acked_per_s"),
        r.get("ack_p50_us"), r.get("ack_p99_us"), consume ? ", consumed " + r.get("consumed_per_s") + "/s" : "");
  }

  /**
   * The share of the disk's sequential fsynced bandwidth ({@code baseline}'s) that {@code r}'s
   * acked messages used, counting every byte they cost the disk (replicas x write amplification).
   */
  private static void diskShare(ObjectNode baseline, ObjectNode r) {
    double disk = baseline.path("raw_seq_fsync_mib_per_s").asDouble();
    if (disk > 0 && r.has("server_disk_bytes_per_acked_byte")) {
      r.put("disk_share", Math.round(r.path("acked_mib_per_s").asDouble()
          * r.path("server_disk_bytes_per_acked_byte").asDouble() / disk * 100) / 100.0);
    }
  }

  /** {@code cpuMillis} per 1,000 of {@code messages}, to a tenth. */
  private static double perThousand(long cpuMillis, long messages) {
    return Math.round(cpuMillis * 1000.0 / Math.max(1, messages) * 10) / 10.0;
  }

  private static double ratio(double a, double b) {
    return b == 0 ? 0 : Math.round(a / b * 100) / 100.0;
  }

  /** The workload against the servers {@code urls}, over TLS trusting {@code trust} if given. */
  private void run(List<String> urls, javax.net.ssl.SSLContext trust, ObjectNode r, PrintStream err) throws Exception {
    Options.Builder builder = new Options.Builder().servers(urls.toArray(new String[0]))
        .connectionTimeout(Duration.ofSeconds(10)).maxMessagesInOutgoingQueue(Math.max(5000, inflight * 2));
    Options options = (trust == null ? builder : builder.sslContext(trust)).build();
    try (Connection nc = Nats.connect(options)) {
      JetStreamManagement jsm = nc.jetStreamManagement();
      prepareStreams(jsm, err);
      JetStream js = nc.jetStream(io.nats.client.JetStreamOptions.builder().requestTimeout(Duration.ofSeconds(30))
          .build());
      warmUp(nc, js, r, err);
      err.printf("bench nats: publishing %d messages of %d bytes with %d in flight to %s ...%n", msgs, size, inflight,
          nc.getConnectedUrl());
      Histogram latency = new Histogram(3);
      AtomicLong failed = new AtomicLong();
      AtomicLong acked = new AtomicLong();
      long cpuBefore = cpuMillis(serverPids);
      long writtenBefore = diskWriteBytes(serverPids);
      double secs = publish(js, msgs, latency, failed, acked);
      long cpu = cpuMillis(serverPids) - cpuBefore;
      long written = diskWriteBytes(serverPids) - writtenBefore;
      r.put("replicas", replicas).put("streams", streams).put("size", size).put("inflight", inflight).put("msgs", msgs)
          .put("acked_per_s", Math.round(acked.get() / secs))
          .put("ack_p50_us", latency.getValueAtPercentile(50)).put("ack_p99_us", latency.getValueAtPercentile(99))
          .put("failed", failed.get());
      if (failed.get() > 0) {
        err.printf("bench nats: %d publishes failed; the first: %s%n", failed.get(), firstFailure);
      }
      if (!serverPids.isEmpty()) {
        // CPU the three servers spent per 1,000 acked publishes: steadier than a rate on a shared machine.
        r.put("server_cpu_ms_per_1k_acked", perThousand(cpu, acked.get()));
        // What one acked payload byte cost the disk over all servers: replicas x write amplification.
        r.put("server_disk_bytes_per_acked_byte", Math.round(written * 100.0 / Math.max(1, acked.get() * size)) / 100.0);
      }
      r.put("acked_mib_per_s", Math.round(acked.get() * (double) size / secs / 1048576 * 10) / 10.0);
      if (consume) {
        long cpuBeforeDrain = cpuMillis(serverPids);
        r.put("consumed_per_s", drain(nc, acked.get(), err));
        if (!serverPids.isEmpty()) {
          r.put("server_cpu_ms_per_1k_consumed", perThousand(cpuMillis(serverPids) - cpuBeforeDrain, acked.get()));
        }
      } else {
        r.putNull("consumed_per_s");
      }
      r.put("server", nc.getServerInfo().getServerName() + " " + nc.getServerInfo().getVersion() + " at "
          + nc.getConnectedUrl());
      if (streams == 1) {
        // Whether the client's server led the stream: through another node, every message also
        // crosses the cluster once more, so the figures differ.
        var cluster = jsm.getStreamInfo(STREAM).getClusterInfo();
        r.put("stream_leader", cluster == null ? null : cluster.getLeader());
      } else {
        leaders(jsm, r.putObject("stream_leaders"));
      }
      if (!serverPids.isEmpty()) {
        r.put("server_rss_mib_max", LocalCluster.rssMibMax(serverPids));
      }
    }
  }

  /** Stream {@code i} of {@code --streams}: the one stream is BENCH on bench.nats, as before there were more. */
  private static String stream(int i) {
    return i == 0 ? STREAM : STREAM + "_" + i;
  }

  private static String subject(int i) {
    return i == 0 ? SUBJECT : SUBJECT + "." + i;
  }

  /** Runs {@code task} for every stream, {@value #ADMIN_PARALLEL} at a time; progress every 10%% past 100 streams. */
  private void eachStream(String doing, PrintStream err, StreamTask task) throws Exception {
    if (streams == 1) {
      task.run(0);
      return;
    }
    java.util.concurrent.ExecutorService pool = java.util.concurrent.Executors.newFixedThreadPool(ADMIN_PARALLEL);
    try {
      List<java.util.concurrent.Future<?>> done = new ArrayList<>();
      for (int i = 0; i < streams; i++) {
        int stream = i;
        done.add(pool.submit(() -> {
          task.run(stream);
          return null;
        }));
      }
      int step = Math.max(100, streams / 10);
      for (int i = 0; i < done.size(); i++) {
        try {
          done.get(i).get();
        } catch (java.util.concurrent.ExecutionException e) {
          throw e.getCause() instanceof Exception x ? x : e;
        }
        if ((i + 1) % step == 0 || i + 1 == done.size()) {
          err.printf("bench nats: %s: %d of %d streams%n", doing, i + 1, streams);
        }
      }
    } finally {
      pool.shutdownNow();
    }
  }

  private interface StreamTask {
    void run(int stream) throws Exception;
  }

  /** Stream administration requests in flight at once with --streams. */
  private static final int ADMIN_PARALLEL = 16;

  /**
   * Every stream exists with the asked replicas and is empty. A cluster just started may not have
   * its JetStream meta leader yet (nats-server: 10008), so each is tried again for 30 s.
   */
  private void prepareStreams(JetStreamManagement jsm, PrintStream err) throws Exception {
    long deadline = System.nanoTime() + 30_000_000_000L;
    eachStream("created", err, i -> {
      while (true) {
        try {
          prepareStream(jsm, i, err);
          return;
        } catch (JetStreamApiException | java.io.IOException notYet) {
          if (System.nanoTime() > deadline) {
            throw notYet;
          }
          err.printf("bench nats: stream %s not created yet (%s); again in 1 s%n", stream(i), notYet.getMessage());
          Thread.sleep(1000);
        }
      }
    });
  }

  /** How many of the streams each server leads. */
  private void leaders(JetStreamManagement jsm, ObjectNode into) throws Exception {
    java.util.concurrent.ConcurrentHashMap<String, Integer> counts = new java.util.concurrent.ConcurrentHashMap<>();
    eachStream("leaders found", err(), i -> {
      var cluster = jsm.getStreamInfo(stream(i)).getClusterInfo();
      counts.merge(cluster == null || cluster.getLeader() == null ? "none" : cluster.getLeader(), 1, Integer::sum);
    });
    new java.util.TreeMap<>(counts).forEach(into::put);
  }

  /**
   * Warm-up rounds until the rate settles. A JVM server runs its hot path interpreted at first,
   * and on this 2-core machine, where three nodes and the client share the cores, the nodes'
   * compilers took most of the CPU for the first ~200k messages (jstat: 16 s of compile time in a
   * leader's first round of 100k): the first round went at a third of the settled rate. Rounds of
   * 50k were too short: four of them (200k messages, ~30 s after the nodes started) looked settled
   * within 10% while the C2 compiler threads still took a fifth of all CPU samples in the measured
   * phase (perf), which went at 23.7k acked/s and 74 ms server CPU per 1k; after rounds of 200k,
   * 37.2k/s at 44 ms. A server runs for days: its settled rate is the one to compare. Each
   * round's rates are reported too ({@code warmup}), so that the cold figures are not hidden. Two
   * rounds in a row can be alike by chance before that: the first {@value #MIN_WARMUP_ROUNDS} always run.
   */
  private void warmUp(Connection nc, JetStream js, ObjectNode r, PrintStream err) throws Exception {
    var rounds = r.putArray("warmup");
    double previous = 0;
    for (int round = 1; warmup > 0 && round <= warmupRounds; round++) {
      err.printf("bench nats: warm-up round %d of at most %d: %d messages (not measured) ...%n", round, warmupRounds,
          warmup);
      AtomicLong acked = new AtomicLong();
      double secs = publish(js, warmup, new Histogram(3), new AtomicLong(), acked);
      var figures = rounds.addObject().put("acked_per_s", Math.round(acked.get() / secs));
      if (consume) {
        long consumed = drain(nc, acked.get(), err);
        figures.put("consumed_per_s", consumed);
        secs += acked.get() / (double) Math.max(1, consumed);
        nc.jetStreamManagement().deleteConsumer(STREAM, "bench");
      }
      JetStreamManagement jsm = nc.jetStreamManagement();
      eachStream("purged", err, i -> jsm.purgeStream(stream(i)));
      double rate = warmup / secs;
      if (round >= MIN_WARMUP_ROUNDS && Math.abs(rate - previous) <= 0.10 * previous) {
        break; // settled
      }
      previous = rate;
    }
  }

  /** Publishes {@code count} messages with {@code --inflight} acks outstanding; the seconds it took. */
  private double publish(JetStream js, long count, Histogram latency, AtomicLong failed, AtomicLong acked)
    throws InterruptedException {
    byte[] payload = new byte[size];
    String[] subjects = new String[streams];
    java.util.Arrays.setAll(subjects, NatsBench::subject);
    Semaphore window = new Semaphore(inflight);
    long start = System.nanoTime();
    for (long i = 0; i < count; i++) {
      window.acquire();
      long sent = System.nanoTime();
      js.publishAsync(subjects[(int) (i % streams)], payload).whenComplete((ack, e) -> {
        long micros = (System.nanoTime() - sent) / 1000;
        synchronized (latency) {
          latency.recordValue(Math.max(1, micros));
        }
        if (e != null) {
          if (failed.incrementAndGet() == 1) {
            firstFailure = e instanceof java.util.concurrent.CompletionException c && c.getCause() != null
                ? c.getCause().toString() : e.toString();
          }
        } else {
          acked.incrementAndGet();
        }
        window.release();
      });
    }
    window.acquire(inflight);
    return (System.nanoTime() - start) / 1e9;
  }

  /** Stream {@code i} exists with the asked replicas, and is empty. */
  private void prepareStream(JetStreamManagement jsm, int i, PrintStream err) throws Exception {
    String name = stream(i);
    try {
      var info = jsm.getStreamInfo(name);
      if (info.getConfiguration().getReplicas() != replicas) {
        jsm.deleteStream(name);
        throw new IllegalStateException("recreate");
      }
      jsm.purgeStream(name);
      if (streams == 1) {
        err.printf("bench nats: stream %s exists: purged it%n", name);
      }
    } catch (JetStreamApiException | IllegalStateException missing) {
      jsm.addStream(StreamConfiguration.builder().name(name).subjects(subject(i)).replicas(replicas)
          .storageType(StorageType.File).build());
    }
    if (i > 0) {
      return; // only the one stream is drained
    }
    try {
      jsm.deleteConsumer(STREAM, "bench");
    } catch (JetStreamApiException none) {
      // no consumer left from an earlier run
    }
  }

  /** Drains {@code expected} messages through a durable pull consumer, acking each; messages per second. */
  private long drain(Connection nc, long expected, PrintStream err) throws Exception {
    err.printf("bench nats: draining %d messages through a pull consumer ...%n", expected);
    ConsumerContext cc = nc.getStreamContext(STREAM).createOrUpdateConsumer(ConsumerConfiguration.builder()
        .durable("bench").ackPolicy(AckPolicy.Explicit).ackWait(Duration.ofSeconds(60)).build());
    CountDownLatch done = new CountDownLatch(1);
    AtomicLong got = new AtomicLong();
    long start = System.nanoTime();
    try (MessageConsumer mc = cc.consume(io.nats.client.ConsumeOptions.builder().batchSize(1000).build(),
        (Message m) -> {
          m.ack();
          if (got.incrementAndGet() == expected) {
            done.countDown();
          }
        })) {
      if (!done.await(Math.max(60, expected / 1000), TimeUnit.SECONDS)) {
        err.printf("bench nats: the drain stopped at %d of %d messages%n", got.get(), expected);
      }
    }
    return Math.round(got.get() / ((System.nanoTime() - start) / 1e9));
  }
}
