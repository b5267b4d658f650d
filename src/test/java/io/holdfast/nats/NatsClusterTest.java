package io.holdfast.nats;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import io.holdfast.api.Holdfast;
import io.nats.client.Connection;
import io.nats.client.Dispatcher;
import io.nats.client.JetStream;
import io.nats.client.JetStreamApiException;
import io.nats.client.JetStreamManagement;
import io.nats.client.Message;
import io.nats.client.Nats;
import io.nats.client.Options;
import io.nats.client.Subscription;
import io.nats.client.api.PublishAck;
import io.nats.client.api.StorageType;
import io.nats.client.api.StreamConfiguration;
import io.nats.client.api.StreamInfo;
import io.nats.client.impl.NatsMessage;
import io.nats.client.PublishOptions;
import io.nats.client.ConsumerContext;
import io.nats.client.FetchConsumeOptions;
import io.nats.client.FetchConsumer;
import io.nats.client.IterableConsumer;
import io.nats.client.JetStreamSubscription;
import io.nats.client.MessageConsumer;
import io.nats.client.PushSubscribeOptions;
import io.nats.client.StreamContext;
import io.nats.client.api.AckPolicy;
import io.nats.client.api.ConsumerConfiguration;
import java.io.BufferedReader;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.concurrent.CompletableFuture;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;

