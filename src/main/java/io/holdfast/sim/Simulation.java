package io.holdfast.sim;

import io.holdfast.base.Prng;
import io.holdfast.raft.PersistRequest;
import io.holdfast.raft.ProposeResult;
import io.holdfast.raft.RaftCore;
import io.holdfast.raft.Ready;
import io.holdfast.raft.message.EntryType;
import io.holdfast.raft.message.LogEntry;
import io.holdfast.raft.message.Membership;
import io.holdfast.raft.message.RaftMessage;
import io.holdfast.raft.message.Snapshot;
import io.holdfast.storage.RecoveredState;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.PriorityQueue;
import java.util.SortedMap;
import java.util.TreeMap;
import java.util.function.Consumer;

/**
 * One seed, one thread, one whole history: N replicas of {@link RaftCore} on simulated disks and a
 * simulated network, clients proposing unique values, and a nemesis injecting faults. A safety
 * phase with faults is followed by a liveness phase in which every fault is healed and the
 * replicas must converge. Checkers run throughout (see {@link SimChecker}).
 *
 * <p>Time advances in ticks. Within a tick: nemesis, clients, core ticks, then every event due
 * at this tick in (time, sequence) order, draining each touched replica's {@link Ready} after
 * each round, as an actor would drain its mailbox. Nothing depends on hash order or threads.
 */
public final class Simulation {
  public record Config(long seed, int replicas, EnumSet<Fault> faults, Mode mode) {}

  enum Kind { DELIVER, SYNC_DONE, WRITE_DONE, LAZY_SYNC }

  record Event(long time, long seq, Kind kind, int node, int epoch, RaftMessage message, PersistRequest request, int count)
      implements Comparable<Event> {
    @Override
    public int compareTo(Event o) {
      int c = Long.compare(time, o.time);
      return c != 0 ? c : Long.compare(seq, o.seq);
    }
  }

  private final Config config;
  private final SwarmOptions opt;
  private final Prng netPrng;
  private final Prng diskPrng;
  private final Prng nemesisPrng;
  private final Prng clientPrng;
  private final Prng corePrng;
  private final SimReplica[] nodes;
  private final int n;
  private final PriorityQueue<Event> queue = new PriorityQueue<>();
  private final boolean[][] blocked;
  private final SimChecker checker;
  private final Consumer<String> trace;
  private long eventSeq;
  private long now;
  private long events;
  private long traceHash = 0xcbf29ce484222325L;
  private final Coverage coverage = new Coverage();

  // network conditions; the liveness phase makes the network reliable
  private double dropProbability;
  private double duplicateProbability;
  private int delayMax;
  private boolean healing;

  // clients
  private final int[] clientLeaderGuess;
  private final long[] clientNextCounter;
  private final int[] clientOutstanding;

  // nemesis state
  private long partitionUntil = -1;
  private int splitBrainStep;
  private long splitBrainNextAt;
  private int[] splitBrainGroup;
  /** The lost-tail schedule ({@link #lostTail}): step, when the next one is due, its roles. */
  private int lostTailStep;
  private long lostTailNextAt;
  private int[] lostTailLagging;
  private SimReplica lostTailVictim;
  private SimReplica lostTailLeader;
  /** The minority whose disks may rot (bitflip); fixed for the run. */
  private final boolean[] corruptible;

  public Simulation(Config config, Consumer<String> trace) {
    this.config = config;
    this.trace = trace;
    Prng root = Prng.of(config.seed());
    this.opt = SwarmOptions.random(root.fork(), config.replicas(), config.faults());
    this.netPrng = root.fork();
    this.diskPrng = root.fork();
    this.nemesisPrng = root.fork();
    this.clientPrng = root.fork();
    this.corePrng = root.fork();
    this.n = config.replicas();
    this.nodes = new SimReplica[n + 1];
    this.blocked = new boolean[n + 1][n + 1];
    int[] ids = new int[n];
    for (int i = 0; i < n; i++) {
      ids[i] = i + 1;
    }
    Snapshot initial = Snapshot.initial(Membership.ofVoters(ids));
    for (int id = 1; id <= n; id++) {
      nodes[id] = new SimReplica(id, initial);
    }
    this.checker = new SimChecker();
    this.dropProbability = opt.dropProbability();
    this.duplicateProbability = opt.duplicateProbability();
    this.delayMax = opt.networkDelayMax();
    this.clientLeaderGuess = new int[opt.clients() + 1];
    this.clientNextCounter = new long[opt.clients() + 1];
    this.clientOutstanding = new int[opt.clients() + 1];
    for (int c = 1; c <= opt.clients(); c++) {
      clientLeaderGuess[c] = 1 + clientPrng.nextInt(n);
      clientNextCounter[c] = 1;
    }
    this.corruptible = new boolean[n + 1];
    for (int id : randomGroup((n - 1) / 2)) {
      corruptible[id] = true;
    }
  }

