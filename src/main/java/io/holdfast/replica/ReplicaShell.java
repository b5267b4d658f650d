package io.holdfast.replica;

import io.holdfast.base.Prng;
import io.holdfast.node.NodeStorage;
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
import io.holdfast.storage.LogWrite;
import io.holdfast.storage.RecoveredState;
import io.holdfast.transport.CborMessage;
import io.holdfast.transport.PeerEnvelope;
import io.holdfast.transport.ReplicaHost;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.javadsl.AbstractBehavior;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.actor.typed.javadsl.Receive;

/**
 * The actor shell around one replica's {@link RaftCore} and its {@link ReplicatedMachine} — a
 * stream or the meta group (DESIGN.md §3): timer ticks, peer messages and proposals go in;
 * {@link #drainReady()} moves the effects out — durable writes to the node's
 * {@link NodeStorage} (messages held by a write are sent only once it is persisted), messages to
 * peers, committed entries to the state machine and to the proposers waiting for them. No protocol
 * decisions are made here.
 *
 * <p>Phases: recovering (asks NodeStorage for what the disk holds, stashes everything else), then
 * running. A storage failure stops the replica (D10). Peers are given by {@link Connect}: the
 * {@link ReplicaHost} of each peer's node, local or across Artery.
 */
public final class ReplicaShell extends AbstractBehavior<ReplicaShell.Command> {
  public sealed interface Command {}

  /**
   * Append {@code proposal}; answered with {@link Applied} once it is committed (fsynced on a
   * majority) and applied, or refused at once. Proposals that reach the leader between two
   * log appends share one entry (up to the machine's batch limit).
   */
  public record Propose(Wire.Proposal proposal, ActorRef<ProposeReply> replyTo) implements Command, CborMessage {}

  @com.fasterxml.jackson.annotation.JsonTypeInfo(use = com.fasterxml.jackson.annotation.JsonTypeInfo.Id.NAME,
      property = "t")
  @com.fasterxml.jackson.annotation.JsonSubTypes({
      @com.fasterxml.jackson.annotation.JsonSubTypes.Type(value = Applied.class, name = "applied"),
      @com.fasterxml.jackson.annotation.JsonSubTypes.Type(value = Refused.class, name = "refused"),
      @com.fasterxml.jackson.annotation.JsonSubTypes.Type(value = Superseded.class, name = "superseded"),
      @com.fasterxml.jackson.annotation.JsonSubTypes.Type(value = Invalid.class, name = "invalid")})
  public sealed interface ProposeReply extends CborMessage {}

  /** Committed and applied by the leader {@code leader}; {@code outcome} says what it did. */
  public record Applied(Wire.Outcome outcome, ActorRef<Command> leader) implements ProposeReply {}

  /** Not appended: try {@code leaderHint} (0 if unknown) — or the reason says why not. */
  public record Refused(ProposeResult.Reason reason, int leaderHint) implements ProposeReply {}

  /** Appended, then lost to a leader change or covered by a snapshot: the outcome is unknown. */
  public record Superseded(long index) implements ProposeReply {}

  /** Refused for what it is (e.g. too large); retrying will not help. */
  public record Invalid(String reason) implements ProposeReply {}

  /**
   * A read from this replica's applied (committed, D4) state. With {@code leaderOnly} a replica
   * that is not the leader answers {@link Wire.NotLeader} instead.
   */
  public record Read(Wire.Query query, boolean leaderOnly, ActorRef<Wire.ReadReply> replyTo)
      implements Command, CborMessage {}

  /**
   * Where the peers are: replica id → the {@link ReplicaHost} of its node (local or remote). This
   * replica registers itself with {@code localHost} to receive what its peers send it.
   */
  public record Connect(Map<Integer, ActorRef<ReplicaHost.Command>> peers, ActorRef<ReplicaHost.Command> localHost,
      Map<Integer, ActorRef<ReplicaHost.Command>> largePeers) implements Command {
    /** Snapshots go the same way as everything else (fine in one JVM, or while they fit a frame). */
    public Connect(Map<Integer, ActorRef<ReplicaHost.Command>> peers, ActorRef<ReplicaHost.Command> localHost) {
      this(peers, localHost, peers);
    }
  }

