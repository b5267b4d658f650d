package io.holdfast.replica;

import io.holdfast.storage.EntryRegion;
import io.holdfast.base.Prng;
import io.holdfast.base.RangeSet;
import io.holdfast.raft.PersistRequest;
import io.holdfast.raft.ProposeResult;
import io.holdfast.raft.RaftCore;
import io.holdfast.raft.RaftSettings;
import io.holdfast.raft.Ready;
import io.holdfast.raft.message.HardState;
import io.holdfast.raft.message.LogEntry;
import io.holdfast.raft.message.Membership;
import io.holdfast.raft.message.RaftMessage;
import io.holdfast.raft.message.Snapshot;
import io.holdfast.storage.DiskFailure;
import io.holdfast.storage.LogWrite;
import io.holdfast.storage.RecoveredState;
import io.holdfast.storage.StoreMessage;
import io.holdfast.storage.StoreSync;
import io.holdfast.stream.MessageStore;
import io.holdfast.stream.StreamLimits;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.TreeMap;

/**
 * Everything one replica decides, around its {@link RaftCore} and its {@link ReplicatedMachine}:
 * the order of persisting, sending and applying; batching proposals into entries and answering
 * their proposers; snapshots (only of what the machine's store has synced) and log compaction;
 * catching a snapshot's messages up from a peer before installing it; repairing the store from
 * peers; membership steps; retirement. Pure and single-threaded, like the core: the actor shell
 * ({@link ReplicaShell}) and the simulator run this same object and differ only in their {@link
 * Host}, which moves the effects (DESIGN.md §3: "the simulator runs production logic").
 *
 * @param <T> how a proposer is answered (an actor reference in the shell, a client in the simulator)
 */
public final class ReplicaDriver<T> {
  /** The effects a driver asks for. Each call returns at once; completions come back as driver calls. */
  public interface Host<T> {
    /**
     * Make {@code write} durable behind every earlier write, then call {@link #onPersisted} with
     * {@code request} (in the order the writes were made). A null request is the bootstrap write:
     * nothing to report.
     */
    void persist(LogWrite write, PersistRequest request);

    void send(RaftMessage message);

    void send(StoreMessage message);

    void reply(T proposer, Reply reply);

    /** Run {@link StoreSync#run} off this replica's thread (it blocks), then call {@link #onStoreSynced}. */
    void syncStore(StoreSync job);

    /** Overwrite, in the node's log, the region {@code region} picks in entry (index, term) (an erased message). */
    void eraseLog(long index, long term, EntryRegion region);

    /** This replica cannot go on (its storage failed, or lost what it cannot rebuild): stop it. */
    void fail(String reason);

    /**
     * Whether this replica may start fetching a snapshot's messages now. A node bounds how many of
     * its replicas catch up at once (each has one chunk in flight), so a node rejoining with many
     * streams neither floods its peers nor its own heap; a replica refused asks again each tick.
     */
    boolean startCatchUp();

    /** The catch-up a {@link #startCatchUp} allowed is over (done, or the replica stopped). */
    void endCatchUp();

    void info(String message);

    void warn(String message);

    /**
     * The member of this group on whose node {@code proposer}'s proposal came in: this replica's
     * own id if it came in on this node, 0 if that is not known (see {@link #followPublishers}). Never
     * asked of a null proposer.
     */
    int origin(T proposer);
  }

  /** What a proposer hears. */
  public sealed interface Reply {
    /** Committed and applied; {@code outcome} says what it did. */
    record Applied(Wire.Outcome outcome) implements Reply {}

    /** Not appended: try {@code leaderHint} (0 if unknown) — or the reason says why not. */
    record Refused(ProposeResult.Reason reason, int leaderHint) implements Reply {}

    /** Appended, then lost to a leader change or covered by a snapshot: the outcome is unknown. */
    record Superseded(long index) implements Reply {}

    /** Refused for what it is (e.g. too large); retrying will not help. */
    record Invalid(String reason) implements Reply {}
  }

  /**
   * @param recoveringLostTail see {@link RaftCore#recoveringLostTail()}
   * @param voters the voting members in this replica's view (replica ids: {@code ReplicaIds})
   * @param storeDamaged messages in the applied state that this replica's store lacks (being repaired)
   */
  /**
   * @param followers a leader's view of each other member's lag (empty unless it leads)
   * @param snapshotIndex the index of this replica's latest snapshot: its log starts after it
   * @param catchUpMissing records a catch-up still has to fetch before it installs a leader's
   *     snapshot (0: none running); {@code catchUpFetchedBytes} what it fetched so far
   */
  public record Status(int id, RaftCore.Role role, long term, int leader, long commitIndex, long appliedIndex,
      boolean recoveringLostTail, List<Integer> voters, long storeDamaged, List<RaftCore.FollowerLag> followers,
      long snapshotIndex, long catchUpMissing, long catchUpFetchedBytes) implements io.holdfast.transport.CborMessage {}

  /**
   * A batch is one log entry, and an entry must fit one transport frame with room to spare
   * (replication messages carry at least one entry); a single larger proposal, up to one message
   * of {@link io.holdfast.replica.StreamMachine#MESSAGE_BYTES_MAX}, is an entry of its own.
   */
  public static final int BATCH_BYTES_MAX = 160 << 10;
  /** The code of a publish refused because the leader's disk is nearly full. */
  public static final String INSUFFICIENT_STORAGE = "insufficient_storage";