  /** Runs the whole history and returns what the checkers found. */
  public SimResult run() {
    for (int id = 1; id <= n; id++) {
      restart(nodes[id]);
    }
    try {
      for (now = 0; now < opt.safetyTicks(); now++) {
        nemesis();
        clients();
        step();
      }
      heal();
      long convergedAt = -1;
      for (long end = now + opt.convergenceTicksMax(); now < end; now++) {
        finishMembership();
        step();
        if (converged()) {
          convergedAt = now;
          break;
        }
      }
      if (convergedAt < 0) {
        checker.violation(() -> "liveness: replicas did not converge within " + opt.convergenceTicksMax()
            + " ticks after healing (" + describeNodes() + ")");
      }
      checker.checkLogMatching(nodes, now);
      checker.checkFinal(nodes, convergedAt >= 0);
      if (convergedAt >= 0) {
        checker.checkStreams(nodes, SimStream.limitsFor(config.seed()));
        SimStream.replay(nodes[1], SimStream.limitsFor(config.seed()), coverage);
      }
    } catch (RuntimeException e) {
      checker.violation(() -> "exception at tick " + now + ": " + e);
    }
    coverage.leaderTerms = checker.leaderTerms();
    return new SimResult(config, checker, coverage, traceHash, now, events);
  }

  // =========================================================================================
  // Time
  // =========================================================================================

  private void step() {
    for (int id = 1; id <= n; id++) {
      SimReplica r = nodes[id];
      if (r.running()) {
        r.core.tick();
        checker.observeRole(r.core, now);
        r.dirty = true;
      }
    }
    while (true) {
      drainDirty();
      Event e = queue.peek();
      if (e == null || e.time() > now) {
        break;
      }
      while ((e = queue.peek()) != null && e.time() <= now) {
        queue.poll();
        handle(e);
      }
    }
    expireProposals();
    if (now % 50 == 0) {
      checker.checkLogMatching(nodes, now);
    }
  }

  /** The machine a replica id lives on (ids of later incarnations of a slot are slot + k·n). */
  private int slotOf(int replicaId) {
    return (replicaId - 1) % n + 1;
  }

  private void schedule(long delay, Kind kind, int node, int epoch, RaftMessage m, PersistRequest r, int count) {
    queue.add(new Event(now + delay, eventSeq++, kind, node, epoch, m, r, count));
  }

  private void handle(Event e) {
    SimReplica r = nodes[e.node()];
    if (!r.up()) {
      return; // down: in-flight messages and disk completions are gone
    }
    if (r.paused) {
      r.deferred.add(e);
      return;
    }
    events++;
    switch (e.kind()) {
      case DELIVER -> {
        RaftMessage m = e.message();
        if (r.id != m.to()) {
          return; // addressed to an earlier incarnation of this machine, wiped since
        }
        if (blocked[slotOf(m.from())][slotOf(m.to())]) {
          return; // the partition started while it was in flight
        }
        mix(1, m.from(), m.to(), m.term(), digest(m));
        if (trace != null) {
          trace.accept("t=" + now + " deliver " + m.from() + "->" + m.to() + " " + describe(m));
        }
        r.core.step(m);
        checker.observeRole(r.core, now);
        r.dirty = true;
      }
      case SYNC_DONE -> {
        if (e.epoch() != r.epoch) {
          return;
        }
        mix(2, r.slot, e.count(), 0, 0);
        r.syncScheduled = false;
        r.disk.syncOldest(e.count());
        for (int i = 0; i < e.count(); i++) {
          completePersist(r, r.inFlight.poll());
        }
        maybeStartSync(r);
      }
      case WRITE_DONE -> {
        if (e.epoch() != r.epoch) {
          return;
        }
        mix(3, r.slot, e.request().id(), 0, 0);
        completePersist(r, e.request());
      }
      case LAZY_SYNC -> {
        if (e.epoch() != r.epoch) {
          return;
        }
        mix(4, r.slot, r.disk.unsyncedCount(), 0, 0);
        r.syncScheduled = false;
        r.disk.sync();
        maybeStartSync(r);
      }
    }
  }

  private void completePersist(SimReplica r, PersistRequest request) {
    r.core.onPersisted(request);
    checker.observeRole(r.core, now);
    for (RaftMessage m : request.messagesAfterPersist()) {
      send(m);
    }
    r.dirty = true;
  }

  // =========================================================================================
  // Replica shell: what an actor does with Ready
  // =========================================================================================

  private void drainDirty() {
    for (int id = 1; id <= n; id++) {
      SimReplica r = nodes[id];
      if (r.dirty && r.running()) {
        r.dirty = false;
        while (r.core.hasReady()) {
          handleReady(r, r.core.ready());
        }
      }
    }
  }

