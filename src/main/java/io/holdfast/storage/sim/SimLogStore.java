package io.holdfast.storage.sim;

import io.holdfast.storage.EntryRegion;
import io.holdfast.base.Check;
import io.holdfast.base.Prng;
import io.holdfast.raft.message.EntryType;
import io.holdfast.raft.message.HardState;
import io.holdfast.raft.message.LogEntry;
import io.holdfast.raft.message.Membership;
import io.holdfast.raft.message.Snapshot;
import io.holdfast.storage.LogStore;
import io.holdfast.storage.LogWrite;
import io.holdfast.storage.RecoveredState;
import java.util.ArrayList;
import java.util.List;
import java.util.SortedMap;
import java.util.TreeMap;

/**
 * An in-memory "disk" for the simulator that separates <em>written</em> (lost on a crash) from
 * <em>synced</em> (durable). {@link #crash} rebuilds the store from what was synced, as a restart
 * after power loss would, so replicas recover through the same {@link #recovered()} call the
 * file store answers.
 *
 * <p>On an honest crash some prefix of the unsynced writes may have reached the platter anyway
 * (the kernel writes back on its own schedule) and the write after that prefix may be torn: only
 * a prefix of its parts survives. Never-acknowledged data surviving must be as harmless as it
 * disappearing. The other {@link CrashLoses} kinds model disks that lie about fsync.
 *
 * <p>{@link #cutSyncedTail} models a synced tail cut off a down node's log (Jepsen's truncation)
 * that the store detects but cannot attribute, as the file store does with its tail marker: the
 * store then reports, for every replica whose log ends in a term no later than the highest term it
 * ever synced, that term as {@link RecoveredState#lostTailTerm()}.
 */
public final class SimLogStore implements LogStore {
  /** What a crash takes away. */
  public enum CrashLoses {
    /** Unsynced writes, except a random prefix that made it anyway (the last one maybe torn). */
    UNSYNCED_WRITES,
    /** Only the log part of unsynced writes (term and vote were synced): acking before fsync. */
    UNSYNCED_LOG_ONLY,
    /** Only the term and vote of unsynced writes (the log was synced): voting without persisting. */
    UNSYNCED_HARD_STATE_ONLY
  }

  private record Pending(String replica, LogWrite write) {}

  private static final class Image {
    HardState hardState = HardState.INITIAL;
    Snapshot snapshot = Snapshot.initial(Membership.EMPTY);
    final ArrayList<LogEntry> entries = new ArrayList<>();
    /** Entries whose payload was damaged on the platter: index → term. */
    final TreeMap<Long, Long> faulty = new TreeMap<>();
    boolean snapshotFaulty;
  }

  private final String incarnation;
  private TreeMap<String, Image> durable = new TreeMap<>();
  /** The durable images as they were at the last checkpoint, and every write made durable since. */
  private TreeMap<String, Image> checkpoint = new TreeMap<>();
  private final ArrayList<Pending> durableSinceCheckpoint = new ArrayList<>();
  private static final int CHECKPOINT_EVERY = 32;
  /** A mark set by {@link #mark}: the images then, and every write made durable since. */
  private TreeMap<String, Image> marked;
  private final ArrayList<Pending> durableSinceMark = new ArrayList<>();
  /** The highest term ever synced (the file store keeps it in its tail marker, outside the log). */
  private long syncedTermMax;
  /** Non-zero once a cut was found: kept outside the log, like the file store's {@code wal.lost-tail}. */
  private long lostTailTerm;
  private final ArrayList<Pending> unsynced = new ArrayList<>();
  private long unsyncedBytes;

  public SimLogStore(String incarnation) {
    this.incarnation = incarnation;
  }

  @Override
  public String incarnation() {
    return incarnation;
  }

  @Override
  public boolean createdFresh() {
    return durable.isEmpty();
  }

  @Override
  public SortedMap<String, RecoveredState> recovered() {
    TreeMap<String, RecoveredState> out = new TreeMap<>();
    for (var e : durable.entrySet()) {
      Image i = e.getValue();
      Snapshot snapshot = i.snapshotFaulty ? new Snapshot(i.snapshot.meta(), new byte[0]) : i.snapshot;
      out.put(e.getKey(), new RecoveredState(i.hardState, snapshot, i.entries, i.faulty, i.snapshotFaulty,
          lostTailTerm));
    }
    return out;
  }

  @Override
  public void write(String replica, LogWrite write) {
    unsynced.add(new Pending(replica, write));
    unsyncedBytes += write.weightBytes();
  }

  public int unsyncedCount() {
    return unsynced.size();
  }

  @Override
  public void sync() {
    syncOldest(unsynced.size());
  }

  /** Makes only the oldest {@code count} unsynced writes durable (a sync started before the rest arrived). */
  public void syncOldest(int count) {
    List<Pending> done = unsynced.subList(0, count);
    for (Pending p : done) {
      unsyncedBytes -= p.write().weightBytes();
      applyDurably(p);
    }
    done.clear();
  }