  /**
   * Compact the log once the entries applied since the last snapshot carry {@code afterBytes} (and
   * at least as many as that snapshot, so snapshotting costs O(1) per byte written), unless the
   * state's snapshot would exceed {@code snapshotBytesMax}. Off until told.
   */
  public record Compaction(long afterBytes, long snapshotBytesMax) implements Command {}

  public record FromPeer(RaftMessage message) implements Command {}

  /**
   * The configuration the control plane holds for this group (a stream's limits, from the meta
   * group). The leader proposes what {@link ReplicatedMachine#toward} says until the applied state
   * has it, so every replica changes configuration at the same point of the log.
   */
  public record Configure(Object desired) implements Command {}

  /**
   * The replicas the group should have (the meta group's placement). The leader moves the group
   * there one single-server change at a time: remove a member not wanted (itself last of all: it
   * steps down once that commits), add a wanted node as a learner, promote a wanted learner.
   */
  public record Members(List<Integer> desired) implements Command {}

  /**
   * This node no longer holds a replica of the group: stop once the group has let it go (a
   * committed membership no longer names it) or no leader has been heard of for a long while.
   */
  public enum Retire implements Command {
    INSTANCE,
    /**
     * As {@link #INSTANCE}, and a new member replaces this replica on its node (placed again, a
     * new id), which starts only once this one stopped: stop as soon as this replica does not
     * lead (a removed follower may never hear that its removal committed); a leader first hands
     * its leadership to another voter, which then removes this replica's id.
     */
    REPLACED
  }

  public record GetStatus(ActorRef<Status> replyTo) implements Command, CborMessage {}

  /**
   * @param recoveringLostTail see {@link RaftCore#recoveringLostTail()}
   * @param voters the voting members in this replica's view (replica ids: {@code ReplicaIds})
   */
  public record Status(int id, RaftCore.Role role, long term, int leader, long commitIndex, long appliedIndex,
      boolean recoveringLostTail, List<Integer> voters) implements CborMessage {}

  private enum Tick implements Command { INSTANCE }

  /** Marks the end of the proposals already in the mailbox: append them as one batch. */
  private enum ProposeBatch implements Command { INSTANCE }

  private record FromStorage(NodeStorage.Reply reply) implements Command {}

  private record RecoveredFromDisk(NodeStorage.Recovered recovered) implements Command {}

  private record Waiting(long term, List<ActorRef<ProposeReply>> proposers) {}

  /**
   * A batch is one log entry, and an entry must fit one transport frame (Artery's default maximum
   * frame is 256 KiB; replication messages carry at least one entry). Larger messages will need
   * chunking or Artery's large-message channel.
   */
  public static final int BATCH_BYTES_MAX = 160 << 10;

  /** A write sent to storage and not yet persisted; {@code request} is null for the bootstrap write. */
  private record Unpersisted(LogWrite write, PersistRequest request) {}

  private final String name;
  /** Where its log lives on the node: the group's name, or a fresh one for a node that rejoins the group. */
  private final String storageName;
  private final int self;
  private final ActorRef<NodeStorage.Command> storage;
  private final ActorRef<NodeStorage.Reply> storageReplies;
  private final RaftCore core;
  private Map<Integer, ActorRef<ReplicaHost.Command>> peers = Map.of();
  private Map<Integer, ActorRef<ReplicaHost.Command>> largePeers = Map.of();
  private Compaction compaction = new Compaction(Long.MAX_VALUE, Long.MAX_VALUE);
  private long appliedBytesSinceSnapshot;
  private long lastSnapshotBytes;
  private boolean warnedSnapshotTooLarge;
  /** By write sequence number: what to resend if storage lost writes, what to report when persisted. */
  private final TreeMap<Long, Unpersisted> unpersisted = new TreeMap<>();
  private long nextWriteSeq = 1;
  private long unpersistedBytes;
  /** Bytes written to storage and not yet persisted, at most, before new proposals are refused. */
  static final long UNPERSISTED_BYTES_MAX = 64L << 20;
  private long lastPersistedSeq;
  private final TreeMap<Long, Waiting> waiting = new TreeMap<>();
  private final ArrayList<Propose> pending = new ArrayList<>();
  private long pendingBytes;
  /** {@link ReplicatedMachine#batchKind} of what {@link #pending} holds. */
  private int pendingKind;
  private final ReplicatedMachine machine;
  private ActorRef<ReplicaHost.Command> localHost;
  private Object desired;
  private List<Integer> desiredMembers;
  private boolean retiring;
  private boolean replaced;
  private int transferIn;
  private int ticksWithoutLeader;
  /** A retiring replica that hears of no leader for this many ticks has been let go. */
  private static final int RETIRE_AFTER_SILENT_TICKS = 200;
  /** Ticks until the leader next checks configuration and housekeeping (expiry). */
  private int housekeepingIn;
  private static final int HOUSEKEEPING_TICKS = 20;

