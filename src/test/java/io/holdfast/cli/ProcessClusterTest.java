package io.holdfast.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.holdfast.local.LocalCluster;
import io.holdfast.local.NodeClient;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Goal: an acked publish survives kill -9 of real node processes. Method: the demo's machinery
 * with both kinds of kill — three node JVMs on loopback, 64 HTTP publishes in flight, SIGKILL of
 * the stream leader, its restart, then SIGKILL of a follower and its restart, while publishing
 * goes on; then every replica is read back on its own node. The write-ahead log keeps unsynced
 * bytes in process memory until its fsync, so each SIGKILL loses exactly what a power cut of that
 * machine would.
 */
class ProcessClusterTest {
  @TempDir
  Path tmp;

  @Test
  void killingTheLeaderThenAFollowerLosesNoAckedMessageOnAnyReplica() throws Exception {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    ByteArrayOutputStream err = new ByteArrayOutputStream();
    int code = Main.run(new String[] {"demo", "--msgs", "4000", "--kills", "leader,follower", "--dir",
        tmp.resolve("cluster").toString()}, new PrintStream(out, true, StandardCharsets.UTF_8),
        new PrintStream(err, true, StandardCharsets.UTF_8));
    String stdout = out.toString(StandardCharsets.UTF_8);
    String[] lines = stdout.strip().split("\n");
    JsonNode result = new ObjectMapper().readTree(lines[lines.length - 1]);
    String context = stdout + "\n" + err.toString(StandardCharsets.UTF_8);
    assertEquals(0, result.get("lost").asLong(), context);
    assertEquals(0, result.get("divergent_replicas").asLong(), context);
    assertEquals(0, result.get("duplicates").asLong(), context);
    assertEquals(4000, result.get("published").asLong(), context);
    assertTrue(result.get("acked").asLong() >= 3000, "most publishes are acked despite two kills: " + context);
    assertTrue(result.get("read").asLong() >= result.get("acked").asLong(), context);
    assertTrue(stdout.contains("leader node") && stdout.contains("follower node"), context);
    assertEquals(0, code, context);
  }

  /**
   * The replica count of a live stream goes 1 → 3 → 5 → 3 on five node processes; after each
   * change every replica the meta group placed holds every message, in order, exactly once.
   */
  @Test
  void theReplicaCountOfALiveStreamGoesOneThreeFiveThreeOnFiveNodes() throws Exception {
    PrintStream log = new PrintStream(new ByteArrayOutputStream(), true, StandardCharsets.UTF_8);
    LocalCluster cluster = LocalCluster.openOrCreate(tmp.resolve("five"), 5);
    try {
      cluster.startAll(log);
      NodeClient admin = new NodeClient(cluster.nodes.get(0).http());
      admin.call("POST", "/streams", "{\"name\":\"r\",\"subjects\":[\"r.>\"],\"replicas\":1}"
          .getBytes(StandardCharsets.UTF_8));
      long seq = 0;
      for (int replicas : new int[] {1, 3, 5, 3}) {
        if (seq > 0) {
          admin.call("PUT", "/streams/r", ("{\"replicas\":" + replicas + "}").getBytes(StandardCharsets.UTF_8));
        }
        for (int i = 0; i < 20; i++) {
          assertEquals(++seq, publish(admin, "m" + seq), "sequences stay contiguous across membership changes");
        }
        JsonNode placement = admin.call("GET", "/streams/r", null).path("cluster").path("replicas");
        assertEquals(replicas, placement.size(), placement.toString());
        for (JsonNode node : placement) {
          assertReplicaHolds(cluster.node(node.asInt()), seq);
        }
      }
    } finally {
      cluster.stopAll(log);
    }
  }

  private static long publish(NodeClient c, String value) throws Exception {
    long deadline = System.nanoTime() + 60_000_000_000L;
    while (true) {
      try {
        return c.call("POST", "/pub/r.x", value.getBytes(StandardCharsets.UTF_8)).get("seq").asLong();
      } catch (NodeClient.ServerError e) {
        if (!e.code().equals("unavailable") || System.nanoTime() > deadline) {
          throw e;
        }
      }
    }
  }

  /** Node's own replica holds m1..m{count} at sequences 1..count; polled, the new member catches up on its own. */
  private static void assertReplicaHolds(LocalCluster.Node node, long count) throws Exception {
    NodeClient c = new NodeClient(node.http());
    long deadline = System.nanoTime() + 60_000_000_000L;
    String last = "";
    while (System.nanoTime() < deadline) {
      try {
        JsonNode messages = c.call("GET", "/streams/r/local?from=1&max=1000", null).path("messages");
        StringBuilder seen = new StringBuilder();
        for (JsonNode m : messages) {
          seen.append(m.get("seq").asLong()).append('=').append(m.get("data").asText()).append(' ');
        }
        StringBuilder want = new StringBuilder();
        for (long i = 1; i <= count; i++) {
          want.append(i).append("=m").append(i).append(' ');
        }
        if (seen.toString().equals(want.toString())) {
          return;
        }
        last = seen.toString();
      } catch (NodeClient.ServerError e) {
        last = e.getMessage(); // the replica may not be running there yet
      }
      Thread.sleep(200); // another process catching up: poll its replica
    }
    throw new AssertionError("node " + node.id() + " does not hold m1..m" + count + " in order: " + last);
  }
}
