package io.holdfast.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Goal: a rolling restart ({@code cluster restart --rolling}) under load loses nothing and
 * leaves a whole cluster: every node restarted in turn, the next only after the last caught up.
 * Method: the fault campaign with only the {@code rolling} family — three node processes, an R3
 * stream published to at 2,000/s throughout, one rolling restart (by the same code as the
 * command), then every node read back and the history checked by torture's checker.
 */
class RollingRestartTest {
  @TempDir
  Path dir;

  @Test
  void aRollingRestartUnderLoadLosesNothing() throws Exception {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    ByteArrayOutputStream err = new ByteArrayOutputStream();
    // 8 s: the one injection comes 1.5-3.5 s in; the load goes on until the restart has finished.
    int exit = Main.run(new String[] {"torture", "--faults", "rolling", "--seconds", "8", "--seed", "3", "--json",
        "--dir", dir.toString()}, new PrintStream(out, true, StandardCharsets.UTF_8),
        new PrintStream(err, true, StandardCharsets.UTF_8));
    String log = err.toString(StandardCharsets.UTF_8);
    List<String> lines = out.toString(StandardCharsets.UTF_8).lines().toList();
    assertEquals(0, exit, log);
    JsonNode r = new ObjectMapper().readTree(lines.get(lines.size() - 1));
    assertTrue(r.path("valid").asBoolean(), r.toString());
    assertEquals(0, r.path("lost").asLong(), r.toString());
    assertEquals(0, r.path("duplicates").asLong(), r.toString());
    assertEquals(1, r.path("faults_injected").asInt(), r.toString());
    assertEquals(3, r.path("nodes_read").asInt(), "every node came back and was read: " + r);
    assertTrue(r.path("acked").asLong() > 0, r.toString());
    for (int id = 1; id <= 3; id++) {
      assertTrue(log.contains("rolling restart: node " + id + " done"), log);
    }
  }
}