  /** Bytes written to storage and not yet persisted, at most, before new proposals are refused. */
  public static final long UNPERSISTED_BYTES_MAX = 16L << 20;
  /** How many committed entries a learner may still lack when it is promoted (a few appends' worth). */
  static final long PROMOTE_LAG_MAX = 1024;
  /** Ticks between the leader's checks of configuration and housekeeping (expiry). */
  public static final int HOUSEKEEPING_TICKS = 20;
  /** Bytes of records one fetch from a peer's store asks for (it travels on the large-message channel). */
  public static final long FETCH_RECORDS_BYTES = 1 << 20;
  /** How a hand-over to the publishers' node is logged (the simulator counts them by it). */
  public static final String HAND_OVER_TO_PUBLISHERS = "hands its leadership to its publishers' node, member";
  /**
   * How far behind (log bytes) a member may be and still be handed leadership for its publishers:
   * it catches up first, while the leader refuses proposals, so a few tens of ms at most. (At 1 MiB,
   * one 1 MiB message in flight put every follower past the bound, and the leader never moved.)
   */
  private static final long FOLLOW_LAG_BYTES_MAX = 8 << 20;
  /** Ticks a fetch from a peer's store may go unanswered before it is asked again (of another peer). */
  private static final int FETCH_TIMEOUT_TICKS = 40;
  /**
   * How long a leader's compaction waits for a follower that lacks entries it would drop (1 s at
   * 50 ms ticks). A follower a few entries behind would otherwise need a snapshot and a catch-up
   * from a peer's store: with 1,000 streams and the WAL budget asking them to snapshot soon, a
   * third of all compactions cut a follower off by an entry or two.
   */
  private static final int COMPACT_WAIT_TICKS = 20;
  /**
   * Over how many ticks the replicas told to {@link #compactSoon} at once spread their snapshots
   * (5 s at 50 ms ticks). The WAL budget tells every replica with entries in the oldest file at
   * the same moment: with 1,000 streams that was 1,000 snapshots in one go, each a file written and
   * fsynced, renamed and its directory fsynced by the node's one storage thread, which held every
   * group commit of the node for 1.3-2.6 s (the WAL fsync max of the nodes at WAL rolls) and
   * had publishes abandoned as unanswered. Each replica waits its own share of this, from a hash
   * of its name: no randomness, so the simulator's runs are unchanged.
   */
  static final int COMPACT_SPREAD_TICKS = 100;

  private record Waiting<T>(long term, List<T> proposers) {}

  private record Proposal<T>(Wire.Proposal proposal, T replyTo) {}

  /**
   * A snapshot taken at {@code index}, waiting for the store sync that makes what it covers durable
   * ({@code job}, null once done) and, on a leader, for the followers to hold the entries it lets go.
   */
  private static final class Compacting {
    final long index;
    final byte[] data;
    StoreSync job;
    int waitedTicks;

    Compacting(long index, byte[] data, StoreSync job) {
      this.index = index;
      this.data = data;
      this.job = job;
    }
  }

  /** A snapshot to install once the store holds what it covers, fetched from {@code source}. */
  private static final class CatchUp {
    /** What brought the snapshot (an InstallSnapshot, or a RepairResult a leader takes over its damage), stepped once caught up. */
    RaftMessage message;
    /** Where the next ask starts: the source's answers moved past what precedes it. */
    long next;
    int source;
    /** The request in flight (0: none); ticks it has waited. */
    long requestId;
    int waited;
    /** The sync of what was fetched, once everything is. */
    StoreSync syncing;
    /** The node let it start ({@link Host#startCatchUp}). */
    boolean started;
    /** Everything is fetched and nothing left to sync but syncs already running: the next to finish goes on. */
    boolean awaitingSyncs;
    /** Records the store lacked for the snapshot (its latest target), and those fetched since: progress, for metrics. */
    long missing;
    long fetched;
    long fetchedBytes;
  }

  /** Missing records being fetched from a peer. */
  private static final class Repair {
    long requestId;
    int peer;
    int waited;
  }

  private final String name;
  private final int self;
  private final RaftCore core;
  private final ReplicatedMachine machine;
  private final Host<T> host;
  private final TreeMap<Long, Waiting<T>> waiting = new TreeMap<>();
  private final ArrayList<Proposal<T>> pending = new ArrayList<>();
  /**
   * Waiting pull requests (a leader's): proposals {@link ReplicatedMachine#answerWithoutLog} found
   * nothing for and that may wait ({@link ReplicatedMachine#waitMillis}). Looked at again after each
   * applied entry and each tick: proposed once they would deliver, answered empty at their deadline.
   * An idle subscriber thus costs neither a log entry nor a poll; at most {@value #PARKED_MAX}.
   */
  private final ArrayList<Parked<T>> parked = new ArrayList<>();
  private static final int PARKED_MAX = 10_000;
  private long lastNowMillis;
  private boolean unparking;
  private final PublisherTally publishers = new PublisherTally();

  private record Parked<T>(Wire.Proposal proposal, T replyTo, long untilMillis) {}
  private long pendingBytes;
  /** {@link ReplicatedMachine#batchKind} of what {@link #pending} holds. */
  private int pendingKind;
  private long unpersistedBytes;
  /** The node's disk is nearly full: publishes are refused ({@link #storageLow(boolean)}). */
  private boolean storageLow;
  /** It dropped a leader's entries for lack of disk space and has not taken any since (for the log). */
  private boolean refusingEntries;
  private long compactAfterBytes = Long.MAX_VALUE;
  private long appliedBytesSinceSnapshot;
  private long lastSnapshotBytes;
  private boolean compactionWanted;
  /** Ticks until a {@link #compactSoon} takes effect; 0: none pending. */
  private int compactSoonIn;
  private Compacting compacting;
  private CatchUp catchUp;
  private Repair repair;
  /** Applied messages the store lacks (recomputed when it may have changed). */
  private RangeSet storeMissing = new RangeSet();
  /**
   * The syncs of records a repair put into the store, while they run. Until they have, the replica is
   * still damaged: those records have no other copy on this node (the log entries that carried
   * them are compacted), and a replica that counts as whole may be the reason the group lets its
   * last durable copy go (sim seed 424242878: two replicas repaired from a third, unsynced; the
   * third was removed; a power loss took the repaired records from both).
   */
  private final java.util.Set<StoreSync> repairSyncing = java.util.Collections.newSetFromMap(
      new java.util.IdentityHashMap<>());
  private boolean checkStore = true;
  private int storeCheckIn;
  /** Stored messages verified per tick in the background (0: none), where the next round goes on, rounds done. */
  private int scrubPerTick;
  private long scrubCursor;
  private long scrubbedRounds;
  private long nextRequestId = 1;
  private int repairPeerTurn;
  /**
   * Peers that answered the repair of the first range missing from {@link #repairGoneFrom} with
   * none of it, having moved past it: gone from their streams (or damaged there too). Once every
   * peer has, the messages are gone from the stream everywhere, and applying waits for facts
   * nobody holds: the replica needs a snapshot past them instead ({@link RaftCore#needSnapshot}).
   */
  private final Set<Integer> repairGoneAt = new HashSet<>();
  private long repairGoneFrom;
  private StreamLimits desired;
  private List<Integer> desiredMembers;
  private boolean retiring;
  private boolean replaced;
  private boolean stopped;
  private int transferIn;
  private int ticksWithoutLeader;
  /** How often a retiring replica that hears no leader asks to leave: an election timeout. */
  private final int askToLeaveTicks;
  private int housekeepingIn;
  private boolean recoveringLostTail;
  private long ledInTerm;
  /** The term whose first commit as leader was logged. */
  private long committedInTerm;
  private String failed;

