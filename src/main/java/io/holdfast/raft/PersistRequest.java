package io.holdfast.raft;

import io.holdfast.raft.message.HardState;
import io.holdfast.raft.message.LogEntry;
import io.holdfast.raft.message.RaftMessage;
import io.holdfast.raft.message.Snapshot;
import java.util.List;

/**
 * What the core needs made durable, in this order: {@code snapshot} (if any: store it and drop
 * stored entries up to its index), then the log change (if {@code entriesFrom > 0}: delete stored
 * entries at or after {@code entriesFrom}, then append {@code entries}, which start there), then
 * {@code repaired} (payloads for stored entries whose own failed their checksum: each replaces the
 * stored entry with the same index and term, nothing is truncated), then {@code hardState}.
 *
 * <p>Contract for the host: requests are made durable and reported back with
 * {@link RaftCore#onPersisted} in the order they were issued, each only once everything in it
 * (and in every earlier request) is fsynced. Only then may {@code messagesAfterPersist} be sent:
 * they promise things (a vote, a term) that must survive a crash (D1, D2). A request may carry
 * nothing but messages; it still completes in order.
 */
public record PersistRequest(
    long id,
    HardState hardState,
    Snapshot snapshot,
    long entriesFrom,
    List<LogEntry> entries,
    List<LogEntry> repaired,
    List<RaftMessage> messagesAfterPersist) {

  public PersistRequest {
    entries = List.copyOf(entries);
    repaired = List.copyOf(repaired);
    messagesAfterPersist = List.copyOf(messagesAfterPersist);
    if (!entries.isEmpty() && entries.get(0).index() != entriesFrom) {
      throw new IllegalArgumentException("entries start at " + entries.get(0).index() + ", not " + entriesFrom);
    }
  }
}
