package io.holdfast.storage;

import io.holdfast.raft.message.HardState;
import io.holdfast.raft.message.LogEntry;
import io.holdfast.raft.message.Snapshot;
import java.util.List;
import java.util.SortedMap;

/**
 * What storage recovered for one replica, every byte checksum-verified (D5).
 *
 * @param hardState the latest term and vote; if the record holding the latest vote was damaged,
 *     the vote is {@link HardState#VOTE_UNKNOWN}, so the replica abstains in that term (D7)
 * @param snapshot the latest snapshot (an initial empty one if there never was one)
 * @param entries the entries after the snapshot, in order; faulty ones are present with their
 *     true (index, term) but empty data, and listed in {@code faulty}
 * @param faulty index → term of entries whose payload failed its checksum: never serve or apply
 *     them; repair them from peers (D6)
 * @param snapshotFaulty the snapshot's data failed its checksum or is missing: its identity
 *     (index, term, membership) is known, its content must be fetched from a peer (D8)
 * @param lostTailTerm non-zero: a synced tail of the node's log was cut off and could not be
 *     attributed, so entries and votes of this replica in terms up to this one may be gone; the
 *     replica recovers them from its peers before it votes again (D6, D7; {@code RaftCore}). A
 *     store passes its node-wide term; a replica whose log already ends in a later term has
 *     recovered, and gets 0 here.
 */
public record RecoveredState(HardState hardState, Snapshot snapshot, List<LogEntry> entries,
    SortedMap<Long, Long> faulty, boolean snapshotFaulty, long lostTailTerm) {

  public RecoveredState(HardState hardState, Snapshot snapshot, List<LogEntry> entries, SortedMap<Long, Long> faulty,
      boolean snapshotFaulty) {
    this(hardState, snapshot, entries, faulty, snapshotFaulty, 0);
  }

  public RecoveredState {
    entries = List.copyOf(entries);
    faulty = java.util.Collections.unmodifiableSortedMap(new java.util.TreeMap<>(faulty));
    long lastTerm = entries.isEmpty() ? snapshot.term() : entries.get(entries.size() - 1).term();
    lostTailTerm = lastTerm > lostTailTerm ? 0 : lostTailTerm;
  }

  public boolean damaged() {
    return snapshotFaulty || !faulty.isEmpty();
  }

  public long lastIndex() {
    return entries.isEmpty() ? snapshot.index() : entries.get(entries.size() - 1).index();
  }
}