  /**
   * A replica starting on what its node's storage recovered ({@code disk}; null for a new replica,
   * whose first write is the group's initial snapshot), on a node that may have lost a synced WAL
   * tail ({@code nodeLostTailTerm}).
   */
  public ReplicaDriver(String name, int self, Membership initial, RaftSettings settings, RecoveredState disk,
      long nodeLostTailTerm, Prng prng, ReplicatedMachine machine, Host<T> host) {
    this.name = name;
    this.self = self;
    this.machine = machine;
    this.host = host;
    this.askToLeaveTicks = settings.electionTimeoutTicks();
    if (disk == null) {
      // A new replica: its first durable write is the group's initial snapshot (bootstrap). On a
      // node that lost a synced tail, it may instead be one whose records were all in that tail.
      Snapshot bootstrap = Snapshot.initial(initial);
      this.core = RaftCore.restart(settings, self, HardState.INITIAL, bootstrap, List.of(), new TreeMap<>(), false,
          nodeLostTailTerm, prng);
      host.persist(new LogWrite(null, bootstrap, 0, List.of()), null);
      machine.open(bootstrap.data());
    } else {
      this.core = RaftCore.restart(settings, self, disk.hardState(), disk.snapshot(), disk.entries(), disk.faulty(),
          disk.snapshotFaulty(), disk.lostTailTerm(), prng);
      machine.open(disk.snapshotFaulty() ? null : disk.snapshot().data());
    }
    machine.takeStoreNotes().forEach(n -> host.warn("Replica " + name + " store: " + n));
    recoveringLostTail = core.recoveringLostTail();
    if (recoveringLostTail) {
      host.warn("Replica " + name + " (id " + self + ") may have lost entries and votes with a cut-off WAL tail: it"
          + " follows, but does not vote until it holds an entry of a term after "
          + (disk == null ? nodeLostTailTerm : disk.lostTailTerm()));
    }
    checkStore();
  }

  // =========================================================================================
  // Inputs
  // =========================================================================================

  /** One tick of the replica's clock; {@code nowMillis} is the host's clock, stamped on chores the leader proposes. */
  public void tick(long nowMillis) {
    if (done()) {
      unpark(); // refuses what still waits here
      return;
    }
    core.tick();
    if (recoveringLostTail && !core.recoveringLostTail()) {
      recoveringLostTail = false;
      host.info("Replica " + name + " (id " + self + ") recovered what a cut-off WAL tail took: it votes again");
    }
    if (retiring && retire()) {
      return;
    }
    if (core.role() != RaftCore.Role.LEADER) {
      publishers.reset();
    } else if (--housekeepingIn <= 0) {
      housekeepingIn = HOUSEKEEPING_TICKS;
      if (!handOverToPublishers(publishers.endRound(self))) { // else what follows is the next leader's
        changeMembership();
        Wire.Proposal change = desired == null ? null : machine.toward(desired);
        if (change != null) {
          proposeNow(change, nowMillis);
        }
        Wire.Proposal chore = machine.housekeeping(nowMillis);
        if (chore != null) {
          proposeNow(chore, nowMillis);
        }
      }
    }
    lastNowMillis = nowMillis;
    unpark();
    tickStore();
    if (compactSoonIn > 0 && --compactSoonIn == 0) {
      compactionWanted = true;
    }
    if (compacting != null && compacting.job == null) {
      compacting.waitedTicks++;
    }
    drain();
  }

  /** A Raft message from a peer. A snapshot whose messages the store lacks is installed once they are fetched. */
  public void step(RaftMessage m) {
    if (done()) {
      return;
    }
    if (storageLow && (m instanceof RaftMessage.AppendEntries a && !a.entries().isEmpty()
        || m instanceof RaftMessage.InstallSnapshot)) {
      // Nearly full: it takes no new data as a follower either, as if the message were lost, and
      // falls behind instead of running into ENOSPC, which would stop the node's storage for good
      // (D10). Heartbeats still pass, so it does not campaign; once space is freed it catches up.
      if (!refusingEntries) {
        refusingEntries = true;
        host.warn("Replica " + name + " (id " + self + ") takes no entries from its leader while the node's disk is"
            + " nearly full (holdfast.storage.min-free); it catches up once space is freed");
      }
      return;
    }
    if (refusingEntries && !storageLow) {
      refusingEntries = false;
      host.info("Replica " + name + " (id " + self + ") takes entries again: the node's disk has room");
    }
    if (m instanceof RaftMessage.InstallSnapshot is && is.term() >= core.term() && catchUpFirst(is)) {
      return;
    }
    if (m instanceof RaftMessage.RepairResult rr && core.takesRepairSnapshot(rr) && catchUpFirst(rr)) {
      return;
    }
    core.step(m);
    drain();
  }

  /** A message from a peer about the stores. */
  public void step(StoreMessage m) {
    if (done()) {
      return;
    }
    if (m instanceof StoreMessage.FetchRecords f) {
      serve(f);
    } else if (m instanceof StoreMessage.Records r) {
      if (catchUp != null && r.requestId() == catchUp.requestId) {
        onCatchUpRecords(r);
      } else if (repair != null && r.requestId() == repair.requestId) {
        onRepairRecords(r);
      }
    }
    drain();
  }

  /**
   * Appends {@code proposal} to the batch for the next log entry, answered with {@link
   * Reply.Applied} once committed and applied, or refused at once ({@code replyTo} null: nobody
   * hears). Returns true when it started a batch: the host calls {@link #flushProposals} once the
   * proposals already waiting for it (its mailbox) are in, so that they share one entry.
   */
  /**
   * The host says whether its node's disk is nearly full: while it is, proposals that add data
   * ({@link ReplicatedMachine#growsData}) are refused with {@link #INSUFFICIENT_STORAGE}, and as a
   * follower it drops its leader's entries and snapshots (see {@link #step(RaftMessage)}).
   */
  public void storageLow(boolean low) {
    storageLow = low;
  }

