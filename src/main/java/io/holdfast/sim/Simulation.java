package io.holdfast.sim;

import io.holdfast.storage.EntryRegion;
import io.holdfast.base.Prng;
import io.holdfast.raft.PersistRequest;
import io.holdfast.raft.ProposeResult;
import io.holdfast.raft.RaftCore;
import io.holdfast.raft.message.EntryType;
import io.holdfast.raft.message.LogEntry;
import io.holdfast.raft.message.Membership;
import io.holdfast.raft.message.RaftMessage;
import io.holdfast.raft.message.Snapshot;
import io.holdfast.replica.ReplicaDriver;
import io.holdfast.replica.StreamMachine;
import io.holdfast.replica.Wire;
import io.holdfast.storage.LogWrite;
import io.holdfast.storage.RecoveredState;
import io.holdfast.storage.StoreMessage;
import io.holdfast.storage.StoreSync;
import io.holdfast.storage.segment.SegmentStore;
import io.holdfast.storage.segment.StreamStore;
import io.holdfast.stream.Delivery;
import io.holdfast.stream.StreamCommand;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.HashSet;
import java.util.List;
import java.util.PriorityQueue;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.function.Consumer;

/**
 * One seed, one thread, one whole history: N replicas of the production {@link ReplicaDriver}
 * with its {@link StreamMachine} — the stream state and its segment store — on simulated disks (a
 * log disk and a segment-file disk each) and a simulated network, clients publishing unique values
 * and running consumers, and a nemesis injecting faults. A safety phase with faults is followed by
 * a liveness phase in which every fault is healed and the replicas must converge. Checkers run
 * throughout (see {@link SimChecker}); at the end every replica's stream, read back from its
 * store, must equal the oracle's: the committed log replayed into a fresh machine.
 *
 * <p>The simulator is a {@link ReplicaDriver.Host}, as the actor shell is: it decides nothing a
 * replica decides, it only moves effects (network, disks, time). Time advances in ticks. Within a
 * tick: nemesis, clients, driver ticks, then every event due at this tick in (time, sequence)
 * order. Nothing depends on hash order or threads.
 */
public final class Simulation {
  public record Config(long seed, int replicas, EnumSet<Fault> faults, Mode mode) {}

  enum Kind { DELIVER, DELIVER_STORE, SYNC_DONE, WRITE_DONE, LAZY_SYNC, STORE_SYNC, LAZY_STORE_SYNC }

  record Event(long time, long seq, Kind kind, int node, int epoch, Object payload, int count)
      implements Comparable<Event> {
    @Override
    public int compareTo(Event o) {
      int c = Long.compare(time, o.time);
      return c != 0 ? c : Long.compare(seq, o.seq);
    }
  }

  /** The stream's clock: milliseconds per tick. */
  static final long MILLIS_PER_TICK = 10;
  /** Stored messages each replica verifies per tick in the background. */
  private static final int SCRUB_PER_TICK = 32;
  /**
   * Proposals per housekeeping round (20 ticks, 200 ms here) that move a leader to its publishers:
   * the simulated clients propose a few per round, so HOT_NODE runs see hand-overs under faults.
   * (Production: holdfast.raft.follow-publishers-min-rate, 20 a second, per 1 s round.)
   */
  private static final int FOLLOW_PUBLISHERS_PER_ROUND = 2;

  private final Config config;
  private final SwarmOptions opt;
  private final Prng netPrng;
  private final Prng diskPrng;
  private final Prng nemesisPrng;
  private final Prng lowDiskPrng;
  private final Prng hotNodePrng;
  /** Fault.HOT_NODE: the machine every client's requests come in through (0: each comes in where it is sent). */
  private int hotSlot;
  private final Prng clientPrng;
  private final Prng corePrng;
  private final SimReplica[] nodes;
  private final int n;
  /** The group's first membership: what its first members bootstrap with. */
  private final Membership initialMembership;
  private final PriorityQueue<Event> queue = new PriorityQueue<>();
  private final boolean[][] blocked;
  private final SimChecker checker;
  private final Consumer<String> trace;
  private long eventSeq;
  private long now;
  private long events;
  private long traceHash = 0xcbf29ce484222325L;
  private final Coverage coverage = new Coverage();
  private final io.holdfast.stream.StreamLimits limits;

  // network conditions; the liveness phase makes the network reliable
  private double dropProbability;
  private double duplicateProbability;
  private int delayMax;
  private boolean healing;

  // clients
  private final int[] clientLeaderGuess;
  private final long[] clientNextCounter;
  private final int[] clientOutstanding;
  private final HashSet<SimReplica.Request> outstanding = new HashSet<>();
  private final TreeMap<Long, SimReplica.Request> outstandingByTime = new TreeMap<>();
  private final ArrayDeque<Long>[] held;
  private boolean consumersCreated;

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
  /** The replica ids the group should have (the simulated meta group's placement). */
  private List<Integer> desiredMembers;
  /** The membership fault: the replica removed, and when it comes back as a new member. */
  private SimReplica removed;
  private long rejoinAt;