  private void handleReady(SimReplica r, Ready ready) {
    if (ready.persist() != null) {
      r.disk.write(SimReplica.REPLICA, SimReplica.toWrite(ready.persist()));
      if (!config.mode().honestFsync()) {
        schedule(0, Kind.WRITE_DONE, r.slot, r.epoch, null, ready.persist(), 0);
      } else {
        r.inFlight.add(ready.persist());
      }
      maybeStartSync(r);
    }
    for (RaftMessage m : ready.messages()) {
      send(m);
    }
    if (ready.snapshotToApply() != null) {
      if (SimReplica.damaged(ready.snapshotToApply())) {
        checker.violation(() -> "applied a damaged snapshot " + ready.snapshotToApply() + " on replica " + r.id);
      }
      coverage.snapshotsInstalled++;
      r.restoreState(ready.snapshotToApply());
      checker.observeSnapshot(r, ready.snapshotToApply());
      r.proposals.headMap(ready.snapshotToApply().index(), true).clear();
    }
    for (LogEntry e : ready.committed()) {
      apply(r, e);
    }
    boolean wanted = ready.snapshotRequested() && r.smApplied >= r.core.firstIndex();
    if (wanted || r.smApplied - r.core.firstIndex() + 1 >= opt.snapshotEveryEntries()) {
      r.core.compact(r.smApplied, r.encodeState());
      coverage.compactions++;
    }
  }

  private void apply(SimReplica r, LogEntry e) {
    if (e.type() == EntryType.COMMAND && e.data().length != 8) {
      checker.violation(() -> "applied a damaged entry: " + e + " on replica " + r.id + " at tick " + now);
      return;
    }
    long value = e.type() == EntryType.COMMAND ? SimReplica.getLong(e.data(), 0) : 0;
    checker.observeApply(r.id, e, value);
    if (e.type() == EntryType.COMMAND) {
      r.applyValue(e.index(), value);
    }
    r.smApplied = e.index();
    SimReplica.Proposal p = r.proposals.remove(e.index());
    if (p != null) {
      clientOutstanding[p.client()]--;
      if (p.term() == e.term()) {
        checker.acked(p.value());
      }
    }
  }

  private void maybeStartSync(SimReplica r) {
    if (r.syncScheduled || r.disk.unsyncedCount() == 0) {
      return;
    }
    r.syncScheduled = true;
    if (config.mode().honestFsync()) {
      int latency = diskPrng.between(opt.syncLatencyMin(), opt.syncLatencyMax());
      schedule(latency, Kind.SYNC_DONE, r.slot, r.epoch, null, null, r.disk.unsyncedCount());
    } else {
      schedule(opt.lazySyncIntervalTicks(), Kind.LAZY_SYNC, r.slot, r.epoch, null, null, 0);
    }
  }

  // =========================================================================================
  // Network
  // =========================================================================================

  private void send(RaftMessage m) {
    Snapshot carried = m instanceof RaftMessage.InstallSnapshot is ? is.snapshot()
        : m instanceof RaftMessage.RepairResult rr ? rr.snapshot() : null;
    if (carried != null && SimReplica.damaged(carried)) {
      checker.violation(() -> "served a damaged snapshot " + carried + " from replica " + m.from() + " at tick " + now);
    }
    if (m instanceof RaftMessage.AppendEntries a) {
      for (LogEntry e : a.entries()) {
        if (e.type() == EntryType.COMMAND && e.data().length != 8) {
          checker.violation(() -> "served a damaged entry: " + e + " from replica " + m.from() + " at tick " + now);
        }
      }
    }
    int to = slotOf(m.to());
    if (blocked[slotOf(m.from())][to] || netPrng.chance(dropProbability)) {
      return;
    }
    schedule(netPrng.between(opt.networkDelayMin(), delayMax), Kind.DELIVER, to, 0, m, null, 0);
    if (netPrng.chance(duplicateProbability)) {
      schedule(netPrng.between(opt.networkDelayMin(), delayMax), Kind.DELIVER, to, 0, m, null, 0);
    }
  }

  // =========================================================================================
  // Clients
  // =========================================================================================

  private void clients() {
    for (int c = 1; c <= opt.clients(); c++) {
      while (clientOutstanding[c] < opt.clientInflightMax()) {
        if (!propose(c)) {
          break;
        }
      }
    }
  }