  public boolean propose(Wire.Proposal proposal, T replyTo, long nowMillis) {
    if (done() || core.role() != RaftCore.Role.LEADER) {
      reply(replyTo, new Reply.Refused(ProposeResult.Reason.NOT_LEADER, core.leaderId()));
      return false;
    }
    String invalid = machine.invalid(proposal);
    if (invalid != null) {
      reply(replyTo, new Reply.Invalid(invalid));
      return false;
    }
    lastNowMillis = nowMillis;
    if (publishers.on() && replyTo != null) { // off (the meta group, or configured so): no lookup per proposal
      publishers.count(host.origin(replyTo));
    }
    Wire.Outcome local = machine.answerWithoutLog(proposal, nowMillis);
    if (local != null) {
      long wait = machine.waitMillis(proposal);
      if (wait > 0 && parked.size() < PARKED_MAX && replyTo != null) {
        parked.add(new Parked<>(proposal, replyTo, nowMillis + wait));
      } else {
        reply(replyTo, new Reply.Applied(local));
      }
      return false;
    }
    if (storageLow && machine.growsData(proposal)) {
      reply(replyTo, new Reply.Applied(new Wire.Rejected(INSUFFICIENT_STORAGE, "the disk of the stream leader's node "
          + "is nearly full (below holdfast.storage.min-free): publishes are refused until space is freed")));
      return false;
    }
    if (unpersistedBytes >= UNPERSISTED_BYTES_MAX) {
      // Storage is behind: push back on the proposer (it retries within its deadline) rather than
      // hold without bound what the disk has not taken yet.
      reply(replyTo, new Reply.Refused(ProposeResult.Reason.TOO_MANY_UNCOMMITTED, self));
      return false;
    }
    long bytes = machine.sizeOf(proposal);
    boolean alone = machine.alone(proposal);
    int kind = machine.batchKind(proposal);
    if (pendingBytes + bytes > BATCH_BYTES_MAX || alone || (!pending.isEmpty() && kind != pendingKind)) {
      flushProposals(nowMillis);
    }
    pendingKind = kind;
    pending.add(new Proposal<>(proposal, replyTo));
    pendingBytes += bytes;
    if (alone || pending.size() >= machine.batchMax()) {
      flushProposals(nowMillis);
      return false;
    }
    return pending.size() == 1;
  }

  /** One log entry for every proposal batched since the last one, stamped with the leader's clock {@code nowMillis}. */
  public void flushProposals(long nowMillis) {
    if (pending.isEmpty()) {
      return;
    }
    List<Wire.Proposal> proposals = new ArrayList<>(pending.size());
    List<T> proposers = new ArrayList<>(pending.size());
    for (Proposal<T> p : pending) {
      proposals.add(p.proposal());
      proposers.add(p.replyTo());
    }
    pending.clear();
    pendingBytes = 0;
    ProposeResult result = core.propose(machine.encode(proposals, nowMillis));
    if (result instanceof ProposeResult.Accepted a) {
      waiting.put(a.index(), new Waiting<>(a.term(), proposers));
    } else {
      ProposeResult.Rejected r = (ProposeResult.Rejected) result;
      proposers.forEach(p -> reply(p, new Reply.Refused(r.reason(), r.leaderHint())));
    }
    drain();
  }

  private void reply(T proposer, Reply reply) {
    if (proposer != null) {
      host.reply(proposer, reply);
    }
  }

  private void proposeNow(Wire.Proposal p, long nowMillis) {
    if (propose(p, null, nowMillis)) {
      flushProposals(nowMillis);
    }
  }

  /** Storage made {@code request} durable (in the order of {@link Host#persist}). */
  public void onPersisted(PersistRequest request) {
    if (done()) {
      return;
    }
    unpersistedBytes -= weight(request);
    core.onPersisted(request);
    request.messagesAfterPersist().forEach(host::send);
    if (request.snapshot() != null) {
      machine.snapshotDurable(request.snapshot().data());
    }
    drain();
  }

  /** A {@link Host#syncStore} job has run: what it covers is durable. */
  public void onStoreSynced(StoreSync job) {
    if (done()) {
      return;
    }
    machine.storeSynced(job);
    if (compacting != null && compacting.job == job) {
      compacting.job = null;
      finishCompaction();
    }
    if (catchUp != null && catchUp.syncing == job) {
      catchUp.syncing = null;
      continueCatchUp();
    } else if (catchUp != null && catchUp.awaitingSyncs) {
      catchUp.awaitingSyncs = false;
      continueCatchUp();
    }
    if (repairSyncing.remove(job)) {
      checkStore = true;
    }
    drain();
  }

  /**
   * Compaction: a snapshot once the entries applied since the last one carry {@code afterBytes}
   * (and at least four times that snapshot, so snapshots cost at most a quarter of what is written).
   */
  public void compaction(long afterBytes) {
    compactAfterBytes = afterBytes;
  }

  /**
   * The leader follows its publishers ({@link PublisherTally}): once nearly all of at least {@code
   * minPerRound} proposals per {@link #HOUSEKEEPING_TICKS} ticks have come in through one other
   * member's node for a few such rounds, it hands its leadership to that member (0: never).
   */
  public void followPublishers(int minPerRound) {
    publishers.minPerRound(minPerRound);
  }

  /**
   * Hands leadership to {@code target}, whose node its publishers use, if it can take it without
   * a wait; whether it did (the transfer started).
   */
  private boolean handOverToPublishers(int target) {
    if (target == 0 || !core.membership().isVoter(target) || !core.membershipCommitted() || retiring
        || catchUp != null || !storeMissing.isEmpty()) {
      return false;
    }
    for (RaftCore.FollowerLag lag : core.followerLags()) {
      // A follower that needs a snapshot, or much of the log, would keep proposals waiting (a
      // leader in transfer refuses them) while it catches up: not worth it for a hop.
      if (lag.id() == target && !lag.snapshot() && lag.bytes() <= FOLLOW_LAG_BYTES_MAX && core.transferLeadership(target)) {
        host.info("Replica " + name + " (id " + self + ") " + HAND_OVER_TO_PUBLISHERS + " " + target + ": for "
            + PublisherTally.ROUNDS * HOUSEKEEPING_TICKS + " ticks, " + PublisherTally.SHARE_PERCENT
            + "% or more of its proposals came in through that member's node");
        return true;
      }
    }
    return false;
  }

