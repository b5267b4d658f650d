package io.holdfast.node;

import io.holdfast.metrics.HoldfastMetrics;
import io.micrometer.core.instrument.Tags;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.stream.Stream;

/**
 * A node's disk, for /metrics: bytes of its write-ahead log and of its streams' segment files,
 * and the space left on the file system of its data directory. Read when a scrape asks (a walk of
 * the data directory, off the caller's thread).
 */
public final class DiskMetrics {
  private DiskMetrics() {}

  public static void register(HoldfastMetrics metrics, String dataDirectory) {
    Path dataDir = Path.of(dataDirectory);
    metrics.onScrape(() -> CompletableFuture.runAsync(() -> {
      try {
        long streams = size(dataDir.resolve("streams"));
        long all = size(dataDir);
        Tags none = Tags.empty();
        metrics.gauge("holdfast.disk.streams.bytes", "Bytes of the streams' segment files on this node",
            List.of(new HoldfastMetrics.Row(none, streams)));
        metrics.gauge("holdfast.disk.wal.bytes", "Bytes of this node's write-ahead log, snapshots and other files",
            List.of(new HoldfastMetrics.Row(none, all - streams)));
        metrics.gauge("holdfast.disk.free.bytes", "Bytes free for this node on its data directory's file system",
            List.of(new HoldfastMetrics.Row(none, Files.getFileStore(dataDir).getUsableSpace())));
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
    }));
  }

  private static long size(Path dir) throws IOException {
    if (!Files.isDirectory(dir)) {
      return 0;
    }
    try (Stream<Path> files = Files.walk(dir)) {
      return files.mapToLong(p -> {
        try {
          return Files.isRegularFile(p) ? Files.size(p) : 0;
        } catch (IOException gone) {
          return 0; // removed while walking (a compacted WAL file, a dropped segment)
        }
      }).sum();
    }
  }
}