  /**
   * @param name the replica group's name: its storage name (unique on its node) and its address
   *     on {@link ReplicaHost}s
   * @param self the replica id; {@code initial} is the group's membership if the disk is new
   */
  public static Behavior<Command> create(String name, int self, Membership initial, RaftSettings settings,
      Duration tickInterval, ActorRef<NodeStorage.Command> storage, long seed, ReplicatedMachine machine) {
    return create(name, name, self, initial, settings, tickInterval, storage, seed, machine);
  }

  /**
   * As above, with the log stored under {@code storageName}: a node that rejoins a group it was
   * removed from starts a new log there, never its old one (D9).
   */
  public static Behavior<Command> create(String name, String storageName, int self, Membership initial,
      RaftSettings settings, Duration tickInterval, ActorRef<NodeStorage.Command> storage, long seed,
      ReplicatedMachine machine) {
    return Behaviors.withStash(10_000, stash -> Behaviors.withTimers(timers -> Behaviors.setup(ctx -> {
      ActorRef<NodeStorage.Recovered> adapter = ctx.messageAdapter(NodeStorage.Recovered.class, RecoveredFromDisk::new);
      storage.tell(new NodeStorage.GetRecovered(adapter));
      return Behaviors.receive(Command.class)
          .onMessage(RecoveredFromDisk.class, r -> {
            ReplicaShell shell = new ReplicaShell(ctx, name, storageName, self, settings, storage,
                r.recovered().states().get(storageName), r.recovered().lostTailTerm(), initial, seed, machine);
            timers.startTimerAtFixedRate(Tick.INSTANCE, tickInterval);
            return stash.unstashAll(shell);
          })
          .onAnyMessage(m -> {
            stash.stash(m);
            return Behaviors.same();
          })
          .build();
    })));
  }

  private ReplicaShell(ActorContext<Command> ctx, String name, String storageName, int self, RaftSettings settings,
      ActorRef<NodeStorage.Command> storage, RecoveredState disk, long nodeLostTailTerm, Membership initial, long seed,
      ReplicatedMachine machine) {
    super(ctx);
    this.name = name;
    this.storageName = storageName;
    this.self = self;
    this.machine = machine;
    this.storage = storage;
    this.storageReplies = ctx.messageAdapter(NodeStorage.Reply.class, FromStorage::new);
    if (disk == null) {
      // A new replica: its first durable write is the group's initial snapshot (bootstrap). On a
      // node that lost a synced tail, it may instead be one whose records were all in that tail.
      Snapshot bootstrap = Snapshot.initial(initial);
      this.core = RaftCore.restart(settings, self, HardState.INITIAL, bootstrap, List.of(), new java.util.TreeMap<>(),
          false, nodeLostTailTerm, Prng.of(seed));
      write(new LogWrite(null, bootstrap, 0, List.of()), null);
    } else {
      this.core = RaftCore.restart(settings, self, disk.hardState(), disk.snapshot(), disk.entries(), disk.faulty(),
          disk.snapshotFaulty(), disk.lostTailTerm(), Prng.of(seed));
      machine.restore(disk.snapshot().data());
    }
    recoveringLostTail = core.recoveringLostTail();
    if (recoveringLostTail) {
      ctx.getLog().warn("Replica {} (id {}) may have lost entries and votes with a cut-off WAL tail: it follows,"
          + " but does not vote until it holds an entry of a term after {}", name, self,
          disk == null ? nodeLostTailTerm : disk.lostTailTerm());
    }
  }

