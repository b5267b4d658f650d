package io.holdfast.sim;

import io.holdfast.raft.RaftCore;
import io.holdfast.raft.message.EntryType;
import io.holdfast.raft.message.LogEntry;
import io.holdfast.raft.message.Snapshot;
import io.holdfast.replica.StreamMachine;
import io.holdfast.storage.segment.SegmentStore;
import io.holdfast.storage.sim.SimDisk;
import io.holdfast.stream.Delivery;
import io.holdfast.stream.StoredMessage;
import io.holdfast.stream.StreamCommand;
import io.holdfast.stream.StreamState;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.function.Supplier;

/**
 * Every invariant the simulator holds the cluster to, checked from outside the replicas:
 * <ul>
 *   <li><b>election safety</b>: at most one leader per term, over the whole history;</li>
 *   <li><b>log matching</b>: two logs with an entry of the same index and term are identical up to it;</li>
 *   <li><b>committed entries are final</b>: whatever any replica applies at an index is what every
 *       replica ever applies there, and every snapshot at an index is the same bytes (the state
 *       machine is deterministic);</li>
 *   <li><b>durability</b>, after healing: the oracle (every committed entry replayed into a fresh
 *       machine) holds every acknowledged message its limits keep, and every replica's stream —
 *       its metadata, and each message read back from its own store — equals the oracle's.
 *       Counted as Jepsen counts: lost, lost in the middle (a later value of the same client
 *       survived), divergent replicas;</li>
 *   <li><b>nothing unexpected</b>: no value that no client proposed, none stored twice;</li>
 *   <li><b>the stream rules</b> on the final stream, and what consumers delivered.</li>
 * </ul>
 * Each has a negative control (see {@code SimCheckerTest} and {@link Mode}).
 */
final class SimChecker {
  private static final int MESSAGES_KEPT = 20;

  private final TreeMap<Long, Integer> leaderOfTerm = new TreeMap<>();
  /** Every committed entry as first applied anywhere: the oracle's log. */
  private final TreeMap<Long, LogEntry> committed = new TreeMap<>();
  /** Snapshot index → its bytes' fingerprint. */
  private final HashMap<Long, Long> snapshots = new HashMap<>();
  private final HashSet<Long> proposed = new HashSet<>();
  /** Acknowledged value → the sequence its ack named. */
  private final TreeMap<Long, Long> acked = new TreeMap<>();
  private long lastAckedSeq;
  private final Map<String, List<SimStream.Event>> consumerEvents = new TreeMap<>();
  private final ArrayList<String> messages = new ArrayList<>();
  private long violations;
  long lost;
  long lostMiddle;
  /** Acknowledged messages one replica cannot serve after healing (its store lost them) though the others can. */
  long lostOnReplica;
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

  long lastAckedSeq() {
    return lastAckedSeq;
  }

  void proposed(long value) {
    proposed.add(value);
  }

  /** The values of every atomic publish proposed, in order: all stored at consecutive sequences, or none. */
  private final List<long[]> atomicGroups = new ArrayList<>();
  long atomicBroken;

  void proposedAtomic(long[] values) {
    atomicGroups.add(values.clone());
    for (long v : values) {
      proposed.add(v);
    }
  }

  /**
   * Atomicity, from what the committed history stored ({@code stored}: sequence → value): of an
   * atomic publish's values none is stored, or all are, at consecutive sequences in their order.
   */
  void checkAtomic(Map<Long, Long> stored) {
    HashMap<Long, Long> seqOf = new HashMap<>();
    stored.forEach((seq, value) -> seqOf.put(value, seq));
    for (long[] group : atomicGroups) {
      int present = 0;
      boolean consecutive = true;
      for (int i = 0; i < group.length; i++) {
        Long seq = seqOf.get(group[i]);
        if (seq != null) {
          present++;
          Long first = seqOf.get(group[0]);
          consecutive &= first != null && seq == first + i;
        }
      }
      if (present > 0 && (present < group.length || !consecutive)) {
        atomicBroken++;
        int found = present;
        boolean inOrder = consecutive;
        violation(() -> "atomic: the publish of " + SimStream.describe(group[0]) + ".." + group.length + " values "
            + (found < group.length ? "is stored in part (" + found + " of " + group.length + ")"
                : "is not at consecutive sequences" + (inOrder ? "" : " in order")));
      }
    }
  }