  @SuppressWarnings("unchecked")
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
    this.lowDiskPrng = root.fork(); // after the others: the forks before it are as they were
    this.hotNodePrng = root.fork(); // last, likewise
    this.n = config.replicas();
    this.nodes = new SimReplica[n + 1];
    this.blocked = new boolean[n + 1][n + 1];
    int[] ids = new int[n];
    for (int i = 0; i < n; i++) {
      ids[i] = i + 1;
    }
    this.initialMembership = Membership.ofVoters(ids);
    Snapshot initial = Snapshot.initial(initialMembership);
    for (int id = 1; id <= n; id++) {
      nodes[id] = new SimReplica(id, initial);
    }
    this.checker = new SimChecker();
    this.limits = SimStream.limitsFor(config.seed());
    this.dropProbability = opt.dropProbability();
    this.duplicateProbability = opt.duplicateProbability();
    this.delayMax = opt.networkDelayMax();
    this.clientLeaderGuess = new int[opt.clients() + 1];
    this.clientNextCounter = new long[opt.clients() + 1];
    this.clientOutstanding = new int[opt.clients() + 1];
    this.held = new ArrayDeque[opt.clients() + 1];
    for (int c = 1; c <= opt.clients(); c++) {
      clientLeaderGuess[c] = 1 + clientPrng.nextInt(n);
      clientNextCounter[c] = 1;
      held[c] = new ArrayDeque<>();
    }
    this.corruptible = new boolean[n + 1];
    for (int id : randomGroup((n - 1) / 2)) {
      corruptible[id] = true;
    }
    this.desiredMembers = currentIds();
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
      checker.checkLogMatching(cores(), now);
      if (convergedAt >= 0) {
        checker.checkStreams(nodes, limits, coverage);
      } else {
        checker.checkAcked(null, nodes);
      }
    } catch (RuntimeException e) {
      checker.violation(() -> "exception at tick " + now + ": " + e + " at " + e.getStackTrace()[0]);
    }
    coverage.leaderTerms = checker.leaderTerms();
    return new SimResult(config, checker, coverage, traceHash, now, events);
  }

  // =========================================================================================
  // Time
  // =========================================================================================

  private void step() {
    long nowMillis = now * MILLIS_PER_TICK;
    for (int id = 1; id <= n; id++) {
      SimReplica r = nodes[id];
      if (r.running()) {
        r.driver.members(desiredMembers);
        r.driver.tick(nowMillis);
        observe(r);
      }
    }
    Event e;
    while ((e = queue.peek()) != null && e.time() <= now) {
      queue.poll();
      handle(e);
    }
    for (int id = 1; id <= n; id++) {
      SimReplica r = nodes[id];
      if (r.running()) {
        r.driver.flushProposals(nowMillis);
        observe(r);
      }
    }
    expireProposals();
    if (now % 50 == 0) {
      checker.checkLogMatching(cores(), now);
    }
  }

  private void observe(SimReplica r) {
    if (r.driver == null) {
      return;
    }
    checker.observeRole(r.driver.core(), now);
    if (r.driver.core().snapshotNeeded() && !r.snapshotNeeded) {
      coverage.snapshotsAsked++;
    }
    r.snapshotNeeded = r.driver.core().snapshotNeeded();
    if (r.driver.stopped() && !r.retired) {
      r.retired = true;
      fault("retired " + r.id);
      r.driver.close(); // the shell closes a driver whose actor stops
      if (r.catchingUp) {
        checker.violation(() -> "replica " + r.id + " retired holding its node's catch-up permit at tick " + now);
      }
      crash(r, -1, false);
    }
  }

  private List<RaftCore> cores() {
    List<RaftCore> cores = new ArrayList<>();
    for (int id = 1; id <= n; id++) {
      if (nodes[id].driver != null) {
        cores.add(nodes[id].driver.core());
      }
    }
    return cores;
  }

  /** The machine a replica id lives on (ids of later incarnations of a slot are slot + k·n). */
  private int slotOf(int replicaId) {
    return (replicaId - 1) % n + 1;
  }

  private void schedule(long delay, Kind kind, int node, int epoch, Object payload, int count) {
    queue.add(new Event(now + delay, eventSeq++, kind, node, epoch, payload, count));
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
        RaftMessage m = (RaftMessage) e.payload();
        if (r.id != m.to() || blocked[slotOf(m.from())][slotOf(m.to())]) {
          return; // for an earlier incarnation of this machine, or the partition started in flight
        }
        mix(1, m.from(), m.to(), m.term(), digest(m));
        coverage.snapshotsInstalled += m instanceof RaftMessage.InstallSnapshot ? 1 : 0;
        if (trace != null) {
          trace.accept("t=" + now + " deliver " + m.from() + "->" + m.to() + " " + describe(m));
        }
        r.driver.step(m);
      }
      case DELIVER_STORE -> {
        StoreMessage m = (StoreMessage) e.payload();
        if (r.id != m.to() || blocked[slotOf(m.from())][slotOf(m.to())]) {
          return;
        }
        mix(5, m.from(), m.to(), m instanceof StoreMessage.Records rs ? rs.records().size() : 0, 0);
        if (trace != null) {
          trace.accept("t=" + now + " store " + m.from() + "->" + m.to() + " " + describe(m));
        }
        r.driver.step(m);
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
        mix(3, r.slot, ((PersistRequest) e.payload()).id(), 0, 0);
        completePersist(r, e.payload());
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
      case STORE_SYNC -> {
        if (e.epoch() != r.epoch) {
          return;
        }
        mix(6, r.slot, e.count(), 0, 0);
        StoreSync job = (StoreSync) e.payload();
        if (trace != null) {
          trace.accept("t=" + now + " store sync done on " + r.id + " up to " + ((SegmentStore.SyncJob) job).lastSeq()
              + (e.count() == 0 ? "" : " (a lie)"));
        }
        if (e.count() == 0) {
          job.run(); // a lying disk (count 1) only says it did
        }
        r.driver.onStoreSynced(job);
      }
      case LAZY_STORE_SYNC -> {
        if (e.epoch() != r.epoch) {
          return;
        }
        ((StoreSync) e.payload()).run();
      }
    }
    observe(r);
  }

  private void completePersist(SimReplica r, Object request) {
    if (request != SimReplica.BOOTSTRAP) {
      r.driver.onPersisted((PersistRequest) request);
    }
  }

  private void maybeStartSync(SimReplica r) {
    if (r.syncScheduled || r.disk.unsyncedCount() == 0) {
      return;
    }
    r.syncScheduled = true;
    if (config.mode().honestFsync()) {
      int latency = diskPrng.between(opt.syncLatencyMin(), opt.syncLatencyMax());
      schedule(latency, Kind.SYNC_DONE, r.slot, r.epoch, null, r.disk.unsyncedCount());
    } else {
      schedule(opt.lazySyncIntervalTicks(), Kind.LAZY_SYNC, r.slot, r.epoch, null, 0);
    }
  }

  // =========================================================================================
  // The host: what the actor shell does with a driver's effects
  // =========================================================================================

  private final class Host implements ReplicaDriver.Host<SimReplica.Request> {
    private final SimReplica r;

    Host(SimReplica r) {
      this.r = r;
    }

    @Override
    public void persist(LogWrite write, PersistRequest request) {
      if (write.snapshot() != null && write.snapshot().index() > 0) {
        checker.observeSnapshot(r.id, write.snapshot(), now);
        coverage.compactions++;
        if (trace != null) {
          trace.accept("t=" + now + " snapshot " + write.snapshot().index() + " to persist on " + r.id + ", stream "
              + java.util.Arrays.toString(io.holdfast.stream.StreamState.span(write.snapshot().data())));
        }
      }
      r.disk.write(SimReplica.REPLICA, write);
      if (!config.mode().honestFsync() && request != null) {
        schedule(0, Kind.WRITE_DONE, r.slot, r.epoch, request, 0);
      } else if (config.mode().honestFsync()) {
        r.inFlight.add(request == null ? SimReplica.BOOTSTRAP : request);
      }
      maybeStartSync(r);
    }

    @Override
    public void send(RaftMessage m) {
      Simulation.this.send(m);
    }

    @Override
    public void send(StoreMessage m) {
      int to = slotOf(m.to());
      if (blocked[slotOf(m.from())][to] || netPrng.chance(dropProbability)) {
        return;
      }
      schedule(netPrng.between(opt.networkDelayMin(), delayMax), Kind.DELIVER_STORE, to, 0, m, 0);
    }

    @Override
    public void reply(SimReplica.Request request, ReplicaDriver.Reply reply) {
      onReply(request, reply);
    }

    @Override
    public void syncStore(StoreSync job) {
      if (config.mode() == Mode.RECLAIM_WAL_BEFORE_STORE_SYNC) {
        // The store's disk says the sync is done at once, and writes back much later.
        schedule(0, Kind.STORE_SYNC, r.slot, r.epoch, job, 1);
        schedule(opt.lazySyncIntervalTicks(), Kind.LAZY_STORE_SYNC, r.slot, r.epoch, job, 0);
        return;
      }
      schedule(diskPrng.between(opt.syncLatencyMin(), opt.syncLatencyMax()), Kind.STORE_SYNC, r.slot, r.epoch, job,
          0);
    }

    @Override
    public void eraseLog(long index, long term, EntryRegion region) {
      r.disk.erase(SimReplica.REPLICA, index, term, region);
    }

    @Override
    public void fail(String reason) {
      r.failed = reason;
      checker.violation(() -> "replica " + r.id + " failed at tick " + now + ": " + reason);
    }

    /**
     * One replica per simulated node, but a node's catch-up budget is shared with its other
     * streams' replicas in production (CatchUps): a quarter of the asks find it taken, so the
     * waiting path runs too.
     */
    @Override
    public boolean startCatchUp() {
      if (r.catchingUp) {
        checker.violation(() -> "replica " + r.id + " asked for a second catch-up permit at tick " + now);
      }
      r.catchingUp = diskPrng.nextInt(4) != 0;
      if (!r.catchingUp) {
        coverage.catchUpsRefused++;
      }
      return r.catchingUp;
    }

    @Override
    public void endCatchUp() {
      if (!r.catchingUp) {
        checker.violation(() -> "replica " + r.id + " gave back a catch-up permit it did not hold at tick " + now);
      }
      r.catchingUp = false;
    }

    @Override
    public void info(String message) {
      note(message);
    }

    @Override
    public int origin(SimReplica.Request req) {
      if (hotSlot == 0 || req.client() == 0) {
        return r.id; // it came in where it was sent
      }
      SimReplica hot = nodes[hotSlot];
      return hot.running() ? hot.id : 0;
    }

    @Override
    public void warn(String message) {
      note(message);
    }

    private void note(String message) {
      if (message.contains("fetches messages")) {
        coverage.catchUps++;
      } else if (message.contains(ReplicaDriver.HAND_OVER_TO_PUBLISHERS)) {
        coverage.publisherHandOvers++;
      } else if (message.contains("lacks") && message.contains("in its store")) {
        coverage.storeRepairs++;
      } else if (message.contains("takes no entries from its leader")) {
        coverage.entriesRefused++;
      }
      if (trace != null) {
        trace.accept("t=" + now + " replica " + r.id + ": " + message);
      }
    }
  }

  // =========================================================================================
  // Network
  // =========================================================================================

  private void send(RaftMessage m) {
    Snapshot carried = m.snapshot();
    if (carried != null && carried.index() > 0 && carried.data().length == 0) {
      checker.violation(() -> "served a damaged snapshot " + carried + " from replica " + m.from() + " at tick " + now);
    }
    if (m instanceof RaftMessage.AppendEntries a) {
      for (LogEntry e : a.entries()) {
        if (e.type() == EntryType.COMMAND && e.data().length == 0) {
          checker.violation(() -> "served a damaged entry: " + e + " from replica " + m.from() + " at tick " + now);
        }
      }
    }
    int to = slotOf(m.to());
    if (blocked[slotOf(m.from())][to] || netPrng.chance(dropProbability)) {
      return;
    }
    schedule(netPrng.between(opt.networkDelayMin(), delayMax), Kind.DELIVER, to, 0, m, 0);
    if (netPrng.chance(duplicateProbability)) {
      schedule(netPrng.between(opt.networkDelayMin(), delayMax), Kind.DELIVER, to, 0, m, 0);
    }
  }

  // =========================================================================================
  // Clients
  // =========================================================================================

  private void clients() {
    if (!consumersCreated) {
      createConsumers();
    }
    for (int c = 1; c <= opt.clients(); c++) {
      // At most a window's worth per tick: refusals answered at once must not make a client spin.
      for (int sent = 0; sent < opt.clientInflightMax() && clientOutstanding[c] < opt.clientInflightMax(); sent++) {
        if (!propose(c)) {
          break;
        }
      }
    }
  }

  /** The workload's durable consumers, created on the leader once there is one (asked again until they are). */
  private void createConsumers() {
    SimReplica leader = leader();
    if (leader == null || now < consumersAskedAt + 50) {
      return;
    }
    consumersAskedAt = now;
    for (String name : SimStream.CONSUMERS) {
      if (!consumersMade.contains(name)) {
        byte[] op = StreamCommand.encode(new StreamCommand.AddConsumer(SimStream.consumerConfig(name), 0));
        SimReplica.Request req = track(new SimReplica.Request(0, 0, now, "consumer:" + name));
        leader.driver.propose(new Wire.StreamOp(op), req, now * MILLIS_PER_TICK);
      }
    }
  }

  private long consumersAskedAt = -1000;
  private final TreeSet<String> consumersMade = new TreeSet<>();

  /** Proposes the client's next request to the replica it believes leads. */
  private boolean propose(int c) {
    SimReplica r = nodes[clientLeaderGuess[c]];
    if (!r.running()) {
      clientLeaderGuess[c] = 1 + clientPrng.nextInt(n);
      return false;
    }
    long counter = clientNextCounter[c];
    Wire.Proposal p;
    SimReplica.Request req;
    String consumer = SimStream.CONSUMERS.get(c % SimStream.CONSUMERS.size());
    if (consumersCreated && counter % 5 == 0) {
      req = new SimReplica.Request(c, 0, now, "fetch");
      p = new Wire.Consume(consumer, "fetch", 0, 1 + (int) (counter / 5 % 4), 0);
    } else if (consumersCreated && counter % 5 == 1 && !held[c].isEmpty()) {
      long seq = held[c].poll();
      String kind = counter % 29 == 1 ? "term" : counter % 11 == 2 ? "nak" : "ack";
      int run = 1;
      while (kind.equals("ack") && run < 4 && held[c].peek() != null && held[c].peek() == seq + run) {
        held[c].poll(); // consecutive held messages acked as one run, as a node's GroupRouter sends them
        run++;
      }
      req = new SimReplica.Request(c, seq, now, run > 1 ? "ack-run" : kind);
      p = new Wire.Consume(consumer, kind, seq, run, 0);
    } else if (counter % 7 == 3) {
      int size = 2 + (int) (counter / 7 % 2);
      long[] values = new long[size];
      for (int i = 0; i < size; i++) {
        values[i] = ((long) c << 32) | (counter + i);
      }
      req = new SimReplica.Request(c, values[0], now, "atomic:" + size);
      p = SimStream.publishAtomic(values, counter % 13 == 3 ? checker.lastAckedSeq() : -1);
      checker.proposedAtomic(values);
      clientNextCounter[c] += size - 1;
    } else {
      long value = ((long) c << 32) | counter;
      req = new SimReplica.Request(c, value, now, "publish");
      p = SimStream.publish(value, counter % 13 == 5 ? checker.lastAckedSeq() : -1);
      checker.proposed(value);
    }
    clientNextCounter[c]++;
    track(req);
    clientOutstanding[c]++;
    r.driver.propose(p, req, now * MILLIS_PER_TICK);
    return outstanding.contains(req);
  }

  private SimReplica.Request track(SimReplica.Request req) {
    outstanding.add(req);
    return req;
  }

  /** A proposer hears back (at once if refused, or once its entry is applied, or superseded). */
  private void onReply(SimReplica.Request req, ReplicaDriver.Reply reply) {
    boolean waiting = outstanding.remove(req);
    if (waiting && req.client() > 0) {
      clientOutstanding[req.client()]--;
    }
    if (reply instanceof ReplicaDriver.Reply.Refused refused) {
      if (req.client() > 0) {
        clientLeaderGuess[req.client()] = refused.leaderHint() > 0 ? slotOf(refused.leaderHint())
            : 1 + clientPrng.nextInt(n);
      }
      return;
    }
    if (!(reply instanceof ReplicaDriver.Reply.Applied applied)) {
      return; // superseded or invalid: the outcome is unknown to the client
    }
    Wire.Outcome o = applied.outcome();
    if (o instanceof Wire.Rejected rj && rj.code().equals(ReplicaDriver.INSUFFICIENT_STORAGE)) {
      coverage.storageRefusals++;
    }
    if (req.kind().startsWith("consumer:")) {
      consumersMade.add(req.kind().substring("consumer:".length()));
      consumersCreated = consumersMade.size() == SimStream.CONSUMERS.size();
      return;
    }
    switch (req.kind()) {
      case "publish" -> {
        if (o instanceof Wire.Seq s && !s.duplicate()) {
          checker.acked(req.value(), s.seq());
        }
      }
      case "fetch" -> {
        if (o instanceof Wire.Delivered d) {
          for (Delivery delivery : d.deliveries()) {
            checker.delivered(SimStream.CONSUMERS.get(req.client() % SimStream.CONSUMERS.size()), delivery);
            held[req.client()].remove(delivery.message().seq());
            held[req.client()].add(delivery.message().seq());
            coverage.consumerDeliveries++;
            coverage.consumerRedeliveries += delivery.deliveries() > 1 ? 1 : 0;
          }
        }
      }
      case "ack" -> coverage.consumerAcks++;
      case "ack-run" -> {
        coverage.consumerAcks++;
        coverage.consumerAckRuns++;
      }
      default -> {
        if (req.kind().startsWith("atomic:") && o instanceof Wire.Seq s) {
          int size = Integer.parseInt(req.kind().substring("atomic:".length()));
          for (int i = 0; i < size; i++) {
            checker.acked(req.value() + i, s.seq() - size + 1 + i);
          }
        }
      }
    }
  }

  /** A client gives up on a request that took too long: its outcome stays unknown. */
  private void expireProposals() {
    for (var it = outstanding.iterator(); it.hasNext(); ) {
      SimReplica.Request req = it.next();
      if (now - req.proposedAt() >= opt.proposalTimeoutTicks()) {
        it.remove();
        if (req.client() > 0) {
          clientOutstanding[req.client()]--;
        }
      }
    }
  }

  // =========================================================================================
  // Nemesis
  // =========================================================================================

  private void nemesis() {
    for (int id = 1; id <= n; id++) {
      SimReplica r = nodes[id];
      if (!r.up() && r.failed == null && r.restartAt >= 0 && r.restartAt <= now) {
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
        if (leader.driver.transferLeadership(target)) {
          fault("transfer leadership " + leader.id + " -> " + target);
        }
      }
    }
    membershipFault();
    splitBrain();
    lostTail();
    lowDisk();
    hotNode();
  }

  /** Fault.HOT_NODE: the clients' requests come in through one machine, which now and then changes. */
  private void hotNode() {
    if (config.faults().contains(Fault.HOT_NODE) && n > 1 && (hotSlot == 0 || hotNodePrng.chance(1.0 / 1500))) {
      int slot = 1 + hotNodePrng.nextInt(n);
      if (slot != hotSlot) {
        hotSlot = slot;
        fault("hot node: the clients' requests come in through " + nodes[slot].id);
      }
    }
  }

  /** Fault.DISK_LOW: now and then one replica's disk is nearly full for up to 300 ticks. */
  private void lowDisk() {
    if (config.faults().contains(Fault.DISK_LOW) && n > 1 && lowDiskPrng.chance(1.0 / 400)) {
      SimReplica victim = nodes[1 + lowDiskPrng.nextInt(n)];
      if (victim.lowDiskUntil <= now) {
        victim.lowDiskUntil = now + lowDiskPrng.between(20, 300);
        fault("disk low " + victim.id + " until " + victim.lowDiskUntil);
      }
    }
    for (int id = 1; id <= n; id++) {
      SimReplica r = nodes[id];
      if (r.driver != null) {
        r.driver.storageLow(r.lowDiskUntil > now); // a restarted replica's new driver hears it too
      }
    }
  }

  private void crash(SimReplica r, long restartAt) {
    crash(r, restartAt, lostTailStep == 0); // the lost-tail schedule is the one damage while it runs
  }

  /** {@code damage}: the disks may also rot, be wiped or lose a tail (one of them, by chance). */
  private void crash(SimReplica r, long restartAt, boolean damage) {
    fault("crash " + r.id + (restartAt < 0 ? "" : " (restart at " + restartAt + ")"));
    r.disk.crash(diskPrng, config.mode().crashLoses);
    r.storeDisk.crash(diskPrng, true);
    if (damage && corruptible[r.slot]) {
      damage(r);
    }
    r.epoch++;
    r.inFlight.clear();
    r.catchingUp = false; // the node's permits die with it
    r.driver = null; // its machine and files are abandoned, as a dead process's are
    r.machine = null;
    r.paused = false;
    r.deferred.clear();
    r.syncScheduled = false;
    r.restartAt = restartAt;
  }

  /** At most one kind of damage per crash, and never two disks damaged at once. */
  private void damage(SimReplica r) {
    if (!membershipSettled()) {
      return; // one damage event at a time: no rot while a wiped machine is still rejoining
    }
    if (safeToWipe(r) && nemesisPrng.chance(opt.wipeProbability())) {
      int old = r.id;
      r.wipe(n);
      desiredMembers = currentIds();
      fault("wipe: the store of " + old + " refuses to open (damage it cannot attribute); wiped, rejoins as " + r.id);
    } else if (safeToWipe(r) && nemesisPrng.chance(opt.bitflipProbability() / 3)) {
      // Only where a wipe could go: the group must be able to elect, and catch it up, without it.
      int cut = r.disk.cutSyncedTail(nemesisPrng);
      if (cut > 0) {
        fault("cut: the last " + cut + " synced writes of " + r.id + " are gone (a lost tail: it recovers before voting)");
      }
    } else if (!anyDamage() && nemesisPrng.chance(opt.bitflipProbability() * 0.7)) {
      damageStore(r);
    } else if (!recoveringLostTail(r) && nemesisPrng.chance(opt.bitflipProbability())) {
      // Never the same entry on two disks at once: repair needs one intact copy among those that
      // committed it, and a group shrunk by membership changes may commit on just two.
      TreeSet<Long> damagedElsewhere = new TreeSet<>();
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
  }

  /**
   * Rot or a cut in one of the replica's segment files (data or index, never both): the store
   * finds it at open, by scrubbing or on a read, and repairs it from a peer.
   */
  private void damageStore(SimReplica r) {
    boolean index = nemesisPrng.chance(0.4);
    java.util.function.Predicate<String> which = name -> name.endsWith(index ? ".idx" : ".seg");
    String hit = nemesisPrng.chance(0.5) ? r.storeDisk.flipBit(nemesisPrng, which) : r.storeDisk.cut(nemesisPrng, which);
    if (hit != null) {
      r.storeDamagePending = true;
      fault("store: " + hit + " of " + r.id + " damaged on disk");
      coverage.storeDamage++;
    }
  }

  private void restart(SimReplica r) {
    if (now > 0) {
      fault("restart " + r.id);
    }
    // Nothing on the disk: a new replica, or one whose every record was in a lost tail (the
    // store's node-wide lost-tail term then covers it, as the file store's does).
    RecoveredState d = r.disk.recovered().get(SimReplica.REPLICA);
    if (d != null && config.mode() == Mode.TRUNCATE_ON_CORRUPTION && !d.faulty().isEmpty()) {
      // recovery as NATS did it: cut the log at the first damaged entry
      d = new RecoveredState(d.hardState(), d.snapshot(),
          d.entries().subList(0, (int) (d.faulty().firstKey() - d.snapshot().index() - 1)), new TreeMap<>(),
          d.snapshotFaulty(), d.lostTailTerm());
    }
    if (d != null && config.mode() == Mode.IGNORE_LOST_TAIL) {
      d = new RecoveredState(d.hardState(), d.snapshot(), d.entries(), d.faulty(), d.snapshotFaulty(), 0);
    }
    long nodeLostTail = config.mode() == Mode.IGNORE_LOST_TAIL ? 0 : r.disk.lostTailTerm();
    SimDiskStores stores = new SimDiskStores(r);
    r.machine = new StreamMachine("sim", stores::open);
    r.epoch++;
    r.catchingUp = false;
    r.driver = null;
    Host host = new Host(r);
    // As StreamManager decides it: only the group's first members bootstrap it (with its first
    // membership), and only in their first incarnation; a new member starts empty and learns the
    // group from its leader. (Passing EMPTY to a first member whose bootstrap was in a lost tail left
    // it a follower that knew no peers, and so could never repair its store: seed 650972752585.)
    Membership bootstrap = r.id == r.slot ? initialMembership : Membership.EMPTY;
    r.driver = new ReplicaDriver<>(SimReplica.REPLICA, r.id, bootstrap, opt.raft(), d, nodeLostTail,
        corePrng.fork(), new ObservedMachine(r.machine, e -> checker.observeApply(r.id, e, now)), host);
    r.driver.compaction(opt.compactAfterBytes());
    r.driver.followPublishers(FOLLOW_PUBLISHERS_PER_ROUND);
    r.driver.scrub(SCRUB_PER_TICK);
    r.driver.members(desiredMembers);
    r.driver.configure(limits);
    if (r == removed) {
      r.driver.retire(false); // the placement no longer has it: it goes once the group has let it go
    }
    r.scrubRoundsAtRestart = r.driver.scrubbedRounds();
    r.restartAt = -1;
    observe(r);
  }

  /** Opens a simulated replica's segment store, as the node would, or with the planted bug of the mode. */
  private final class SimDiskStores {
    private final SimReplica r;

    SimDiskStores(SimReplica r) {
      this.r = r;
    }

    StreamStore open(long syncedLastSeq) {
      SegmentStore store = SegmentStore.open(r.storeDisk, opt.store(), syncedLastSeq);
      if (config.mode() != Mode.TRUNCATE_STORE_ON_CORRUPTION || store.damaged().isEmpty()) {
        return store;
      }
      // Recovery as a store that takes damage for a torn write: cut there, and end there.
      long cut = store.damaged().ranges().get(0)[0] - 1;
      store.close();
      return new TruncatedStore(SegmentStore.open(r.storeDisk, opt.store(), cut));
    }
  }

  private void resume(SimReplica r) {
    fault("resume " + r.id);
    r.paused = false;
    for (Event e : r.deferred) {
      queue.add(new Event(now, eventSeq++, e.kind(), e.node(), e.epoch(), e.payload(), e.count()));
    }
    r.deferred.clear();
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
      if (leader == null || partitionUntil >= 0 || splitBrainStep != 0 || removed != null) {
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
   * The membership fault, as the meta group places replicas: a random replica is dropped from
   * the group (the leader's driver removes it; it retires), and some time later its machine comes
   * back wiped, as a new member the leader adds as a learner, catches up and promotes — the
   * production driver's own steps, promotion lag rule included.
   */
  private void membershipFault() {
    if (removed != null) {
      if (now >= rejoinAt && (!removed.up() || removed.retired) && membershipSettledWithout(removed)) {
        if (removed.up()) {
          crash(removed, -1, false);
        }
        int old = removed.id;
        removed.wipe(n);
        desiredMembers = currentIds();
        fault("membership: " + old + " comes back as new member " + removed.id);
        SimReplica back = removed;
        removed = null;
        restart(back);
      }
      return;
    }
    // A whole cycle (remove, rejoin, catch up, promote) takes hundreds of ticks and blocks disk
    // damage meanwhile (one fault at a time): a fifth of the old per-step rate.
    if (!nemesisPrng.chance(opt.membershipStepProbability() / 5) || lostTailStep != 0 || recoveringLostTail(null)
        || anyDamage() || !membershipSettled()) {
      return;
    }
    SimReplica leader = leader();
    if (leader == null || n < 3) {
      return;
    }
    removed = nodes[1 + nemesisPrng.nextInt(n)];
    desiredMembers = new ArrayList<>(currentIds());
    desiredMembers.remove((Integer) removed.id);
    rejoinAt = now + nemesisPrng.between(50, 400);
    if (removed.up()) {
      removed.driver.retire(false);
    }
    fault("membership: remove " + removed.id + " (by the placement)");
  }

  private List<Integer> currentIds() {
    List<Integer> ids = new ArrayList<>();
    for (int slot = 1; slot <= n; slot++) {
      ids.add(nodes[slot].id);
    }
    return List.copyOf(ids);
  }

  /** The leader's membership is exactly every machine's current replica, all voters, committed. */
  private boolean membershipSettled() {
    SimReplica leader = leader();
    return leader != null && new TreeSet<>(leader.driver.core().membership().voters()).equals(new TreeSet<>(currentIds()))
        && leader.driver.core().membership().learners().isEmpty() && leader.driver.core().membershipCommitted();
  }

  private boolean membershipSettledWithout(SimReplica gone) {
    SimReplica leader = leader();
    return leader != null && !leader.driver.core().membership().contains(gone.id)
        && leader.driver.core().membershipCommitted();
  }

  /**
   * Wiping one machine's disk must leave a quorum able to replace it: only when another machine
   * leads with every current replica a voter in a committed membership, every other replica holds
   * that membership too, and no disk is damaged (one fault at a time).
   */
  private boolean safeToWipe(SimReplica victim) {
    SimReplica leader = leader();
    if (leader == null || leader == victim || !membershipSettled() || n < 3 || anyDamage() || removed != null) {
      return false;
    }
    for (int slot = 1; slot <= n; slot++) {
      SimReplica r = nodes[slot];
      if (r != victim && (r.driver == null || !r.driver.core().membership().equals(leader.driver.core().membership()))) {
        return false;
      }
    }
    return true;
  }

  /** Any damaged entry, snapshot or store on any machine, on disk or still being repaired. */
  private boolean anyDamage() {
    if (recoveringLostTail(null)) {
      return true;
    }
    for (int slot = 1; slot <= n; slot++) {
      SimReplica r = nodes[slot];
      if (!damagedEntries(r).isEmpty() || snapshotDamaged(r) || storeDamaged(r)) {
        return true;
      }
    }
    return false;
  }

  /** Store damage not known to be repaired: found and not yet fixed, or not yet looked for by a full scrub. */
  private static boolean storeDamaged(SimReplica r) {
    if (r.driver != null && r.driver.status().storeDamaged() > 0) {
      return true;
    }
    if (r.storeDamagePending && r.driver != null && r.driver.scrubbedRounds() > r.scrubRoundsAtRestart + 1) {
      r.storeDamagePending = false;
    }
    return r.storeDamagePending;
  }

  /** Whether a machine other than {@code except} (null: any) still recovers what a lost tail took (one damage at a time). */
  private boolean recoveringLostTail(SimReplica except) {
    for (int slot = 1; slot <= n; slot++) {
      SimReplica r = nodes[slot];
      if (r != except && (r.driver != null ? r.driver.core().recoveringLostTail()
          : r.disk.lostTailPending(SimReplica.REPLICA))) {
        return true;
      }
    }
    return false;
  }

  /** Indexes of entries damaged on the machine: on its disk, or known to its running core and not yet repaired. */
  private static java.util.SortedSet<Long> damagedEntries(SimReplica r) {
    java.util.SortedSet<Long> damaged = r.disk.faultyIndexes(SimReplica.REPLICA);
    if (r.driver != null) {
      damaged.addAll(r.driver.core().faulty().keySet());
    }
    return damaged;
  }

  private static boolean snapshotDamaged(SimReplica r) {
    return r.disk.snapshotFaulty(SimReplica.REPLICA) || (r.driver != null && r.driver.core().snapshotDamaged());
  }

  private SimReplica leader() {
    SimReplica best = null;
    for (int id = 1; id <= n; id++) {
      SimReplica r = nodes[id];
      if (r.running() && r.driver.core().role() == RaftCore.Role.LEADER
          && (best == null || r.driver.core().term() > best.driver.core().term())) {
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
    if (removed != null) {
      rejoinAt = now;
    }
    for (int id = 1; id <= n; id++) {
      SimReplica r = nodes[id];
      r.lowDiskUntil = 0; // space is freed
      if (r.driver != null) {
        r.driver.storageLow(false);
      }
      if (!r.up() && r.failed == null && r != removed) {
        restart(r);
      }
      if (r.paused) {
        resume(r);
      }
      if (r.driver != null) {
        r.scrubRoundsAtRestart = r.driver.scrubbedRounds();
      }
    }
    if (!consumersCreated) {
      checker.violation(() -> "liveness: the workload's consumers were never created");
    }
  }

  /** A leader whose log is committed, every replica a voter with exactly that log applied and its store whole. */
  private boolean converged() {
    if (removed != null) {
      membershipFault();
      return false;
    }
    SimReplica leader = leader();
    if (leader == null) {
      return false;
    }
    RaftCore l = leader.driver.core();
    if (l.commitIndex() != l.lastIndex() || !membershipSettled()) {
      return false;
    }
    for (int id = 1; id <= n; id++) {
      SimReplica r = nodes[id];
      if (r.driver == null || r.paused) {
        return false;
      }
      RaftCore c = r.driver.core();
      if (c.lastIndex() != l.lastIndex() || c.appliedIndex() != l.commitIndex() || c.term() != l.term()
          || r.driver.status().storeDamaged() > 0 || r.driver.scrubbedRounds() <= r.scrubRoundsAtRestart) {
        return false; // ... and a whole scrub since its restart or the heal: no damage hides in its store
      }
    }
    return true;
  }

  private String describeNodes() {
    StringBuilder sb = new StringBuilder();
    for (int id = 1; id <= n; id++) {
      SimReplica r = nodes[id];
      if (id > 1) {
        sb.append("; ");
      }
      sb.append(r.id).append(':');
      if (r.driver == null) {
        sb.append(r.failed != null ? "failed" : "down");
      } else {
        RaftCore c = r.driver.core();
        sb.append(c.role()).append(" term=").append(c.term()).append(" last=").append(c.lastIndex())
            .append(" commit=").append(c.commitIndex()).append(" applied=").append(c.appliedIndex())
            .append(" storeMissing=").append(r.driver.status().storeDamaged()).append(' ').append(c.membership());
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

  static String describe(StoreMessage m) {
    if (m instanceof StoreMessage.Records r) {
      return "Records(request=" + r.requestId() + " from=" + r.fromSeq() + " n=" + r.records().size() + " next="
          + r.next() + " missing=" + r.missing().size() + ")";
    }
    return m.toString();
  }

  /** The swarm options this seed drew, for the replay header. */
  public String describeOptions() {
    return opt.toString();
  }
}
