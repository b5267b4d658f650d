package io.holdfast.local;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.File;
import java.io.IOException;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;

/**
 * A cluster of node JVMs on 127.0.0.1 under one directory: {@code DIR/cluster.json} (ids and
 * ports, chosen free at the first start and kept), and per node {@code nodeN.conf},
 * {@code nodeN.log}, {@code nodeN.pid} and its data in {@code nodeN/}. Processes are started
 * detached (they outlive this command) and stopped only by the PIDs recorded here.
 */
public final class LocalCluster {
  private static final ObjectMapper JSON = new ObjectMapper();
  public static final Duration READY_TIMEOUT = Duration.ofSeconds(120);

  /**
   * A node: its id, ports, and the loopback address it binds and connects from ({@code host}):
   * 127.0.0.1 for ordinary clusters; 127.0.0.(10+id) for the fault campaign, so that packet
   * filters can cut the links between two nodes (Artery's outbound connections bind it too).
   */
  public record Node(int id, int arteryPort, int httpPort, int natsPort, String host, boolean tls) {
    public String http() {
      return (tls ? "https://" : "http://") + host + ":" + httpPort;
    }

    public String nats() {
      return (tls ? "tls://" : "nats://") + host + ":" + natsPort;
    }

    public String artery() {
      return "\"pekko://holdfast@" + host + ":" + arteryPort + '"';
    }
  }

  /** Node heap (-Xmx) unless the cluster says otherwise: see README, "The heap a node needs". */
  public static final String HEAP_DEFAULT = "512m";

  public final Path dir;
  public final List<Node> nodes;
  /** The -Xmx of every node JVM, kept in cluster.json. */
  public final String heap;

  private LocalCluster(Path dir, List<Node> nodes, String heap) {
    this.dir = dir.toAbsolutePath(); // nodes run in their own directories (start), so paths they get are absolute
    this.nodes = nodes;
    this.heap = heap;
  }

  public static LocalCluster open(Path dir) throws IOException {
    Path file = dir.resolve("cluster.json");
    if (!Files.exists(file)) {
      throw new LocalClusterException("no cluster in " + dir + " (start one with: holdfast cluster start --dir " + dir + ")");
    }
    JsonNode j = JSON.readTree(file.toFile());
    List<Node> nodes = new ArrayList<>();
    for (JsonNode n : j.get("nodes")) {
      nodes.add(new Node(n.get("id").asInt(), n.get("artery_port").asInt(), n.get("http_port").asInt(),
          n.path("nats_port").asInt(0), n.path("host").asText("127.0.0.1"), j.path("tls").asBoolean(false)));
    }
    return new LocalCluster(dir, nodes, j.path("heap").asText(HEAP_DEFAULT));
  }

  /** A heap size as -Xmx takes it (512m, 1g), checked: at least 128 MiB. */
  public static String heap(String text) {
    if (!text.matches("[0-9]+[mMgG]")) {
      throw new LocalClusterException("--heap takes a size like 256m or 1g, got '" + text + "'");
    }
    long mib = Long.parseLong(text.substring(0, text.length() - 1)) * (Character.toLowerCase(text.charAt(text.length()
        - 1)) == 'g' ? 1024 : 1);
    if (mib < 128) {
      throw new LocalClusterException("--heap must be at least 128m (Pekko, the node's log memory and its buffers)");
    }
    return text.toLowerCase(java.util.Locale.ROOT);
  }

  /** The cluster in {@code dir} if there is one (its size must match), else a new one on free ports. */
  public static LocalCluster openOrCreate(Path dir, int n) throws IOException {
    return openOrCreate(dir, n, false, HEAP_DEFAULT);
  }

  public static LocalCluster openOrCreate(Path dir, int n, boolean hostPerNode) throws IOException {
    return openOrCreate(dir, n, hostPerNode, HEAP_DEFAULT);
  }

  /**
   * With {@code hostPerNode}, node i binds 127.0.0.(10+i) instead of 127.0.0.1 (see {@link Node});
   * {@code heap} is each node's -Xmx (a cluster that exists keeps its own).
   */
  public static LocalCluster openOrCreate(Path dir, int n, boolean hostPerNode, String heap) throws IOException {
    return openOrCreate(dir, n, hostPerNode, heap, false);
  }