  /** Applies a write that reached the platter whole, and remembers it for {@link #cutSyncedTail}. */
  private void applyDurably(Pending p) {
    apply(p, Integer.MAX_VALUE, true);
    LogWrite w = p.write();
    syncedTermMax = Math.max(syncedTermMax, w.hardState() == null ? 0 : w.hardState().term());
    syncedTermMax = Math.max(syncedTermMax, w.snapshot() == null ? 0 : w.snapshot().term());
    for (LogEntry e : w.entries()) {
      syncedTermMax = Math.max(syncedTermMax, e.term());
    }
    durableSinceCheckpoint.add(p);
    if (marked != null) {
      durableSinceMark.add(p);
    }
    if (durableSinceCheckpoint.size() >= CHECKPOINT_EVERY) {
      checkpoint();
    }
  }

  private void checkpoint() {
    checkpoint = copy(durable);
    durableSinceCheckpoint.clear();
  }

  /** Damage changed the images outside any write: later cuts roll back to no earlier than here. */
  private void rebase() {
    checkpoint();
    marked = null;
    durableSinceMark.clear();
  }

  /** Remembers the durable images now, so that {@link #cutSinceMark} can cut everything after. */
  public void mark() {
    marked = copy(durable);
    durableSinceMark.clear();
  }

  /**
   * A synced tail cut off: every write made durable since {@link #mark} is gone (none if damage
   * rebased the disk since). Returns how many writes were cut.
   */
  public int cutSinceMark() {
    if (marked == null) {
      return 0;
    }
    int cut = durableSinceMark.size();
    durable = marked;
    marked = null;
    durableSinceMark.clear();
    checkpoint();
    lostTailTerm = syncedTermMax;
    return cut;
  }

  private static TreeMap<String, Image> copy(TreeMap<String, Image> images) {
    TreeMap<String, Image> out = new TreeMap<>();
    for (var e : images.entrySet()) {
      Image from = e.getValue();
      Image to = new Image();
      to.hardState = from.hardState;
      to.snapshot = from.snapshot;
      to.entries.addAll(from.entries);
      to.faulty.putAll(from.faulty);
      to.snapshotFaulty = from.snapshotFaulty;
      out.put(e.getKey(), to);
    }
    return out;
  }

  /**
   * While the node is down, the last {@code 1..n} writes that reached the platter are cut off
   * (n: those since the last checkpoint, so possibly many syncs' worth). The cut is detected but
   * cannot be attributed: from now on every replica whose log ends in a term no later than the
   * highest synced term reports that term as lost. Returns how many writes were cut.
   */
  public int cutSyncedTail(Prng prng) {
    if (durableSinceCheckpoint.isEmpty()) {
      return 0;
    }
    int cut = 1 + prng.nextInt(durableSinceCheckpoint.size());
    List<Pending> kept = new ArrayList<>(durableSinceCheckpoint.subList(0, durableSinceCheckpoint.size() - cut));
    durable = copy(checkpoint);
    durableSinceCheckpoint.clear();
    for (Pending p : kept) {
      apply(p, Integer.MAX_VALUE, true);
      durableSinceCheckpoint.add(p);
    }
    lostTailTerm = syncedTermMax;
    marked = null;
    durableSinceMark.clear();
    return cut;
  }

  /** Zeros the region in the durable copy of the entry (the simulated disk keeps no older copies or snapshots). */
  @Override
  public int erase(String replica, long index, long term, EntryRegion region) {
    sync();
    Image image = durable.get(replica);
    long at = image == null ? -1 : index - image.snapshot.index() - 1;
    if (at < 0 || at >= image.entries.size() || image.entries.get((int) at).term() != term) {
      return 0;
    }
    LogEntry e = image.entries.get((int) at);
    int[] r = region.within(e.data());
    if (r == null || r[0] < 0 || r[1] <= 0 || r[0] + r[1] > e.data().length) {
      return 0;
    }
    byte[] data = e.data().clone();
    java.util.Arrays.fill(data, r[0], r[0] + r[1], (byte) 0);
    image.entries.set((int) at, new LogEntry(e.index(), e.term(), e.type(), data));
    rebase();
    return 1;
  }

  @Override
  public void forget(String replica) {
    sync();
    durable.remove(replica);
    checkpoint();
  }

  @Override
  public long unsyncedBytes() {
    return unsyncedBytes;
  }

  /** Power is cut: unsynced writes are lost (or partly kept) as {@code loses} says. */
  public void crash(Prng prng, CrashLoses loses) {
    switch (loses) {
      case UNSYNCED_WRITES -> {
        if (!unsynced.isEmpty() && prng.chance(0.5)) {
          int survivors = prng.nextInt(unsynced.size());
          for (int i = 0; i < survivors; i++) {
            applyDurably(unsynced.get(i));
          }
          tear(prng, unsynced.get(survivors));
        }
      }
      case UNSYNCED_LOG_ONLY -> {
        for (Pending p : unsynced) {
          if (p.write().hardState() != null) {
            image(p.replica()).hardState = p.write().hardState();
          }
        }
      }
      case UNSYNCED_HARD_STATE_ONLY -> {
        for (Pending p : unsynced) {
          apply(p, Integer.MAX_VALUE, false);
        }
      }
    }
    if (loses != CrashLoses.UNSYNCED_WRITES) {
      rebase(); // the lying disks changed the images outside the write history
    }
    unsynced.clear();
    unsyncedBytes = 0;
  }

