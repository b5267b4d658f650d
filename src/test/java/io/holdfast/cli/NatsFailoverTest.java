package io.holdfast.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import io.holdfast.local.LocalCluster;
import io.holdfast.local.NodeClient;
import io.nats.client.Connection;
import io.nats.client.JetStream;
import io.nats.client.JetStreamManagement;
import io.nats.client.JetStreamSubscription;
import io.nats.client.Nats;
import io.nats.client.Options;
import io.nats.client.PublishOptions;
import io.nats.client.PushSubscribeOptions;
import io.nats.client.api.ConsumerConfiguration;
import io.nats.client.api.PublishAck;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Goal: a NATS client keeps publishing through node failures and nothing it was acked is lost or
 * stored twice — the stream leader SIGKILLed and restarted while the client publishes through
 * another node, then the client's own node SIGKILLed (jnats reconnects to another node from its
 * server list) and restarted. Method: three node processes, jnats publishing with a msg id per
 * message and retrying each publish until acked, as ADR-22 asks of clients; afterwards the
 * stream holds each message exactly once, in order. A durable push consumer the client made on its
 * first node goes on delivering after that node's death: the node it reconnected to takes the
 * consumer's delivery loop over when the client subscribes there again, and every message arrives.
 */
class NatsFailoverTest {
  @TempDir
  Path tmp;

  @Test
  void aClientPublishesThroughTheKillOfTheLeaderAndOfItsOwnNode() throws Exception {
    PrintStream log = new PrintStream(new ByteArrayOutputStream(), true, StandardCharsets.UTF_8);
    LocalCluster cluster = LocalCluster.openOrCreate(tmp.resolve("c"), 3);
    Thread killOnExit = cluster.killOnExit();
    try {
      cluster.startAll(log);
      NodeClient admin = new NodeClient(cluster.nodes.get(0).http());
      admin.call("POST", "/streams", "{\"name\":\"FAIL\",\"subjects\":[\"fail.>\"],\"replicas\":3}"
          .getBytes(StandardCharsets.UTF_8));
      int leader = admin.call("GET", "/streams/FAIL", null).path("cluster").path("leader").asInt();
      // The client's server list starts with a node that does not lead the stream (no randomizing).
      List<String> urls = new java.util.ArrayList<>();
      cluster.nodes.stream().filter(n -> n.id() != leader).forEach(n -> urls.add(n.nats()));
      urls.add(cluster.node(leader).nats());
      Options options = new Options.Builder().servers(urls.toArray(String[]::new))
          .noRandomize().maxReconnects(-1).reconnectWait(Duration.ofMillis(200))
          .connectionTimeout(Duration.ofSeconds(5)).build();
      try (Connection nc = Nats.connect(options)) {
        JetStreamManagement jsm = nc.jetStreamManagement();
        JetStream js = nc.jetStream();
        int own = nodeOf(cluster, nc.getConnectedUrl());
        assertTrue(own != leader && own != 0, "connected to " + nc.getConnectedUrl());
        TreeMap<Integer, Long> acked = new TreeMap<>();
        JetStreamSubscription pushed = js.subscribe("fail.>", PushSubscribeOptions.builder().configuration(
            ConsumerConfiguration.builder().durable("pusher").ackWait(Duration.ofSeconds(2)).build()).build());
        // What a failure reports: where the client is, and the end of every node's log.
        java.util.function.Supplier<String> why = () -> {
          StringBuilder b = new StringBuilder("client " + nc.getStatus() + " at " + nc.getConnectedUrl());
          cluster.nodes.forEach(n -> b.append("\n--- node ").append(n.id()).append(" log:\n")
              .append(LocalCluster.tail(cluster.log(n.id()), 40)));
          return b.toString();
        };
        int next = publishSome(js, acked, why, 0, 100);
        cluster.kill(leader); // the stream leader dies under the publisher
        next = publishSome(js, acked, why, next, 100);
        cluster.start(leader);
        cluster.awaitReady(List.of(cluster.node(leader)), log);
        cluster.kill(own); // the client's own node dies: jnats reconnects to another
        next = publishSome(js, acked, why, next, 100);
        assertTrue(nodeOf(cluster, nc.getConnectedUrl()) != own, "reconnected elsewhere");
        cluster.start(own);
        cluster.awaitReady(List.of(cluster.node(own)), log);
        next = publishSome(js, acked, why, next, 50);

        java.util.Set<String> received = new java.util.TreeSet<>();
        long until = System.nanoTime() + Duration.ofSeconds(60).toNanos();
        while (received.size() < next && System.nanoTime() < until) {
          io.nats.client.Message m = pushed.nextMessage(Duration.ofSeconds(1));
          if (m != null) {
            received.add(new String(m.getData(), StandardCharsets.UTF_8));
            m.ack();
          }
        }
        assertEquals(next, received.size(), "the push consumer delivered every message; " + why.get());
        long expected = next;
        JsonNode state = admin.call("GET", "/streams/FAIL", null).path("state");
        assertEquals(expected, state.path("messages").asLong(), "each message once: " + state);
        assertEquals(expected, state.path("last_seq").asLong(), state.toString());
        for (var e : acked.entrySet()) {
          assertEquals(e.getKey() + 1, e.getValue(), "message " + e.getKey() + " acked at its place, once");
          assertEquals("m" + e.getKey(), new String(jsm.getMessage("FAIL", e.getValue()).getData(),
              StandardCharsets.UTF_8), "acked message " + e.getKey() + " at its acked sequence");
        }
      }
    } finally {
      cluster.stopAll(log);
      LocalCluster.keepOnExit(killOnExit);
    }
  }

  /** Publishes messages {@code from..from+count-1}, each retried with its msg id until acked; returns the next index. */
  private static int publishSome(JetStream js, TreeMap<Integer, Long> acked, java.util.function.Supplier<String> why,
      int from, int count) throws Exception {
    for (int i = from; i < from + count; i++) {
      long deadline = System.nanoTime() + Duration.ofSeconds(90).toNanos();
      while (true) {
        try {
          PublishAck ack = js.publish("fail.m", ("m" + i).getBytes(StandardCharsets.UTF_8),
              PublishOptions.builder().messageId("m" + i).streamTimeout(Duration.ofSeconds(5)).build());
          acked.put(i, ack.getSeqno());
          break;
        } catch (Exception e) { // a timeout, a 503 while a leader is elected, a reconnect: the same msg id again
          if (System.nanoTime() > deadline) {
            throw new AssertionError("message " + i + " was never acked; " + why.get(), e);
          }
          Thread.sleep(100); // a client's retry pause (ADR-22), not a wait for a condition in the test
        }
      }
    }
    return from + count;
  }

  private static int nodeOf(LocalCluster cluster, String url) {
    for (LocalCluster.Node n : cluster.nodes) {
      if (url != null && url.endsWith(":" + n.natsPort())) {
        return n.id();
      }
    }
    return 0;
  }
}
