package io.holdfast.raft.log;

import io.holdfast.base.Check;
import io.holdfast.raft.message.EntryType;
import io.holdfast.raft.message.LogEntry;
import io.holdfast.raft.message.Membership;
import io.holdfast.raft.message.SnapshotMeta;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * The core's view of one replica's log: a snapshot base (everything up to {@code base.index()} is
 * compacted into a snapshot) followed by the entries after it, plus the membership entries in
 * that suffix. Entries here may not be durable yet; the core tracks what is.
 */
public final class RaftLog {
  private SnapshotMeta base;
  private final ArrayList<LogEntry> entries = new ArrayList<>();
  /** Per entry, the bytes of the entries up to and including it, from an arbitrary origin: {@link #bytesAfter} in O(1). */
  private final ArrayList<Long> ends = new ArrayList<>();
  private final TreeMap<Long, Membership> memberships = new TreeMap<>();

  public RaftLog(SnapshotMeta base) {
    this.base = base;
  }

  public SnapshotMeta base() {
    return base;
  }

  public long snapshotIndex() {
    return base.index();
  }

  public long firstIndex() {
    return base.index() + 1;
  }

  public long lastIndex() {
    return base.index() + entries.size();
  }

  public long lastTerm() {
    return entries.isEmpty() ? base.term() : entries.get(entries.size() - 1).term();
  }

  /** The term at {@code index}, or -1 if it is compacted away or beyond the end. */
  public long term(long index) {
    if (index == base.index()) {
      return base.term();
    }
    if (index < base.index() || index > lastIndex()) {
      return -1;
    }
    return entries.get(offset(index)).term();
  }

  public LogEntry entry(long index) {
    Check.that(index >= firstIndex() && index <= lastIndex(), "entry %d outside %d..%d", index, firstIndex(), lastIndex());
    return entries.get(offset(index));
  }

  /** The bytes ({@link LogEntry#weightBytes}) of the entries after {@code index} this log holds. */
  public long bytesAfter(long index) {
    long from = Math.max(index + 1, firstIndex());
    if (from > lastIndex()) {
      return 0;
    }
    int at = offset(from);
    return ends.get(ends.size() - 1) - (ends.get(at) - entries.get(at).weightBytes());
  }

  /** Entries in [from, toInclusive], at most {@code countMax} of them and about {@code bytesMax} (at least one). */
  public List<LogEntry> slice(long from, long toInclusive, int countMax, long bytesMax) {
    Check.that(from >= firstIndex(), "slice from compacted index %d < %d", from, firstIndex());
    long to = Math.min(toInclusive, lastIndex());
    ArrayList<LogEntry> out = new ArrayList<>();
    long bytes = 0;
    for (long i = from; i <= to && out.size() < countMax; i++) {
      LogEntry e = entries.get(offset(i));
      bytes += e.weightBytes();
      if (!out.isEmpty() && bytes > bytesMax) {
        break;
      }
      out.add(e);
    }
    return out;
  }

  public void append(LogEntry entry) {
    Check.that(entry.index() == lastIndex() + 1, "append %d after %d", entry.index(), lastIndex());
    Check.that(entry.term() >= lastTerm(), "append term %d below last term %d", entry.term(), lastTerm());
    entries.add(entry);
    ends.add((ends.isEmpty() ? 0 : ends.get(ends.size() - 1)) + entry.weightBytes());
    if (entry.type() == EntryType.MEMBERSHIP) {
      memberships.put(entry.index(), Membership.decode(entry.data()));
    }
  }

  /** Replaces an entry by one with the same index and term (a repaired payload). */
  public void replace(LogEntry entry) {
    Check.that(term(entry.index()) == entry.term(), "repair of %d with another term", entry.index());
    int at = offset(entry.index());
    long delta = entry.weightBytes() - entries.get(at).weightBytes();
    entries.set(at, entry);
    for (int i = at; delta != 0 && i < ends.size(); i++) {
      ends.set(i, ends.get(i) + delta);
    }
  }

  /** Removes every entry at or after {@code index}. */
  public void truncateFrom(long index) {
    Check.that(index > base.index(), "truncate into the snapshot at %d", index);
    if (index > lastIndex()) {
      return;
    }
    ends.subList(offset(index), entries.size()).clear();
    entries.subList(offset(index), entries.size()).clear();
    memberships.tailMap(index, true).clear();
  }

  /** Drops entries up to {@code index}; they are covered by a snapshot with the given identity. */
  public void compact(SnapshotMeta snapshot) {
    long index = snapshot.index();
    Check.that(index > base.index() && index <= lastIndex(), "compact to %d outside log", index);
    Check.that(term(index) == snapshot.term(), "compact with wrong term at %d", index);
    ends.subList(0, offset(index) + 1).clear();
    entries.subList(0, offset(index) + 1).clear();
    memberships.headMap(index, true).clear();
    base = snapshot;
  }

  /** Replaces the whole log by a snapshot (a follower installing one that its log does not contain). */
  public void restore(SnapshotMeta snapshot) {
    entries.clear();
    ends.clear();
    memberships.clear();
    base = snapshot;
  }

  /** The membership in force: that of the last membership entry, else the snapshot's. */
  public Membership latestMembership() {
    Map.Entry<Long, Membership> last = memberships.lastEntry();
    return last == null ? base.membership() : last.getValue();
  }

  public Membership membershipAt(long index) {
    Map.Entry<Long, Membership> at = memberships.floorEntry(index);
    return at == null ? base.membership() : at.getValue();
  }

  /** The membership in force at {@code index} and every membership appended after it, in log order. */
  public List<Membership> membershipsFrom(long index) {
    List<Membership> out = new ArrayList<>();
    out.add(membershipAt(index));
    out.addAll(memberships.tailMap(index, false).values());
    return out;
  }

  public long lastMembershipIndex() {
    return memberships.isEmpty() ? base.index() : memberships.lastKey();
  }

  /**
   * The largest index at or below {@code index} whose term is at most {@code term}; used on both
   * sides of a rejected append to skip back a whole term at a time. Never returns less than the
   * snapshot index (whose term is known), unless {@code index} itself is below it.
   */
  public long lastIndexWithTermAtMost(long index, long term) {
    long i = Math.min(index, lastIndex());
    if (i < base.index()) {
      return i;
    }
    while (i > base.index() && entries.get(offset(i)).term() > term) {
      i--;
    }
    return i;
  }

  private int offset(long index) {
    return (int) (index - base.index() - 1);
  }
}