  /** The group's members as this replica knows them. */
  public Membership membership() {
    return core.membership();
  }

  /** Hands leadership to {@code target} if this replica leads ({@link RaftCore#transferLeadership}). */
  public boolean transferLeadership(int target) {
    if (done()) {
      return false;
    }
    boolean started = core.transferLeadership(target);
    drain();
    return started;
  }

  /** Verifies {@code messagesPerTick} stored messages each tick against their checksums (0: off). */
  public void scrub(int messagesPerTick) {
    scrubPerTick = messagesPerTick;
  }

  /** Rounds of scrubbing the whole store finished so far. */
  public long scrubbedRounds() {
    return scrubbedRounds;
  }

  /**
   * Snapshot soon, whatever was applied since the last one (the node's WAL holds old entries of
   * this replica): within {@link #COMPACT_SPREAD_TICKS}, at this replica's own point of it.
   */
  public void compactSoon() {
    if (compactSoonIn == 0) {
      compactSoonIn = compactSoonDelay(name, self);
    }
  }

  /** The ticks replica {@code self} of group {@code name} waits after {@link #compactSoon}: 1 to {@link #COMPACT_SPREAD_TICKS}. */
  static int compactSoonDelay(String name, int self) {
    int h = name.hashCode() * 31 + self;
    h = (h ^ (h >>> 16)) * 0x45d9f3b; // mixed, so that names alike (BENCH_1, BENCH_2, ...) land far apart
    h ^= h >>> 16;
    return 1 + Math.floorMod(h, COMPACT_SPREAD_TICKS);
  }

  /**
   * The configuration the control plane holds for this group (a stream's limits, from the meta
   * group). The leader proposes what {@link ReplicatedMachine#toward} says until the applied state
   * has it, so every replica changes configuration at the same point of the log.
   */
  public void configure(StreamLimits desired) {
    this.desired = desired;
    housekeepingIn = 0;
  }

  /**
   * The replicas the group should have (the meta group's placement). The leader moves the group
   * there one single-server change at a time: remove a member not wanted (itself last of all: it
   * steps down once that commits), add a wanted node as a learner, promote a wanted learner.
   */
  public void members(List<Integer> desired) {
    desiredMembers = List.copyOf(desired);
    housekeepingIn = 0;
  }

  /**
   * This replica is no longer wanted: it stops ({@link #stopped()}) once the group has let it go.
   * {@code replaced}: a new member replaces it on its node, so it stops as soon as it does not
   * lead (a removed follower may never hear that its removal committed); a leader first hands its
   * leadership to another voter, which then removes this replica's id.
   */
  public void retire(boolean replaced) {
    retiring = true;
    this.replaced |= replaced;
  }

  /** Whether this replica has retired (the host stops it). */
  public boolean stopped() {
    return stopped;
  }

  /** The host stops this replica (for any reason): what it holds of the node's is given back. */
  public void close() {
    if (catchUp != null && catchUp.started) {
      catchUp.started = false;
      host.endCatchUp();
    }
  }

  // =========================================================================================
  // Reads and status
  // =========================================================================================

  /**
   * A read from the applied (committed, D4) state. With {@code leaderOnly} a replica that is not the
   * leader answers {@link Wire.NotLeader}.
   */
  public Wire.ReadReply read(Wire.Query query, boolean leaderOnly) {
    if (leaderOnly && core.role() != RaftCore.Role.LEADER) {
      return new Wire.NotLeader(core.leaderId());
    }
    if (done() || leaderOnly && !core.leaderReadable()) {
      // Elected, but nothing of its term committed yet: its state may be stale (found by the
      // fault campaign: after a whole-cluster restart, a new meta leader answered with an empty
      // state, and publishes were refused with "no stream"). Ask again shortly.
      return new Wire.NotLeader(-1);
    }
    if (query instanceof Wire.GetMeta && !core.readable()) {
      // Nodes route every request by the meta view they take from any meta replica: one that is
      // behind its group (just restarted) would hand them a state without streams that exist.
      return new Wire.NotLeader(core.leaderId());
    }
    Wire.ReadReply reply = machine.read(query);
    if (reply instanceof Wire.Info i) {
      reply = new Wire.Info(i.state(), i.limits(), status());
    }
    return reply;
  }

  /**
   * Where a leader's read stands in its log: the index that must be applied before it is answered
   * (what was appended before the read arrived, the proposals batched so far included: they are
   * appended now), or -1 to answer at once. So a client that sends proposals and then reads —
   * fire-and-forget acks, then the consumer's info — sees its own proposals, as on nats-server,
   * which handles a connection's messages in order.
   */
  public long readBarrier(long nowMillis) {
    if (done() || core.role() != RaftCore.Role.LEADER) {
      return -1;
    }
    flushProposals(nowMillis);
    long last = core.lastIndex();
    return last > core.appliedIndex() ? last : -1;
  }

  /** Whether a read held at {@code barrier} ({@link #readBarrier}) can be answered now (applied, or no longer the leader). */
  public boolean readReady(long barrier) {
    return done() || core.role() != RaftCore.Role.LEADER || core.appliedIndex() >= barrier;
  }

  /**
   * Whether nothing here needs a tick soon: a follower that hears its leader and has no catch-up,
   * repair, compaction, retirement or unpersisted writes going. Its host may then deliver ticks in
   * batches (several {@link #tick} calls at once, less often): only its election timer advances,
   * and a batch of a quarter of an election timeout delays noticing a dead leader by that much.
   */
  public boolean quiet() {
    return !done() && core.role() == RaftCore.Role.FOLLOWER && core.hearsLeader() && catchUp == null
        && repair == null && storeMissing.isEmpty() && compacting == null && !retiring && unpersistedBytes == 0;
  }