  /** Proposes the client's next value to the replica it believes leads. */
  private boolean propose(int c) {
    SimReplica r = nodes[clientLeaderGuess[c]];
    if (!r.running()) {
      clientLeaderGuess[c] = 1 + clientPrng.nextInt(n);
      return false;
    }
    long value = ((long) c << 32) | clientNextCounter[c];
    byte[] data = new byte[8];
    SimReplica.putLong(data, 0, value);
    ProposeResult result = r.core.propose(data);
    if (result instanceof ProposeResult.Accepted a) {
      clientNextCounter[c]++;
      clientOutstanding[c]++;
      checker.proposed(value);
      r.proposals.put(a.index(), new SimReplica.Proposal(c, value, a.index(), a.term(), now));
      r.dirty = true;
      return true;
    }
    ProposeResult.Rejected rejected = (ProposeResult.Rejected) result;
    clientLeaderGuess[c] = rejected.leaderHint() != 0 ? slotOf(rejected.leaderHint()) : 1 + clientPrng.nextInt(n);
    return false;
  }

  /** A client gives up on a proposal that took too long: its outcome stays unknown. */
  private void expireProposals() {
    for (int id = 1; id <= n; id++) {
      SimReplica r = nodes[id];
      r.proposals.values().removeIf(p -> {
        if (now - p.proposedAt() < opt.proposalTimeoutTicks()) {
          return false;
        }
        clientOutstanding[p.client()]--;
        return true;
      });
    }
  }

  // =========================================================================================
  // Nemesis
  // =========================================================================================

  private void nemesis() {
    for (int id = 1; id <= n; id++) {
      SimReplica r = nodes[id];
      if (!r.up() && r.restartAt >= 0 && r.restartAt <= now) {
        restart(r);
      }
      if (r.paused && r.pausedUntil <= now) {
        resume(r);
      }
    }
    if (partitionUntil >= 0 && partitionUntil <= now && splitBrainStep == 0 && lostTailStep == 0) {
      healPartition();
    }
    if (nemesisPrng.chance(opt.crashProbability())) {
      SimReplica victim = nodes[1 + nemesisPrng.nextInt(n)];
      if (victim.up()) {
        crash(victim, now + nemesisPrng.between(1, opt.downtimeMax()));
      }
    }
    if (nemesisPrng.chance(opt.powerLossProbability())) {
      fault("power loss: every replica");
      for (int id = 1; id <= n; id++) {
        if (nodes[id].up()) {
          crash(nodes[id], now + nemesisPrng.between(1, 60));
        }
      }
    }
    if (partitionUntil < 0 && splitBrainStep == 0 && lostTailStep == 0 && nemesisPrng.chance(opt.partitionProbability())) {
      partitionRandomly();
    }
    if (nemesisPrng.chance(opt.pauseProbability())) {
      SimReplica victim = nodes[1 + nemesisPrng.nextInt(n)];
      if (victim.running()) {
        victim.paused = true;
        victim.pausedUntil = now + nemesisPrng.between(1, opt.pauseTicksMax());
        fault("pause " + victim.id + " until " + victim.pausedUntil);
      }
    }
    if (nemesisPrng.chance(opt.transferProbability())) {
      SimReplica leader = leader();
      if (leader != null) {
        int target = nodes[1 + nemesisPrng.nextInt(n)].id;
        if (leader.core.transferLeadership(target)) {
          fault("transfer leadership " + leader.id + " -> " + target);
          leader.dirty = true;
        }
      }
    }
    if (nemesisPrng.chance(opt.membershipStepProbability())) {
      membershipStep(false);
    } else if (now % 10 == 0) {
      membershipStep(true); // a wiped machine rejoins without waiting for the liveness phase
    }
    splitBrain();
    lostTail();
  }

  private void crash(SimReplica r, long restartAt) {
    crash(r, restartAt, lostTailStep == 0); // the lost-tail schedule is the one damage while it runs
  }