  /**
   * With {@code tls}, a new cluster gets a throwaway CA and a certificate per node in
   * {@code DIR/tls/}, and its nodes talk TLS to each other (Artery's tls-tcp, mutual
   * authentication) and to clients (HTTPS, NATS over TLS).
   */
  public static LocalCluster openOrCreate(Path dir, int n, boolean hostPerNode, String heap, boolean tls)
      throws IOException {
    if (Files.exists(dir.resolve("cluster.json"))) {
      LocalCluster c = open(dir);
      if (c.nodes.size() != n) {
        throw new LocalClusterException(dir + " holds a cluster of " + c.nodes.size() + " nodes, not " + n
            + "; use another --dir or remove it");
      }
      if (tls && !c.tls()) {
        throw new LocalClusterException(dir + " holds a cluster made without --tls; use another --dir or remove it");
      }
      return c;
    }
    Files.createDirectories(dir);
    List<Node> nodes = new ArrayList<>();
    for (int id = 1; id <= n; id++) {
      String host = hostPerNode ? "127.0.0." + (10 + id) : "127.0.0.1";
      nodes.add(new Node(id, freePort(host), freePort(host), freePort(host), host, tls));
    }
    LocalCluster c = new LocalCluster(dir, nodes, heap);
    if (tls) {
      c.makeCertificates();
    }
    ObjectNode j = JSON.createObjectNode();
    j.put("heap", heap);
    j.put("tls", tls);
    ArrayNode arr = j.putArray("nodes");
    for (Node node : nodes) {
      arr.addObject().put("id", node.id()).put("artery_port", node.arteryPort()).put("http_port", node.httpPort())
          .put("nats_port", node.natsPort()).put("host", node.host());
    }
    Files.writeString(dir.resolve("cluster.json"), j.toPrettyString());
    return c;
  }

  /**
   * A port free on {@code host}, below Linux's ephemeral range (32768–60999): a port the kernel
   * hands out is also what it picks as the source port of outgoing connections, so between this
   * check and the node's bind another connection could take it (seen once: "Bind failed").
   */
  public static int freePort(String host) throws IOException {
    java.util.Random random = new java.util.Random();
    for (int i = 0; i < 200; i++) {
      int port = 20_000 + random.nextInt(12_000);
      try (ServerSocket s = new ServerSocket(port, 1, InetAddress.getByName(host))) {
        return s.getLocalPort();
      } catch (IOException taken) {
        // another one
      }
    }
    throw new IOException("no free port found on " + host + " in 20000-31999");
  }

  /** Whether this cluster's nodes use TLS (made by {@code cluster start --tls}). */
  public boolean tls() {
    return nodes.get(0).tls();
  }

  private Path tlsDir() {
    return dir.resolve("tls");
  }

  /** The password of the cluster's key and trust stores: random, in {@code tls/password} (owner-only). */
  private String storePassword() throws IOException {
    return Files.readString(tlsDir().resolve("password")).trim();
  }

  /** The CA, its trust store, and each node's key store and PEM files, under {@code DIR/tls/}. */
  private void makeCertificates() throws IOException {
    Files.createDirectories(tlsDir());
    byte[] random = new byte[18];
    new java.security.SecureRandom().nextBytes(random);
    String password = java.util.Base64.getUrlEncoder().withoutPadding().encodeToString(random);
    Path file = tlsDir().resolve("password");
    Files.writeString(file, password + "\n");
    try {
      Files.setPosixFilePermissions(file, java.nio.file.attribute.PosixFilePermissions.fromString("rw-------"));
    } catch (UnsupportedOperationException notPosix) {
      // the directory's own permissions then guard it
    }
    io.holdfast.security.CertificateAuthority ca = io.holdfast.security.CertificateAuthority.create(
        "holdfast local cluster CA " + dir.getFileName());
    ca.writeTrust(tlsDir(), password.toCharArray());
    for (Node n : nodes) {
      ca.issue("holdfast node " + n.id(), List.of(n.host()), tlsDir().resolve("node" + n.id()), password.toCharArray());
    }
  }

  /** A client context that trusts this cluster's CA, or null for a cluster without TLS. */
  public javax.net.ssl.SSLContext trust() {
    return tls() ? io.holdfast.security.Tls.clientContext(tlsDir().resolve("ca.pem")) : null;
  }