  public Status status() {
    return new Status(self, core.role(), core.term(), core.leaderId(), core.commitIndex(), core.appliedIndex(),
        core.recoveringLostTail(), List.copyOf(core.membership().voters()), storeMissing.count(), core.followerLags(),
        core.snapshotIndex(), catchUp == null ? 0 : Math.max(0, catchUp.missing - catchUp.fetched),
        catchUp == null ? 0 : catchUp.fetchedBytes);
  }

  public int id() {
    return self;
  }

  /** The core, read-only use: checkers and diagnostics. */
  public RaftCore core() {
    return core;
  }

  /** Why this replica failed, or null. */
  public String failure() {
    return failed;
  }

  private boolean done() {
    return failed != null || stopped;
  }

  // =========================================================================================
  // Ready: the only place effects leave the core
  // =========================================================================================

  private void drain() {
    if (done()) {
      return;
    }
    try {
      drainReady();
      machine.flushStore();
      finishCompaction();
      maybeCompact();
      if (core.hasReady()) {
        drainReady();
      }
      checkStore();
    } catch (MessageStore.Unreadable | DiskFailure e) {
      // The state may be half-way through an entry: this replica stops. The store remembers what
      // it found missing (SegmentStore keeps its damage list on disk), so when the replica starts
      // again on its disk it repairs that from its peers before it applies again.
      failed = e.getMessage();
      host.fail(failed);
    }
  }

  private void drainReady() {
    if (core.role() == RaftCore.Role.LEADER && core.term() != ledInTerm) {
      ledInTerm = core.term();
      host.info("Replica " + name + " (id " + self + ") leads in term " + ledInTerm);
    }
    while (core.hasReady()) {
      Ready ready = core.ready();
      if (ready.persist() != null) {
        PersistRequest p = ready.persist();
        unpersistedBytes += weight(p);
        host.persist(new LogWrite(p.hardState(), p.snapshot(), p.entriesFrom(), p.entries(), p.repaired()), p);
      }
      ready.messages().forEach(host::send);
      if (ready.snapshotToApply() != null) {
        machine.restore(ready.snapshotToApply().data());
        checkStore = true;
      }
      for (LogEntry e : ready.committed()) {
        apply(e);
        appliedBytesSinceSnapshot += e.data().length;
      }
      for (ReplicatedMachine.Erasure x : machine.takeErasures()) {
        host.eraseLog(x.index(), x.term(), x.region());
      }
      compactionWanted |= ready.snapshotRequested();
    }
    if (core.term() == ledInTerm && committedInTerm != ledInTerm && core.leaderReadable()) {
      // With the election's line, this bounds how long the group was without a leader that could
      // commit (a follower behind, a slow disk): the log's timestamps tell the two apart.
      committedInTerm = ledInTerm;
      host.info("Replica " + name + " (id " + self + ") commits in term " + ledInTerm + " from index "
          + core.commitIndex());
    }
  }

  private static long weight(PersistRequest p) {
    long bytes = p.hardState() == null ? 0 : 16;
    if (p.snapshot() != null) {
      bytes += p.snapshot().data().length + 64;
    }
    for (LogEntry e : p.entries()) {
      bytes += e.weightBytes();
    }
    for (LogEntry e : p.repaired()) {
      bytes += e.weightBytes();
    }
    return bytes;
  }

  private void apply(LogEntry e) {
    Waiting<T> w = waiting.remove(e.index());
    boolean ours = w != null && w.term() == e.term();
    List<Wire.Outcome> outcomes = machine.apply(e, ours);
    if (w != null) {
      for (int i = 0; i < w.proposers().size(); i++) {
        reply(w.proposers().get(i), ours && i < outcomes.size() ? new Reply.Applied(outcomes.get(i))
            : new Reply.Superseded(e.index()));
      }
    }
    // Proposals at lower indexes that were never applied one by one (a snapshot covered them).
    for (Waiting<T> stale : waiting.headMap(e.index()).values()) {
      stale.proposers().forEach(p -> reply(p, new Reply.Superseded(e.index())));
    }
    waiting.headMap(e.index()).clear();
    if (!parked.isEmpty()) {
      unpark();
    }
  }

  /**
   * Looks at the waiting pull requests again: each that would now deliver is proposed, each past
   * its deadline answered as it stands; on a replica that no longer leads, all are refused (their
   * senders ask the new leader).
   */
  private void unpark() {
    if (parked.isEmpty() || unparking) {
      return;
    }
    unparking = true;
    try {
      List<Parked<T>> look = new ArrayList<>(parked);
      parked.clear();
      if (done() || core.role() != RaftCore.Role.LEADER) {
        look.forEach(p -> reply(p.replyTo(), new Reply.Refused(ProposeResult.Reason.NOT_LEADER, core.leaderId())));
        return;
      }
      boolean proposed = false;
      for (Parked<T> p : look) {
        Wire.Outcome local = machine.answerWithoutLog(p.proposal(), lastNowMillis);
        if (local == null) {
          propose(p.proposal(), p.replyTo(), lastNowMillis);
          proposed = true;
        } else if (lastNowMillis >= p.untilMillis()) {
          reply(p.replyTo(), new Reply.Applied(local));
        } else {
          parked.add(p);
        }
      }
      if (proposed) {
        flushProposals(lastNowMillis);
      }
    } finally {
      unparking = false;
    }
  }

  // =========================================================================================
  // Snapshots and compaction
  // =========================================================================================

  /**
   * Snapshots the applied state into the core (which persists it and drops the log before it) —
   * once the machine's store has synced every message the snapshot covers, so that the WAL, which
   * the snapshot lets go, is never the only copy of an acknowledged message that is lost.
   */
  private void maybeCompact() {
    if (compacting != null || catchUp != null) {
      return;
    }
    boolean due = compactionWanted
        || appliedBytesSinceSnapshot >= Math.max(compactAfterBytes, Math.min(Long.MAX_VALUE / 8, 4 * lastSnapshotBytes));
    if (!due || core.appliedIndex() < core.firstIndex()) {
      return;
    }
    compactionWanted = false;
    compactSoonIn = 0; // this snapshot, whatever started it, is the one a pending compactSoon asked for
    appliedBytesSinceSnapshot = 0;
    long index = core.appliedIndex();
    byte[] data = machine.snapshot();
    lastSnapshotBytes = data.length;
    StoreSync job = machine.syncStore();
    compacting = new Compacting(index, data, job);
    if (job != null) {
      host.syncStore(job);
    }
    finishCompaction();
  }