  /** {@code damage}: the disk may also rot, be wiped or lose a tail (one of them, by chance). */
  private void crash(SimReplica r, long restartAt, boolean damage) {
    fault("crash " + r.id + " (restart at " + restartAt + ")");
    r.disk.crash(diskPrng, config.mode().crashLoses);
    if (!damage) {
      // the caller damages the disk itself
    } else if (corruptible[r.slot] && !membershipSettled()) {
      // one damage event at a time: no rot while a wiped machine is still rejoining
    } else if (corruptible[r.slot] && safeToWipe(r) && nemesisPrng.chance(opt.wipeProbability())) {
      int old = r.id;
      r.wipe(n);
      fault("wipe: the store of " + old + " refuses to open (damage it cannot attribute); wiped, rejoins as " + r.id);
    } else if (corruptible[r.slot] && safeToWipe(r) && nemesisPrng.chance(opt.bitflipProbability() / 3)) {
      // Only where a wipe could go: the group must be able to elect, and catch it up, without it.
      int cut = r.disk.cutSyncedTail(nemesisPrng);
      if (cut > 0) {
        fault("cut: the last " + cut + " synced writes of " + r.id + " are gone (a lost tail: it recovers before voting)");
      }
    } else if (corruptible[r.slot] && !recoveringLostTail(r) && nemesisPrng.chance(opt.bitflipProbability())) {
      // Never the same entry on two disks at once: repair needs one intact copy among those that
      // committed it, and a group shrunk by membership changes may commit on just two.
      java.util.TreeSet<Long> damagedElsewhere = new java.util.TreeSet<>();
      boolean snapshotDamagedElsewhere = false;
      for (int other = 1; other <= n; other++) {
        if (other != r.slot) {
          damagedElsewhere.addAll(damagedEntries(nodes[other]));
          snapshotDamagedElsewhere |= snapshotDamaged(nodes[other]);
        }
      }
      int damaged = r.disk.corruptPayloads(nemesisPrng, SimReplica.REPLICA, nemesisPrng.between(1, 3),
          index -> !damagedElsewhere.contains(index));
      if (damaged > 0) {
        fault("bitflip: " + damaged + " payloads of " + r.id + " damaged on disk");
      }
      if (!snapshotDamagedElsewhere && nemesisPrng.chance(0.3) && r.disk.corruptSnapshot(SimReplica.REPLICA)) {
        fault("bitflip: snapshot of " + r.id + " damaged on disk");
      }
    }
    r.epoch++;
    r.inFlight.clear();
    r.core = null;
    r.paused = false;
    r.deferred.clear();
    r.syncScheduled = false;
    r.restartAt = restartAt;
    for (SimReplica.Proposal p : r.proposals.values()) {
      clientOutstanding[p.client()]--;
    }
    r.proposals.clear();
  }

  private void restart(SimReplica r) {
    if (now > 0) {
      fault("restart " + r.id);
    }
    // Nothing on the disk: a new replica, or one whose every record was in a lost tail (the
    // store's node-wide lost-tail term then covers it, as the file store's does).
    RecoveredState d = r.disk.recovered().getOrDefault(SimReplica.REPLICA, new RecoveredState(
        io.holdfast.raft.message.HardState.INITIAL, Snapshot.initial(Membership.EMPTY), List.of(), new TreeMap<>(), false,
        r.disk.lostTailTerm()));
    List<LogEntry> entries = d.entries();
    SortedMap<Long, Long> faulty = d.faulty();
    if (config.mode() == Mode.TRUNCATE_ON_CORRUPTION && !faulty.isEmpty()) {
      // recovery as NATS did it: cut the log at the first damaged entry
      entries = entries.subList(0, (int) (faulty.firstKey() - d.snapshot().index() - 1));
      faulty = new TreeMap<>();
    }
    long lostTailTerm = config.mode() == Mode.IGNORE_LOST_TAIL ? 0 : d.lostTailTerm();
    r.core = RaftCore.restart(opt.raft(), r.id, d.hardState(), d.snapshot(), entries, faulty, d.snapshotFaulty(),
        lostTailTerm, corePrng.fork());
    r.restoreState(d.snapshot());
    checker.observeSnapshot(r, d.snapshot());
    r.restartAt = -1;
    r.dirty = true;
  }

  private void resume(SimReplica r) {
    fault("resume " + r.id);
    r.paused = false;
    for (Event e : r.deferred) {
      queue.add(new Event(now, eventSeq++, e.kind(), e.node(), e.epoch(), e.message(), e.request(), e.count()));
    }
    r.deferred.clear();
    r.dirty = true;
  }

  private void partitionRandomly() {
    int kind = nemesisPrng.nextInt(3);
    int victim = 1 + nemesisPrng.nextInt(n);
    if (kind == 0) {
      isolate(new int[] {victim});
      fault("partition: isolate " + victim);
    } else if (kind == 1) {
      int[] minority = randomGroup((n - 1) / 2);
      isolate(minority);
      fault("partition: minority " + java.util.Arrays.toString(minority) + " from the rest");
    } else {
      boolean inbound = nemesisPrng.chance(0.5);
      for (int other = 1; other <= n; other++) {
        if (other != victim) {
          if (inbound) {
            blocked[other][victim] = true;
          } else {
            blocked[victim][other] = true;
          }
        }
      }
      fault("partition: one-way, " + victim + (inbound ? " hears nobody" : " reaches nobody"));
    }
    partitionUntil = now + nemesisPrng.between(1, opt.partitionTicksMax());
  }

  private int[] randomGroup(int size) {
    int[] ids = new int[n];
    for (int i = 0; i < n; i++) {
      ids[i] = i + 1;
    }
    for (int i = n - 1; i > 0; i--) {
      int j = nemesisPrng.nextInt(i + 1);
      int t = ids[i];
      ids[i] = ids[j];
      ids[j] = t;
    }
    return java.util.Arrays.copyOf(ids, size);
  }