  /** An HTTP client for this cluster's nodes (trusting its CA if it has one). */
  public HttpClient httpClient() {
    HttpClient.Builder b = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2));
    return tls() ? b.sslContext(trust()).build() : b.build();
  }

  /** A client of node {@code n}'s HTTP API (trusting the cluster's CA if it has one). */
  public NodeClient client(Node n) {
    return new NodeClient(n.http(), trust());
  }

  public Node node(int id) {
    return nodes.stream().filter(n -> n.id() == id).findFirst()
        .orElseThrow(() -> new LocalClusterException("no node " + id + " in " + dir + " (nodes 1.." + nodes.size() + ")"));
  }

  private Path conf(int id) {
    return dir.resolve("node" + id + ".conf");
  }

  private Path pidFile(int id) {
    return dir.resolve("node" + id + ".pid");
  }

  public Path log(int id) {
    return dir.resolve("node" + id + ".log");
  }

  /**
   * Writes every node's config. The seed nodes are the meta voters, in the same order on every
   * node: {@code holdfast node} forms the cluster from them in any start order (ClusterFormation).
   */
  private void writeConfs() throws IOException {
    for (Node node : nodes) {
      Files.writeString(conf(node.id()), nodeConf(node));
    }
  }

  private String nodeConf(Node node) {
    int voters = nodes.size() >= 5 ? 5 : nodes.size() >= 3 ? 3 : 1;
    List<String> seedList = new ArrayList<>();
    List<String> voterIds = new ArrayList<>();
    for (int i = 0; i < voters; i++) {
      seedList.add(nodes.get(i).artery());
      voterIds.add(String.valueOf(nodes.get(i).id()));
    }
    String seeds = String.join(", ", seedList);
    return "# Written by holdfast cluster start; node " + node.id() + " of " + nodes.size() + ".\n"
        + "include file(\"" + Home.conf().resolve("holdfast.conf") + "\")\n"
        + "holdfast.node.id = " + node.id() + "\n"
        + "holdfast.node.data-dir = \"" + dir.resolve("node" + node.id()).resolve("data") + "\"\n"
        + "holdfast.meta.voters = [" + String.join(", ", voterIds) + "]\n"
        + "holdfast.node.rejoin = " + (Files.exists(formedMarker()) ? "on" : "off") + "\n"
        + "holdfast.http.enabled = on\n"
        + "holdfast.http.host = \"" + node.host() + "\"\n"
        + "holdfast.http.port = " + node.httpPort() + "\n"
        + "holdfast.nats.enabled = " + (node.natsPort() > 0 ? "on" : "off") + "\n"
        + "holdfast.nats.host = \"" + node.host() + "\"\n"
        + "holdfast.nats.port = " + node.natsPort() + "\n"
        + "pekko.remote.artery.canonical.hostname = \"" + node.host() + "\"\n"
        + "pekko.remote.artery.canonical.port = " + node.arteryPort() + "\n"
        + "pekko.remote.artery.advanced.tcp.outbound-client-hostname = \"" + node.host() + "\"\n"
        + "pekko.cluster.seed-nodes = [" + seeds + "]\n"
        + "pekko.cluster.roles = [\"holdfast\", \"holdfast-node-" + node.id() + "\"]\n"
        + (node.tls() ? tlsConf(node) : "");
  }

  /** TLS everywhere for a node of a {@code --tls} cluster: its listeners, and Artery with mutual authentication. */
  private String tlsConf(Node node) {
    String password;
    try {
      password = storePassword();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    String keys = "\"" + tlsDir().resolve("node" + node.id() + ".p12") + "\"";
    String trust = "\"" + tlsDir().resolve("ca.p12") + "\"";
    return "holdfast.tls.key-store = " + keys + "\n"
        + "holdfast.tls.key-store-password = \"" + password + "\"\n"
        + "holdfast.tls.trust-store = " + trust + "\n"
        + "holdfast.tls.trust-store-password = \"" + password + "\"\n"
        + "holdfast.http.tls = on\n"
        + "holdfast.nats.tls = on\n"
        + "pekko.remote.artery.transport = tls-tcp\n"
        + "pekko.remote.artery.ssl.config-ssl-engine {\n"
        + "  key-store = " + keys + "\n"
        + "  key-store-password = \"" + password + "\"\n"
        + "  key-password = \"" + password + "\"\n"
        + "  trust-store = " + trust + "\n"
        + "  trust-store-password = \"" + password + "\"\n"
        + "  require-mutual-authentication = on\n"
        + "  hostname-verification = on\n"
        + "}\n";
  }

  public Optional<Long> pid(int id) {
    try {
      if (!Files.exists(pidFile(id))) {
        return Optional.empty();
      }
      long pid = Long.parseLong(Files.readString(pidFile(id)).trim());
      return running(pid) ? Optional.of(pid) : Optional.empty();
    } catch (IOException | NumberFormatException e) {
      return Optional.empty();
    }
  }

  public void startAll(PrintStream err) throws Exception {
    writeConfs();
    for (Node n : nodes) {
      if (pid(n.id()).isEmpty()) {
        start(n.id());
      }
    }
    awaitReady(nodes, err);
    if (!Files.exists(formedMarker())) {
      Files.writeString(formedMarker(), "the cluster formed; nodes start with holdfast.node.rejoin = on\n");
    }
    writeConfs(); // now with holdfast.node.rejoin on
  }

  /**
   * Written once the cluster first formed. From then on every node starts with
   * {@code holdfast.node.rejoin = on}: one whose data directory was wiped comes back as a new member
   * instead of bootstrapping a meta group of its own from an empty log.
   */
  private Path formedMarker() {
    return dir.resolve("cluster.formed");
  }

  /** Starts node {@code id} detached; its output goes to nodeN.log. */
  public void start(int id) throws IOException {
    if (pid(id).isPresent()) {
      return;
    }
    Files.createDirectories(dir.resolve("node" + id));
    NodeJar jar = nodeJar();
    String extra = System.getenv("HOLDFAST_NODE_JAVA_OPTS"); // e.g. a JFR recording; README, "A cluster on your machine"
    List<String> command = new ArrayList<>(List.of(java(), "-Xms64m", "-Xmx" + heap,
        "-Djava.util.concurrent.ForkJoinPool.common.parallelism=4")); // see scripts/holdfast
    if (extra == null || !extra.matches("(?s).*-XX:\\+Use\\w*GC.*")) {
      command.add("-XX:+UseG1GC");
    }
    if (jar.archive() != null && jar.ensureArchive(System.err)) {
      command.add("-XX:SharedArchiveFile=" + jar.archive());
    }
    if (extra != null && !extra.isBlank()) {
      command.addAll(List.of(extra.trim().split("\\s+")));
    }
    command.addAll(List.of("-cp", jar.classpath(), "io.holdfast.cli.Main", "node", "--config", conf(id).toString()));
    ProcessBuilder pb = new ProcessBuilder(command);
    // Each node runs in its own directory: what a node writes to a relative path (a JFR recording
    // named in HOLDFAST_NODE_JAVA_OPTS, a heap dump) lands there, not in one file for all nodes.
    pb.directory(dir.resolve("node" + id).toFile());
    pb.redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")));
    pb.redirectErrorStream(true);
    pb.redirectOutput(ProcessBuilder.Redirect.appendTo(log(id).toFile()));
    Process p = pb.start();
    Files.writeString(pidFile(id), p.pid() + "\n");
  }

  private static String java() {
    return ProcessHandle.current().info().command().orElse(Path.of(System.getProperty("java.home"), "bin", "java")
        .toString());
  }

  /**
   * This command's classpath for node JVMs, with holdfast.jar replaced by a copy named after its
   * size and time (rebuilding target/holdfast.jar, as scripts/holdfast does when sources change,
   * must not pull classes from under running nodes), and that copy's class-data archive.
   *
   * <p>Class-data sharing: a node JVM spends most of its first seconds loading and verifying some
   * 10,000 Pekko, Scala and Holdfast classes on a CPU it shares with its peers. A dynamic CDS
   * archive ({@code -XX:ArchiveClassesAtExit}, JDK 13+) written once per build by a training run
   * ({@code holdfast warm-up}) lets every later node start map them instead: measured 3.5-4 s
   * sooner to serve on this 2-core machine, which is what brings {@code bench capacity}'s
   * restart under 10 s. The copy and archive live beside the jar ({@code target/nodes/}) so every
   * cluster directory shares one training run; the archive only works for the exact classpath it
   * was trained with, hence one pair per jar version. {@code HOLDFAST_CDS=off} turns it off; a
   * failed training is noted once and nodes start without an archive. Tests run from
   * target/classes, which CDS cannot archive, so they never train.
   */
  private NodeJar nodeJar() throws IOException {
    List<String> entries = new ArrayList<>();
    Path archive = null;
    for (String e : System.getProperty("java.class.path").split(File.pathSeparator)) {
      Path p = Path.of(e);
      if (p.getFileName() != null && p.getFileName().toString().equals("holdfast.jar") && Files.isRegularFile(p)) {
        String name = "holdfast-" + Files.size(p) + "-" + Files.getLastModifiedTime(p).toMillis();
        Path home = p.toAbsolutePath().getParent().resolve("nodes");
        Path copies = Files.isWritable(p.toAbsolutePath().getParent()) ? home : dir.resolve("bin");
        Path copy = copies.resolve(name + ".jar");
        if (!Files.exists(copy)) {
          Files.createDirectories(copies);
          Path tmp = Files.createTempFile(copies, "holdfast", ".tmp");
          Files.copy(p, tmp, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
          Files.move(tmp, copy, java.nio.file.StandardCopyOption.ATOMIC_MOVE);
        }
        entries.add(copy.toString());
        archive = "off".equals(System.getenv("HOLDFAST_CDS")) ? null : copies.resolve(name + ".jsa");
      } else {
        entries.add(e);
      }
    }
    return new NodeJar(String.join(File.pathSeparator, entries), archive);
  }

  /** A node classpath and the class-data archive trained for it (null: none). */
  private record NodeJar(String classpath, Path archive) {
    /** True once the archive exists; trains it first if nobody has (once, under a file lock). */
    boolean ensureArchive(PrintStream err) throws IOException {
      Path failed = Path.of(archive + ".failed");
      if (Files.exists(archive)) {
        return true;
      }
      if (Files.exists(failed)) {
        return false;
      }
      synchronized (NodeJar.class) { // a file lock is per process; threads of this one queue here
        try (java.nio.channels.FileChannel lock = java.nio.channels.FileChannel.open(Path.of(archive + ".lock"),
            java.nio.file.StandardOpenOption.CREATE, java.nio.file.StandardOpenOption.WRITE);
            var held = lock.lock()) {
          if (Files.exists(archive) || Files.exists(failed)) {
            return Files.exists(archive);
          }
          err.println("holdfast: training a class-data archive for faster node starts (once per build, about 20 s) ...");
          Path tmp = Path.of(archive + ".tmp");
          Files.deleteIfExists(tmp);
          Path log = Path.of(archive + ".log");
          Process p = new ProcessBuilder(java(), "-Xmx256m", "-XX:+UseG1GC", "-XX:ArchiveClassesAtExit=" + tmp,
              "-Djava.util.concurrent.ForkJoinPool.common.parallelism=4", "-cp", classpath, "io.holdfast.cli.Main",
              "warm-up")
              .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")))
              .redirectErrorStream(true).redirectOutput(log.toFile()).start();
          boolean exited = p.waitFor(3, java.util.concurrent.TimeUnit.MINUTES);
          if (!exited) {
            p.destroyForcibly();
          }
          if (exited && p.exitValue() == 0 && Files.exists(tmp) && Files.size(tmp) > 0) {
            Files.move(tmp, archive, java.nio.file.StandardCopyOption.ATOMIC_MOVE);
            return true;
          }
          Files.writeString(failed, "the training run failed; see " + log + "\n");
          err.println("holdfast: the class-data training run failed (see " + log + "); nodes start without it");
          return false;
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          return false;
        }
      }
    }
  }

  /** Waits until every node in {@code which} answers /health with 200, or fails with the log tail of a dead one. */
  public void awaitReady(List<Node> which, PrintStream err) throws Exception {
    HttpClient http = httpClient();
    long deadline = System.nanoTime() + READY_TIMEOUT.toNanos();
    long lastNote = 0;
    while (true) {
      List<Integer> waiting = new ArrayList<>();
      for (Node n : which) {
        if (pid(n.id()).isEmpty()) {
          throw new IllegalStateException("node " + n.id() + " exited while starting" + why(log(n.id()))
              + "; last lines of " + log(n.id()) + ":\n" + tail(log(n.id()), 15));
        }
        if (!healthy(http, n)) {
          waiting.add(n.id());
        }
      }
      if (waiting.isEmpty()) {
        return;
      }
      if (System.nanoTime() > deadline) {
        StringBuilder tails = new StringBuilder();
        for (int id : waiting) {
          tails.append("\nlast lines of ").append(log(id)).append(":\n").append(tail(log(id), 30));
        }
        for (Node n : nodes) { // a peer that died meanwhile is often why the others cannot join
          if (!which.contains(n) && pid(n.id()).isEmpty()) {
            tails.append("\nnode ").append(n.id()).append(" is not running; last lines of ").append(log(n.id()))
                .append(":\n").append(tail(log(n.id()), 30));
          }
        }
        throw new IllegalStateException("nodes " + waiting + " not ready after " + READY_TIMEOUT.toSeconds()
            + " s; see their logs in " + dir + tails);
      }
      if (System.nanoTime() - lastNote > 5_000_000_000L) {
        err.println("waiting for nodes " + waiting + " to be ready ...");
        lastNote = System.nanoTime();
      }
      Thread.sleep(250); // polling a remote process: there is no event to wait on
    }
  }

  public static boolean healthy(HttpClient http, Node n) {
    return healthy(http, n, false);
  }

  /** As above; {@code recovered}: and no replica on it still recovering a lost WAL tail. */
  public static boolean healthy(HttpClient http, Node n, boolean recovered) {
    try {
      HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create(n.http() + "/health"))
          .timeout(Duration.ofSeconds(3)).build(), HttpResponse.BodyHandlers.ofString());
      return r.statusCode() == 200 && (!recovered || JSON.readTree(r.body()).path("recovering_lost_tail").isEmpty());
    } catch (IOException e) {
      return false;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return false;
    }
  }

  /**
   * Whether process {@code pid} runs: it exists and is not a zombie. A node killed with SIGKILL
   * stays in the process table until its parent reaps it, and where nobody does (a container
   * whose first process does not reap) it looked alive forever: {@code cluster start} skipped it.
   */
  public static boolean running(long pid) {
    if (!ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false)) {
      return false;
    }
    try {
      return !zombie(Files.readString(Path.of("/proc", Long.toString(pid), "stat")));
    } catch (IOException e) {
      return Files.exists(Path.of("/proc", Long.toString(pid))) || !Files.isDirectory(Path.of("/proc/self"));
    }
  }

  /** The largest resident set of the processes {@code pids} that still run, in MiB ({@code VmRSS} of /proc/PID/status). */
  public static long rssMibMax(List<Long> pids) {
    long max = 0;
    for (long pid : pids) {
      try {
        for (String line : Files.readAllLines(Path.of("/proc", Long.toString(pid), "status"))) {
          if (line.startsWith("VmRSS:")) {
            max = Math.max(max, Long.parseLong(line.replaceAll("[^0-9]", "")) / 1024);
          }
        }
      } catch (IOException | RuntimeException gone) {
        // exited: nothing resident
      }
    }
    return max;
  }

  /** Whether a {@code /proc/PID/stat} line shows a process that has exited (Z zombie, X dead). */
  public static boolean zombie(String stat) {
    int close = stat.lastIndexOf(')'); // the command name in parentheses may hold spaces and ')'
    if (close < 0 || close + 2 >= stat.length()) {
      return false;
    }
    char state = stat.charAt(close + 2);
    return state == 'Z' || state == 'X';
  }

  /** Waits until the process no longer runs (exited or a zombie), at most {@code seconds}; whether it stopped. */
  private static boolean awaitGone(long pid, int seconds) throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
    while (running(pid)) {
      if (System.nanoTime() > deadline) {
        return false;
      }
      Thread.sleep(50); // another process's exit: ProcessHandle.onExit never completes for a zombie
    }
    return true;
  }

  /** SIGKILL; returns the pid killed, or -1 if the node was not running. */
  public long kill(int id) throws Exception {
    Optional<Long> pid = pid(id);
    if (pid.isEmpty()) {
      return -1;
    }
    ProcessHandle.of(pid.get()).ifPresent(ProcessHandle::destroyForcibly);
    if (!awaitGone(pid.get(), 30)) {
      throw new IllegalStateException("node " + id + " (pid " + pid.get() + ") still runs 30 s after SIGKILL");
    }
    Files.deleteIfExists(pidFile(id));
    return pid.get();
  }

  /** Sends a signal by name (STOP, CONT) to node {@code id}'s recorded process, if it runs. */
  public void signal(int id, String signal) throws IOException {
    Optional<Long> pid = pid(id);
    if (pid.isPresent()) {
      try {
        new ProcessBuilder("kill", "-" + signal, String.valueOf(pid.get())).inheritIO().start().waitFor();
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
  }

  /** SIGCONT to every running node (none stays paused). */
  public void resumeAll() throws IOException {
    for (Node n : nodes) {
      signal(n.id(), "CONT");
    }
  }

  /**
   * Restarts every node, one at a time: a clean stop (SIGTERM), a start, then a wait until it
   * serves and every replica on it has caught up — applied what its group had committed when the
   * node came back — before the next node goes down. So no stream is ever without a majority of
   * current replicas, and publishing only waits out the leader elections of the stopped node's
   * groups. {@code before} and {@code after} run around each node's turn (the fault campaign
   * books the node as down meanwhile).
   */
  public void rollingRestart(PrintStream err, java.util.function.IntConsumer before, java.util.function.IntConsumer after)
      throws Exception {
    for (Node n : nodes) {
      long start = System.nanoTime();
      err.printf("rolling restart: node %d of %d: stopping ...%n", n.id(), nodes.size());
      before.accept(n.id());
      stop(n.id(), err);
      start(n.id());
      awaitReady(List.of(n), err);
      err.printf("rolling restart: node %d serves; waiting until its replicas caught up ...%n", n.id());
      awaitCaughtUp(n);
      after.accept(n.id());
      err.printf("rolling restart: node %d done in %.1f s%n", n.id(), (System.nanoTime() - start) / 1e9);
    }
  }

  /**
   * Waits until each replica on {@code n} has applied what its group's leader had committed when
   * this wait began, and none is stopped or recovering a lost tail (its /health); fails after
   * {@link #READY_TIMEOUT} naming the replicas that did not.
   */
  public void awaitCaughtUp(Node n) throws Exception {
    HttpClient http = httpClient();
    java.util.Map<String, Long> target = new java.util.TreeMap<>();
    for (Node other : nodes) {
      if (other.id() == n.id()) {
        continue;
      }
      health(http, other).path("replicas").fields().forEachRemaining(e -> {
        if ("leader".equals(e.getValue().path("role").asText())) {
          target.merge(e.getKey(), e.getValue().path("commit").asLong(), Math::max);
        }
      });
    }
    long deadline = System.nanoTime() + READY_TIMEOUT.toNanos();
    while (true) {
      JsonNode h = health(http, n);
      List<String> behind = new ArrayList<>();
      h.path("replicas").fields().forEachRemaining(e -> {
        long applied = e.getValue().path("applied").asLong(-1);
        if (applied < target.getOrDefault(e.getKey(), 0L)) {
          behind.add(e.getKey() + " (applied " + applied + " of " + target.get(e.getKey()) + ")");
        }
      });
      h.path("stopped_replicas").forEach(g -> behind.add(g.asText() + " (stopped)"));
      h.path("recovering_lost_tail").forEach(g -> behind.add(g.asText() + " (recovering a lost tail)"));
      if (behind.isEmpty() && "ok".equals(h.path("status").asText())) {
        return;
      }
      if (System.nanoTime() > deadline) {
        throw new IllegalStateException("node " + n.id() + "'s replicas did not catch up within "
            + READY_TIMEOUT.toSeconds() + " s: " + behind);
      }
      Thread.sleep(200); // polling another process's health: it is the condition
    }
  }

  /** Node {@code n}'s /health body (an empty object if it does not answer). */
  private static JsonNode health(HttpClient http, Node n) {
    try {
      return JSON.readTree(http.send(HttpRequest.newBuilder(URI.create(n.http() + "/health"))
          .timeout(Duration.ofSeconds(3)).build(), HttpResponse.BodyHandlers.ofString()).body());
    } catch (IOException e) {
      return JSON.createObjectNode();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return JSON.createObjectNode();
    }
  }

  /** SIGTERM (clean leave), SIGKILL after 30 s. */
  public void stop(int id, PrintStream err) throws Exception {
    Optional<Long> pid = pid(id);
    if (pid.isPresent()) {
      ProcessHandle.of(pid.get()).ifPresent(ProcessHandle::destroy);
      if (!awaitGone(pid.get(), 30)) {
        err.println("node " + id + " did not stop in 30 s; killing it");
        ProcessHandle.of(pid.get()).ifPresent(ProcessHandle::destroyForcibly);
        awaitGone(pid.get(), 30);
      }
    }
    Files.deleteIfExists(pidFile(id));
  }

  /**
   * Until {@link #keepOnExit} is called with the returned hook: if this JVM is stopped (Ctrl-C,
   * SIGTERM) the nodes it started are killed too, so a benchmark or test run broken off midway
   * leaves no node processes behind.
   */
  public Thread killOnExit() {
    Thread hook = new Thread(() -> {
      for (Node n : nodes) {
        try {
          kill(n.id());
        } catch (Exception e) {
          // best effort while the JVM exits
        }
      }
    }, "holdfast-kill-nodes-on-exit");
    Runtime.getRuntime().addShutdownHook(hook);
    return hook;
  }

  public static void keepOnExit(Thread hook) {
    try {
      Runtime.getRuntime().removeShutdownHook(hook);
    } catch (IllegalStateException e) {
      // the JVM is exiting already: the hook runs
    }
  }

  public void stopAll(PrintStream err) throws Exception {
    // Non-seed nodes first, then the rest: a whole cluster leaving at once is slower.
    for (int i = nodes.size() - 1; i >= 0; i--) {
      Optional<Long> pid = pid(nodes.get(i).id());
      if (pid.isPresent()) {
        ProcessHandle.of(pid.get()).ifPresent(ProcessHandle::destroy);
      }
    }
    for (Node n : nodes) {
      stop(n.id(), err);
    }
  }

  public ObjectNode nodesJson() {
    ObjectNode j = JSON.createObjectNode();
    ArrayNode arr = j.putArray("nodes");
    for (Node n : nodes) {
      ObjectNode o = arr.addObject().put("id", n.id());
      Optional<Long> pid = pid(n.id());
      if (pid.isPresent()) {
        o.put("pid", pid.get());
      } else {
        o.putNull("pid");
      }
      o.put("http", n.http());
      if (n.natsPort() > 0) {
        o.put("nats", n.nats());
      }
    }
    return j;
  }

  public ObjectNode status() {
    HttpClient http = httpClient();
    ObjectNode j = nodesJson();
    for (JsonNode n : j.get("nodes")) {
      String state = n.get("pid").isNull() ? "stopped" : healthy(http, node(n.get("id").asInt())) ? "ready" : "starting";
      ((ObjectNode) n).put("state", state);
    }
    return j;
  }

  public String describe() {
    StringBuilder b = new StringBuilder("cluster of " + nodes.size() + " nodes ready in " + dir + "\n");
    for (Node n : nodes) {
      b.append("  node ").append(n.id()).append("  pid ").append(pid(n.id()).map(String::valueOf).orElse("-"))
          .append("  ").append(n.http()).append("  log ").append(log(n.id())).append('\n');
    }
    return b.toString().stripTrailing();
  }

  /** ": " and the line where the node said why it stopped ("holdfast: node N failed to start: ..."), or "". */
  private static String why(Path log) {
    try (var lines = Files.lines(log, StandardCharsets.UTF_8)) {
      return lines.filter(l -> l.startsWith("holdfast: ")).reduce((a, b) -> b).map(l -> ": " + l).orElse("");
    } catch (IOException | java.io.UncheckedIOException e) {
      return "";
    }
  }

  public static String tail(Path file, int lines) {
    try {
      List<String> all = Files.readAllLines(file, StandardCharsets.UTF_8);
      return String.join("\n", all.subList(Math.max(0, all.size() - lines), all.size()));
    } catch (IOException e) {
      return "(no log: " + e.getMessage() + ")";
    }
  }

  /** Deletes {@code dir} and everything in it (nothing if it does not exist). */
  public static void deleteTree(Path dir) throws IOException {
    deleteTreeBut(dir, p -> false);
  }

  /**
   * Deletes everything under {@code dir} but the files {@code keep} takes and the directories that
   * hold them ({@code dir} too, if nothing is kept). A symbolic link is deleted, not followed.
   */
  public static void deleteTreeBut(Path dir, java.util.function.Predicate<Path> keep) throws IOException {
    if (!Files.exists(dir, java.nio.file.LinkOption.NOFOLLOW_LINKS)) {
      return;
    }
    List<Path> kept = new ArrayList<>();
    try (var paths = Files.walk(dir)) {
      for (Path p : paths.sorted(java.util.Comparator.reverseOrder()).toList()) { // a directory after what it holds
        boolean directory = Files.isDirectory(p, java.nio.file.LinkOption.NOFOLLOW_LINKS);
        if (!directory && keep.test(p)) {
          kept.add(p);
        } else if (!directory || kept.stream().noneMatch(k -> k.startsWith(p))) {
          Files.delete(p);
        }
      }
    }
  }

  /** The installation's conf/holdfast.conf, which every node config a local cluster writes includes. */
  public static Path baseConfig() {
    return Home.conf().resolve("holdfast.conf");
  }

  /** Where the installation is: conf/ next to target/ (the jar or classes directory this runs from). */
  private static final class Home {
    static Path conf() {
      String env = System.getenv("HOLDFAST_HOME");
      if (env != null) {
        return Path.of(env, "conf");
      }
      try {
        Path code = Path.of(LocalCluster.class.getProtectionDomain().getCodeSource().getLocation().toURI());
        for (Path p = code; p != null; p = p.getParent()) {
          if (Files.exists(p.resolve("conf").resolve("holdfast.conf"))) {
            return p.resolve("conf");
          }
        }
      } catch (java.net.URISyntaxException e) {
        throw new UncheckedIOException(new IOException(e));
      }
      throw new IllegalStateException("cannot find conf/holdfast.conf; set HOLDFAST_HOME to the Holdfast directory");
    }
  }
}
