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

  /** Buffers a replica's write, behind every earlier one. */
  void write(String replica, LogWrite write) throws StorageFailure;

  /** Makes everything written so far durable. */
  void sync() throws StorageFailure;

  /** Bytes written and not yet synced. */
  long unsyncedBytes();

  @Override
  void close() throws StorageFailure;
}