  /** Cuts every link between {@code group} and the other replicas, both ways. */
  private void isolate(int[] group) {
    boolean[] in = new boolean[n + 1];
    for (int id : group) {
      in[id] = true;
    }
    for (int a = 1; a <= n; a++) {
      for (int b = 1; b <= n; b++) {
        blocked[a][b] = in[a] != in[b];
      }
    }
  }

  private void healPartition() {
    for (boolean[] row : blocked) {
      java.util.Arrays.fill(row, false);
    }
    partitionUntil = -1;
    fault("partition healed");
  }

  /**
   * Jepsen's NATS split brain: (1) a minority misses writes behind a partition; (2) a replica of
   * the majority loses power; (3) the partition moves so that the power-lost replica and the
   * minority form the majority; (4) heal.
   */
  private void splitBrain() {
    if (opt.splitBrainAt() < 0) {
      return;
    }
    if (splitBrainStep == 0 && now == opt.splitBrainAt() && lostTailStep == 0) {
      splitBrainGroup = randomGroup(n);
      int minoritySize = (n - 1) / 2;
      isolate(java.util.Arrays.copyOf(splitBrainGroup, minoritySize));
      fault("split-brain 1: minority " + java.util.Arrays.toString(java.util.Arrays.copyOf(splitBrainGroup, minoritySize))
          + " misses writes");
      splitBrainStep = 1;
      splitBrainNextAt = now + nemesisPrng.between(50, 300);
    } else if (splitBrainStep == 1 && now >= splitBrainNextAt) {
      SimReplica lost = nodes[splitBrainGroup[(n - 1) / 2]];
      fault("split-brain 2: power loss of " + lost.id);
      if (lost.up()) {
        crash(lost, now + nemesisPrng.between(1, 20));
      }
      splitBrainStep = 2;
      splitBrainNextAt = now + nemesisPrng.between(20, 60);
    } else if (splitBrainStep == 2 && now >= splitBrainNextAt) {
      // the minority plus the power-lost replica now form a majority; the rest is cut off
      int[] majority = java.util.Arrays.copyOf(splitBrainGroup, (n - 1) / 2 + 1);
      isolate(majority);
      fault("split-brain 3: " + java.util.Arrays.toString(majority) + " form the majority");
      splitBrainStep = 3;
      splitBrainNextAt = now + nemesisPrng.between(100, 400);
    } else if (splitBrainStep == 3 && now >= splitBrainNextAt) {
      splitBrainStep = 0;
      healPartition();
    }
  }

  /**
   * The schedule where a lost tail costs acknowledged writes if the replica that lost it votes
   * (RaftCore's lost-tail rule): a minority is cut off and misses writes, which commit on the
   * leader, one damageable follower and the rest; that follower goes down and its disk loses
   * everything synced since the minority left; it comes back, and the leader's side is cut off, so
   * that the follower and the minority are a majority. Were it to vote, a replica without those
   * writes could lead. Starts at {@code lostTailAt}, or as soon after as a leader, a damageable
   * follower and no other damage or partition allow.
   */
  private void lostTail() {
    if (opt.lostTailAt() < 0 || now < opt.lostTailAt()) {
      return;
    }
    if (lostTailStep == 0 && lostTailLagging == null) {
      SimReplica leader = leader();
      if (leader == null || partitionUntil >= 0 || splitBrainStep != 0) {
        return;
      }
      List<Integer> others = new ArrayList<>();
      SimReplica victim = null;
      for (int slot : randomGroup(n)) {
        if (nodes[slot] == leader) {
          continue;
        }
        if (victim == null && corruptible[slot] && nodes[slot].running()) {
          victim = nodes[slot];
        } else {
          others.add(slot);
        }
      }
      if (victim == null || !safeToWipe(victim)) {
        return; // the group must be settled and undamaged, as for a wipe
      }
      lostTailLagging = others.subList(0, (n - 1) / 2).stream().mapToInt(Integer::intValue).toArray();
      lostTailVictim = victim;
      lostTailLeader = leader;
      isolate(lostTailLagging);
      victim.disk.mark();
      fault("lost-tail 1: " + java.util.Arrays.toString(lostTailLagging) + " miss writes committed by " + leader.id
          + " with " + victim.id);
      lostTailStep = 1;
      lostTailNextAt = now + nemesisPrng.between(50, 300);
    } else if (lostTailStep == 1 && now >= lostTailNextAt) {
      SimReplica victim = lostTailVictim;
      if (victim.up()) {
        crash(victim, now + nemesisPrng.between(1, 20), false);
      }
      int cut = victim.disk.cutSinceMark();
      fault("cut: lost-tail 2: " + victim.id + " loses the last " + cut + " synced writes");
      lostTailStep = 2;
      lostTailNextAt = now + nemesisPrng.between(25, 60);
    } else if (lostTailStep == 2 && now >= lostTailNextAt) {
      int[] majority = java.util.Arrays.copyOf(lostTailLagging, lostTailLagging.length + 1);
      majority[lostTailLagging.length] = lostTailVictim.slot;
      isolate(majority);
      fault("lost-tail 3: " + java.util.Arrays.toString(majority) + " form the majority, away from "
          + lostTailLeader.id);
      lostTailStep = 3;
      lostTailNextAt = now + nemesisPrng.between(100, 400);
    } else if (lostTailStep == 3 && now >= lostTailNextAt) {
      lostTailStep = 0; // done: lostTailLagging stays set, so it runs once
      healPartition();
    }
  }

