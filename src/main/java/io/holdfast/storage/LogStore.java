package io.holdfast.storage;

import java.util.SortedMap;

/**
 * Durable log for every replica on one node. One caller at a time (the NodeStorage actor).
 *
 * <p>{@link #write} only buffers: nothing is durable, and nothing may be acknowledged, until a
 * later {@link #sync} returns — and one sync covers every replica's writes (group commit). After
 * any {@link StorageFailure} the store is failed for good: every later call throws (D10).
 */
public interface LogStore extends AutoCloseable {
  /** Identity of this data directory (D9): new whenever the directory was created afresh. */
  String incarnation();

  /** Whether this open created the directory (a wiped disk comes back as a new incarnation). */
  boolean createdFresh();

  /** Every replica's durable state, as recovered when the store was opened. */
  SortedMap<String, RecoveredState> recovered();

  /**
   * Non-zero once the store found a synced tail cut off that it could not attribute: the highest
   * term synced before. A replica new to this node starts as one that may have lost its tail.
   */
  default long lostTailTerm() {
    return 0;
  }

  /** Buffers a replica's write, behind every earlier one. */
  void write(String replica, LogWrite write) throws StorageFailure;

  /** Makes everything written so far durable. */
  void sync() throws StorageFailure;

  /**
   * Overwrites with zeros, in place and durably, the bytes {@code region} picks ({offset, length}
   * within the data of entry (index, term) of {@code replica}, or null: none) in every copy of that
   * entry the store still holds, and zeros the replica's older snapshot files when a newer snapshot
   * replaces them. Syncs everything written first. Returns the number of copies overwritten.
   */
  int erase(String replica, long index, long term, EntryRegion region)
      throws StorageFailure;

  /**
   * The replica is gone from this node for good (its deletion or retirement committed): nothing
   * of it is kept or recovered any more, and its files are deleted. Durable when it returns.
   */
  void forget(String replica) throws StorageFailure;

  /**
   * Replicas whose live entries hold the oldest log files while the log is past its file budget:
   * they should snapshot soon, so the log can be reclaimed. Taking them clears the list.
   */
  default java.util.List<String> takePinning() {
    return java.util.List.of();
  }

  /** Bytes written and not yet synced. */
  long unsyncedBytes();

  @Override
  void close() throws StorageFailure;
}