  /** On disk a write's parts go snapshot, entries, hard state; a torn one keeps a prefix of them. */
  private void tear(Prng prng, Pending p) {
    if (p.write().snapshot() != null && prng.chance(0.5)) {
      return;
    }
    LogWrite w = p.write();
    List<LogEntry> kept = w.entries().subList(0, prng.nextInt(w.entries().size() + 1));
    applyDurably(new Pending(p.replica(), new LogWrite(null, w.snapshot(), w.entriesFrom(), kept)));
  }

  /**
   * Bit rot while the node is down: the payloads of up to {@code count} random command entries of
   * the replica's durable log fail their checksum from now on. Their (index, term), kept in a
   * separately checksummed header, survive — as in the file store. Returns how many were damaged.
   */
  public int corruptPayloads(Prng prng, String replica, int count) {
    return corruptPayloads(prng, replica, count, index -> true);
  }

  /** As above, damaging only entries whose index {@code allowed} accepts. */
  public int corruptPayloads(Prng prng, String replica, int count, java.util.function.LongPredicate allowed) {
    Image image = durable.get(replica);
    if (image == null || image.entries.isEmpty()) {
      return 0;
    }
    int damaged = 0;
    for (int i = 0; i < count; i++) {
      int at = prng.nextInt(image.entries.size());
      LogEntry e = image.entries.get(at);
      if (e.type() == EntryType.COMMAND && !image.faulty.containsKey(e.index()) && allowed.test(e.index())) {
        image.entries.set(at, new LogEntry(e.index(), e.term(), e.type(), new byte[0]));
        image.faulty.put(e.index(), e.term());
        damaged++;
      }
    }
    rebase();
    return damaged;
  }

  /** Bit rot in the replica's snapshot file while down: its data is lost, its identity is not. */
  public boolean corruptSnapshot(String replica) {
    Image image = durable.get(replica);
    if (image == null || image.snapshot.index() == 0 || image.snapshotFaulty) {
      return false;
    }
    image.snapshotFaulty = true;
    rebase();
    return true;
  }

  @Override
  public long lostTailTerm() {
    return lostTailTerm;
  }

  /** Whether the replica's log still ends at or below the term of a lost tail (it has not recovered). */
  public boolean lostTailPending(String replica) {
    Image image = durable.get(replica); // not recovered(): that copies every replica's log
    long lastTerm = image == null ? 0
        : image.entries.isEmpty() ? image.snapshot.term() : image.entries.get(image.entries.size() - 1).term();
    return lostTailTerm > 0 && lastTerm <= lostTailTerm;
  }

  public boolean snapshotFaulty(String replica) {
    Image image = durable.get(replica);
    return image != null && image.snapshotFaulty;
  }

  /** Indexes of the replica's durable entries whose payload is damaged. */
  public java.util.SortedSet<Long> faultyIndexes(String replica) {
    Image image = durable.get(replica);
    return image == null ? new java.util.TreeSet<>() : new java.util.TreeSet<>(image.faulty.keySet());
  }

  @Override
  public void close() {}

  private Image image(String replica) {
    return durable.computeIfAbsent(replica, r -> new Image());
  }

  private void apply(Pending p, int entryCount, boolean withHardState) {
    Image image = image(p.replica());
    LogWrite w = p.write();
    if (w.snapshot() != null) {
      Snapshot s = w.snapshot();
      long base = image.snapshot.index();
      int drop = (int) Math.min(image.entries.size(), Math.max(0, s.index() - base));
      image.entries.subList(0, drop).clear();
      image.faulty.headMap(s.index(), true).clear();
      image.snapshot = s;
      image.snapshotFaulty = false;
    }
    if (w.changesLog()) {
      long base = image.snapshot.index();
      long from = w.entriesFrom();
      Check.that(from > base, "log write at %d into snapshot %d", from, base);
      Check.that(from <= base + image.entries.size() + 1, "log write at %d leaves a gap after %d", from,
          base + image.entries.size());
      image.entries.subList((int) (from - base - 1), image.entries.size()).clear();
      image.faulty.tailMap(from, true).clear();
      image.entries.addAll(w.entries().subList(0, Math.min(entryCount, w.entries().size())));
    }
    if (entryCount == Integer.MAX_VALUE) {
      for (LogEntry r : w.repaired()) {
        long at = r.index() - image.snapshot.index() - 1;
        if (at >= 0 && at < image.entries.size() && image.entries.get((int) at).term() == r.term()) {
          image.entries.set((int) at, r);
          image.faulty.remove(r.index());
        }
      }
    }
    if (withHardState && w.hardState() != null) {
      image.hardState = w.hardState();
    }
  }
}
