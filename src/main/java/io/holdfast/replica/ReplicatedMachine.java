package io.holdfast.replica;

import io.holdfast.raft.message.LogEntry;
import java.util.List;

/**
 * The state machine a {@link ReplicaShell} replicates: a stream ({@link StreamMachine}) or the
 * meta group ({@link MetaMachine}). Deterministic: the same committed entries give the same state
 * and the same outcomes on every replica.
 */
public interface ReplicatedMachine {
  /** Why {@code p} can never be accepted (wrong kind, too large, malformed), or null. */
  String invalid(Wire.Proposal p);

  /** Bytes {@code p} adds to a batch. */
  long sizeOf(Wire.Proposal p);

  /** Proposals per log entry at most. */
  int batchMax();

  /** Proposals of different kinds never share a log entry (a stream's publishes and its consumers' acks). */
  default int batchKind(Wire.Proposal p) {
    return 0;
  }

  /** Whether {@code p} must be its own log entry (not batched with others). */
  default boolean alone(Wire.Proposal p) {
    return false;
  }

  /**
   * What the leader should propose to bring the state to the {@code desired} configuration the
   * control plane holds (for a stream: the meta group's limits), or null if it is there.
   */
  default Wire.Proposal toward(Object desired) {
    return null;
  }

  /** A chore the leader proposes now and then (a stream's expiry by age), or null. */
  default Wire.Proposal housekeeping(long nowMillis) {
    return null;
  }

  /** One log entry for {@code batch}, in order; {@code nowMillis} is the leader's clock. */
  byte[] encode(List<Wire.Proposal> batch, long nowMillis);

  /** Applies a committed entry: one outcome per proposal it carries, in order (none for no-ops). */
  List<Wire.Outcome> apply(LogEntry entry);

  /**
   * Bytes to overwrite on this replica's disk because of what was just applied (an erased
   * message): entry (index, term) and, within its data, the {offset, length} {@code region} picks.
   */
  record Erasure(long index, long term, java.util.function.Function<byte[], int[]> region) {}

  /** The erasures the entries applied since the last call asked for. */
  default List<Erasure> takeErasures() {
    return List.of();
  }

  /** Answers a read from the applied (committed) state. */
  Wire.ReadReply read(Wire.Query query);

  byte[] snapshot();

  void restore(byte[] snapshot);
}