  @Override
  public Receive<Command> createReceive() {
    return newReceiveBuilder()
        .onMessageEquals(Tick.INSTANCE, this::onTick)
        .onMessage(FromPeer.class, this::onFromPeer)
        .onMessage(Propose.class, this::onPropose)
        .onMessageEquals(ProposeBatch.INSTANCE, this::onProposeBatch)
        .onMessage(FromStorage.class, this::onFromStorage)
        .onMessage(Connect.class, this::onConnect)
        .onMessage(Compaction.class, c -> {
          compaction = c;
          return this;
        })
        .onMessage(Members.class, m -> {
          desiredMembers = List.copyOf(m.desired());
          housekeepingIn = 0;
          return this;
        })
        .onMessage(Retire.class, r -> {
          retiring = true;
          replaced |= r == Retire.REPLACED;
          return this;
        })
        .onMessage(Configure.class, c -> {
          desired = c.desired();
          housekeepingIn = 0;
          return this;
        })
        .onMessage(Read.class, this::onRead)
        .onMessage(GetStatus.class, this::onGetStatus)
        .onSignal(org.apache.pekko.actor.typed.PostStop.class, s -> onStop())
        .build();
  }

  /** Logged once when the replica stops recovering a lost tail. */
  private boolean recoveringLostTail;

  private Behavior<Command> onTick() {
    core.tick();
    if (recoveringLostTail && !core.recoveringLostTail()) {
      recoveringLostTail = false;
      getContext().getLog().info("Replica {} (id {}) recovered what a cut-off WAL tail took: it votes again", name,
          self);
    }
    if (retiring) {
      ticksWithoutLeader = core.leaderId() == 0 ? ticksWithoutLeader + 1 : 0;
      // Only once its removal is committed: a leader that removes itself must stay until the rest
      // of the group has that change, or the group can be left without a quorum.
      boolean letGo = !core.membership().contains(self) && core.membershipCommitted();
      if (replaced && core.role() == RaftCore.Role.LEADER && --transferIn <= 0) {
        transferIn = HOUSEKEEPING_TICKS; // one try per second: each makes the target campaign
        core.membership().voters().stream().filter(v -> v != self).findFirst().ifPresent(core::transferLeadership);
      }
      if (letGo || ticksWithoutLeader > RETIRE_AFTER_SILENT_TICKS
          || (replaced && core.role() != RaftCore.Role.LEADER)) {
        getContext().getLog().info("Replica {} (id {}) retires: the group no longer needs it", name, self);
        return Behaviors.stopped();
      }
    }
    if (core.role() == RaftCore.Role.LEADER && --housekeepingIn <= 0) {
      housekeepingIn = HOUSEKEEPING_TICKS;
      changeMembership();
      ActorRef<ProposeReply> ignore = getContext().getSystem().ignoreRef();
      Wire.Proposal change = desired == null ? null : machine.toward(desired);
      if (change != null) {
        onPropose(new Propose(change, ignore));
      }
      Wire.Proposal chore = machine.housekeeping(System.currentTimeMillis());
      if (chore != null) {
        onPropose(new Propose(chore, ignore));
      }
    }
    return drainReady();
  }

  private Behavior<Command> onFromPeer(FromPeer m) {
    core.step(m.message());
    return drainReady();
  }

  private Behavior<Command> onPropose(Propose p) {
    if (core.role() != RaftCore.Role.LEADER) {
      p.replyTo().tell(new Refused(ProposeResult.Reason.NOT_LEADER, core.leaderId()));
      return this;
    }
    String invalid = machine.invalid(p.proposal());
    if (invalid != null) {
      p.replyTo().tell(new Invalid(invalid));
      return this;
    }
    if (unpersistedBytes >= UNPERSISTED_BYTES_MAX) {
      // Storage is behind: push back on the proposer (it retries within its deadline) rather than
      // hold without bound what the disk has not taken yet.
      p.replyTo().tell(new Refused(ProposeResult.Reason.TOO_MANY_UNCOMMITTED, self));
      return this;
    }
    long bytes = machine.sizeOf(p.proposal());
    boolean alone = machine.alone(p.proposal());
    int kind = machine.batchKind(p.proposal());
    if (pendingBytes + bytes > BATCH_BYTES_MAX || alone || (!pending.isEmpty() && kind != pendingKind)) {
      onProposeBatch();
    }
    pendingKind = kind;
    if (alone) {
      pending.add(p);
      return onProposeBatch();
    }
    if (pending.isEmpty()) {
      getContext().getSelf().tell(ProposeBatch.INSTANCE);
    }
    pending.add(p);
    pendingBytes += bytes;
    return pending.size() >= machine.batchMax() ? onProposeBatch() : this;
  }