  /**
   * One step toward "every machine's current replica is a voter": remove a member no machine is
   * any more (its disk was wiped), add a machine's new replica as a learner, promote a learner.
   * When there is nothing to restore and {@code restoreOnly} is false, start a cycle by removing a
   * random voter (sometimes the leader itself); the next steps add it back and promote it.
   */
  private void membershipStep(boolean restoreOnly) {
    SimReplica leader = leader();
    if (leader == null || lostTailStep != 0) {
      return; // no membership change under the lost-tail schedule: it needs the group it started with
    }
    Membership m = leader.core.membership();
    java.util.TreeSet<Integer> desired = currentIds();
    ProposeResult result = null;
    String what = null;
    for (int member : m.members()) {
      if (!desired.contains(member)) {
        result = leader.core.remove(member);
        what = "remove " + member + " (no machine is that replica any more)";
        break;
      }
    }
    for (int id : desired) {
      if (what == null && !m.contains(id)) {
        result = leader.core.addLearner(id);
        what = "add learner " + id;
      } else if (what == null && m.learners().contains(id)) {
        result = leader.core.promote(id);
        what = "promote " + id;
      }
    }
    if (what == null && !restoreOnly && !recoveringLostTail(null)) {
      // Not while a replica recovers a lost tail: its vote is out until then, and a group shrunk
      // to two voters could not elect without it (one damaged voter in two is not a minority).
      int target = nodes[1 + nemesisPrng.nextInt(n)].id;
      result = leader.core.remove(target);
      what = "remove " + target;
    }
    if (result instanceof ProposeResult.Accepted) {
      fault("membership: " + what + " (by leader " + leader.id + ")");
      leader.dirty = true;
    }
  }

  private java.util.TreeSet<Integer> currentIds() {
    java.util.TreeSet<Integer> ids = new java.util.TreeSet<>();
    for (int slot = 1; slot <= n; slot++) {
      ids.add(nodes[slot].id);
    }
    return ids;
  }

  /** The leader's membership is exactly every machine's current replica, all voters. */
  private boolean membershipSettled() {
    SimReplica leader = leader();
    return leader != null && leader.core.membership().voters().equals(currentIds())
        && leader.core.membership().learners().isEmpty();
  }

  /**
   * Wiping one machine's disk must leave a quorum able to replace it: only when another machine
   * leads with every current replica a voter in a committed membership (a group of two voters
   * that loses one for good can never change again), every other replica holds that membership
   * too, and no disk is damaged (one fault at a time).
   */
  private boolean safeToWipe(SimReplica victim) {
    SimReplica leader = leader();
    if (leader == null || leader == victim || !membershipSettled() || !leader.core.membershipCommitted() || n < 3
        || anyDamage()) {
      return false;
    }
    // An uncommitted membership in any other replica's log is in force for that replica: it must
    // not be one that the lost voter leaves without a quorum. Simplest sufficient: all the others
    // are up and every one of them is in the settled membership.
    for (int slot = 1; slot <= n; slot++) {
      SimReplica r = nodes[slot];
      if (r != victim && (r.core == null || !r.core.membership().equals(leader.core.membership()))) {
        return false;
      }
    }
    return true;
  }

  /** Any damaged entry or snapshot on any machine, on disk or still being repaired. */
  private boolean anyDamage() {
    if (recoveringLostTail(null)) {
      return true;
    }
    for (int slot = 1; slot <= n; slot++) {
      SimReplica r = nodes[slot];
      if (!damagedEntries(r).isEmpty() || snapshotDamaged(r)) {
        return true;
      }
    }
    return false;
  }

  /** Whether a machine other than {@code except} (null: any) still recovers what a lost tail took (one damage at a time). */
  private boolean recoveringLostTail(SimReplica except) {
    for (int slot = 1; slot <= n; slot++) {
      SimReplica r = nodes[slot];
      if (r != except && (r.core != null ? r.core.recoveringLostTail() : r.disk.lostTailPending(SimReplica.REPLICA))) {
        return true;
      }
    }
    return false;
  }

