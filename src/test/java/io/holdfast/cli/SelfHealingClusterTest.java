package io.holdfast.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.holdfast.local.LocalCluster;
import io.holdfast.local.NodeClient;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;

/**
 * Goal (issue 18): the cluster stays up through faults without an operator. Method: three real
 * node processes; (1) every node SIGKILLed at once, as in a power cut, then started one by one in
 * the order 3, 1, 2, each once the one before answers HTTP (none of them the bootstrap node; with
 * Pekko's seed-node process this never formed); (2) one node paused until the others (a majority)
 * down it, then resumed: the same process starts a new ActorSystem and
 * serves again. After each, every acked message is still read back and a new publish is acked.
 */
// One cluster for both: each fault ends with every node serving again (awaitReady), which is how
// the next one wants it; a cluster start is ~15 s of the suite's time.
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class SelfHealingClusterTest {
  @TempDir
  static Path tmp; // static: set before @BeforeAll
  LocalCluster cluster;
  final PrintStream log = new PrintStream(new ByteArrayOutputStream(), true, StandardCharsets.UTF_8);

  @BeforeAll
  void start() throws Exception {
    cluster = LocalCluster.openOrCreate(tmp.resolve("c"), 3);
    cluster.startAll(log);
    new NodeClient(cluster.nodes.get(0).http()).call("POST", "/streams",
        "{\"name\":\"h\",\"subjects\":[\"h.>\"],\"replicas\":3}".getBytes(StandardCharsets.UTF_8));
  }

  @AfterEach
  void resume() throws Exception {
    cluster.resumeAll(); // a test that failed with a node paused leaves it running for the next
  }

  @AfterAll
  void stop() throws Exception {
    cluster.resumeAll();
    cluster.stopAll(log);
  }

  @Test
  void afterAPowerCutNodesStartedOneByOneInAnyOrderReformTheCluster() throws Exception {
    long acked = publish(1, 20);
    for (int id = 1; id <= 3; id++) {
      cluster.kill(id);
    }
    for (int id : List.of(3, 1, 2)) {
      cluster.start(id);
      int node = id;
      await("node " + id + " answers HTTP", () -> answers(node));
    }
    cluster.awaitReady(cluster.nodes, log);
    assertEquals(acked + 20, publish(2, 20), "sequences go on after the restart");
    assertEquals(acked + 20, count(3), "every acked message is read back through node 3");
  }

  @Test
  void aNodeDownedByTheOthersRejoinsInTheSameProcess() throws Exception {
    long acked = publish(1, 20);
    long[] from = {logLength(1), logLength(2), logLength(3)}; // the logs may hold an earlier test's lines
    long pid = cluster.pid(2).orElseThrow();
    String address = cluster.node(2).artery().replace("\"", "");
    cluster.signal(2, "STOP");
    await("node 1 or 3 downs node 2", () -> logOf(1, from[0]).contains("Downing [" + address)
        || logOf(3, from[2]).contains("Downing [" + address));
    cluster.signal(2, "CONT");
    await("node 2 starts a new ActorSystem", () -> logOf(2, from[1]).contains("holdfast node 2 started again"));
    cluster.awaitReady(cluster.nodes, log);
    assertEquals(pid, cluster.pid(2).orElseThrow(), "the same process serves again");
    assertTrue(logOf(2, from[1]).contains("its ActorSystem terminated"), logOf(2, from[1]));
    assertEquals(acked + 20, publish(2, 20));
    assertEquals(acked + 20, count(2));
  }

  /**
   * Publishes {@code n} messages through node {@code via}; returns the last one's sequence. Each
   * carries a msg id, so that one retried after {@code outcome_unknown} (a leader that went silent
   * while the cluster settles) is stored once (de-duplication).
   */
  private long publish(int via, int n) throws Exception {
    NodeClient c = new NodeClient(cluster.node(via).http());
    long seq = 0;
    for (int i = 0; i < n; i++) {
      long deadline = System.nanoTime() + 60_000_000_000L;
      String id = "p" + via + "-" + System.nanoTime();
      while (true) {
        try {
          seq = c.call("POST", "/pub/h.x", ("m" + i).getBytes(StandardCharsets.UTF_8), Map.of("Holdfast-Msg-Id", id))
              .get("seq").asLong();
          break;
        } catch (NodeClient.ServerError e) {
          boolean retry = e.code().equals("unavailable") || e.code().equals("outcome_unknown");
          if (!retry || System.nanoTime() > deadline) {
            throw e;
          }
        }
      }
    }
    return seq;
  }

  private long count(int via) throws Exception {
    return new NodeClient(cluster.node(via).http()).call("GET", "/streams/h", null).path("state").path("messages")
        .asLong();
  }

  private boolean answers(int id) {
    try {
      new NodeClient(cluster.node(id).http()).call("GET", "/health", null);
      return true;
    } catch (NodeClient.ServerError e) {
      return true; // it answers, with "starting"
    } catch (Exception e) {
      return false;
    }
  }

  /** Node {@code id}'s log from byte {@code from} on. */
  private String logOf(int id, long from) {
    try {
      byte[] all = Files.readAllBytes(cluster.log(id));
      int start = (int) Math.min(from, all.length);
      return new String(all, start, all.length - start, StandardCharsets.UTF_8);
    } catch (Exception e) {
      return "";
    }
  }

  private long logLength(int id) throws java.io.IOException {
    return Files.exists(cluster.log(id)) ? Files.size(cluster.log(id)) : 0;
  }

  private static void await(String what, BooleanSupplier condition) throws InterruptedException {
    long deadline = System.nanoTime() + 120_000_000_000L;
    while (!condition.getAsBoolean()) {
      if (System.nanoTime() > deadline) {
        throw new AssertionError("not within 120 s: " + what);
      }
      Thread.sleep(200); // other processes: polled
    }
  }
}
