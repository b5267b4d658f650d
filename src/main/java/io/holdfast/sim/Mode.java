package io.holdfast.sim;

import io.holdfast.storage.sim.SimLogStore;

/**
 * How the simulated disk keeps its fsync promise. Only {@link #SAFE} is correct; the others are
 * negative controls that plant a known durability bug, which the checkers must catch. The bugs are
 * in the simulated disk, not in the core: the core stays free of test hooks, and what it is
 * tested against is exactly what it would meet on a disk or a storage layer that lies.
 */
public enum Mode {
  /** A write is reported durable only after an fsync that covers it (group commit). */
  SAFE("safe", SimLogStore.CrashLoses.UNSYNCED_WRITES),
  /**
   * Writes are reported durable as soon as they are written, and fsynced lazily (NATS
   * JetStream's default). A crash loses unsynced entries; term and vote are kept.
   */
  ACK_BEFORE_FSYNC("ack-before-fsync", SimLogStore.CrashLoses.UNSYNCED_LOG_ONLY),
  /**
   * Writes are reported durable as soon as they are written. A crash keeps unsynced entries but
   * loses an unsynced term and vote: a replica can vote twice in one term.
   */
  VOTE_WITHOUT_PERSIST("vote-without-persist", SimLogStore.CrashLoses.UNSYNCED_HARD_STATE_ONLY),
  /**
   * An honest disk, but recovery treats a damaged entry the way NATS did: the log is cut at the
   * first one, as if it were a torn tail. Acknowledged entries after it are forgotten.
   */
  TRUNCATE_ON_CORRUPTION("truncate-on-corruption", SimLogStore.CrashLoses.UNSYNCED_WRITES),
  /**
   * An honest disk, but a replica whose node lost a synced tail restarts from what is left as if
   * nothing were missing and votes at once (what a store that takes the cut for a torn write does).
   */
  IGNORE_LOST_TAIL("ignore-lost-tail", SimLogStore.CrashLoses.UNSYNCED_WRITES),
  /**
   * The message store's disk says a sync is done at once and writes back much later, so replicas
   * snapshot — and let the WAL go — before the store holds what the snapshot covers.
   */
  RECLAIM_WAL_BEFORE_STORE_SYNC("reclaim-wal-before-store-sync", SimLogStore.CrashLoses.UNSYNCED_WRITES),
  /**
   * An honest disk, but a store that meets a damaged record at open takes it for a torn write: it
   * cuts itself there and believes it ends there, so it never fetches what it cut.
   */
  TRUNCATE_STORE_ON_CORRUPTION("truncate-store-on-corruption", SimLogStore.CrashLoses.UNSYNCED_WRITES);

  public final String cliName;
  final SimLogStore.CrashLoses crashLoses;

  Mode(String cliName, SimLogStore.CrashLoses crashLoses) {
    this.cliName = cliName;
    this.crashLoses = crashLoses;
  }

  /** The disk reports a write durable only once an fsync covers it (the bug planted, if any, is elsewhere). */
  boolean honestFsync() {
    return crashLoses == SimLogStore.CrashLoses.UNSYNCED_WRITES;
  }

  public static Mode parse(String text) {
    for (Mode m : values()) {
      if (m.cliName.equals(text)) {
        return m;
      }
    }
    throw new IllegalArgumentException("unknown mode '" + text
        + "' (expected one of " + java.util.Arrays.stream(values()).map(m -> m.cliName)
        .collect(java.util.stream.Collectors.joining(", ")) + ")");
  }
}
