package io.holdfast.local;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

/**
 * Goal: the local cluster tells a running node from a killed one that nobody has reaped yet, and a
 * bench's cleanup keeps the logs it is told to keep.
 */
class LocalClusterTest {
  @Test
  void deletingATreeButItsLogsKeepsTheLogsAndTheirDirectoriesOnly(@org.junit.jupiter.api.io.TempDir Path tmp)
      throws Exception {
    Path dir = tmp.resolve("bench");
    Files.createDirectories(dir.resolve("cluster/node1/data/wal"));
    Files.createDirectories(dir.resolve("nats-server/n1/jetstream"));
    Files.writeString(dir.resolve("cluster/node1.log"), "log");
    Files.writeString(dir.resolve("cluster/node1/data/wal/00000000000000000001.wal"), "wal");
    Files.writeString(dir.resolve("nats-server/n1/nats.log"), "log");
    Files.writeString(dir.resolve("nats-server/n1/jetstream/msgs"), "data");
    Files.writeString(dir.resolve("raw-fsync.dat"), "x");
    LocalCluster.deleteTreeBut(dir, p -> p.getFileName().toString().endsWith(".log"));
    try (var left = Files.walk(dir)) {
      assertEquals(java.util.List.of(dir, dir.resolve("cluster"), dir.resolve("cluster/node1.log"),
          dir.resolve("nats-server"), dir.resolve("nats-server/n1"), dir.resolve("nats-server/n1/nats.log")),
          left.sorted().toList());
    }
    LocalCluster.deleteTree(dir);
    assertFalse(Files.exists(dir));
  }

  @Test
  void aStatLineSaysWhetherTheProcessHasExited() {
    assertTrue(LocalCluster.zombie("4242 (java) Z 1 4242 4242 0 -1 4194372"));
    assertTrue(LocalCluster.zombie("4242 (java) X 1 4242"));
    assertFalse(LocalCluster.zombie("4242 (java) S 1 4242 4242 0 -1 4194304"));
    assertFalse(LocalCluster.zombie("4242 (java) R 1"));
    assertFalse(LocalCluster.zombie("4242 (a) Z (b)) S 1 4242"), "the name ends at the last ')'");
    assertTrue(LocalCluster.zombie("4242 (my prog) Z 1"));
  }

  /**
   * A real zombie: the shell starts a short sleep in the background and then becomes a long one
   * (exec), which never reaps it. The kernel keeps it as a zombie, which ProcessHandle calls alive.
   */
  @Test
  void aKilledProcessThatNobodyReapedDoesNotRun() throws Exception {
    Process parent = new ProcessBuilder("sh", "-c", "sleep 0.2 & echo $!; exec sleep 30").start();
    try {
      String line = new BufferedReader(new InputStreamReader(parent.getInputStream(), StandardCharsets.UTF_8))
          .readLine();
      long child = Long.parseLong(line.trim());
      Path stat = Path.of("/proc", Long.toString(child), "stat");
      long deadline = System.nanoTime() + 10_000_000_000L;
      while (!LocalCluster.zombie(Files.readString(stat))) {
        assertTrue(System.nanoTime() < deadline, "the child became a zombie: " + Files.readString(stat));
        Thread.sleep(20); // another process's state: there is no event to wait on
      }
      assertTrue(ProcessHandle.of(child).map(ProcessHandle::isAlive).orElse(false), "ProcessHandle still sees it");
      assertFalse(LocalCluster.running(child));
      assertTrue(LocalCluster.running(parent.pid()));
    } finally {
      parent.destroyForcibly().waitFor();
    }
  }
}
