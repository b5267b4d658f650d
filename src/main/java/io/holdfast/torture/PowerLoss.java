package io.holdfast.storage.file;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * A power cut, applied to the data directory of a node that was just SIGKILLed: every WAL byte
 * beyond what {@link TailMarker} says was synced is gone, as if it had only ever been in the page
 * cache. (Everything acknowledged is within the marker: the store records it after each fsync and
 * before any acknowledgement.) For the fault campaign ({@code holdfast torture}); never run on a
 * live node.
 */
public final class PowerLoss {
  private PowerLoss() {}

  /** Cuts the unsynced tail; returns the number of bytes removed. */
  public static long cutUnsynced(Path dataDir) throws IOException {
    TailMarker.Position synced = TailMarker.read(dataDir);
    Path walDir = dataDir.resolve("wal");
    if (synced == null || !Files.isDirectory(walDir)) {
      return 0;
    }
    long cut = 0;
    for (var e : FileLogStore.listWalFiles(walDir).entrySet()) {
      long seq = e.getKey();
      Path f = e.getValue();
      long keep = seq < synced.walFile() ? Long.MAX_VALUE : seq == synced.walFile() ? synced.end() : FileLogStore.FILE_HEADER_BYTES;
      long size = Files.size(f);
      if (size > keep) {
        try (FileChannel ch = FileChannel.open(f, StandardOpenOption.WRITE)) {
          ch.truncate(keep);
          ch.force(true);
        }
        cut += size - keep;
      }
    }
    return cut;
  }
}
