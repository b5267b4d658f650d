package io.holdfast.node;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.Extension;
import org.apache.pekko.actor.typed.ExtensionId;

/**
 * Whether this node's disk is nearly full: the file system of its data directory has less than
 * {@code holdfast.storage.min-free} left, checked every {@link #INTERVAL}. While it is, the
 * stream replicas this node leads refuse publishes with {@code insufficient_storage} (before
 * anything is appended); everything else — reads, consumer acks, deletes and purges, which free
 * space — goes on, and so does replication into the space kept free. Once space is freed, the
 * next check lets publishes in again.
 *
 * <p>Why a threshold rather than catching ENOSPC: a write the disk refuses halfway leaves the
 * write-ahead log to be cut back, and a failed fsync leaves the page cache's state unknown, which
 * stops storage for good (D10). Refusing before the disk is full keeps both from happening.
 */
public final class DiskGuard implements Extension {
  static final Duration INTERVAL = Duration.ofMillis(500);
  private final Path dataDir;
  private final long minFree;
  private volatile boolean low;

  private DiskGuard(ActorSystem<?> system) {
    var config = system.settings().config();
    this.dataDir = Path.of(config.getString("holdfast.node.data-dir"));
    this.minFree = config.getBytes("holdfast.storage.min-free");
    if (config.getInt("holdfast.node.id") > 0 && minFree > 0) {
      check(system);
      system.scheduler().scheduleWithFixedDelay(INTERVAL, INTERVAL, () -> check(system), system.executionContext());
    }
  }

  public static DiskGuard get(ActorSystem<?> system) {
    return Id.INSTANCE.apply(system);
  }

  /** True while the data directory's file system has less than min-free left. */
  public boolean low() {
    return low;
  }

  private void check(ActorSystem<?> system) {
    long free;
    try {
      free = Files.getFileStore(dataDir).getUsableSpace();
    } catch (IOException e) {
      return; // no data directory (yet): nothing to guard
    }
    boolean now = free < minFree;
    if (now && !low) {
      system.log().warn("The disk of {} is nearly full: {} MiB free, below holdfast.storage.min-free ({} MiB). "
          + "Publishes to streams this node leads are refused (insufficient storage) until space is freed.",
          dataDir, free >> 20, minFree >> 20);
    } else if (!now && low) {
      system.log().info("The disk of {} has {} MiB free again: publishes are taken again.", dataDir, free >> 20);
    }
    low = now;
  }

  private static final class Id extends ExtensionId<DiskGuard> {
    static final Id INSTANCE = new Id();

    @Override
    public DiskGuard createExtension(ActorSystem<?> system) {
      return new DiskGuard(system);
    }
  }
}
