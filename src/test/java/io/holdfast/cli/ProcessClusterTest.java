package io.holdfast.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
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
}
