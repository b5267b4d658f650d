package io.holdfast.api;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import io.holdfast.api.Records.PubAck;
import io.holdfast.api.Records.StreamConfig;
import io.holdfast.api.Records.StreamInfo;
import io.holdfast.api.Records.StreamMessage;
import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.io.TempDir;

/**
 * Goal: streams work on a real Pekko cluster — three server ActorSystems and one application
 * node in this JVM, on 127.0.0.1, with real files. Method: one cluster, scenarios in order:
 * create/publish/read through the Java API (on a server node and through sharding proxies on the
 * application node), the HTTP API's errors, leader failover, a node restarting with its data, and
 * no quorum. Every acked message must be read back, identically, from every replica.
 *
 * <p>The scenarios share the cluster and {@link #acked}: each has its own {@code @Order}, unique,
 * and may rely on what the ones before it left (which nodes run, which streams exist); starting
 * the cluster once per scenario would cost ~15 s each.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class ClusterTest {
  @TempDir
  static Path tmp;

  private static final Duration WAIT = Duration.ofSeconds(60);
  private final Map<Integer, ActorSystem<Void>> nodes = new TreeMap<>();
  private final Map<Integer, Integer> ports = new TreeMap<>();
  private ActorSystem<Void> app;
  private int httpPort;
  /** Set once the cluster formed: nodes start with holdfast.node.rejoin on from then on. */
  private boolean formed;
  /** value → sequence, for every acked publish. */
  private final Map<String, Long> acked = new TreeMap<>();

  @BeforeAll
  void startCluster() throws Exception {
    for (int id = 1; id <= 3; id++) {
      ports.put(id, freePort());
    }
    httpPort = freePort();
    for (int id = 1; id <= 3; id++) {
      start(id);
    }
    app = ActorSystem.create(Behaviors.empty(), "holdfast", config(0, freePort()));
    for (ActorSystem<Void> s : nodes.values()) {
      await(() -> Holdfast.get(s).clusterStatus().toCompletableFuture().get().registration().equals("registered"),
          "node registered");
    }
    HttpApi.start(nodes.get(1), Holdfast.get(nodes.get(1)), "127.0.0.1", httpPort).toCompletableFuture()
        .get(30, TimeUnit.SECONDS);
    formed = true;
  }

  @AfterAll
  void stopCluster() throws Exception {
    List<ActorSystem<Void>> all = new ArrayList<>();
    if (app != null) {
      all.add(app);
    }
    all.addAll(nodes.values());
    for (ActorSystem<Void> s : all) { // one after another: all at once is slower
      s.terminate();
      s.getWhenTerminated().toCompletableFuture().get(60, TimeUnit.SECONDS);
    }
  }

  /**
   * Seeds are the three server nodes. Only at the first start is node 1 first in its own list (it
   * forms the cluster); a node restarting alone lists itself last, or it could form a cluster of
   * its own while the others still hold its old incarnation.
   */
  private Config config(int id, int port) {
    StringBuilder seeds = new StringBuilder();
    List<Integer> order = new ArrayList<>(ports.keySet());
    if (!nodes.isEmpty() && order.remove(Integer.valueOf(id))) {
      order.add(id);
    }
    for (int seed : order) {
      seeds.append(seeds.length() == 0 ? "" : ",").append("\"pekko://holdfast@127.0.0.1:").append(ports.get(seed))
          .append('"');
    }
    String roles = id == 0 ? "[]" : "[\"holdfast\", \"holdfast-node-" + id + "\"]";
    return ConfigFactory.parseString("""
        pekko.loglevel = WARNING
        pekko.actor.provider = cluster
        pekko.remote.artery.canonical.hostname = "127.0.0.1"
        pekko.remote.artery.canonical.port = %d
        pekko.cluster.seed-nodes = [%s]
        pekko.cluster.roles = %s
        pekko.cluster.downing-provider-class = "io.holdfast.server.MajorityDowning"
        holdfast.cluster.downing.stable-after = 3s
        pekko.cluster.seed-node-timeout = 1s
        pekko.cluster.jmx.multi-mbeans-in-same-jvm = on
        pekko.coordinated-shutdown.exit-jvm = off
        holdfast.node.id = %d
        holdfast.node.data-dir = "%s"
        holdfast.node.rejoin = %s
        holdfast.client.request-timeout = 4s
        holdfast.raft.compact-after = 16 KiB
        """.formatted(port, seeds, roles, id, tmp.resolve("node" + id).toString().replace("\\", "/"), formed))
        .withFallback(ConfigFactory.load());
  }

  private void start(int id) {
    nodes.put(id, ActorSystem.create(Behaviors.empty(), "holdfast", config(id, ports.get(id))));
    Holdfast.get(nodes.get(id));
  }

  private void stop(int id) throws Exception {
    ActorSystem<Void> s = nodes.remove(id);
    s.terminate();
    s.getWhenTerminated().toCompletableFuture().get(60, TimeUnit.SECONDS);
  }

  private static int freePort() throws IOException {
    try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      return s.getLocalPort();
    }
  }

  interface Condition {
    boolean holds() throws Exception;
  }

  /** Polls {@code c} until it holds; the cluster works on its own clock, there is nothing to join on. */
  private static void await(Condition c, String what) throws Exception {
    long deadline = System.nanoTime() + WAIT.toNanos();
    Throwable last = null;
    while (System.nanoTime() < deadline) {
      try {
        if (c.holds()) {
          return;
        }
      } catch (Exception e) {
        last = e;
      }
      Thread.sleep(100);
    }
    fail("not within " + WAIT + ": " + what + (last == null ? "" : " (last error: " + last + ")"));
  }

  private static Holdfast hf(ActorSystem<?> s) {
    return Holdfast.get(s);
  }

  /** Publishes {@code value} through {@code via}, retrying refusals that are safe to retry. */
  private PubAck publish(ActorSystem<?> via, String subject, String value) throws Exception {
    PubAck ack = publishRetrying(hf(via), subject, value);
    acked.put(value, ack.seq());
    return ack;
  }

  /** Publishes through {@code h}, retrying the refusals that prove nothing was appended, within {@link #WAIT}. */
  private static PubAck publishRetrying(Holdfast h, String subject, String value) throws Exception {
    return retrying(() -> h.publish(subject, null, value.getBytes(StandardCharsets.UTF_8)),
        HoldfastException.Unavailable.class);
  }

  /**
   * The result of {@code call}, made again while it fails with one of {@code retryable} (refusals
   * that prove nothing happened; for an idempotent call also an unknown outcome), within {@link #WAIT}.
   */
  @SafeVarargs
  private static <T> T retrying(java.util.concurrent.Callable<java.util.concurrent.CompletionStage<T>> call,
      Class<? extends HoldfastException>... retryable) throws Exception {
    long deadline = System.nanoTime() + WAIT.toNanos();
    while (true) {
      try {
        return call.call().toCompletableFuture().get();
      } catch (ExecutionException e) {
        if (System.nanoTime() > deadline || java.util.Arrays.stream(retryable).noneMatch(c -> c.isInstance(e.getCause()))) {
          throw e;
        }
      }
    }
  }

  /** Every acked value is on every running replica at its acked sequence, and the replicas are identical. */
  private void assertEveryReplicaHoldsEveryAck() throws Exception {
    await(() -> {
      List<List<String>> replicas = new ArrayList<>();
      for (ActorSystem<Void> s : nodes.values()) {
        List<String> values = new ArrayList<>();
        for (StreamMessage m : hf(s).readLocalReplica("orders", 1, 100_000).toCompletableFuture().get()) {
          assertEquals(values.size() + 1, m.seq(), "sequences are contiguous from 1");
          values.add(new String(m.payload(), StandardCharsets.UTF_8));
        }
        replicas.add(values);
      }
      for (List<String> r : replicas) {
        if (!r.equals(replicas.get(0))) {
          return false; // one is still catching up
        }
      }
      for (var e : acked.entrySet()) {
        assertEquals(e.getKey(), replicas.get(0).get((int) (e.getValue() - 1)), "acked value at its sequence");
      }
      return true;
    }, "all replicas identical and holding every acked value");
  }

  @Test
  @Order(1)
  void createPublishAndReadBackThroughTheJavaApi() throws Exception {
    StreamInfo info = hf(nodes.get(2)).createStream(new StreamConfig("orders", List.of("orders.>"), 3))
        .toCompletableFuture().get();
    assertEquals(List.of(1, 2, 3), info.cluster().replicas());
    for (int i = 1; i <= 50; i++) {
      assertEquals(new PubAck("orders", i), publish(nodes.get(1 + i % 3), "orders.new", "v" + i),
          "sequences are assigned contiguously from 1");
    }
    StreamMessage m = hf(nodes.get(3)).getMessage("orders", 7).toCompletableFuture().get();
    assertEquals("orders.new", m.subject());
    assertEquals("v7", new String(m.payload(), StandardCharsets.UTF_8));
    assertEquals(50, hf(nodes.get(1)).streamInfo("orders").toCompletableFuture().get().state().lastSeq());
    assertEveryReplicaHoldsEveryAck();
  }

  @Test
  @Order(2)
  void anApplicationNodePublishesThroughTheShardingProxy() throws Exception {
    await(() -> hf(app).clusterStatus().toCompletableFuture().get().metaIndex() > 0, "app node sees the meta state");
    PubAck ack = publish(app, "orders.app", "from-app");
    assertEquals("orders", ack.stream());
    assertEquals("from-app", new String(hf(app).getMessage("orders", ack.seq()).toCompletableFuture().get().payload(),
        StandardCharsets.UTF_8));
  }

  @Test
  @Order(3)
  void badInputGetsTypedErrors() throws Exception {
    Holdfast h = hf(nodes.get(1));
    assertError(HoldfastException.BadRequest.class, () -> h.publish("orders.*", null, new byte[1]).toCompletableFuture().get());
    assertError(HoldfastException.NotFound.class, () -> h.publish("nobody.here", null, new byte[1]).toCompletableFuture().get());
    assertError(HoldfastException.Conflict.class, () -> h.createStream(new StreamConfig("other", List.of("orders.eu.*"), 1))
        .toCompletableFuture().get());
    assertError(HoldfastException.BadRequest.class, () -> h.createStream(new StreamConfig("bad name", List.of("x"), 1))
        .toCompletableFuture().get());
    assertError(HoldfastException.NotFound.class, () -> h.getMessage("orders", 9_999).toCompletableFuture().get());
    assertError(HoldfastException.BadRequest.class, () -> h.publish("orders.big", null, new byte[io.holdfast.replica.StreamMachine.MESSAGE_BYTES_MAX + 1])
        .toCompletableFuture().get());
  }

  @Test
  @Order(4)
  void streamRulesHoldAcrossTheClusterAndTheirRejectionsAreTyped() throws Exception {
    Holdfast h = hf(nodes.get(2));
    io.holdfast.stream.StreamLimits twoThenRefuse = io.holdfast.stream.StreamLimits.DEFAULT.withMaxMsgs(2)
        .withDiscardNew(true);
    h.createStream(new StreamConfig("limited", List.of("limited.>"), 3, twoThenRefuse)).toCompletableFuture().get();
    Records.PublishOptions once = new Records.PublishOptions("id-1", null, null, null, null);
    PubAck first = h.publish("limited.a", null, new byte[] {1}, once).toCompletableFuture().get();
    PubAck again = hf(nodes.get(3)).publish("limited.a", null, new byte[] {1}, once).toCompletableFuture().get();
    assertEquals(new PubAck("limited", 1, true), again, "a repeated msg id returns the original sequence");
    assertEquals(new PubAck("limited", 1, false), first);
    assertError(HoldfastException.Conflict.class, () -> h.publish("limited.b", null, new byte[0],
        new Records.PublishOptions(null, null, 5L, null, null)).toCompletableFuture().get());
    h.publish("limited.b", null, new byte[0], new Records.PublishOptions(null, null, 1L, null, null))
        .toCompletableFuture().get();
    try {
      h.publish("limited.c", null, new byte[0]).toCompletableFuture().get();
      fail("max_msgs 2 with discard new");
    } catch (ExecutionException e) {
      assertEquals("maximum_messages_exceeded", assertInstanceOf(HoldfastException.Conflict.class, e.getCause()).code());
    }
    assertEquals(1L, h.purgeStream("limited", "limited.a", 0, 0).toCompletableFuture().get());
    assertTrue(h.publish("limited.c", null, new byte[0]).toCompletableFuture().get().seq() == 3);
    assertEquals(3, h.getLastFor("limited", "limited.c").toCompletableFuture().get().seq());
    h.deleteStream("limited").toCompletableFuture().get();
  }

  @Test
  @Order(5)
  void anErasedMessageIsOverwrittenOnEveryNodesDisk() throws Exception {
    Holdfast h = hf(nodes.get(1));
    h.createStream(new StreamConfig("secrets", List.of("secrets.>"), 3)).toCompletableFuture().get();
    byte[] secret = ("ERASE-ME-" + System.nanoTime()).getBytes(StandardCharsets.UTF_8);
    long seq = publishRetrying(h, "secrets.a", new String(secret, StandardCharsets.UTF_8)).seq();
    byte[] deletedOnly = ("DELETE-ME-" + System.nanoTime()).getBytes(StandardCharsets.UTF_8);
    long plain = publishRetrying(h, "secrets.a", new String(deletedOnly, StandardCharsets.UTF_8)).seq();
    long kept = publishRetrying(h, "secrets.a", "kept").seq();
    await(() -> nodesHolding(secret) == 3, "the secret written on all three nodes");
    assertEquals(plain, h.deleteMessage("secrets", plain).toCompletableFuture().get());
    assertEquals(seq, h.deleteMessage("secrets", seq, true).toCompletableFuture().get());
    await(() -> nodesHolding(secret) == 0, "no file on any node holds the erased payload");
    assertEquals(3, nodesHolding(deletedOnly), "control: a plain delete leaves the bytes in the log");
    assertError(HoldfastException.NotFound.class, () -> h.getMessage("secrets", seq).toCompletableFuture().get());
    assertEquals("kept", new String(h.getMessage("secrets", kept).toCompletableFuture().get().payload(),
        StandardCharsets.UTF_8));
    h.deleteStream("secrets").toCompletableFuture().get();
  }

  /** How many server nodes have a file under their data directory that contains {@code bytes}. */
  private int nodesHolding(byte[] bytes) throws IOException {
    int n = 0;
    for (int id = 1; id <= 3; id++) {
      try (var files = java.nio.file.Files.walk(tmp.resolve("node" + id))) {
        if (files.filter(java.nio.file.Files::isRegularFile).anyMatch(f -> contains(f, bytes))) {
          n++;
        }
      }
    }
    return n;
  }

  private static boolean contains(Path file, byte[] what) {
    try {
      byte[] buf = java.nio.file.Files.readAllBytes(file);
      for (int i = 0; i + what.length <= buf.length; i++) {
        if (java.util.Arrays.equals(buf, i, i + what.length, what, 0, what.length)) {
          return true;
        }
      }
      return false;
    } catch (IOException gone) {
      return false; // deleted while we walked
    }
  }

  @Test
  @Order(6)
  void theReplicaCountOfALiveStreamGoesFromOneToThreeAndBackWithoutLosingOrDuplicating() throws Exception {
    Holdfast h = hf(nodes.get(1));
    StreamInfo one = h.createStream(new StreamConfig("grow", List.of("grow.>"), 1)).toCompletableFuture().get();
    assertEquals(1, one.cluster().replicas().size());
    for (int i = 1; i <= 10; i++) {
      assertEquals(i, h.publish("grow.x", null, ("g" + i).getBytes(StandardCharsets.UTF_8)).toCompletableFuture()
          .get().seq());
    }
    StreamInfo three = h.updateStream(new StreamConfig("grow", List.of("grow.>"), 3)).toCompletableFuture().get();
    assertEquals(List.of(1, 2, 3), three.cluster().replicas());
    for (int i = 11; i <= 20; i++) {
      publishTo(h, "grow.x", "g" + i, i);
    }
    for (int id : List.of(1, 2, 3)) { // the new members caught up: every replica holds all 20
      await(() -> hf(nodes.get(id)).readLocalReplica("grow", 1, 100).toCompletableFuture().get().size() == 20,
          "node " + id + " holds the 20 messages");
    }
    StreamInfo back = h.updateStream(new StreamConfig("grow", List.of("grow.>"), 1)).toCompletableFuture().get();
    assertEquals(1, back.cluster().replicas().size());
    int kept = back.cluster().replicas().get(0);
    for (int i = 21; i <= 30; i++) {
      publishTo(h, "grow.x", "g" + i, i);
    }
    List<StreamMessage> all = hf(nodes.get(kept)).readLocalReplica("grow", 1, 100).toCompletableFuture().get();
    assertEquals(30, all.size());
    for (int i = 0; i < 30; i++) {
      assertEquals(i + 1, all.get(i).seq());
      assertEquals("g" + (i + 1), new String(all.get(i).payload(), StandardCharsets.UTF_8));
    }
    // Back to 3: the nodes that left are placed again, as new members (new replica ids, fresh logs).
    StreamInfo again = h.updateStream(new StreamConfig("grow", List.of("grow.>"), 3)).toCompletableFuture().get();
    assertEquals(List.of(1, 2, 3), again.cluster().replicas());
    for (int i = 31; i <= 40; i++) {
      publishTo(h, "grow.x", "g" + i, i);
    }
    for (int id : List.of(1, 2, 3)) {
      await(() -> hf(nodes.get(id)).readLocalReplica("grow", 1, 100).toCompletableFuture().get().size() == 40,
          "node " + id + " holds the 40 messages again");
    }
    h.deleteStream("grow").toCompletableFuture().get();
  }

  @Test
  @Order(7)
  void aNewReplicaFetchesTheMessagesOfASnapshotFromAPeersStoreAndADeletedStreamsFilesGo() throws Exception {
    Holdfast h = hf(nodes.get(1));
    h.createStream(new StreamConfig("compacted", List.of("compacted.>"), 1)).toCompletableFuture().get();
    byte[] kib = new byte[1024];
    List<java.util.concurrent.CompletableFuture<PubAck>> acks = new ArrayList<>();
    for (int i = 0; i < 400; i++) { // 400 KiB of messages, compacted every 16 KiB: new replicas get snapshots
      kib[0] = (byte) i;
      acks.add(h.publish("compacted.x", null, kib.clone()).toCompletableFuture());
    }
    for (var a : acks) {
      a.get();
    }
    h.updateStream(new StreamConfig("compacted", List.of("compacted.>"), 3)).toCompletableFuture().get();
    for (int id : List.of(1, 2, 3)) {
      await(() -> hf(nodes.get(id)).readLocalReplica("compacted", 1, 1000).toCompletableFuture().get().size() == 400,
          "node " + id + " holds all 400 messages");
    }
    List<StreamMessage> on3 = hf(nodes.get(3)).readLocalReplica("compacted", 1, 1000).toCompletableFuture().get();
    List<StreamMessage> on1 = hf(nodes.get(1)).readLocalReplica("compacted", 1, 1000).toCompletableFuture().get();
    for (int i = 0; i < 400; i++) {
      assertEquals(i + 1, on3.get(i).seq());
      assertTrue(java.util.Arrays.equals(on1.get(i).payload(), on3.get(i).payload()), "message " + (i + 1));
    }
    for (int id : List.of(1, 2, 3)) {
      assertTrue(streamDirs(id, "compacted").size() == 1, "node " + id + " keeps the messages in a store of its own");
    }
    h.deleteStream("compacted").toCompletableFuture().get();
    for (int id : List.of(1, 2, 3)) {
      await(() -> streamDirs(id, "compacted").isEmpty(), "node " + id + " deleted the store of the deleted stream");
    }
  }

  @Test
  @Order(8)
  void aLocalReadStopsAtItsByteBudget() throws Exception {
    Holdfast h = hf(nodes.get(1));
    h.createStream(new StreamConfig("large", List.of("large.>"), 1)).toCompletableFuture().get();
    int size = 128 << 10; // the largest message a stream takes by default
    int count = (int) (Holdfast.LOCAL_READ_BYTES / size) + 8;
    for (int i = 0; i < count; i++) {
      h.publish("large.x", null, new byte[size]).toCompletableFuture().get();
    }
    List<StreamMessage> first = h.readLocalReplica("large", 1, 1000).toCompletableFuture().get();
    assertEquals(Holdfast.LOCAL_READ_BYTES / size, first.size(), "the answer stops at the page reaching the budget");
    List<StreamMessage> rest = h.readLocalReplica("large", first.size() + 1, 1000).toCompletableFuture().get();
    assertEquals(count - first.size(), rest.size(), "reading on from the next seq gets the rest");
    assertEquals(count, rest.get(rest.size() - 1).seq());
    h.deleteStream("large").toCompletableFuture().get();
  }

  @Test
  @Order(9)
  void aOneMebibyteMessageCrossesNodesWhole() throws Exception {
    // From an application node: the publish is forwarded to the leader, appended to both
    // followers, and the fetch's answer comes back, each as one ordinary Artery message.
    Holdfast h = hf(app);
    h.createStream(new StreamConfig("huge", List.of("huge.>"), 3)).toCompletableFuture().get();
    byte[] payload = new byte[io.holdfast.replica.StreamMachine.MESSAGE_BYTES_MAX];
    new java.util.Random(9).nextBytes(payload);
    for (long seq = 1; seq <= 3; seq++) {
      payload[0] = (byte) seq;
      byte[] message = payload.clone();
      assertEquals(seq, retrying(() -> h.publish("huge.x", null, message), HoldfastException.Unavailable.class).seq());
    }
    for (int id : List.of(1, 2, 3)) {
      await(() -> hf(nodes.get(id)).readLocalReplica("huge", 1, 10).toCompletableFuture().get().size() == 3,
          "node " + id + "'s replica holds the three messages");
      List<StreamMessage> held = hf(nodes.get(id)).readLocalReplica("huge", 1, 10).toCompletableFuture().get();
      for (StreamMessage m : held) {
        payload[0] = (byte) m.seq();
        assertArrayEquals(payload, m.payload(), "node " + id + " holds message " + m.seq() + " whole");
      }
    }
    h.consumers().create("huge", io.holdfast.stream.ConsumerConfig.durable("reader")).toCompletableFuture().get();
    List<io.holdfast.api.Message> fetched = h.consumer("huge", "reader").fetch(10).toCompletableFuture().get();
    assertFalse(fetched.isEmpty(), "a fetch answers at least one message, however large");
    payload[0] = 1;
    assertArrayEquals(payload, fetched.get(0).payload(), "fetched whole");
    byte[] tooLarge = new byte[payload.length + 1];
    assertError(HoldfastException.class, () -> h.publish("huge.x", null, tooLarge).toCompletableFuture().get());
    h.deleteStream("huge").toCompletableFuture().get();
  }

  /** The message-store directories of {@code stream}'s replicas on node {@code id}. */
  private List<java.nio.file.Path> streamDirs(int id, String stream) throws java.io.IOException {
    java.nio.file.Path streams = tmp.resolve("node" + id).resolve("streams");
    if (!java.nio.file.Files.isDirectory(streams)) {
      return List.of();
    }
    try (var s = java.nio.file.Files.list(streams)) {
      return s.filter(p -> p.getFileName().toString().startsWith(stream + "-")).toList();
    }
  }

  /** Publishes, retrying what is safe to retry while the group changes members; asserts the sequence. */
  private static void publishTo(Holdfast h, String subject, String value, long expectedSeq) throws Exception {
    assertEquals(expectedSeq, publishRetrying(h, subject, value).seq());
  }


  @Test
  @Order(10)
  void httpApiAnswersJsonWithClearErrors() throws Exception {
    HttpClient http = HttpClient.newHttpClient();
    String base = "http://127.0.0.1:" + httpPort;
    HttpResponse<String> pub = http.send(HttpRequest.newBuilder(URI.create(base + "/pub/orders.http"))
        .header("Holdfast-Header-Trace", "t1").POST(HttpRequest.BodyPublishers.ofString("over http")).build(),
        HttpResponse.BodyHandlers.ofString());
    assertEquals(200, pub.statusCode(), pub.body());
    assertTrue(pub.body().matches("\\{\"stream\":\"orders\",\"seq\":\\d+,\"duplicate\":false}"), pub.body());
    long seq = new com.fasterxml.jackson.databind.ObjectMapper().readTree(pub.body()).get("seq").asLong();
    acked.put("over http", seq);
    HttpResponse<String> get = http.send(HttpRequest.newBuilder(URI.create(base + "/streams/orders/messages/" + seq))
        .build(), HttpResponse.BodyHandlers.ofString());
    assertTrue(get.body().contains("\"data\":\"over http\"") && get.body().contains("\"Trace\":[\"t1\"]"), get.body());
    HttpResponse<String> info = http.send(HttpRequest.newBuilder(URI.create(base + "/streams/orders")).build(),
        HttpResponse.BodyHandlers.ofString());
    for (String field : new String[] {"\"max_msgs\":-1", "\"discard\":\"old\"", "\"duplicate_window\":\"2m\"",
        "\"first_seq\":1", "\"num_subjects\":", "\"num_deleted\":0"}) {
      assertTrue(info.body().contains(field), field + " in " + info.body());
    }
    HttpResponse<String> dup = http.send(HttpRequest.newBuilder(URI.create(base + "/pub/orders.http"))
        .header("Holdfast-Msg-Id", "h-1").POST(HttpRequest.BodyPublishers.ofString("once")).build(),
        HttpResponse.BodyHandlers.ofString());
    HttpResponse<String> dup2 = http.send(HttpRequest.newBuilder(URI.create(base + "/pub/orders.http"))
        .header("Holdfast-Msg-Id", "h-1").POST(HttpRequest.BodyPublishers.ofString("once")).build(),
        HttpResponse.BodyHandlers.ofString());
    assertTrue(dup2.body().contains("\"duplicate\":true"), dup2.body());
    acked.put("once", new com.fasterxml.jackson.databind.ObjectMapper().readTree(dup.body()).get("seq").asLong());
    HttpResponse<String> wrongSeq = http.send(HttpRequest.newBuilder(URI.create(base + "/pub/orders.http"))
        .header("Holdfast-Expected-Last-Seq", "1").POST(HttpRequest.BodyPublishers.ofString("no")).build(),
        HttpResponse.BodyHandlers.ofString());
    assertEquals(409, wrongSeq.statusCode());
    assertTrue(wrongSeq.body().contains("\"code\":\"wrong_last_sequence\""), wrongSeq.body());
    // The error cases of the stream model, each a clear JSON error, and nothing stored by them.
    long before = hf(nodes.get(1)).streamInfo("orders").toCompletableFuture().get().state().lastSeq();
    HttpResponse<String> badSubject = http.send(HttpRequest.newBuilder(URI.create(base + "/pub/orders.*"))
        .POST(HttpRequest.BodyPublishers.ofString("x")).build(), HttpResponse.BodyHandlers.ofString());
    assertEquals(400, badSubject.statusCode());
    assertTrue(badSubject.body().contains("\"code\":\"bad_subject\""), badSubject.body());
    HttpResponse<String> oversize = http.send(HttpRequest.newBuilder(URI.create(base + "/pub/orders.big"))
        .POST(HttpRequest.BodyPublishers.ofByteArray(new byte[io.holdfast.replica.StreamMachine.MESSAGE_BYTES_MAX + 1])).build(), HttpResponse.BodyHandlers.ofString());
    assertEquals(400, oversize.statusCode());
    assertTrue(oversize.body().contains("larger than the maximum"), oversize.body());
    HttpResponse<String> capped = http.send(HttpRequest.newBuilder(URI.create(base + "/streams")).POST(
        HttpRequest.BodyPublishers.ofString("{\"name\":\"capped\",\"max_msgs\":1,\"discard\":\"new\"}")).build(),
        HttpResponse.BodyHandlers.ofString());
    assertEquals(201, capped.statusCode(), capped.body());
    http.send(HttpRequest.newBuilder(URI.create(base + "/pub/capped.a")).POST(HttpRequest.BodyPublishers.ofString("1"))
        .build(), HttpResponse.BodyHandlers.ofString());
    HttpResponse<String> full = http.send(HttpRequest.newBuilder(URI.create(base + "/pub/capped.a"))
        .POST(HttpRequest.BodyPublishers.ofString("2")).build(), HttpResponse.BodyHandlers.ofString());
    assertEquals(409, full.statusCode());
    assertTrue(full.body().contains("\"code\":\"maximum_messages_exceeded\""), full.body());
    HttpResponse<String> filtered = http.send(HttpRequest.newBuilder(URI.create(base + "/streams?subject=capped.*"))
        .build(), HttpResponse.BodyHandlers.ofString());
    assertTrue(filtered.body().contains("\"name\":\"capped\"") && !filtered.body().contains("\"name\":\"orders\""),
        filtered.body());
    assertEquals(before, hf(nodes.get(1)).streamInfo("orders").toCompletableFuture().get().state().lastSeq(),
        "refused publishes stored nothing");
    // The same error cases through the command line: exit 1, the JSON error with --json, one line on stderr.
    String[][] refused = {
        {"pub", "orders.*", "x"}, {"pub", "nobody.here", "x"}, {"pub", "orders.a", "x", "--expected-last-seq", "1"},
        {"pub", "capped.a", "3"}, {"stream", "info", "missing"}, {"get", "orders", "999999"}};
    String[] codes = {"bad_subject", "no_stream", "wrong_last_sequence", "maximum_messages_exceeded", "stream_not_found",
        "no_message"};
    for (int i = 0; i < refused.length; i++) {
      java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream();
      java.io.ByteArrayOutputStream err = new java.io.ByteArrayOutputStream();
      List<String> argv = new ArrayList<>(List.of(refused[i]));
      argv.addAll(List.of("--server", base, "--json"));
      int exit = io.holdfast.cli.Main.run(argv.toArray(new String[0]), new java.io.PrintStream(out, true),
          new java.io.PrintStream(err, true));
      assertEquals(1, exit, String.join(" ", refused[i]) + ": " + err);
      assertTrue(out.toString().contains("\"code\":\"" + codes[i] + "\""), out.toString());
      assertTrue(err.toString().startsWith("holdfast: " + codes[i] + ": ") && !err.toString().contains("\tat "),
          err.toString());
    }
    // after the CLI checks above, which need capped full
    HttpResponse<String> erased = http.send(HttpRequest.newBuilder(URI.create(base + "/streams/capped/messages/1?erase=true"))
        .DELETE().build(), HttpResponse.BodyHandlers.ofString());
    assertEquals("{\"deleted\":1,\"erased\":true}", erased.body());
    HttpResponse<String> gone = http.send(HttpRequest.newBuilder(URI.create(base + "/streams/capped/messages/1?erase=true"))
        .DELETE().build(), HttpResponse.BodyHandlers.ofString());
    assertEquals(404, gone.statusCode(), gone.body());
    HttpResponse<String> badJson = http.send(HttpRequest.newBuilder(URI.create(base + "/streams"))
        .POST(HttpRequest.BodyPublishers.ofString("{nope")).build(), HttpResponse.BodyHandlers.ofString());
    assertEquals(400, badJson.statusCode());
    assertTrue(badJson.body().startsWith("{\"error\":{\"code\":\"bad_json\""), badJson.body());
    HttpResponse<String> noStream = http.send(HttpRequest.newBuilder(URI.create(base + "/pub/none.here"))
        .POST(HttpRequest.BodyPublishers.ofString("x")).build(), HttpResponse.BodyHandlers.ofString());
    assertEquals(404, noStream.statusCode());
    assertTrue(noStream.body().contains("\"code\":\"no_stream\""), noStream.body());
    HttpResponse<String> unknownPath = http.send(HttpRequest.newBuilder(URI.create(base + "/nothing")).build(),
        HttpResponse.BodyHandlers.ofString());
    assertEquals(404, unknownPath.statusCode());
    assertTrue(unknownPath.body().startsWith("{\"error\":"), unknownPath.body());
    HttpResponse<String> health = http.send(HttpRequest.newBuilder(URI.create(base + "/health")).build(),
        HttpResponse.BodyHandlers.ofString());
    assertEquals(200, health.statusCode(), health.body());
    assertTrue(health.body().contains("\"recovering_lost_tail\":[]"), "no replica lost a tail: " + health.body());
  }

  @Test
  @Order(13)
  void theLeaderStopsAndAnotherTakesOverWithoutLosingAnAck() throws Exception {
    int leader = hf(nodes.get(1)).streamInfo("orders").toCompletableFuture().get().cluster().leader();
    assertTrue(leader >= 1 && leader <= 3, "a leader: " + leader);
    stop(leader);
    int via = nodes.keySet().iterator().next();
    for (int i = 0; i < 20; i++) {
      publish(nodes.get(via), "orders.after", "after-" + i);
    }
    int newLeader = hf(nodes.get(via)).streamInfo("orders").toCompletableFuture().get().cluster().leader();
    assertTrue(newLeader != leader && nodes.containsKey(newLeader), "new leader " + newLeader);
    assertEveryReplicaHoldsEveryAck();
    restart(leader); // on its data: its replica catches up
    if (leader != 1) {
      stop(1);
      restart(1); // the first seed node rejoins the running cluster instead of forming its own
    }
  }

  /** The voters of {@code group} as node {@code s}'s own replica sees them (empty if it has none). */
  private static List<Integer> voters(ActorSystem<Void> s, String group) throws Exception {
    var replica = io.holdfast.server.LocalReplicas.get(s).find(group);
    if (replica.isEmpty()) {
      return List.of();
    }
    return org.apache.pekko.actor.typed.javadsl.AskPattern.<io.holdfast.replica.ReplicaShell.Command,
        io.holdfast.replica.ReplicaDriver.Status>ask(replica.get(), io.holdfast.replica.ReplicaShell.GetStatus::new,
        Duration.ofSeconds(2), s.scheduler()).toCompletableFuture().get().voters();
  }

  private void restart(int id) throws Exception {
    start(id);
    await(() -> hf(nodes.get(id)).clusterStatus().toCompletableFuture().get().registration().equals("registered"),
        "restarted node " + id + " registered again");
    assertEveryReplicaHoldsEveryAck();
  }

  @Test
  @Order(14)
  void aConsumerMidStreamAcrossALeaderStopRedeliversNothingAckedAndLosesNothingUnacked() throws Exception {
    Holdfast h = hf(app); // an application node: it reaches the stream through the cluster
    h.createStream(new StreamConfig("tasks", List.of("tasks.>"), 3)).toCompletableFuture().get();
    for (int i = 1; i <= 200; i++) {
      publishRetrying(h, "tasks.t", "t" + i);
    }
    h.consumers().create("tasks", io.holdfast.stream.ConsumerConfig.durable("worker").withAckWaitMillis(3000)
        .withMaxAckPending(50)).toCompletableFuture().get();
    var queue = h.consumer("tasks", "worker").withBatch(10).source()
        .runWith(org.apache.pekko.stream.javadsl.Sink.queue(), app);
    // Deliveries are numbered by the replicated state (consumer_seq). After an ack is confirmed, the
    // consumer's delivery count read from its leader bounds everything delivered before the ack was
    // applied; a delivery of that message numbered above it happened after: a redelivery of an ack.
    java.util.Map<Long, Long> ackedBy = new java.util.HashMap<>();
    java.util.Set<Long> seen = new java.util.HashSet<>();
    int redeliveries = 0;
    int stopped = 0;
    while (seen.size() < 200) {
      Message m = queue.pull().toCompletableFuture().get(WAIT.toSeconds(), TimeUnit.SECONDS)
          .orElseThrow(() -> new AssertionError("the source ended"));
      Long bound = ackedBy.get(m.seq());
      assertTrue(bound == null || m.consumerSeq() <= bound, "seq " + m.seq() + " delivered as consumer_seq "
          + m.consumerSeq() + " after its ack was applied (deliveries then: " + bound + ")");
      redeliveries += seen.add(m.seq()) ? 0 : 1;
      if (ackRetrying(m)) {
        ackedBy.put(m.seq(), deliveriesRetrying(h));
      }
      if (ackedBy.size() == 100 && stopped == 0) {
        stopped = h.streamInfo("tasks").toCompletableFuture().get().cluster().leader();
        stop(stopped); // mid-stream: the source holds fetched, unacked messages right now
      }
    }
    queue.cancel();
    assertTrue(stopped > 0, "the leader was stopped");
    assertEquals(200, seen.size(), "every message delivered");
    var info = h.consumers().info("tasks", "worker").toCompletableFuture().get();
    assertEquals(200, info.ackFloor(), "every message acked in the end (redeliveries: " + redeliveries + ")");
    restart(stopped);
  }

  /** The consumer's delivery count as its leader has applied it, retrying while there is no leader. */
  private static long deliveriesRetrying(Holdfast h) throws Exception {
    return retrying(() -> h.consumers().info("tasks", "worker"), HoldfastException.Unavailable.class).consumerSeq();
  }

  /** Acks, retrying while the stream has no leader (acks are idempotent); false if it could not be confirmed (it will come back). */
  private static boolean ackRetrying(Message m) throws Exception {
    try {
      retrying(m::ack, HoldfastException.Unavailable.class, HoldfastException.OutcomeUnknown.class);
      return true;
    } catch (ExecutionException e) {
      if (e.getCause() instanceof HoldfastException.Unavailable || e.getCause() instanceof HoldfastException.OutcomeUnknown) {
        return false;
      }
      throw e;
    }
  }

  @Test
  @Order(11)
  void aFollowerWhoseSyncedWalTailWasCutRecoversItFromItsPeersAndNothingAckedIsLost() throws Exception {
    int leader = hf(nodes.values().iterator().next()).streamInfo("orders").toCompletableFuture().get().cluster().leader();
    int victim = leader == 3 ? 2 : 3; // a follower, and not the first seed
    ActorSystem<Void> via = nodes.get(leader);
    for (int i = 0; i < 20; i++) {
      publish(via, "orders.tail", "tail-" + i);
    }
    assertEveryReplicaHoldsEveryAck();
    stop(victim); // a clean stop: everything written is synced, and the tail marker says so
    Path data = tmp.resolve("node" + victim);
    Path wal;
    try (var files = java.nio.file.Files.list(data.resolve("wal"))) {
      wal = files.filter(p -> p.toString().endsWith(".wal")).max(java.util.Comparator.naturalOrder()).orElseThrow();
    }
    try (var ch = java.nio.channels.FileChannel.open(wal, java.nio.file.StandardOpenOption.WRITE)) {
      ch.truncate(ch.size() - 300); // Jepsen's truncation: the last synced (and acknowledged) records gone
    }
    restart(victim); // it opens, and its replica ends up identical to the others, holding every ack
    assertTrue(java.nio.file.Files.exists(data.resolve("wal.lost-tail")), "the cut was found as a lost tail");
    await(() -> hf(nodes.get(victim)).recoveringLostTail().toCompletableFuture().get().isEmpty(),
        "its replicas recovered what the tail took and vote again");
    for (int i = 0; i < 5; i++) {
      publish(nodes.get(victim), "orders.tail", "after-tail-" + i);
    }
    assertEveryReplicaHoldsEveryAck();
  }

  @Test
  @Order(12)
  void aNodeWhoseDiskWasWipedComesBackAsANewMemberOfEveryGroupAndNothingAckedIsLost() throws Exception {
    int leader = hf(nodes.get(1)).streamInfo("orders").toCompletableFuture().get().cluster().leader();
    int victim = leader == 3 ? 2 : 3; // not the first seed
    int other = 5 - victim; // neither node 1 nor the victim
    for (int i = 0; i < 20; i++) {
      publish(nodes.get(1), "orders.wipe", "before-wipe-" + i);
    }
    stop(victim);
    Path data = tmp.resolve("node" + victim);
    try (var walk = java.nio.file.Files.walk(data)) { // the disk is replaced: nothing of the node survives
      for (Path p : walk.sorted(java.util.Comparator.reverseOrder()).toList()) {
        java.nio.file.Files.delete(p);
      }
    }
    for (int i = 0; i < 10; i++) {
      publish(nodes.get(1), "orders.wipe", "while-wiped-" + i);
    }
    restart(victim); // rejoin on: it registers its new disk; its replicas come back as new members and catch up
    var me = hf(nodes.get(1)).clusterStatus().toCompletableFuture().get().nodes().stream()
        .filter(n -> n.id() == victim).findFirst().orElseThrow();
    assertEquals(1, me.generation(), "registered as the node's first new disk");
    String orders = hf(nodes.get(1)).streamInfo("orders").toCompletableFuture().get().cluster().group();
    List<Integer> voters = new ArrayList<>(List.of(1, other, 1000 + victim));
    java.util.Collections.sort(voters);
    for (String group : List.of("meta", orders)) { // the old replica id removed, the new one a voter, everywhere
      await(() -> {
        for (ActorSystem<Void> s : nodes.values()) {
          if (!voters(s, group).equals(voters)) {
            return false;
          }
        }
        return true;
      }, group + " has voters " + voters + " on every node");
    }
    // The new replicas vote: with the third node stopped, the meta group and the stream still
    // have a majority only because the victim's new replicas took the old ones' places as voters.
    stop(other);
    retrying(() -> hf(nodes.get(1)).createStream(new StreamConfig("after-wipe", List.of("after-wipe.>"), 1)),
        HoldfastException.Unavailable.class, HoldfastException.OutcomeUnknown.class);
    for (int i = 0; i < 10; i++) {
      publish(nodes.get(victim), "orders.wipe", "other-down-" + i);
    }
    restart(other);
    hf(nodes.get(1)).deleteStream("after-wipe").toCompletableFuture().get();
  }

  @Test
  @Order(15)
  void withoutAQuorumAPublishFailsClearlyWithinTheTimeoutAndIsNeverAcked() throws Exception {
    List<Integer> ids = new ArrayList<>(nodes.keySet());
    stop(ids.get(0));
    stop(ids.get(1));
    Holdfast lonely = hf(nodes.get(ids.get(2)));
    long started = System.nanoTime();
    try {
      PubAck ack = lonely.publish("orders.lonely", null, new byte[] {1}).toCompletableFuture().get(30, TimeUnit.SECONDS);
      fail("acked without a quorum: " + ack);
    } catch (ExecutionException e) {
      HoldfastException h = assertInstanceOf(HoldfastException.class, e.getCause());
      assertEquals(503, h.httpStatus(), h.getMessage());
    }
    double seconds = (System.nanoTime() - started) / 1e9;
    assertTrue(seconds < 4 + 2, "failed within the request timeout (4 s) and a margin, took " + seconds);
  }

  interface Call {
    void run() throws Exception;
  }

  private static void assertError(Class<? extends HoldfastException> type, Call call) {
    try {
      call.run();
      fail("expected " + type.getSimpleName());
    } catch (ExecutionException | CompletionException e) {
      assertInstanceOf(type, e.getCause(), String.valueOf(e.getCause()));
    } catch (Exception e) {
      fail("expected " + type.getSimpleName() + ", got " + e);
    }
  }
}
