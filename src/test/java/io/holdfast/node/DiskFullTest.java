package io.holdfast.node;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.holdfast.api.HoldfastException;
import io.holdfast.api.OneNode;
import io.holdfast.api.Records;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.TreeMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Goal: a node whose disk fills refuses publishes with a clear error ({@code insufficient_storage},
 * HTTP 507), stays readable, loses and corrupts nothing, and takes publishes again once space is
 * freed. Method: a node on a 48 MiB tmpfs this test mounts (root, as on CI), with 16 MiB kept
 * free; a stream published to; a ballast file that leaves less than that; publishing until the
 * refusal; every acked message read; the ballast removed; publishing until it is taken again;
 * then the node restarted on the same file system and every acked message read back.
 */
class DiskFullTest {
  private static final long MIB = 1 << 20;
  @TempDir
  Path tmp;

  @Test
  void aFullDiskRefusesPublishesStaysReadableAndRecovers() throws Exception {
    Path fs = tmp.resolve("small");
    Files.createDirectories(fs);
    run("mount", "-t", "tmpfs", "-o", "size=48m", "holdfast-disk-full-test", fs.toString());
    try {
      Path data = fs.resolve("data");
      String config = """
          holdfast.storage.min-free = 16 MiB
          holdfast.storage.wal-file-bytes-max = 4 MiB
          holdfast.store.segment-bytes-max = 4 MiB
          """;
      List<String> acked = new ArrayList<>();
      try (OneNode node = new OneNode(data, config)) {
        node.holdfast.createStream(new Records.StreamConfig("S", List.of("s.>"), 1)).toCompletableFuture()
            .get(30, TimeUnit.SECONDS);
        for (int i = 0; i < 100; i++) {
          publish(node, acked);
        }
        Path ballast = fs.resolve("ballast");
        try (OutputStream out = Files.newOutputStream(ballast)) {
          byte[] chunk = new byte[(int) MIB];
          while (Files.getFileStore(fs).getUsableSpace() > 8 * MIB) {
            out.write(chunk);
          }
        }
        // Refused once the node's check sees it (twice a second): until then publishes are acked.
        HoldfastException refused = null;
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(15);
        while (refused == null) {
          assertTrue(System.nanoTime() < deadline, "no refusal within 15 s of the disk filling");
          refused = publish(node, acked);
        }
        assertEquals("insufficient_storage", refused.code());
        assertEquals(507, refused.httpStatus());
        assertEquals("insufficient_storage", publish(node, acked).code(), "refused again, not stored");
        assertAllReadable(node, acked);

        Files.delete(ballast);
        deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(15);
        while (publish(node, acked) != null) {
          assertTrue(System.nanoTime() < deadline, "publishes were not taken again within 15 s of freeing space");
          Thread.sleep(100); // polling a condition: the node's next disk check
        }
        for (int i = 0; i < 10; i++) {
          assertEquals(null, publish(node, acked));
        }
        assertAllReadable(node, acked);
      }
      try (OneNode again = new OneNode(data, config)) {
        // Registered is not yet knowing the streams: the node learns them from the meta group next.
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (!knowsStream(again)) {
          assertTrue(System.nanoTime() < deadline, "the restarted node did not know stream S within 30 s");
          Thread.sleep(100); // polling a condition: the node's view of the meta group
        }
        assertAllReadable(again, acked);
      }
    } finally {
      run("umount", "--lazy", fs.toString()); // lazy: a file a failed run left open does not keep it mounted
    }
  }

  /** One publish; null if acked (its payload added to {@code acked} at its place), else its refusal. */
  private static HoldfastException publish(OneNode node, List<String> acked) throws Exception {
    String payload = "m-" + acked.size() + "-" + "x".repeat(1000);
    try {
      Records.PubAck ack = node.holdfast.publish("s." + acked.size(), new TreeMap<>(),
          payload.getBytes(StandardCharsets.UTF_8)).toCompletableFuture().get(30, TimeUnit.SECONDS);
      acked.add(payload);
      assertEquals(acked.size(), ack.seq(), "every acked publish is the next message, none in between");
      return null;
    } catch (ExecutionException e) {
      if (e.getCause() instanceof HoldfastException h) {
        return h;
      }
      throw e;
    }
  }

  /** Whether the node knows stream S and its leader answers (false while it has no view of the meta group yet). */
  private static boolean knowsStream(OneNode node) throws Exception {
    try {
      return node.holdfast.listStreams().toCompletableFuture().get(30, TimeUnit.SECONDS).stream()
          .anyMatch(i -> i.config().name().equals("S") && i.state() != null);
    } catch (ExecutionException e) {
      if (e.getCause() instanceof HoldfastException.Unavailable) {
        return false;
      }
      throw e;
    }
  }

  private static void assertAllReadable(OneNode node, List<String> acked) throws Exception {
    List<String> read = new ArrayList<>();
    long from = 1;
    while (true) {
      List<Records.StreamMessage> page = node.holdfast.readRange("S", from, 1000).toCompletableFuture()
          .get(30, TimeUnit.SECONDS);
      if (page.isEmpty()) {
        break;
      }
      for (Records.StreamMessage m : page) {
        read.add(new String(m.payload(), StandardCharsets.UTF_8));
        from = m.seq() + 1;
      }
    }
    assertEquals(acked, read);
  }

  private static void run(String... command) throws IOException, InterruptedException {
    Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
    String output = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    if (!p.waitFor(30, TimeUnit.SECONDS) || p.exitValue() != 0) {
      throw new AssertionError(String.join(" ", command) + " failed (this test needs root to mount a small "
          + "tmpfs): " + output);
    }
  }
}