  /**
   * Compacts to the snapshot taken once the store has synced what it covers and, on a leader, once
   * every follower holds the entries it drops — or the wait has run out of ticks or of bytes
   * (another compaction's worth applied meanwhile): then a lagging follower gets the snapshot.
   */
  private void finishCompaction() {
    if (compacting == null || compacting.job != null) {
      return;
    }
    if (!core.othersMatch(compacting.index) && compacting.waitedTicks < COMPACT_WAIT_TICKS
        && appliedBytesSinceSnapshot < compactAfterBytes) {
      return;
    }
    core.compact(compacting.index, compacting.data);
    compacting = null;
  }

  // =========================================================================================
  // Catching up a snapshot's messages
  // =========================================================================================

  /**
   * Whether the snapshot {@code m} brings covers messages this replica's store lacks, or
   * holds unsynced: then the missing ones are fetched from the sender's store first, in bounded
   * chunks, and {@code m} is stepped into the core once the store has synced all it covers (so the
   * replica acknowledges a snapshot only once it holds its data durably: the snapshot lets the log
   * entries that carried them go — sim seed 777002041 lost messages a replica had applied but not
   * synced when it took a snapshot it needed nothing for). A newer snapshot meanwhile only moves
   * the target. A leader that takes a peer's snapshot over a damaged entry or snapshot does the
   * same: sim seed 584193403244 had a leader whose store lost messages to a power loss take a
   * removed replica's snapshot over its damaged base, drop the intact log entries that carried
   * those messages, and be left with them only on the removed replica.
   */
  private boolean catchUpFirst(RaftMessage m) {
    Snapshot snapshot = m.snapshot();
    RangeSet missing = snapshot.data().length == 0 ? new RangeSet() : machine.missingFor(snapshot.data());
    if (missing.isEmpty() && catchUp == null && !machine.storeUnsynced()) {
      return false;
    }
    if (catchUp == null) {
      catchUp = new CatchUp();
      host.info("Replica " + name + " (id " + self + ") " + (missing.isEmpty() ? "syncs its store"
          : "fetches messages " + missing + " of snapshot " + snapshot.index() + " from replica " + m.from())
          + " before it installs snapshot " + snapshot.index());
    } else if (snapshot.index() < catchUp.message.snapshot().index()) {
      return true; // an older one: the newer one is being caught up
    }
    catchUp.message = m;
    catchUp.source = m.from();
    catchUp.missing = catchUp.fetched + missing.count();
    if (!catchUp.started) {
      catchUp.started = host.startCatchUp();
    }
    if (catchUp.started && catchUp.syncing == null && catchUp.requestId == 0) {
      continueCatchUp();
    }
    return true;
  }

  /**
   * Asks for the first range the store still lacks (from where the last answer left off: what
   * the source lacks too is gone from the stream, or repaired after); once none is left, syncs
   * what was fetched, then installs the snapshot.
   */
  private void continueCatchUp() {
    RangeSet missing = machine.missingFor(catchUp.message.snapshot().data());
    missing.removeBelow(catchUp.next);
    if (!missing.isEmpty()) {
      long[] first = missing.ranges().get(0);
      catchUp.requestId = nextRequestId++;
      catchUp.waited = 0;
      host.send(new StoreMessage.FetchRecords(self, catchUp.source, catchUp.requestId, first[0], first[1],
          FETCH_RECORDS_BYTES));
      return;
    }
    catchUp.requestId = 0;
    StoreSync job = machine.syncStore();
    if (job != null) {
      catchUp.syncing = job;
      host.syncStore(job);
      return;
    }
    if (machine.storeUnsynced()) {
      catchUp.awaitingSyncs = true; // syncs started before (a compaction's, a repair's) are still running
      return;
    }
    RaftMessage m = catchUp.message;
    catchUp = null;
    host.endCatchUp();
    checkStore = true;
    core.step(m);
  }

  private void onCatchUpRecords(StoreMessage.Records r) {
    for (byte[] record : r.records()) {
      machine.take(record);
      catchUp.fetchedBytes += record.length;
    }
    catchUp.fetched += r.records().size();
    if (r.records().isEmpty() && r.next() <= r.fromSeq()) {
      return; // the source cannot serve it now (it is behind): asked again, of the leader, after the timeout
    }
    // What the source does not hold (gone from its stream, or damaged there) is skipped here: the
    // snapshot's state says which of it the stream still holds, and those are repaired after.
    catchUp.next = Math.max(catchUp.next, r.next());
    continueCatchUp();
  }

  // =========================================================================================
  // Serving and repairing stores
  // =========================================================================================

  private void serve(StoreMessage.FetchRecords f) {
    RangeSet missing = new RangeSet();
    List<byte[]> records = machine.records(f.fromSeq(), f.toSeq(), f.bytesMax(), missing);
    long next = records.isEmpty() ? Math.min(f.toSeq(), machine.storeLastSeq()) + 1
        : machine.recordSeq(records.get(records.size() - 1)) + 1;
    host.send(new StoreMessage.Records(self, f.from(), f.requestId(), f.fromSeq(), records, next, missing.ranges()));
  }

  /** Recomputes what the store lacks, and tells the core whether it may lead (D7). */
  private void checkStore() {
    List<String> notes = machine.takeStoreNotes();
    notes.forEach(n -> host.warn("Replica " + name + " store: " + n));
    if (!checkStore && notes.isEmpty() || catchUp != null) {
      return;
    }
    checkStore = false;
    storeMissing = machine.missingLive();
    boolean damaged = !storeMissing.isEmpty() || !repairSyncing.isEmpty();
    // Applying may need facts about any message in the stream: with some missing from the store,
    // it waits until they are repaired — unless there is nobody to repair them from.
    boolean alone = core.membership().members().size() <= 1;
    core.holdApply(damaged && !alone);
    if (damaged != core.storeDamaged()) {
      if (damaged) {
        host.warn("Replica " + name + " (id " + self + ") lacks " + storeMissing.count() + " messages in its store ("
            + storeMissing + "): it repairs them from its peers and does not campaign until then");
      } else {
        host.info("Replica " + name + " (id " + self + ") has every message of its stream in its store again");
      }
      core.setStoreDamaged(damaged);
    }
  }

