package io.holdfast.raft;

import io.holdfast.raft.message.LogEntry;
import io.holdfast.raft.message.RaftMessage;
import io.holdfast.raft.message.Snapshot;
import java.util.List;

/**
 * Everything one batch of core activity wants done. The host handles all of it, in this order:
 * <ol>
 *   <li>hand {@code persist} (if not null) to storage, behind every earlier request;</li>
 *   <li>send {@code messages}: they are safe to send before {@code persist} completes (a leader's
 *       appends may go out before its own write, Raft §10.2.1);</li>
 *   <li>apply {@code snapshotToApply} (if not null), then {@code committed}, in order: these are
 *       committed on a majority and final;</li>
 *   <li>when {@code persist} is durable: call {@link RaftCore#onPersisted} and send its
 *       {@code messagesAfterPersist};</li>
 *   <li>if {@code snapshotRequested}: take a snapshot of the state machine soon and hand it to
 *       {@link RaftCore#compact} — a peer needs one covering what we have applied, to repair
 *       its damaged snapshot (D8).</li>
 * </ol>
 * {@link RaftCore#ready()} drains the core: the same output is never handed out twice.
 */
public record Ready(PersistRequest persist, List<RaftMessage> messages, Snapshot snapshotToApply, List<LogEntry> committed,
    boolean snapshotRequested) {
  public Ready {
    messages = List.copyOf(messages);
    committed = List.copyOf(committed);
  }
}
