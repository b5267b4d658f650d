package io.holdfast.replica;

import io.holdfast.storage.EntryRegion;
import io.holdfast.raft.message.LogEntry;
import io.holdfast.stream.StreamLimits;
import java.util.List;

/**
 * The state machine a {@link ReplicaShell} replicates: a stream ({@link StreamMachine}) or the
 * meta group ({@link MetaMachine}). Deterministic: the same committed entries give the same state
 * and the same outcomes on every replica.
 */
public interface ReplicatedMachine {
  /** Why {@code p} can never be accepted (wrong kind, too large, malformed), or null. */
  String invalid(Wire.Proposal p);

  /** Whether {@code p} adds data, and so is refused while the node's disk is nearly full. */
  default boolean growsData(Wire.Proposal p) {
    return false;
  }

  /**
   * The outcome of {@code p} if the leader may answer it from its applied state, without a log
   * entry ({@code nowMillis}: the leader's clock), or null to propose it. Only for proposals that
   * would change nothing replicated: an idle consumer's fetch.
   */
  default Wire.Outcome answerWithoutLog(Wire.Proposal p, long nowMillis) {
    return null;
  }

  /**
   * How long (ms) the leader may hold {@code p} when {@link #answerWithoutLog} answers it, waiting
   * until it would change something (a pull request waiting for messages); 0: answer at once.
   */
  default long waitMillis(Wire.Proposal p) {
    return 0;
  }

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
   * control plane holds (for a stream: the meta group's limits), or null if it is there. Only
   * streams are configured this way; the meta group's own state has no such configuration.
   */
  default Wire.Proposal toward(StreamLimits desired) {
    return null;
  }

  /** A chore the leader proposes now and then (a stream's expiry by age), or null. */
  default Wire.Proposal housekeeping(long nowMillis) {
    return null;
  }

  /** One log entry for {@code batch}, in order; {@code nowMillis} is the leader's clock. */
  byte[] encode(List<Wire.Proposal> batch, long nowMillis);

  /**
   * Applies a committed entry: one outcome per proposal it carries, in order (none for no-ops).
   * {@code answered}: a proposer waits for these outcomes here (only then are messages a fetch
   * delivered read from the store).
   */
  List<Wire.Outcome> apply(LogEntry entry, boolean answered);

  /**
   * Bytes to overwrite on this replica's disk because of what was just applied (an erased
   * message): entry (index, term) and, within its data, the {offset, length} {@code region} picks.
   */
  record Erasure(long index, long term, EntryRegion region) {}

  /** The erasures the entries applied since the last call asked for. */
  default List<Erasure> takeErasures() {
    return List.of();
  }

  /** Answers a read from the applied (committed) state. */
  Wire.ReadReply read(Wire.Query query);

  /** The applied state's metadata: with a store, the store holds the rest (synced first: {@link #syncStore}). */
  byte[] snapshot();

  /** Replaces the state by a snapshot's; with a store, the store already holds what it covers. */
  void restore(byte[] snapshot);

  // =========================================================================================
  // The machine's own store (a stream's messages). The meta group's machine has none: these
  // defaults say so.
  // =========================================================================================

  /**
   * At start: opens the store on what the disk holds (cutting what the snapshot does not cover),
   * then restores. A null snapshot is a damaged one: the state starts empty until a peer's replaces it.
   */
  default void open(byte[] snapshot) {
    restore(snapshot == null ? new byte[0] : snapshot);
  }

  /**
   * The sequences in the span of a snapshot's stream that this replica's store lacks, to fetch
   * from a peer before installing it (those the peer lacks too are gone from the stream); empty if
   * it lacks none.
   */
  default io.holdfast.base.RangeSet missingFor(byte[] snapshot) {
    return new io.holdfast.base.RangeSet();
  }

  /** An fsync of everything the store was given so far, or null if there is nothing to sync. */
  /** Whether the store holds anything not yet durable (or a sync of it still runs). */
  default boolean storeUnsynced() {
    return false;
  }

  default io.holdfast.storage.StoreSync syncStore() {
    return null;
  }

  /** A {@link #syncStore} job has run. */
  default void storeSynced(io.holdfast.storage.StoreSync job) {}

  /** A snapshot is durable: the store may drop what it no longer covers. */
  default void snapshotDurable(byte[] snapshot) {}

  /** Writes out what the store buffers in memory (not a sync). */
  default void flushStore() {}

  /** Intact records from {@code fromSeq} to {@code toSeq}, about {@code bytesMax}; lacking ones go in {@code missing}. */
  default List<byte[]> records(long fromSeq, long toSeq, long bytesMax, io.holdfast.base.RangeSet missing) {
    missing.add(fromSeq, toSeq);
    return List.of();
  }

  /** The sequence a record of {@link #records} holds. */
  default long recordSeq(byte[] record) {
    throw new UnsupportedOperationException("no store");
  }

  /** Takes a record fetched from a peer (the next one, or a repair); false if not taken. */
  default boolean take(byte[] record) {
    return false;
  }

  /** The highest sequence the store holds. */
  default long storeLastSeq() {
    return 0;
  }

  /** Messages in the applied state that the store does not hold intact: to repair from a peer (D6). */
  default io.holdfast.base.RangeSet missingLive() {
    return new io.holdfast.base.RangeSet();
  }

  /**
   * Verifies up to {@code count} stored messages from {@code fromSeq} on against their checksums
   * (damage found is listed for repair); returns where to go on, 0 once a round is done.
   * Background: bit rot is found before a reader meets it.
   */
  default long scrub(long fromSeq, int count) {
    return 0;
  }

  /** What the store found that an operator should know (recovery, damage); taking them clears them. */
  default List<String> takeStoreNotes() {
    return List.of();
  }
}