/**
 * Goal: NATS clients work against Holdfast unchanged — core publish/subscribe, queue groups and
 * request/reply across the cluster's nodes, streams managed and published to through jnats'
 * JetStream API with its own options and exceptions, and malformed input answered as nats-server
 * answers it. Method: three server nodes in this JVM, each with its NATS listener on a free
 * loopback port; jnats connections to different nodes; a raw socket for the malformed input.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class NatsClusterTest {
  @TempDir
  static Path tmp;

  private final Map<Integer, ActorSystem<Void>> nodes = new TreeMap<>();
  private final Map<Integer, NatsNode> nats = new TreeMap<>();
  private final List<Connection> clients = new ArrayList<>();

  @BeforeAll
  void startCluster() throws Exception {
    Map<Integer, Integer> ports = new TreeMap<>();
    for (int id = 1; id <= 3; id++) {
      ports.put(id, freePort());
    }
    StringBuilder seeds = new StringBuilder();
    ports.values().forEach(p -> seeds.append(seeds.length() == 0 ? "" : ",").append("\"pekko://holdfast@127.0.0.1:")
        .append(p).append('"'));
    for (int id = 1; id <= 3; id++) {
      nodes.put(id, ActorSystem.create(Behaviors.empty(), "holdfast", config(id, ports.get(id), seeds.toString())));
      Holdfast.get(nodes.get(id)); // the server node starts with the extension
    }
    for (int id = 1; id <= 3; id++) {
      Holdfast h = Holdfast.get(nodes.get(id));
      await(() -> h.clusterStatus().toCompletableFuture().get().registration().equals("registered"), "registered");
      nats.put(id, NatsNode.start(nodes.get(id), h, NatsSettings.fromConfig(nodes.get(id).settings().config()))
          .toCompletableFuture().get(30, TimeUnit.SECONDS));
    }
    // Every node's router has introduced itself to the others: connect_urls lists the two others.
    await(() -> nats.values().stream().allMatch(n -> n.connectUrls().size() == 2), "routers know each other");
  }

  @AfterAll
  void stopCluster() throws Exception {
    for (Connection c : clients) {
      c.close();
    }
    for (ActorSystem<Void> s : nodes.values()) {
      s.terminate();
      s.getWhenTerminated().toCompletableFuture().get(60, TimeUnit.SECONDS);
    }
  }

  private static Config config(int id, int port, String seeds) {
    return ConfigFactory.parseString("""
        pekko.loglevel = WARNING
        pekko.actor.provider = cluster
        pekko.remote.artery.canonical.hostname = "127.0.0.1"
        pekko.remote.artery.canonical.port = %d
        pekko.cluster.seed-nodes = [%s]
        pekko.cluster.roles = ["holdfast", "holdfast-node-%d"]
        pekko.cluster.jmx.multi-mbeans-in-same-jvm = on
        pekko.coordinated-shutdown.exit-jvm = off
        holdfast.node.id = %d
        holdfast.node.data-dir = "%s"
        holdfast.client.request-timeout = 4s
        holdfast.nats.port = 0
        holdfast.nats.max-pending = 4 MiB
        holdfast.nats.max-payload = 2 MiB
        holdfast.raft.follow-publishers-min-rate = 20
        """.formatted(port, seeds, id, id, tmp.resolve("node" + id).toString().replace("\\", "/")))
        .withFallback(ConfigFactory.load());
  }

  private Connection connect(int node) throws Exception {
    Connection c = Nats.connect(new Options.Builder().server(nats.get(node).url()).connectionTimeout(Duration.ofSeconds(5))
        .build());
    clients.add(c);
    return c;
  }

  @Test
  void aSubscriberOnOneNodeGetsWhatIsPublishedOnAnother() throws Exception {
    Connection sub = connect(1);
    Connection pub = connect(3);
    Subscription s = sub.subscribe("core.cross.>");
    sub.flush(Duration.ofSeconds(5));
    awaitInterest(3, "core.cross.x");
    for (int i = 0; i < 10; i++) {
      pub.publish("core.cross.x", ("m" + i).getBytes(StandardCharsets.UTF_8));
    }
    for (int i = 0; i < 10; i++) {
      Message m = s.nextMessage(Duration.ofSeconds(5));
      assertNotNull(m, "message " + i);
      assertEquals("core.cross.x", m.getSubject());
      assertEquals("m" + i, new String(m.getData(), StandardCharsets.UTF_8), "in publish order from one publisher");
    }
    assertEquals(null, s.nextMessage(Duration.ofMillis(200)), "each once");
  }

  @Test
  void aQueueGroupGetsEachMessageOnceAcrossNodes() throws Exception {
    Set<String> seen = ConcurrentHashMap.newKeySet();
    List<String> all = java.util.Collections.synchronizedList(new ArrayList<>());
    CountDownLatch done = new CountDownLatch(200);
    for (int node : List.of(1, 2)) {
      Connection c = connect(node);
      Dispatcher d = c.createDispatcher(m -> {
        String v = new String(m.getData(), StandardCharsets.UTF_8);
        all.add(v);
        seen.add(v);
        done.countDown();
      });
      d.subscribe("work.items", "workers");
      c.flush(Duration.ofSeconds(5));
    }
    awaitInterest(3, "work.items");
    Connection pub = connect(3);
    for (int i = 0; i < 200; i++) {
      pub.publish("work.items", ("w" + i).getBytes(StandardCharsets.UTF_8));
    }
    assertTrue(done.await(10, TimeUnit.SECONDS), "all delivered: " + all.size());
    assertEquals(200, seen.size());
    assertEquals(200, all.size(), "one member per message");
  }

  @Test
  void aRequestIsAnsweredAcrossNodesAndOneWithoutRespondersGets503() throws Exception {
    Connection responder = connect(2);
    Dispatcher d = responder.createDispatcher(m -> responder.publish(m.getReplyTo(),
        ("re:" + new String(m.getData(), StandardCharsets.UTF_8)).getBytes(StandardCharsets.UTF_8)));
    d.subscribe("svc.echo");
    responder.flush(Duration.ofSeconds(5));
    awaitInterest(1, "svc.echo");
    Connection requester = connect(1);
    Message reply = requester.request("svc.echo", "hi".getBytes(StandardCharsets.UTF_8), Duration.ofSeconds(5));
    assertNotNull(reply, "answered");
    assertEquals("re:hi", new String(reply.getData(), StandardCharsets.UTF_8));
    var noOne = requester.request("svc.nobody", new byte[0]);
    // jnats cancels a request's future when the 503 no-responders status comes (a timeout would be a TimeoutException).
    assertThrows(java.util.concurrent.CancellationException.class, () -> noOne.get(5, TimeUnit.SECONDS));
  }

  @Test
  void streamsAreManagedAndPublishedToThroughJetStream() throws Exception {
    Connection c = connect(2);
    JetStreamManagement jsm = c.jetStreamManagement();
    StreamInfo created = jsm.addStream(StreamConfiguration.builder().name("ORDERS").subjects("orders.>").replicas(3)
        .storageType(StorageType.File).build());
    assertEquals("ORDERS", created.getConfiguration().getName());
    assertEquals(3, created.getConfiguration().getReplicas());
    assertEquals(List.of("ORDERS"), jsm.getStreamNames());
    JetStream js = c.jetStream();
    PublishAck first = js.publish("orders.new", "a".getBytes(StandardCharsets.UTF_8),
        PublishOptions.builder().messageId("id-1").build());
    assertEquals("ORDERS", first.getStream());
    assertEquals(1, first.getSeqno());
    assertFalse(first.isDuplicate());
    PublishAck again = js.publish("orders.new", "a".getBytes(StandardCharsets.UTF_8),
        PublishOptions.builder().messageId("id-1").build());
    assertTrue(again.isDuplicate(), "the same msg id within the window");
    assertEquals(1, again.getSeqno());
    PublishAck second = js.publish(NatsMessage.builder().subject("orders.paid").data("b", StandardCharsets.UTF_8)
        .build(), PublishOptions.builder().expectedLastSequence(1).build());
    assertEquals(2, second.getSeqno());
    JetStreamApiException wrong = assertThrows(JetStreamApiException.class, () -> js.publish("orders.new",
        new byte[0], PublishOptions.builder().expectedLastSequence(1).build()));
    assertEquals(10071, wrong.getApiErrorCode());
    assertEquals(400, wrong.getErrorCode());
    assertEquals(2, jsm.getStreamInfo("ORDERS").getStreamState().getMsgCount());
    assertEquals("b", new String(jsm.getLastMessage("ORDERS", "orders.paid").getData(), StandardCharsets.UTF_8));
    JetStreamApiException missing = assertThrows(JetStreamApiException.class, () -> jsm.getStreamInfo("NOPE"));
    assertEquals(10059, missing.getApiErrorCode());
    // The largest message a stream takes (1 MiB), through a node that may not lead the stream: stored whole.
    byte[] largest = new byte[io.holdfast.replica.StreamMachine.MESSAGE_BYTES_MAX];
    largest[largest.length - 1] = 7;
    long largestSeq = js.publish("orders.big", largest).getSeqno();
    assertArrayEquals(largest, jsm.getMessage("ORDERS", largestSeq).getData());
    // Larger (this listener's max_payload is 2 MiB, above a stream message's): refused at once.
    JetStreamApiException tooLarge = assertThrows(JetStreamApiException.class,
        () -> js.publish("orders.big", new byte[largest.length + 1]));
    assertEquals(10054, tooLarge.getApiErrorCode());
    // A publish no stream captures, through JetStream: the client's own no-responders error.
    Exception none = assertThrows(Exception.class, () -> js.publish("nowhere.x", new byte[0]));
    assertTrue(String.valueOf(none.getMessage()).contains("503"), none.toString());
    assertTrue(jsm.deleteStream("ORDERS"));
    // Nats-Rollup: sub replaces the subject's earlier messages
    jsm.addStream(StreamConfiguration.builder().name("ROLL").subjects("roll.>").allowRollup(true).build());
    for (int i = 0; i < 3; i++) {
      js.publish("roll.a", new byte[] {(byte) i});
    }
    js.publish(NatsMessage.builder().subject("roll.a").headers(new io.nats.client.impl.Headers().add("Nats-Rollup", "sub"))
        .data(new byte[] {9}).build());
    assertEquals(1, jsm.getStreamInfo("ROLL").getStreamState().getMsgCount(), "rolled up");
    assertTrue(jsm.deleteStream("ROLL"));
    Message unknown = c.request("$JS.API.STREAM.FROB", new byte[0], Duration.ofSeconds(5));
    assertNotNull(unknown, "an unknown API subject is answered, never silence");
    assertTrue(new String(unknown.getData(), StandardCharsets.UTF_8).contains("\"err_code\":10003"),
        new String(unknown.getData(), StandardCharsets.UTF_8));
  }

  @Test
  void aStreamsLeaderMovesToTheNodeItsPublishersUse() throws Exception {
    Connection admin = connect(1);
    JetStreamManagement jsm = admin.jetStreamManagement();
    jsm.addStream(StreamConfiguration.builder().name("FOLLOW").subjects("follow.>").replicas(3).build());
    await(() -> jsm.getStreamInfo("FOLLOW").getClusterInfo().getLeader() != null, "a leader");
    String first = jsm.getStreamInfo("FOLLOW").getClusterInfo().getLeader();
    int publishers = first.equals("holdfast-3") ? 2 : 3;
    JetStream js = connect(publishers).jetStream();
    // Publishes through one node that does not lead, well above the rate this cluster's nodes
    // follow (holdfast.raft.follow-publishers-min-rate below): the leader hands over to it.
    await(() -> {
      List<CompletableFuture<PublishAck>> acks = new ArrayList<>();
      for (int i = 0; i < 200; i++) {
        acks.add(js.publishAsync("follow.x", new byte[16]));
      }
      for (CompletableFuture<PublishAck> a : acks) {
        a.get(30, TimeUnit.SECONDS);
      }
      return ("holdfast-" + publishers).equals(jsm.getStreamInfo("FOLLOW").getClusterInfo().getLeader());
    }, "the leader on node " + publishers);
    assertTrue(jsm.deleteStream("FOLLOW"));
  }

  @Test
  void pullConsumersFetchIterateAndConsumeWithEveryKindOfAck() throws Exception {
    Connection c = connect(3);
    JetStreamManagement jsm = c.jetStreamManagement();
    jsm.addStream(StreamConfiguration.builder().name("PULL").subjects("pull.>").replicas(3).build());
    JetStream js = c.jetStream();
    for (int i = 1; i <= 20; i++) {
      js.publish("pull.job", ("j" + i).getBytes(StandardCharsets.UTF_8));
    }
    StreamContext sc = c.getStreamContext("PULL");
    // A short ack wait: iterate() below pulls ahead, and what it holds unacked when closed comes again to consume().
    ConsumerContext cc = sc.createOrUpdateConsumer(ConsumerConfiguration.builder().durable("workers")
        .ackWait(Duration.ofSeconds(2)).build());
    // fetch: five messages, acked, nak'ed, terminated, in progress
    List<Message> five = new ArrayList<>();
    try (FetchConsumer f = cc.fetchMessages(5)) {
      Message m;
      while ((m = f.nextMessage()) != null) {
        five.add(m);
      }
    }
    assertEquals(5, five.size());
    assertEquals("pull.job", five.get(0).getSubject(), "the stored subject, not the inbox");
    assertEquals(1, five.get(0).metaData().streamSequence());
    assertEquals(1, five.get(0).metaData().deliveredCount());
    five.get(0).ackSync(Duration.ofSeconds(5)); // double ack: the server answers once it is applied
    five.get(1).nak();
    five.get(2).term();
    five.get(3).inProgress();
    five.get(3).ack();
    five.get(4).ack();
    // the nak'ed one comes again, delivered twice; the terminated one never
    Message again = null;
    try (FetchConsumer f = cc.fetchMessages(1)) {
      again = f.nextMessage();
    }
    assertNotNull(again);
    assertEquals(2, again.metaData().streamSequence());
    assertEquals(2, again.metaData().deliveredCount());
    again.ack();
    // iterate: the rest, in order
    List<Long> seqs = new ArrayList<>();
    try (IterableConsumer it = cc.iterate()) {
      while (seqs.size() < 10) {
        Message m = it.nextMessage(Duration.ofSeconds(5));
        assertNotNull(m, "after " + seqs);
        seqs.add(m.metaData().streamSequence());
        m.ack();
      }
    }
    assertEquals(List.of(6L, 7L, 8L, 9L, 10L, 11L, 12L, 13L, 14L, 15L), seqs);
    // consume: a callback for the last five
    CountDownLatch five2 = new CountDownLatch(5);
    List<Long> consumed = java.util.Collections.synchronizedList(new ArrayList<>());
    try (MessageConsumer mc = cc.consume(m -> {
      consumed.add(m.metaData().streamSequence());
      m.ack();
      five2.countDown();
    })) {
      assertTrue(five2.await(20, TimeUnit.SECONDS), "consumed " + consumed);
    }
    assertTrue(consumed.containsAll(List.of(16L, 17L, 18L, 19L, 20L)), consumed.toString());
    // nothing left: a no-wait fetch ends at once, empty
    try (FetchConsumer f = cc.fetch(FetchConsumeOptions.builder().maxMessages(3).noWait().build())) {
      assertEquals(null, f.nextMessage());
    }
    assertEquals(0, cc.getConsumerInfo().getNumAckPending());
    assertEquals(List.of("workers"), jsm.getConsumerNames("PULL"));
    JetStreamApiException gone = assertThrows(JetStreamApiException.class, () -> jsm.getConsumerInfo("PULL", "nope"));
    assertEquals(10014, gone.getApiErrorCode());
    assertTrue(jsm.deleteStream("PULL"));
  }

  @Test
  void pushAndOrderedConsumersDeliverWithHeartbeatsAndFlowControl() throws Exception {
    Connection c = connect(1);
    JetStreamManagement jsm = c.jetStreamManagement();
    jsm.addStream(StreamConfiguration.builder().name("PUSH").subjects("push.>").replicas(3).build());
    JetStream js = c.jetStream();
    int n = 600; // more than one flow-control window
    for (int i = 1; i <= n; i++) {
      js.publishAsync("push.e", ("e" + i).getBytes(StandardCharsets.UTF_8));
    }
    await(() -> jsm.getStreamInfo("PUSH").getStreamState().getMsgCount() == n, "all stored");
    JetStreamSubscription push = js.subscribe("push.>", PushSubscribeOptions.builder().configuration(
        ConsumerConfiguration.builder().ackPolicy(AckPolicy.Explicit).idleHeartbeat(Duration.ofSeconds(1))
            .flowControl(Duration.ofSeconds(1)).build()).build());
    // Any node shows it as the push consumer it is (its NATS settings are told to every node).
    JetStreamManagement elsewhere = connect(2).jetStreamManagement();
    String deliverSubject = jsm.getConsumerInfo("PUSH", push.getConsumerName()).getConsumerConfiguration()
        .getDeliverSubject();
    assertNotNull(deliverSubject);
    await(() -> deliverSubject.equals(elsewhere.getConsumerInfo("PUSH", push.getConsumerName())
        .getConsumerConfiguration().getDeliverSubject()), "node 2 shows the deliver subject");
    for (int i = 1; i <= n; i++) {
      Message m = push.nextMessage(Duration.ofSeconds(10));
      assertNotNull(m, "push message " + i);
      assertEquals(i, m.metaData().streamSequence());
      m.ack();
    }
    push.unsubscribe();
    JetStreamSubscription ordered = js.subscribe("push.>", PushSubscribeOptions.builder().ordered(true).build());
    for (int i = 1; i <= n; i++) {
      Message m = ordered.nextMessage(Duration.ofSeconds(10));
      assertNotNull(m, "ordered message " + i);
      assertEquals("e" + i, new String(m.getData(), StandardCharsets.UTF_8));
    }
    ordered.unsubscribe();
    // Both were ephemeral: unbound, they expire, and their delivery loops on this node end with them.
    await(() -> nats.get(1).jetstream.pushConsumers() == 0, "push consumers gone with their clients");
    // direct get, by sequence and last by subject
    assertEquals("e5", new String(jsm.getMessage("PUSH", 5).getData(), StandardCharsets.UTF_8));
    assertEquals("e" + n, new String(jsm.getLastMessage("PUSH", "push.e").getData(), StandardCharsets.UTF_8));
    assertTrue(jsm.deleteStream("PUSH"));
  }

  @Test
  void malformedInputIsAnsweredWithErrAndTheConnectionClosed() throws Exception {
    String url = nats.get(1).url();
    int port = Integer.parseInt(url.substring(url.lastIndexOf(':') + 1));
    try (Socket s = new Socket("127.0.0.1", port)) {
      s.setSoTimeout(5000);
      BufferedReader in = new BufferedReader(new InputStreamReader(s.getInputStream(), StandardCharsets.UTF_8));
      assertTrue(in.readLine().startsWith("INFO {"), "INFO first");
      OutputStream out = s.getOutputStream();
      out.write("CONNECT {\"verbose\":false}\r\nPING\r\nBOGUS x\r\nPING\r\n".getBytes(StandardCharsets.UTF_8));
      out.flush();
      assertEquals("PONG", in.readLine());
      assertEquals("-ERR 'Unknown Protocol Operation'", in.readLine());
      assertEquals(null, in.readLine(), "closed, and the PING after the bad line is not answered");
    }
  }

  @Test
  void aClientThatDoesNotReadIsDisconnectedAsASlowConsumerAndItsBufferFreed() throws Exception {
    String url = nats.get(2).url();
    int port = Integer.parseInt(url.substring(url.lastIndexOf(':') + 1));
    try (Socket slow = new Socket("127.0.0.1", port)) {
      slow.setReceiveBufferSize(64 << 10);
      slow.setSoTimeout(10_000);
      OutputStream out = slow.getOutputStream();
      out.write("CONNECT {\"verbose\":false}\r\nSUB slow.> 1\r\nPING\r\n".getBytes(StandardCharsets.UTF_8));
      out.flush();
      awaitInterest(2, "slow.x");
      Connection pub = connect(2);
      byte[] chunk = new byte[64 << 10];
      for (int i = 0; i < 400; i++) { // 25 MiB for a client that reads nothing, against 4 MiB allowed
        pub.publish("slow.x", chunk);
      }
      pub.flush(Duration.ofSeconds(10));
      // Now read what it was sent: frames, then the error, then the end of the connection.
      java.io.InputStream in = slow.getInputStream();
      ByteArrayOutputStream all = new ByteArrayOutputStream();
      byte[] buf = new byte[64 << 10];
      int n;
      while ((n = in.read(buf)) >= 0) {
        all.write(buf, 0, n);
      }
      String text = all.toString(StandardCharsets.ISO_8859_1);
      assertTrue(text.contains("-ERR 'Slow Consumer'\r\n"), "told why");
      assertTrue(all.size() < 24 << 20, "not everything was queued for it: " + all.size());
    }
    await(() -> nats.get(2).pendingBytes.get() == 0, "the node holds no unsent bytes for it any more");
  }

  /** Until node {@code node} knows that some node has a subscriber for {@code subject} (interest travels asynchronously). */
  private void awaitInterest(int node, String subject) throws Exception {
    await(() -> nats.get(node).interested(subject), "interest in " + subject + " on node " + node);
  }

  private static int freePort() throws IOException {
    return io.holdfast.local.LocalCluster.freePort("127.0.0.1");
  }

  interface Condition {
    boolean holds() throws Exception;
  }

  private static void await(Condition c, String what) throws Exception {
    long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
    while (!c.holds()) {
      if (System.nanoTime() > deadline) {
        throw new AssertionError("timed out waiting for: " + what);
      }
      Thread.sleep(50); // polling a condition: the cluster works on its own clock
    }
  }
}
