package io.holdfast.torture;

import io.holdfast.storage.file.FileLogStore;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Map;

/**
 * A power cut, applied to the data directory of a node that was just SIGKILLed: every WAL byte
 * beyond what the store's tail marker says was synced is gone, as if it had only ever been in the
 * page cache ({@link FileLogStore#syncedWalLengths}). Never run on a live node.
 */
final class PowerLoss {
  private PowerLoss() {}

  /** Cuts the unsynced tail; returns the number of bytes removed. */
  static long cutUnsynced(Path dataDir) throws IOException {
    long cut = 0;
    for (Map.Entry<Path, Long> e : FileLogStore.syncedWalLengths(dataDir).entrySet()) {
      Path f = e.getKey();
      long keep = e.getValue();
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