  /** Keeps a catch-up and a repair going: asks again, of another peer, when one goes unanswered; scrubs. */
  private void tickStore() {
    if (++storeCheckIn >= HOUSEKEEPING_TICKS) {
      storeCheckIn = 0;
      checkStore = true; // the applied state moves: messages the store lost may have come (back) into it
    }
    if (catchUp == null && scrubPerTick > 0) {
      scrubCursor = machine.scrub(scrubCursor, scrubPerTick);
      if (scrubCursor == 0) {
        scrubbedRounds++;
      }
    }
    if (catchUp != null && !catchUp.started) {
      catchUp.started = host.startCatchUp();
      if (catchUp.started) {
        continueCatchUp();
      }
    }
    if (catchUp != null && catchUp.syncing == null && catchUp.requestId != 0 && ++catchUp.waited > FETCH_TIMEOUT_TICKS) {
      if (core.leaderId() != 0 && core.leaderId() != self) {
        catchUp.source = core.leaderId();
      }
      continueCatchUp();
    }
    if (storeMissing.isEmpty()) {
      repair = null;
      return;
    }
    if (repair != null && ++repair.waited <= FETCH_TIMEOUT_TICKS) {
      return;
    }
    if (repair != null) {
      repairPeerTurn++; // that peer did not answer: the next ask goes to another
    }
    List<Integer> peers = otherMembers();
    if (peers.isEmpty()) {
      return;
    }
    repair = new Repair();
    repair.peer = peers.get(Math.floorMod(repairPeerTurn, peers.size()));
    repair.requestId = nextRequestId++;
    long[] first = storeMissing.ranges().get(0);
    host.send(new StoreMessage.FetchRecords(self, repair.peer, repair.requestId, first[0], first[1],
        FETCH_RECORDS_BYTES));
  }

  private void onRepairRecords(StoreMessage.Records r) {
    int taken = 0;
    for (byte[] record : r.records()) {
      if (machine.take(record)) {
        taken++;
      }
    }
    checkStore = true;
    repair = null;
    if (taken > 0) {
      repairGoneAt.clear();
      StoreSync job = machine.syncStore();
      if (job != null) {
        repairSyncing.add(job);
        host.syncStore(job);
      }
      return;
    }
    repairPeerTurn++; // that peer could not help: the next ask goes to another
    if (r.records().isEmpty() && !r.missing().isEmpty() && r.next() > r.fromSeq()) {
      if (r.fromSeq() != repairGoneFrom) {
        repairGoneAt.clear();
        repairGoneFrom = r.fromSeq();
      }
      repairGoneAt.add(r.from());
      if (repairGoneAt.containsAll(otherMembers()) && !core.snapshotNeeded()) {
        host.warn("Replica " + name + " (id " + self + ") lacks messages from " + r.fromSeq() + " that no peer holds any "
            + "more: it asks its leader for a snapshot past them");
        core.needSnapshot();
        if (core.role() == RaftCore.Role.LEADER) {
          handOverLeadership(); // nobody sends a leader a snapshot: it asks the next one
        }
      }
    }
  }

  // =========================================================================================
  // Membership and retirement
  // =========================================================================================

  /** One step toward {@link #desiredMembers}, if the last change is committed. */
  private void changeMembership() {
    if (desiredMembers == null || !core.membershipCommitted()) {
      return;
    }
    Membership m = core.membership();
    for (int member : m.members()) {
      if (!desiredMembers.contains(member) && member != self) {
        logChange("removes " + member, core.remove(member));
        return;
      }
    }
    for (int id : desiredMembers) {
      if (!m.contains(id)) {
        logChange("adds " + id + " as a learner", core.addLearner(id));
        return;
      }
      if (m.learners().contains(id)) {
        // Only once it holds nearly all that is committed: a voter still catching up counts
        // toward the quorum size without helping to reach it. A learner that needs a snapshot
        // acknowledges it only once it holds the messages it covers, so a match above 0 also
        // says its store is complete.
        long match = core.matchIndex(id);
        if (match > 0 && match + PROMOTE_LAG_MAX >= core.commitIndex()) {
          logChange("promotes " + id + " to voter", core.promote(id));
        }
        return;
      }
    }
    if (!desiredMembers.contains(self)) {
      // last: the others are in place; this leader steps down once it commits
      logChange("removes itself", core.remove(self));
    }
  }

  private void logChange(String what, ProposeResult result) {
    if (result instanceof ProposeResult.Accepted) {
      host.info("Replica " + name + " (id " + self + ") leads a membership change: it " + what);
    }
  }

  private List<Integer> otherMembers() {
    List<Integer> peers = new ArrayList<>(core.membership().members());
    peers.remove((Integer) self);
    return peers;
  }

  private void handOverLeadership() {
    core.membership().voters().stream().filter(v -> v != self).findFirst().ifPresent(core::transferLeadership);
  }

  /** Returns whether the replica stops now. */
  private boolean retire() {
    // A removed replica's leader stops writing to it at once, so it may never hear that its
    // removal committed. It does not leave on silence alone, though: silence may be a group that
    // is down, and a voter that leaves then can take the only intact copy of an entry with it
    // (sim seed 998647310154). It asks, every election timeout, and goes once a leader says its
    // removal is committed (sim seed 215: it had led its own removal and lost leadership).
    ticksWithoutLeader = core.hearsLeader() ? 0 : ticksWithoutLeader + 1;
    if (ticksWithoutLeader > 0 && ticksWithoutLeader % askToLeaveTicks == 0) {
      core.askToLeave();
    }
    // Only once its removal is committed: a leader that removes itself must stay until the rest
    // of the group has that change, or the group can be left without a quorum.
    boolean letGo = !core.membership().contains(self) && core.membershipCommitted() || core.leaveGranted();
    if (replaced && core.role() == RaftCore.Role.LEADER && --transferIn <= 0) {
      transferIn = HOUSEKEEPING_TICKS; // one try per second: each makes the target campaign
      handOverLeadership();
    }
    if (letGo || (replaced && core.role() != RaftCore.Role.LEADER)) {
      host.info("Replica " + name + " (id " + self + ") retires: the group no longer needs it");
      stopped = true;
      return true;
    }
    return false;
  }

}
