package io.holdfast.sim;

import io.holdfast.raft.RaftCore;
import io.holdfast.raft.message.EntryType;
import io.holdfast.raft.message.LogEntry;
import io.holdfast.raft.message.Snapshot;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.function.Supplier;

/**
 * Every invariant the simulator holds the cluster to, checked from outside the replicas:
 * <ul>
 *   <li><b>election safety</b>: at most one leader per term, over the whole history;</li>
 *   <li><b>log matching</b>: two logs with an entry of the same index and term are identical up to it;</li>
 *   <li><b>committed entries are final</b>: whatever any replica applies at an index (from an entry
 *       or a snapshot) is what every replica ever applies there;</li>
 *   <li><b>durability</b>, after healing: every acknowledged value is in every replica's applied
 *       state — counted as Jepsen counts: lost, lost in the middle (a later value of the same
 *       client survived), divergent replicas;</li>
 *   <li><b>nothing unexpected</b>: no value that no client proposed, none applied twice.</li>
 * </ul>
 * Each has a negative control (see {@code SimulationNegativeControlTest} and Mode).
 */
final class SimChecker {
  private static final int MESSAGES_KEPT = 20;

  private final TreeMap<Long, Integer> leaderOfTerm = new TreeMap<>();
  /** index → {term (-1 if learned from a snapshot), fingerprint}. */
  private final HashMap<Long, long[]> committed = new HashMap<>();
  private final HashSet<Long> proposed = new HashSet<>();
  private final ArrayList<Long> acked = new ArrayList<>();
  private final ArrayList<String> messages = new ArrayList<>();
  private long violations;
  long lost;
  long lostMiddle;
  long divergent;
  long unexpected;
  long duplicates;

  /** Counts a violation; the message is built only for the first few kept. */
  void violation(Supplier<String> message) {
    violations++;
    if (messages.size() < MESSAGES_KEPT) {
      messages.add(message.get());
    }
  }

  long violationCount() {
    return violations;
  }

  List<String> violations() {
    return messages;
  }

  int leaderTerms() {
    return leaderOfTerm.size();
  }

  long ackedCount() {
    return acked.size();
  }

  void proposed(long value) {
    proposed.add(value);
  }

  void acked(long value) {
    acked.add(value);
  }

  void observeRole(RaftCore core, long now) {
    if (core.role() != RaftCore.Role.LEADER) {
      return;
    }
    Integer previous = leaderOfTerm.putIfAbsent(core.term(), core.id());
    if (previous != null && previous != core.id()) {
      leaderOfTerm.put(core.term(), core.id());
      violation(() -> "election safety: replicas " + previous + " and " + core.id() + " both led term " + core.term()
          + " (tick " + now + ")");
    }
  }

  void observeApply(int replica, LogEntry e, long value) {
    long fingerprint = switch (e.type()) {
      case COMMAND -> value;
      case NOOP -> -1;
      case MEMBERSHIP -> -2 - (Arrays.hashCode(e.data()) & 0x7fffffffL);
    };
    long[] seen = committed.putIfAbsent(e.index(), new long[] {e.term(), fingerprint});
    if (seen != null) {
      boolean termDiffers = seen[0] >= 0 && seen[0] != e.term();
      if (termDiffers || seen[1] != fingerprint) {
        violation(() -> "committed entry changed: index " + e.index() + " was " + seen[1] + "@" + seen[0] + ", replica "
            + replica + " applied " + fingerprint + "@" + e.term());
      } else if (seen[0] < 0) {
        seen[0] = e.term();
      }
    }
  }

  void observeSnapshot(SimReplica r, Snapshot snapshot) {
    for (int i = 0; i < r.valueCount(); i++) {
      long index = r.indexAt(i);
      long value = r.valueAt(i);
      long[] seen = committed.putIfAbsent(index, new long[] {-1, value});
      if (seen != null && seen[1] != value) {
        violation(() -> "committed entry changed: index " + index + " was " + seen[1] + ", replica " + r.id
            + " restored " + value + " from snapshot " + snapshot.index());
      }
    }
  }

  /**
   * Log matching between every pair of replicas that are up, over the entries they hold. An entry
   * a replica knows is damaged (payload unknown, identity verified) is compared by (index, term).
   */
  void checkLogMatching(SimReplica[] nodes, long now) {
    for (int a = 1; a < nodes.length; a++) {
      for (int b = a + 1; b < nodes.length; b++) {
        RaftCore x = nodes[a].core;
        RaftCore y = nodes[b].core;
        if (x != null && y != null) {
          checkPair(x, y, now);
        }
      }
    }
  }

