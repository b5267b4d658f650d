package io.holdfast.sim;

import io.holdfast.base.Check;
import io.holdfast.base.Prng;
import io.holdfast.raft.PersistRequest;
import io.holdfast.raft.message.HardState;
import io.holdfast.raft.message.LogEntry;
import io.holdfast.raft.message.Snapshot;
import java.util.ArrayList;
import java.util.List;

/**
 * One replica's simulated disk. It separates <em>written</em> (in the page cache: lost on a crash)
 * from <em>synced</em> (durable). The durable image is what a restarted replica recovers.
 *
 * <p>On a crash in {@link Mode#SAFE}, some prefix of the unsynced writes may have reached the
 * platter anyway (the kernel writes back on its own schedule) and the write after that prefix may
 * be torn: only a prefix of its parts survives. That is what real disks do, and never-acked data
 * surviving must be as harmless as it disappearing. The negative-control modes lie in the specific
 * way their names say.
 */
final class SimDisk {
  private HardState hardState;
  private Snapshot snapshot;
  private final ArrayList<LogEntry> entries = new ArrayList<>();
  /** Written, not yet synced, oldest first. */
  private final ArrayList<PersistRequest> unsynced = new ArrayList<>();
  /** Incremented by every crash, so sync completions scheduled before it are ignored. */
  private int epoch;

  SimDisk(Snapshot initial) {
    this.hardState = HardState.INITIAL;
    this.snapshot = initial;
  }

  int epoch() {
    return epoch;
  }

  HardState hardState() {
    return hardState;
  }

  Snapshot snapshot() {
    return snapshot;
  }

  List<LogEntry> entries() {
    return List.copyOf(entries);
  }

  void write(PersistRequest request) {
    unsynced.add(request);
  }

  int unsyncedCount() {
    return unsynced.size();
  }

  /** Makes the oldest {@code count} unsynced writes durable and returns them. */
  List<PersistRequest> sync(int count) {
    List<PersistRequest> done = new ArrayList<>(unsynced.subList(0, count));
    unsynced.subList(0, count).clear();
    for (PersistRequest r : done) {
      applyWhole(r);
    }
    return done;
  }

  /** Power is cut: unsynced writes are lost (or partly kept), as {@code mode} says. */
  void crash(Prng prng, Mode mode) {
    epoch++;
    switch (mode) {
      case SAFE -> crashHonestly(prng);
      case ACK_BEFORE_FSYNC -> {
        for (PersistRequest r : unsynced) {
          if (r.hardState() != null) {
            hardState = r.hardState(); // only the log was lazily synced
          }
        }
      }
      case VOTE_WITHOUT_PERSIST -> {
        for (PersistRequest r : unsynced) {
          applySnapshot(r);
          applyEntries(r, r.entries().size()); // only term and vote were left unsynced
        }
      }
    }
    unsynced.clear();
  }

  private void crashHonestly(Prng prng) {
    if (unsynced.isEmpty() || prng.chance(0.5)) {
      return;
    }
    int survivors = prng.nextInt(unsynced.size());
    for (int i = 0; i < survivors; i++) {
      applyWhole(unsynced.get(i));
    }
    // The next write is torn: on disk its parts go snapshot, entries, hard state.
    PersistRequest torn = unsynced.get(survivors);
    if (torn.snapshot() != null) {
      if (prng.chance(0.5)) {
        return;
      }
      applySnapshot(torn);
    }
    if (torn.changesLog()) {
      applyEntries(torn, prng.nextInt(torn.entries().size() + 1));
    }
  }

  private void applyWhole(PersistRequest r) {
    applySnapshot(r);
    applyEntries(r, r.entries().size());
    if (r.hardState() != null) {
      hardState = r.hardState();
    }
  }

  private void applySnapshot(PersistRequest r) {
    Snapshot s = r.snapshot();
    if (s == null) {
      return;
    }
    long base = snapshot.index();
    int drop = (int) Math.min(entries.size(), Math.max(0, s.index() - base));
    entries.subList(0, drop).clear();
    snapshot = s;
  }

  /** Deletes stored entries from {@code entriesFrom} on, then appends the first {@code count} new ones. */
  private void applyEntries(PersistRequest r, int count) {
    if (!r.changesLog()) {
      return;
    }
    long base = snapshot.index();
    long from = r.entriesFrom();
    Check.that(from > base, "log write at " + from + " into snapshot " + base);
    Check.that(from <= base + entries.size() + 1, "log write at " + from + " leaves a gap after " + (base + entries.size()));
    entries.subList((int) (from - base - 1), entries.size()).clear();
    for (int i = 0; i < count; i++) {
      entries.add(r.entries().get(i));
    }
  }
}