  void acked(long value, long seq) {
    acked.put(value, seq);
    lastAckedSeq = Math.max(lastAckedSeq, seq);
  }

  void delivered(String consumer, Delivery d) {
    consumerEvents.computeIfAbsent(consumer, c -> new ArrayList<>())
        .add(new SimStream.Event(d.message().seq(), false, SimStream.valueOf(d.message().message().payload())));
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

  void observeApply(int replica, LogEntry e, long now) {
    if (e.type() == EntryType.COMMAND && e.data().length == 0) {
      violation(() -> "applied a damaged entry: " + e + " on replica " + replica + " at tick " + now);
      return;
    }
    LogEntry seen = committed.putIfAbsent(e.index(), e);
    if (seen != null && !seen.equals(e)) {
      violation(() -> "committed entry changed: index " + e.index() + " was " + seen + ", replica " + replica
          + " applied " + e + " (tick " + now + ")");
    }
  }

  void observeSnapshot(int replica, Snapshot s, long now) {
    if (s.data().length == 0) {
      violation(() -> "persisted a snapshot without data " + s + " on replica " + replica + " at tick " + now);
      return;
    }
    long fingerprint = Arrays.hashCode(s.data()) * 31L + s.term();
    Long seen = snapshots.putIfAbsent(s.index(), fingerprint);
    if (seen != null && seen != fingerprint) {
      violation(() -> "snapshots differ: replica " + replica + "'s snapshot at index " + s.index()
          + " is not the one taken there before (tick " + now + ")");
    }
  }

  /**
   * Log matching between every pair of replicas that are up, over the entries they hold. An entry
   * a replica knows is damaged (payload unknown, identity verified) is compared by (index, term).
   */
  void checkLogMatching(List<RaftCore> cores, long now) {
    for (int a = 0; a < cores.size(); a++) {
      for (int b = a + 1; b < cores.size(); b++) {
        checkPair(cores.get(a), cores.get(b), now);
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
   * The committed log replayed into a fresh machine on a fresh simulated disk: its state, the
   * value stored at each sequence ever, and what each consumer delivered and had acked, in log
   * order (what clients saw came in reply order, which differs across leaders).
   */
  record Oracle(StreamState state, Map<Long, Long> stored, Map<String, List<SimStream.Event>> consumers) {}

  private long deduplicated;
  private long refused;
  private long atomicStored;
  private long atomicRefused;

  Oracle oracle() {
    deduplicated = 0;
    refused = 0;
    atomicStored = 0;
    atomicRefused = 0;
    StreamMachine m = new StreamMachine("sim", synced -> SegmentStore.open(new SimDisk(),
        new SegmentStore.Options(1 << 20, 4096), synced));
    m.open(new byte[0]);
    Map<Long, Long> stored = new HashMap<>();
    Map<String, List<SimStream.Event>> consumers = new TreeMap<>();
    long expected = committed.isEmpty() ? 0 : committed.firstKey();
    for (LogEntry e : committed.values()) {
      if (e.index() != expected) {
        long gap = expected;
        violation(() -> "committed log: index " + gap + " was never applied by any replica");
        break;
      }
      expected++;
      List<io.holdfast.replica.Wire.Outcome> outcomes = m.apply(e, true);
      if (e.type() != EntryType.COMMAND) {
        continue;
      }
      StreamCommand c = StreamCommand.decode(e.data());
      if (c instanceof StreamCommand.PublishBatch b) {
        for (int i = 0; i < outcomes.size(); i++) {
          if (outcomes.get(i) instanceof io.holdfast.replica.Wire.Seq s && !s.duplicate()) {
            stored.put(s.seq(), SimStream.valueOf(b.messages().get(i).payload()));
          } else if (outcomes.get(i) instanceof io.holdfast.replica.Wire.Seq) {
            deduplicated++;
          } else {
            refused++;
          }
        }
      } else if (c instanceof StreamCommand.AtomicPublishes a) {
        for (int g = 0; g < outcomes.size(); g++) {
          if (outcomes.get(g) instanceof io.holdfast.replica.Wire.Seq s) {
            int size = a.groups().get(g);
            atomicStored++;
            for (long seq = s.seq() - size + 1; seq <= s.seq(); seq++) { // what the machine holds there, not what it said
              StoredMessage held = m.state().get(seq);
              if (held != null) {
                stored.put(seq, SimStream.valueOf(held.message().payload()));
              }
            }
          } else {
            atomicRefused++;
          }
        }
      } else if (c instanceof StreamCommand.ConsumerBatch b) {
        for (int i = 0; i < outcomes.size(); i++) {
          StreamCommand.ConsumerOp op = b.ops().get(i);
          String consumer = op instanceof StreamCommand.Fetch f ? f.consumer()
              : op instanceof StreamCommand.AckRun r ? r.consumer() : ((StreamCommand.Ack) op).consumer();
          List<SimStream.Event> events = consumers.computeIfAbsent(consumer, k -> new ArrayList<>());
          if (outcomes.get(i) instanceof io.holdfast.replica.Wire.Delivered d) {
            for (Delivery delivery : d.deliveries()) {
              events.add(new SimStream.Event(delivery.message().seq(), false,
                  SimStream.valueOf(delivery.message().message().payload())));
            }
          } else if (op instanceof StreamCommand.Ack a && a.kind() == StreamCommand.AckKind.ACK
              && outcomes.get(i) instanceof io.holdfast.replica.Wire.Seq) {
            events.add(new SimStream.Event(a.seq(), true, 0));
          } else if (op instanceof StreamCommand.AckRun r && outcomes.get(i) instanceof io.holdfast.replica.Wire.Seq) {
            for (long seq = r.from(); seq < r.from() + r.count(); seq++) { // a run is that many acks
              events.add(new SimStream.Event(seq, true, 0));
            }
          }
        }
      }
    }
    return new Oracle(m.state(), stored, consumers);
  }

  /**
   * After healing and convergence: the oracle and each replica's stream, message by message from
   * its own store; the acknowledged messages; the stream rules; the consumers.
   */
  void checkStreams(SimReplica[] nodes, io.holdfast.stream.StreamLimits limits, Coverage coverage) {
    Oracle oracle = oracle();
    StreamState o = oracle.state();
    checkAcked(oracle, nodes);
    List<StoredMessage> retained = o.range(1, Integer.MAX_VALUE);
    TreeSet<Integer> divergentReplicas = new TreeSet<>();
    byte[] reference = o.snapshot();
    for (int id = 1; id < nodes.length; id++) {
      SimReplica r = nodes[id];
      StreamState s = r.machine.state();
      if (!Arrays.equals(reference, s.snapshot())) {
        divergentReplicas.add(r.id);
        violation(() -> "divergent: replica " + r.id + "'s stream state differs from the oracle's (" + s.info() + " vs "
            + o.info() + ")");
        continue;
      }
      for (StoredMessage m : retained) {
        StoredMessage mine;
        try {
          mine = s.get(m.seq());
        } catch (StreamState.Damaged e) {
          mine = null;
        }
        if (mine == null || !mine.equals(m)) {
          divergentReplicas.add(r.id);
          StoredMessage got = mine;
          violation(() -> "divergent: replica " + r.id + " at sequence " + m.seq() + ": "
              + (got == null ? "its store cannot serve it" : "holds another message"));
          break;
        }
      }
    }
    divergent += divergentReplicas.size();
    for (String problem : SimStream.check(retained, o.info().lastSeq(), limits)) {
      violation(() -> "stream " + problem);
    }
    checkUnique(oracle.stored());
    checkAtomic(oracle.stored());
    List<Long> retainedSeqs = retained.stream().map(StoredMessage::seq).toList();
    SimStream.drain(o, oracle.consumers());
    for (var e : oracle.consumers().entrySet()) {
      for (String problem : SimStream.checkConsumer(e.getKey(), e.getValue(), oracle.stored(), retainedSeqs)) {
        violation(() -> problem);
      }
    }
    for (var e : consumerEvents.entrySet()) { // what clients received: the content stored at that sequence
      for (SimStream.Event d : e.getValue()) {
        Long value = oracle.stored().get(d.seq());
        if (!d.acked() && (value == null || value != d.value())) {
          violation(() -> "consumer " + e.getKey() + ": a client received " + SimStream.describe(d.value())
              + " as sequence " + d.seq() + ", which holds " + (value == null ? "nothing" : SimStream.describe(value)));
        }
      }
    }
    coverage.streamStored += oracle.stored().size();
    coverage.streamDuplicates += deduplicated;
    coverage.streamRejected += refused;
    coverage.streamAtomicStored += atomicStored;
    coverage.streamAtomicRefused += atomicRefused;
    coverage.streamEvicted += oracle.stored().size() - o.info().messages();
  }

  /**
   * Every acknowledged publish is in the committed history at the sequence its ack named, unless
   * the stream's limits have evicted it since (or, without an oracle — the replicas did not
   * converge — only that it was committed).
   */
  void checkAcked(Oracle oracle, SimReplica[] nodes) {
    Oracle o = oracle != null ? oracle : oracle();
    HashMap<Long, Long> newestOfClient = new HashMap<>();
    o.stored().values().forEach(v -> newestOfClient.merge(v >>> 32, v, Math::max));
    long first = o.state().firstSeq();
    for (var e : acked.entrySet()) {
      long value = e.getKey();
      long seq = e.getValue();
      Long there = o.stored().get(seq);
      int[] served = servedBy(nodes, seq, value);
      boolean gone = there == null || there != value;
      if (gone || o.state().live(seq) && served[0] > 0 && served[1] == 0) {
        lost++;
        Long newest = newestOfClient.get(value >>> 32);
        boolean middle = newest != null && newest > value;
        if (middle) {
          lostMiddle++;
        }
        violation(() -> "lost: acknowledged value " + SimStream.describe(value) + " at sequence " + seq + " is "
            + (gone ? "not in the committed history" : "in no replica's store") + (middle ? " (lost in the middle)" : ""));
      } else if (!o.state().live(seq)) {
        if (seq >= first && oracle != null) { // not evicted from the front: a hole the limits do not make
          violation(() -> "lost: acknowledged value " + SimStream.describe(value) + " at sequence " + seq
              + " left the stream though its limits keep it");
        }
      } else if (served[1] < served[0]) {
        lostOnReplica++;
        violation(() -> "lost on a replica: acknowledged value " + SimStream.describe(value) + " at sequence " + seq
            + " is in the stream of " + served[0] + " replicas, and only " + served[1] + " of them can serve it");
      }
    }
  }

  /**
   * {replicas whose applied stream holds {@code seq}, how many of them serve {@code value} there
   * from their store}. A replica that has not applied that far yet is not asked.
   */
  private static int[] servedBy(SimReplica[] nodes, long seq, long value) {
    int[] n = new int[2];
    for (int id = 1; id < nodes.length; id++) {
      StreamState s = nodes[id].machine == null ? null : nodes[id].machine.state();
      if (s == null || !s.live(seq)) {
        continue;
      }
      n[0]++;
      try {
        StoredMessage m = s.get(seq);
        n[1] += m != null && SimStream.valueOf(m.message().payload()) == value ? 1 : 0;
      } catch (StreamState.Damaged | io.holdfast.stream.MessageStore.Unreadable e) {
        // cannot serve it
      }
    }
    return n;
  }

  /** No value stored that no client proposed, none stored twice. */
  void checkUnique(Map<Long, Long> stored) {
    HashSet<Long> seen = new HashSet<>();
    for (long v : new TreeMap<>(stored).values()) {
      if (!proposed.contains(v)) {
        unexpected++;
        violation(() -> "unexpected: value " + SimStream.describe(v) + " stored but never proposed");
      }
      if (!seen.add(v)) {
        duplicates++;
        violation(() -> "duplicate: value " + SimStream.describe(v) + " stored twice");
      }
    }
  }
}