  /** One log entry for every proposal that arrived since the last one; the leader stamps the time. */
  private Behavior<Command> onProposeBatch() {
    if (pending.isEmpty()) {
      return this;
    }
    List<Wire.Proposal> proposals = new ArrayList<>(pending.size());
    List<ActorRef<ProposeReply>> proposers = new ArrayList<>(pending.size());
    for (Propose p : pending) {
      proposals.add(p.proposal());
      proposers.add(p.replyTo());
    }
    pending.clear();
    pendingBytes = 0;
    ProposeResult result = core.propose(machine.encode(proposals, System.currentTimeMillis()));
    if (result instanceof ProposeResult.Accepted a) {
      waiting.put(a.index(), new Waiting(a.term(), proposers));
    } else {
      ProposeResult.Rejected r = (ProposeResult.Rejected) result;
      proposers.forEach(p -> p.tell(new Refused(r.reason(), r.leaderHint())));
    }
    return drainReady();
  }

  /** How many committed entries a learner may still lack when it is promoted (a few appends' worth). */
  private static final long PROMOTE_LAG_MAX = 1024;

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
        // toward the quorum size without helping to reach it.
        if (core.matchIndex(id) + PROMOTE_LAG_MAX >= core.commitIndex()) {
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
      getContext().getLog().info("Replica {} (id {}) leads a membership change: it {}", name, self, what);
    }
  }

  private Behavior<Command> onConnect(Connect c) {
    peers = Map.copyOf(c.peers());
    largePeers = Map.copyOf(c.largePeers());
    if (localHost == null) {
      localHost = c.localHost();
      ActorRef<Command> me = getContext().getSelf();
      localHost.tell(new ReplicaHost.Register(name, me, m -> me.tell(new FromPeer(m))));
    }
    return this;
  }

  private Behavior<Command> onRead(Read r) {
    if (r.leaderOnly() && core.role() != RaftCore.Role.LEADER) {
      r.replyTo().tell(new Wire.NotLeader(core.leaderId()));
      return this;
    }
    if (r.leaderOnly() && !core.leaderReadable()) {
      // Elected, but nothing of its term committed yet: its state may be stale (found by the
      // fault campaign: after a whole-cluster restart, a new meta leader answered with an empty
      // state, and publishes were refused with "no stream"). Ask again shortly.
      r.replyTo().tell(new Wire.NotLeader(-1));
      return this;
    }
    Wire.ReadReply reply = machine.read(r.query());
    if (reply instanceof Wire.Info i) {
      reply = new Wire.Info(i.state(), i.limits(), status());
    }
    r.replyTo().tell(reply);
    return this;
  }

  private Behavior<Command> onGetStatus(GetStatus g) {
    g.replyTo().tell(status());
    return this;
  }

  private Status status() {
    return new Status(self, core.role(), core.term(), core.leaderId(), core.commitIndex(), core.appliedIndex(),
        core.recoveringLostTail(), List.copyOf(core.membership().voters()));
  }

  private Behavior<Command> onStop() {
    if (localHost != null) {
      localHost.tell(new ReplicaHost.Unregister(name, getContext().getSelf()));
    }
    return this;
  }
  private Behavior<Command> onFromStorage(FromStorage f) {
    NodeStorage.Reply reply = f.reply();
    if (reply instanceof NodeStorage.Persisted p) {
      while (!unpersisted.isEmpty() && unpersisted.firstKey() <= p.seq()) {
        Unpersisted u = unpersisted.pollFirstEntry().getValue();
        unpersistedBytes -= u.write().weightBytes();
        PersistRequest done = u.request();
        if (done != null) {
          core.onPersisted(done);
          done.messagesAfterPersist().forEach(this::send);
        }
      }
      lastPersistedSeq = Math.max(lastPersistedSeq, p.seq());
      return drainReady();
    }
    if (reply instanceof NodeStorage.ResendFrom r) {
      resendFrom(r.seq());
      return this;
    }
    NodeStorage.StorageStopped stopped = (NodeStorage.StorageStopped) reply;
    getContext().getLog().error("Replica {} stops: its storage stopped ({})", name, stopped.reason());
    return Behaviors.stopped();
  }

  /** The term in which this replica last logged that it leads (leadership changes are rare: logged). */
  private long ledInTerm;

  /** The only place effects leave the core. */
  private Behavior<Command> drainReady() {
    if (core.role() == RaftCore.Role.LEADER && core.term() != ledInTerm) {
      ledInTerm = core.term();
      getContext().getLog().info("Replica {} (id {}) leads in term {}", name, self, ledInTerm);
    }
    while (core.hasReady()) {
      Ready ready = core.ready();
      if (ready.persist() != null) {
        PersistRequest p = ready.persist();
        write(new LogWrite(p.hardState(), p.snapshot(), p.entriesFrom(), p.entries(), p.repaired()), p);
      }
      ready.messages().forEach(this::send);
      if (ready.snapshotToApply() != null) {
        machine.restore(ready.snapshotToApply().data());
      }
      for (LogEntry e : ready.committed()) {
        apply(e);
        appliedBytesSinceSnapshot += e.data().length;
      }
      // An erased message: overwrite this replica's copies, and snapshot now so that no snapshot
      // kept on disk holds it (the store zeros the older snapshot files as the new one replaces them).
      List<ReplicatedMachine.Erasure> erasures = machine.takeErasures();
      for (ReplicatedMachine.Erasure x : erasures) {
        storage.tell(new NodeStorage.Erase(storageName, x.index(), x.term(), x.region()));
      }
      boolean due = !erasures.isEmpty()
          || appliedBytesSinceSnapshot >= Math.max(compaction.afterBytes(), lastSnapshotBytes);
      if ((ready.snapshotRequested() || due) && core.appliedIndex() >= core.firstIndex()) {
        compact();
      }
    }
    return this;
  }

  /** Snapshots the applied state into the core (which persists it and drops the log before it). */
  private void compact() {
    byte[] snapshot = machine.snapshot();
    appliedBytesSinceSnapshot = 0;
    if (snapshot.length > compaction.snapshotBytesMax()) {
      if (!warnedSnapshotTooLarge) {
        warnedSnapshotTooLarge = true;
        getContext().getLog().warn("Replica {} keeps its whole log: its state ({} bytes) exceeds the snapshot maximum"
            + " of {} bytes; give the stream limits", name, snapshot.length, compaction.snapshotBytesMax());
      }
      return;
    }
    lastSnapshotBytes = snapshot.length;
    core.compact(core.appliedIndex(), snapshot);
  }

  /** Sends a durable write; {@code request} (null for bootstrap) is reported to the core when persisted. */
  private void write(LogWrite w, PersistRequest request) {
    long seq = nextWriteSeq++;
    unpersisted.put(seq, new Unpersisted(w, request));
    unpersistedBytes += w.weightBytes();
    storage.tell(new NodeStorage.Write(storageName, seq, lastPersistedSeq, w, storageReplies));
  }

  /** Storage restarted and lost writes: send again, in order, every one not yet persisted from {@code seq}. */
  private void resendFrom(long seq) {
    for (var e : unpersisted.tailMap(seq, true).entrySet()) {
      storage.tell(new NodeStorage.Write(storageName, e.getKey(), lastPersistedSeq, e.getValue().write(),
          storageReplies));
    }
  }

  private void send(RaftMessage m) {
    ActorRef<ReplicaHost.Command> host = (ReplicaHost.large(m) ? largePeers : peers).get(m.to());
    if (host != null) {
      host.tell(new PeerEnvelope(name, m));
    }
  }

  private void apply(LogEntry e) {
    List<Wire.Outcome> outcomes = machine.apply(e);
    Waiting w = waiting.remove(e.index());
    if (w != null) {
      ActorRef<Command> me = getContext().getSelf();
      for (int i = 0; i < w.proposers().size(); i++) {
        boolean ours = w.term() == e.term() && i < outcomes.size();
        w.proposers().get(i).tell(ours ? new Applied(outcomes.get(i), me) : new Superseded(e.index()));
      }
    }
    // Proposals at lower indexes that were never applied one by one (a snapshot covered them).
    for (Waiting stale : waiting.headMap(e.index()).values()) {
      stale.proposers().forEach(p -> p.tell(new Superseded(e.index())));
    }
    waiting.headMap(e.index()).clear();
  }
}