  private void checkPair(RaftCore x, RaftCore y, long now) {
    long lo = Math.max(x.firstIndex(), y.firstIndex());
    long hi = Math.min(x.lastIndex(), y.lastIndex());
    long agree = hi;
    while (agree >= lo && x.termAt(agree) != y.termAt(agree)) {
      agree--;
    }
    if (agree < lo) {
      return;
    }
    List<LogEntry> xs = x.entries(lo, agree);
    List<LogEntry> ys = y.entries(lo, agree);
    long agreed = agree;
    for (int i = 0; i < xs.size(); i++) {
      LogEntry left = xs.get(i);
      LogEntry right = ys.get(i);
      boolean damaged = x.faulty().containsKey(left.index()) || y.faulty().containsKey(right.index());
      if (damaged ? left.term() != right.term() : !left.equals(right)) { // a known-damaged payload is compared by identity
        violation(() -> "log matching: replicas " + x.id() + " and " + y.id() + " agree on term at " + agreed
            + " but differ at " + left.index() + " (" + left + " vs " + right + ", tick " + now + ")");
        return;
      }
    }
  }

  /**
   * The stream workload after convergence: every replica's stream is byte for byte the same, and
   * the stream rules hold on it ({@link SimStream#check}).
   */
  void checkStreams(SimReplica[] nodes, io.holdfast.stream.StreamLimits limits) {
    io.holdfast.stream.StreamState first = SimStream.replay(nodes[1], limits);
    byte[] reference = first.snapshot();
    for (int id = 2; id < nodes.length; id++) {
      if (!java.util.Arrays.equals(reference, SimStream.replay(nodes[id], limits).snapshot())) {
        int which = id;
        violation(() -> "stream: replica " + which + "'s stream differs from replica 1's");
      }
    }
    for (String problem : SimStream.check(first.range(1, Integer.MAX_VALUE), first.info().lastSeq(), limits)) {
      violation(() -> "stream " + problem);
    }
    SimStream.Replay replay = SimStream.replay(nodes[1], limits, null);
    SimStream.drain(replay);
    List<Long> retained = replay.state().range(1, Integer.MAX_VALUE).stream().map(m -> m.seq()).toList();
    for (String c : SimStream.CONSUMERS) {
      for (String problem : SimStream.checkConsumer(c, replay.events().get(c), replay.stored(), retained)) {
        violation(() -> problem);
      }
    }
  }

  /** After healing: durability and uniqueness over every replica's applied state. */
  void checkFinal(SimReplica[] nodes, boolean converged) {
    HashSet<Long> union = new HashSet<>();
    HashMap<Long, Long> newestOfClient = new HashMap<>();
    HashSet<Long> duplicated = new HashSet<>();
    List<HashSet<Long>> perReplica = new ArrayList<>();
    for (int id = 1; id < nodes.length; id++) {
      SimReplica r = nodes[id];
      HashSet<Long> mine = new HashSet<>();
      for (int i = 0; i < r.valueCount(); i++) {
        long v = r.valueAt(i);
        if (!mine.add(v)) {
          duplicated.add(v);
        }
        union.add(v);
        newestOfClient.merge(v >>> 32, v, Math::max);
      }
      perReplica.add(mine);
    }
    for (long v : duplicated) {
      duplicates++;
      violation(() -> "duplicate: value " + describeValue(v) + " applied twice");
    }
    TreeSet<Long> unexpectedValues = new TreeSet<>();
    for (long v : union) {
      if (!proposed.contains(v)) {
        unexpectedValues.add(v);
      }
    }
    for (long v : unexpectedValues) {
      unexpected++;
      violation(() -> "unexpected: value " + describeValue(v) + " applied but never proposed");
    }
    TreeSet<Integer> divergentReplicas = new TreeSet<>();
    for (long v : acked) {
      if (!union.contains(v)) {
        lost++;
        Long newest = newestOfClient.get(v >>> 32);
        boolean middle = newest != null && newest > v;
        if (middle) {
          lostMiddle++;
        }
        violation(() -> "lost: acknowledged value " + describeValue(v) + " is on no replica" + (middle ? " (lost in the middle)" : ""));
        continue;
      }
      for (int id = 1; id < nodes.length; id++) {
        if (!perReplica.get(id - 1).contains(v)) {
          divergentReplicas.add(id);
        }
      }
    }
    if (converged) {
      for (int id = 2; id < nodes.length; id++) {
        if (!sameHistory(nodes[1], nodes[id])) {
          divergentReplicas.add(id);
        }
      }
    }
    for (int id : divergentReplicas) {
      divergent++;
      violation(() -> "divergent: replica " + id + " does not hold the history the others hold");
    }
  }

  private static boolean sameHistory(SimReplica a, SimReplica b) {
    if (a.valueCount() != b.valueCount()) {
      return false;
    }
    for (int i = 0; i < a.valueCount(); i++) {
      if (a.indexAt(i) != b.indexAt(i) || a.valueAt(i) != b.valueAt(i)) {
        return false;
      }
    }
    return true;
  }

  private static String describeValue(long v) {
    return (v >>> 32) + "-" + (v & 0xffffffffL);
  }
}
