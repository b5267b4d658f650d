package io.holdfast.raft;

import io.holdfast.base.Prng;
import io.holdfast.raft.message.HardState;
import io.holdfast.raft.message.LogEntry;
import io.holdfast.raft.message.Membership;
import io.holdfast.raft.message.RaftMessage;
import io.holdfast.raft.message.Snapshot;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.TreeMap;
import java.util.function.Predicate;

/**
 * Drives a few {@link RaftCore}s by hand for unit tests: storage is a queue of persist requests
 * per replica that the test completes explicitly, and the network is a queue the test delivers
 * explicitly. Nothing happens unless a test says so, so each test can pin one rule down.
 */
final class CoreHarness {
  static final RaftSettings SETTINGS = RaftSettings.defaults().withInflightAppendsMax(4).withAppendEntriesMax(64)
      .withAppendBytesMax(1 << 20).withUncommittedEntriesMax(1000).withApplyEntriesMax(1000);

  final TreeMap<Integer, RaftCore> cores = new TreeMap<>();
  final TreeMap<Integer, ArrayDeque<PersistRequest>> unpersisted = new TreeMap<>();
  final TreeMap<Integer, List<LogEntry>> applied = new TreeMap<>();
  final TreeMap<Integer, List<PersistRequest>> persisted = new TreeMap<>();
  final TreeMap<Integer, List<Snapshot>> restored = new TreeMap<>();
  final ArrayDeque<RaftMessage> network = new ArrayDeque<>();
  final List<RaftMessage> delivered = new ArrayList<>();
  final Set<Integer> isolated = new HashSet<>();

  static CoreHarness of(int replicas) {
    return of(replicas, SETTINGS);
  }

  static CoreHarness of(int replicas, RaftSettings settings) {
    CoreHarness h = new CoreHarness();
    int[] ids = new int[replicas];
    for (int i = 0; i < replicas; i++) {
      ids[i] = i + 1;
    }
    Snapshot initial = Snapshot.initial(Membership.ofVoters(ids));
    for (int id : ids) {
      h.add(id, RaftCore.restart(settings, id, HardState.INITIAL, initial, List.of(), Prng.of(id)));
    }
    return h;
  }

  void add(int id, RaftCore core) {
    cores.put(id, core);
    unpersisted.put(id, new ArrayDeque<>());
    applied.put(id, new ArrayList<>());
    persisted.put(id, new ArrayList<>());
    restored.put(id, new ArrayList<>());
  }

  RaftCore core(int id) {
    return cores.get(id);
  }

  /** Hands the replica's Ready to the harness: persists are queued, messages put on the network. */
  void drain(int id) {
    RaftCore c = cores.get(id);
    while (c.hasReady()) {
      Ready r = c.ready();
      if (r.persist() != null) {
        unpersisted.get(id).add(r.persist());
      }
      for (RaftMessage m : r.messages()) {
        send(m);
      }
      if (r.snapshotToApply() != null) {
        restored.get(id).add(r.snapshotToApply());
      }
      applied.get(id).addAll(r.committed());
      if (r.snapshotRequested() && c.appliedIndex() >= c.firstIndex()) {
        c.compact(c.appliedIndex(), bytes("state@" + c.appliedIndex())); // what a host does when asked
      }
    }
  }

  void drainAll() {
    for (int id : cores.keySet()) {
      drain(id);
    }
  }

  /** Completes every queued persist of the replica, in order, releasing their held messages. */
  void persist(int id) {
    ArrayDeque<PersistRequest> q = unpersisted.get(id);
    while (!q.isEmpty()) {
      PersistRequest p = q.poll();
      cores.get(id).onPersisted(p);
      persisted.get(id).add(p);
      for (RaftMessage m : p.messagesAfterPersist()) {
        send(m);
      }
    }
    drain(id);
  }

  void send(RaftMessage m) {
    if (!isolated.contains(m.from()) && !isolated.contains(m.to())) {
      network.add(m);
    }
  }

  /** Delivers every message on the network (and any they cause), without persisting anything. */
  void deliverAll() {
    while (!network.isEmpty()) {
      RaftMessage m = network.poll();
      if (!isolated.contains(m.to()) && cores.containsKey(m.to())) {
        delivered.add(m);
        cores.get(m.to()).step(m);
        drain(m.to());
      }
    }
  }

  /** Messages on the network that match, removed from it. */
  List<RaftMessage> take(Predicate<RaftMessage> which) {
    List<RaftMessage> out = new ArrayList<>();
    network.removeIf(m -> {
      if (which.test(m)) {
        out.add(m);
        return true;
      }
      return false;
    });
    return out;
  }

  /** Persist and deliver until nothing is left to do. */
  void stabilize() {
    for (int round = 0; round < 1000; round++) {
      drainAll();
      boolean any = !network.isEmpty();
      for (int id : cores.keySet()) {
        if (!unpersisted.get(id).isEmpty()) {
          any = true;
          persist(id);
        }
      }
      deliverAll();
      if (!any) {
        return;
      }
    }
    throw new AssertionError("did not stabilize");
  }

  /** Ticks the replica until it starts a (pre-)campaign. */
  void timeOut(int id) {
    RaftCore c = cores.get(id);
    for (int i = 0; i < 2 * SETTINGS.electionTimeoutTicks() + 1 && c.role() == RaftCore.Role.FOLLOWER; i++) {
      c.tick();
    }
    drain(id);
  }

  /** Elects {@code id} through a full pre-vote and vote round. */
  void elect(int id) {
    timeOut(id);
    stabilize();
    if (cores.get(id).role() != RaftCore.Role.LEADER) {
      throw new AssertionError("replica " + id + " did not become leader: " + cores.get(id).role());
    }
  }

  /** Ticks every reachable replica {@code ticks} times, handing out what that causes but delivering nothing. */
  void tickAll(int ticks) {
    for (int i = 0; i < ticks; i++) {
      tickReachable();
      drainAll();
    }
  }

  /** Ticks every reachable replica once and settles everything that causes, {@code ticks} times. */
  void runFor(int ticks) {
    for (int i = 0; i < ticks; i++) {
      tickReachable();
      stabilize();
    }
  }

  private void tickReachable() {
    for (int id : cores.keySet()) {
      if (!isolated.contains(id)) {
        cores.get(id).tick();
      }
    }
  }

  static byte[] bytes(String s) {
    return s.getBytes(java.nio.charset.StandardCharsets.UTF_8);
  }
}