  /** Indexes of entries damaged on the machine: on its disk, or known to its running core and not yet repaired. */
  private static java.util.SortedSet<Long> damagedEntries(SimReplica r) {
    java.util.SortedSet<Long> damaged = r.disk.faultyIndexes(SimReplica.REPLICA);
    if (r.core != null) {
      damaged.addAll(r.core.faulty().keySet());
    }
    return damaged;
  }

  private static boolean snapshotDamaged(SimReplica r) {
    return r.disk.snapshotFaulty(SimReplica.REPLICA) || (r.core != null && r.core.snapshotDamaged());
  }

  private SimReplica leader() {
    SimReplica best = null;
    for (int id = 1; id <= n; id++) {
      SimReplica r = nodes[id];
      if (r.running() && r.core.role() == RaftCore.Role.LEADER && (best == null || r.core.term() > best.core.term())) {
        best = r;
      }
    }
    return best;
  }

  // =========================================================================================
  // Healing and convergence
  // =========================================================================================

  private void heal() {
    fault("heal: liveness phase starts");
    healing = true;
    splitBrainStep = 0;
    healPartition();
    dropProbability = 0;
    duplicateProbability = 0;
    delayMax = Math.min(delayMax, 2);
    for (int id = 1; id <= n; id++) {
      SimReplica r = nodes[id];
      if (!r.up()) {
        restart(r);
      }
      if (r.paused) {
        resume(r);
      }
    }
  }

  private void finishMembership() {
    if (healing && now % 10 == 0) {
      membershipStep(true);
    }
  }

  /** A leader whose log is committed, every replica a voter with exactly that log applied. */
  private boolean converged() {
    SimReplica leader = leader();
    if (leader == null) {
      return false;
    }
    RaftCore l = leader.core;
    if (l.commitIndex() != l.lastIndex() || !membershipSettled()) {
      return false;
    }
    for (int id = 1; id <= n; id++) {
      RaftCore c = nodes[id].core;
      if (c == null || nodes[id].paused || c.lastIndex() != l.lastIndex() || nodes[id].smApplied != l.commitIndex()
          || c.term() != l.term()) {
        return false;
      }
    }
    return true;
  }

  private String describeNodes() {
    StringBuilder sb = new StringBuilder();
    for (int id = 1; id <= n; id++) {
      RaftCore c = nodes[id].core;
      if (id > 1) {
        sb.append("; ");
      }
      sb.append(id).append(':');
      if (c == null) {
        sb.append("down");
      } else {
        sb.append(c.role()).append(" term=").append(c.term()).append(" last=").append(c.lastIndex())
            .append(" commit=").append(c.commitIndex()).append(" applied=").append(nodes[id].smApplied)
            .append(' ').append(c.membership());
      }
    }
    return sb.toString();
  }

  // =========================================================================================
  // Trace
  // =========================================================================================

  private void fault(String what) {
    coverage.count(what);
    mix(9, what.hashCode(), 0, 0, 0);
    if (trace != null) {
      trace.accept("t=" + now + " nemesis: " + what);
    }
  }

  private void mix(long a, long b, long c, long d, long e) {
    long h = traceHash;
    for (long x : new long[] {now, a, b, c, d, e}) {
      h = (h ^ x) * 0x100000001b3L;
    }
    traceHash = h;
  }

  private static long digest(RaftMessage m) {
    if (m instanceof RaftMessage.AppendEntries a) {
      return a.prevLogIndex() * 31 + a.entries().size() * 7 + a.leaderCommit();
    }
    if (m instanceof RaftMessage.AppendEntriesResult r) {
      return r.matchIndex() * 31 + (r.success() ? 1 : 0) + r.hintIndex() * 7;
    }
    if (m instanceof RaftMessage.RequestVote v) {
      return v.lastLogIndex() * 31 + v.lastLogTerm() + (v.preVote() ? 1 : 0);
    }
    if (m instanceof RaftMessage.RequestVoteResult v) {
      return (v.granted() ? 2 : 0) + (v.preVote() ? 1 : 0);
    }
    if (m instanceof RaftMessage.Heartbeat h) {
      return h.commit();
    }
    if (m instanceof RaftMessage.HeartbeatResult h) {
      return h.matchIndex();
    }
    if (m instanceof RaftMessage.InstallSnapshot s) {
      return s.snapshot().index();
    }
    return 17;
  }

  static String describe(RaftMessage m) {
    if (m instanceof RaftMessage.AppendEntries a) {
      return "AppendEntries(term=" + a.term() + " prev=" + a.prevLogIndex() + "@" + a.prevLogTerm() + " n="
          + a.entries().size() + " commit=" + a.leaderCommit() + ")";
    }
    return m.toString();
  }

  /** The swarm options this seed drew, for the replay header. */
  public String describeOptions() {
    return opt.toString();
  }
}
