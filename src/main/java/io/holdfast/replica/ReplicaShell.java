package io.holdfast.replica;

import io.holdfast.meta.ReplicaIds;
import io.holdfast.storage.EntryRegion;
import io.holdfast.base.Prng;
import io.holdfast.node.NodeStorage;
import io.holdfast.raft.PersistRequest;
import io.holdfast.raft.ProposeResult;
import io.holdfast.raft.RaftSettings;
import io.holdfast.raft.message.Membership;
import io.holdfast.raft.message.RaftMessage;
import io.holdfast.storage.LogWrite;
import io.holdfast.storage.StoreMessage;
import io.holdfast.storage.StoreSync;
import io.holdfast.stream.StreamLimits;
import io.holdfast.transport.CborMessage;
import io.holdfast.transport.PeerEnvelope;
import io.holdfast.transport.ReplicaHost;
import io.holdfast.transport.StoreEnvelope;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.javadsl.AbstractBehavior;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.actor.typed.javadsl.Receive;
import org.apache.pekko.actor.typed.javadsl.TimerScheduler;

/**
 * The actor shell around one replica's {@link ReplicaDriver}, which makes every decision: this
 * only moves its effects — durable writes to the node's {@link NodeStorage} (numbered, so a
 * restarted storage actor can ask for what it lost), messages to peers' {@link ReplicaHost}s (the
 * large-message channel for snapshots and store records), fsyncs of the message store on a
 * blocking dispatcher, answers to proposers — and feeds it ticks, peer messages, proposals and
 * completions (DESIGN.md §3).
 *
 * <p>Phases: recovering (asks NodeStorage for what the disk holds, stashes everything else), then
 * running. A storage failure stops the replica (D10). Peers are given by {@link Connect}.
 */
public final class ReplicaShell extends AbstractBehavior<ReplicaShell.Command> {
  public sealed interface Command {}

  /**
   * Append {@code proposal}; answered with {@link Applied} once it is committed (fsynced on a
   * majority) and applied, or refused at once. Proposals that reach the leader between two
   * log appends share one entry (up to the machine's batch limit).
   */
  public record Propose(Wire.Proposal proposal, ActorRef<ProposeReply> replyTo, long ticket)
      implements Command, CborMessage {
    public Propose(Wire.Proposal proposal, ActorRef<ProposeReply> replyTo) {
      this(proposal, replyTo, 0);
    }
  }

  /**
   * Proposals taken in one turn, in order: those another node forwards together
   * (server.ProposalForwarder), so that they share log entries as proposals made on this node do,
   * or one of this node's router waiting for its outcome. One with a {@code ticket} (not 0) is
   * answered through {@code repliesVia} (the proposing router's reply desk), in a {@link Replies}
   * with that ticket; one without, on its own {@code replyTo}.
   */
  public record ProposeAll(List<Propose> proposals, ActorRef<Replies> repliesVia) implements Command, CborMessage {
    public ProposeAll(List<Propose> proposals) {
      this(proposals, null);
    }
  }

  /**
   * Replies to one router's proposers, sent as one message to the {@code repliesVia} (its reply
   * desk) named in its {@link ProposeAll}, which tells each proposer by its ticket. One per reply, a
   * node's NATS publishes cost one remote message each on their way back (Artery's dispatcher took
   * half the CPU samples of such a node). By ticket, not by the proposer's ref: an ask's temporary
   * ref written out and resolved again on each side (a URI parse) took 13% of the CPU samples of
   * both the leader and the node its NATS clients were on.
   */
  public record Replies(List<Routed> replies) {}

  public record Routed(long ticket, ProposeReply reply) {}

  /** Who hears a proposal's outcome: {@code ref}, or the reply desk {@code via} by {@code ticket}. */
  record Proposer(ActorRef<ProposeReply> ref, ActorRef<Replies> via, long ticket) {}

  /**
   * A Replies message stays well under Artery's frame: at most this many bytes by {@link
   * #weight} (a fetch's reply, up to 320 KiB of messages, goes alone; a reply without messages is counted
   * as 256 bytes, its two refs included), or a single reply.
   */
  static final long REPLIES_BYTES = 96 << 10;

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
   * Where the peers are: node id → the {@link ReplicaHost} of that node (local or remote); a
   * message to replica id {@code r} goes to node {@link ReplicaIds#node}{@code (r)}. By node, not
   * by the placement's replica ids, so that a replica can answer any replica that writes to it —
   * one already removed from the group asking whether it may leave, say. This replica registers
   * itself with {@code localHost} to receive what its peers send it.
   */
  public record Connect(Map<Integer, ActorRef<ReplicaHost.Command>> peers, ActorRef<ReplicaHost.Command> localHost,
      Map<Integer, ActorRef<ReplicaHost.Command>> largePeers) implements Command {
    /** Snapshots go the same way as everything else (fine in one JVM, or while they fit a frame). */
    public Connect(Map<Integer, ActorRef<ReplicaHost.Command>> peers, ActorRef<ReplicaHost.Command> localHost) {
      this(peers, localHost, peers);
    }
  }

  /** See {@link ReplicaDriver#compaction}. Off until told. */
  public record Compaction(long afterBytes) implements Command {}

  /** See {@link ReplicaDriver#followPublishers}. Off until told. */
  public record FollowPublishers(int minPerRound) implements Command {}

  public record FromPeer(RaftMessage message) implements Command {}

  public record FromPeerStore(StoreMessage message) implements Command {}

  /** See {@link ReplicaDriver#configure}. */
  public record Configure(StreamLimits desired) implements Command {}

  /** See {@link ReplicaDriver#members}. */
  public record Members(List<Integer> desired) implements Command {}

  /** See {@link ReplicaDriver#retire}: {@link #REPLACED} when a new member replaces this one on its node. */
  public enum Retire implements Command {
    INSTANCE,
    REPLACED
  }

  public record GetStatus(ActorRef<ReplicaDriver.Status> replyTo) implements Command, CborMessage {}

  private enum Tick implements Command { INSTANCE }

  /** Marks the end of the proposals already in the mailbox: append them as one batch. */
  private enum ProposeBatch implements Command { INSTANCE }

  /** Sends the replies gathered for other nodes since the last one (see {@link Replies}). */
  private enum FlushReplies implements Command { INSTANCE }

  /** What the node's storage actor answered (package-private for tests). */
  record FromStorage(NodeStorage.Reply reply) implements Command {}

  private record RecoveredFromDisk(NodeStorage.Recovered recovered) implements Command {}

  /** The node's storage actor stopped: nothing more can be persisted (it never stops of a store failure). */
  private enum StorageGone implements Command { INSTANCE }

  private record StoreSynced(StoreSync job, Throwable failure) implements Command {}

  /** A write sent to storage and not yet persisted; {@code request} is null for the bootstrap write. */
  private record Unpersisted(LogWrite write, PersistRequest request) {}

  private final String name;
  private final int self;
  private final String storageName;
  private final ActorRef<NodeStorage.Command> storage;
  private final ActorRef<NodeStorage.Reply> storageReplies;
  /** Where the node's ReplicaHost delivers what peers send this replica (message adapters). */
  private final ActorRef<RaftMessage> raftInbox;
  private final ActorRef<StoreMessage> storeInbox;
  private final Executor blocking;
  private final ReplicaDriver<Proposer> driver;
  /** Whether this node's disk is nearly full (publishes are refused then). */
  private final io.holdfast.node.DiskGuard diskGuard;
  private final Runnable onStop;
  private Map<Integer, ActorRef<ReplicaHost.Command>> peers = Map.of();
  /** Which peer node each remote address is ({@link Host#origin}); 0: none of them. Cleared with {@link #peers}. */
  private final Map<org.apache.pekko.actor.Address, Integer> nodeAt = new java.util.HashMap<>();
  private Map<Integer, ActorRef<ReplicaHost.Command>> largePeers = Map.of();
  /** By write sequence number: what to resend if storage lost writes, what to report when persisted. */
  private final TreeMap<Long, Unpersisted> unpersisted = new TreeMap<>();
  private long nextWriteSeq = 1;
  private long lastPersistedSeq;
  private ActorRef<ReplicaHost.Command> localHost;
  private boolean failed;

  /**
   * @param name the replica group's name: its address on {@link ReplicaHost}s
   * @param storageName where its log lives on the node: the group's name, or a fresh one for a node
   *     that rejoins the group (D9)
   * @param self the replica id; {@code initial} is the group's membership if the disk is new
   * @param machine its state machine; {@code onStop} runs when the replica stops (closes its store)
   * @param blocking where the message store's fsyncs run
   */
  public static Behavior<Command> create(String name, String storageName, int self, Membership initial,
      RaftSettings settings, Duration tickInterval, ActorRef<NodeStorage.Command> storage, long seed,
      ReplicatedMachine machine, Executor blocking, Runnable onStop, Clock clock) {
    return Behaviors.withStash(10_000, stash -> Behaviors.withTimers(timers -> Behaviors.setup(ctx -> {
      ActorRef<NodeStorage.Recovered> adapter = ctx.messageAdapter(NodeStorage.Recovered.class, RecoveredFromDisk::new);
      ctx.watchWith(storage, StorageGone.INSTANCE);
      storage.tell(new NodeStorage.GetRecovered(adapter));
      return Behaviors.receive(Command.class)
          .onMessageEquals(StorageGone.INSTANCE, () -> {
            if (!shuttingDown(ctx)) {
              ctx.getLog().error("Replica {} (id {}) cannot start: the node's storage actor stopped", name, self);
            }
            onStop.run();
            return Behaviors.stopped();
          })
          .onMessage(RecoveredFromDisk.class, r -> {
            ReplicaShell shell;
            try {
              shell = new ReplicaShell(ctx, name, storageName, self, settings, storage, r.recovered(), initial, seed,
                  machine, blocking, onStop);
            } catch (RuntimeException e) {
              ctx.getLog().error("Replica {} (id {}) cannot start: {}", name, self, e.getMessage(), e);
              onStop.run();
              return Behaviors.stopped();
            }
            shell.clock(timers, tickInterval, clock);
            return stash.unstashAll(shell);
          })
          .onAnyMessage(m -> {
            stash.stash(m);
            return Behaviors.same();
          })
          .build();
    })));
  }

  /** As above, for a group named as it is stored, with the store's fsyncs on the default dispatcher. */
  public static Behavior<Command> create(String name, int self, Membership initial, RaftSettings settings,
      Duration tickInterval, ActorRef<NodeStorage.Command> storage, long seed, ReplicatedMachine machine,
      Clock clock) {
    return create(name, name, self, initial, settings, tickInterval, storage, seed, machine,
        java.util.concurrent.ForkJoinPool.commonPool(), () -> { }, clock);
  }

  /**
   * The shell's only source of time: the monotonic clock that counts the ticks a late timer owes,
   * and the wall clock the driver stamps publishes and expires messages by. {@link #SYSTEM} in
   * production; a test that drives the actor system's timers by hand (Pekko's ManualTime) passes
   * a clock it advances together with them, so the replica sees one consistent time.
   */
  public interface Clock {
    long nanos();

    long millis();

    Clock SYSTEM = new Clock() {
      @Override
      public long nanos() {
        return System.nanoTime();
      }

      @Override
      public long millis() {
        return System.currentTimeMillis();
      }
    };
  }

  /**
   * Ticks a quiet follower gets at once, every this many tick intervals ({@link ReplicaDriver#quiet}):
   * 1,000 stream replicas each woken every 50 ms by its own timer kept 40 % of a core busy per node
   * with nothing to do. 5 x 50 ms: a dead leader is noticed at most 250 ms later (election timeout
   * 1-2 s).
   */
  static final int QUIET_TICKS = 5;

  private TimerScheduler<Command> timers;
  private Clock clock;
  private long tickNanos;
  /** When the driver last ticked, in ticks' worth of nanos: a tick arriving late delivers the ticks it owes. */
  private long tickedAt;
  /** Whether the timer is set for a quiet follower's batch. */
  private boolean batching;
  /** Leader reads waiting for what was appended before them ({@link ReplicaDriver#readBarrier}), in arrival order. */
  private final java.util.ArrayDeque<HeldRead> heldReads = new java.util.ArrayDeque<>();

  private record HeldRead(long barrier, Read read) {}

  /** Beyond this many held reads, a read is answered at once from the applied state (bounded memory over staleness). */
  private static final int HELD_READS_MAX = 10_000;

  private void clock(TimerScheduler<Command> timers, Duration tickInterval, Clock clock) {
    this.timers = timers;
    this.clock = clock;
    this.tickNanos = tickInterval.toNanos();
    this.tickedAt = clock.nanos();
    timers.startSingleTimer(Tick.INSTANCE, tickInterval);
  }

  private Behavior<Command> onTick() {
    long owed = Math.max(1, Math.min(QUIET_TICKS, (clock.nanos() - tickedAt + tickNanos / 2) / tickNanos));
    tickedAt = clock.nanos();
    batching = false; // the timer is set below, once, for what the driver is after these ticks
    Behavior<Command> next = next(() -> {
      for (long i = 0; i < owed && !driver.stopped(); i++) {
        driver.tick(clock.millis());
      }
    });
    batching = driver.quiet();
    timers.startSingleTimer(Tick.INSTANCE, Duration.ofNanos(tickNanos * (batching ? QUIET_TICKS : 1)));
    return next;
  }

  private ReplicaShell(ActorContext<Command> ctx, String name, String storageName, int self, RaftSettings settings,
      ActorRef<NodeStorage.Command> storage, NodeStorage.Recovered recovered, Membership initial, long seed,
      ReplicatedMachine machine, Executor blocking, Runnable onStop) {
    super(ctx);
    this.name = name;
    this.self = self;
    this.storageName = storageName;
    this.storage = storage;
    this.blocking = blocking;
    this.onStop = onStop;
    this.storageReplies = ctx.messageAdapter(NodeStorage.Reply.class, FromStorage::new);
    this.raftInbox = ctx.messageAdapter(RaftMessage.class, FromPeer::new);
    this.storeInbox = ctx.messageAdapter(StoreMessage.class, FromPeerStore::new);
    if (recovered.writtenSince().contains(storageName)) {
      throw new IllegalStateException("its storage " + storageName + " was written since the node started, so what"
          + " the node recovered then is out of date for it: it starts again when the node restarts");
    }
    this.diskGuard = io.holdfast.node.DiskGuard.get(ctx.getSystem());
    this.driver = new ReplicaDriver<>(name, self, initial, settings, recovered.states().get(storageName),
        recovered.lostTailTerm(), Prng.of(seed), machine, new Host());
  }

  /** The driver's effects, as actor messages. */
  private final class Host implements ReplicaDriver.Host<Proposer> {
    @Override
    public void persist(LogWrite write, PersistRequest request) {
      long seq = nextWriteSeq++;
      unpersisted.put(seq, new Unpersisted(write, request));
      storage.tell(new NodeStorage.Write(storageName, seq, lastPersistedSeq, write, storageReplies));
    }

    @Override
    public void send(RaftMessage m) {
      boolean large = ReplicaHost.large(m);
      ActorRef<ReplicaHost.Command> host = (large ? largePeers : peers).get(ReplicaIds.node(m.to()));
      if (host != null) {
        outgoing(host, new PeerEnvelope(name, m), large);
      }
    }

    @Override
    public void send(StoreMessage m) {
      boolean large = m instanceof StoreMessage.Records;
      ActorRef<ReplicaHost.Command> host = (large ? largePeers : peers).get(ReplicaIds.node(m.to()));
      if (host != null) {
        outgoing(host, new StoreEnvelope(name, m), large);
      }
    }

    /**
     * Ordinary envelopes go through this node's host, which batches them per node ({@link
     * ReplicaHost.Outgoing}); large ones straight to the large-message lane, alone. A host to
     * send to means a {@link Connect} came, and with it {@code localHost}.
     */
    private void outgoing(ActorRef<ReplicaHost.Command> host, ReplicaHost.Command envelope, boolean large) {
      if (large) {
        host.tell(envelope);
      } else {
        localHost.tell(new ReplicaHost.Outgoing(host, envelope));
      }
    }

    @Override
    public void reply(Proposer proposer, ReplicaDriver.Reply reply) {
      ProposeReply out;
      if (reply instanceof ReplicaDriver.Reply.Applied a) {
        out = new Applied(a.outcome(), getContext().getSelf());
      } else if (reply instanceof ReplicaDriver.Reply.Refused r) {
        out = new Refused(r.reason(), r.leaderHint());
      } else if (reply instanceof ReplicaDriver.Reply.Superseded s) {
        out = new Superseded(s.index());
      } else {
        out = new Invalid(((ReplicaDriver.Reply.Invalid) reply).reason());
      }
      if (proposer.via() == null) {
        if (proposer.ref() != null) {
          proposer.ref().tell(out);
        }
        return;
      }
      if (outgoing.isEmpty()) {
        getContext().getSelf().tell(FlushReplies.INSTANCE); // behind what the mailbox holds now
      }
      outgoing.computeIfAbsent(proposer.via(), a -> new java.util.ArrayList<>()).add(new Routed(proposer.ticket(), out));
    }

    @Override
    public void syncStore(StoreSync job) {
      getContext().pipeToSelf(CompletableFuture.runAsync(job::run, blocking), (ok, failure) ->
          new StoreSynced(job, failure));
    }

    @Override
    public void eraseLog(long index, long term, EntryRegion region) {
      storage.tell(new NodeStorage.Erase(storageName, index, term, region));
    }

    @Override
    public void fail(String reason) {
      failed = true;
      getContext().getLog().error("Replica {} stops: {}", name, reason);
    }

    @Override
    public boolean startCatchUp() {
      return CatchUps.get(getContext().getSystem()).tryStart();
    }

    @Override
    public void endCatchUp() {
      CatchUps.get(getContext().getSystem()).end();
    }

    @Override
    public int origin(Proposer proposer) {
      ActorRef<?> from = proposer.via() != null ? proposer.via() : proposer.ref();
      if (from == null || from.equals(getContext().getSystem().ignoreRef())) {
        return 0; // a fire-and-forget proposal (a NATS ack): where it came from is not known
      }
      org.apache.pekko.actor.Address at = from.path().address();
      if (at.host().isEmpty()) {
        return self;
      }
      int node = nodeAt.computeIfAbsent(at, a -> peers.entrySet().stream()
          .filter(e -> e.getValue().path().address().equals(a)).map(Map.Entry::getKey).findFirst().orElse(0));
      if (node == 0) {
        return 0;
      }
      for (int voter : driver.membership().voters()) {
        if (ReplicaIds.node(voter) == node) {
          return voter;
        }
      }
      return 0;
    }

    @Override
    public void info(String message) {
      getContext().getLog().info(message);
    }

    @Override
    public void warn(String message) {
      getContext().getLog().warn(message);
    }
  }

  @Override
  public Receive<Command> createReceive() {
    return newReceiveBuilder()
        .onMessageEquals(Tick.INSTANCE, this::onTick)
        .onMessage(FromPeer.class, m -> next(() -> driver.step(m.message())))
        .onMessage(FromPeerStore.class, m -> next(() -> driver.step(m.message())))
        .onMessage(Propose.class, this::onPropose)
        .onMessage(ProposeAll.class, all -> next(() -> all.proposals().forEach(p -> propose(p, all.repliesVia()))))
        .onMessageEquals(FlushReplies.INSTANCE, () -> {
          flushReplies();
          return this;
        })
        .onMessageEquals(ProposeBatch.INSTANCE, () -> next(() -> driver.flushProposals(clock.millis())))
        .onMessage(FromStorage.class, this::onFromStorage)
        .onMessageEquals(StorageGone.INSTANCE, () -> {
          if (!shuttingDown(getContext())) {
            getContext().getLog().error("Replica {} stops: the node's storage actor stopped", name);
          }
          return Behaviors.stopped();
        })
        .onMessage(StoreSynced.class, this::onStoreSynced)
        .onMessage(Connect.class, this::onConnect)
        .onMessage(Compaction.class, c -> next(() -> driver.compaction(c.afterBytes())))
        .onMessage(FollowPublishers.class, f -> next(() -> driver.followPublishers(f.minPerRound())))
        .onMessage(Members.class, m -> next(() -> driver.members(m.desired())))
        .onMessage(Retire.class, r -> next(() -> driver.retire(r == Retire.REPLACED)))
        .onMessage(Configure.class, c -> next(() -> driver.configure(c.desired())))
        .onMessage(Read.class, r -> next(() -> read(r)))
        .onMessage(GetStatus.class, g -> {
          g.replyTo().tell(driver.status());
          return this;
        })
        .onSignal(org.apache.pekko.actor.typed.PostStop.class, s -> onStop())
        .build();
  }

  /** Whether the node is shutting down (its storage actor stops too, and that is no failure). */
  private static boolean shuttingDown(ActorContext<?> ctx) {
    return org.apache.pekko.actor.CoordinatedShutdown.get(ctx.getSystem()).getShutdownReason().isPresent();
  }

  /** A read: answered now, or held until what the leader appended before it is applied. */
  private void read(Read r) {
    long barrier = r.leaderOnly() ? driver.readBarrier(clock.millis()) : -1;
    if (barrier < 0 || heldReads.size() >= HELD_READS_MAX) {
      r.replyTo().tell(driver.read(r.query(), r.leaderOnly()));
    } else {
      heldReads.add(new HeldRead(barrier, r));
    }
  }

  /** Runs a driver input, answers the held reads it made ready, then stops if the driver retired or failed. */
  private Behavior<Command> next(Runnable input) {
    driver.storageLow(diskGuard.low()); // before every input: a leader refuses growth, a follower takes no entries
    input.run();
    while (!heldReads.isEmpty() && driver.readReady(heldReads.peek().barrier())) {
      Read r = heldReads.poll().read();
      r.replyTo().tell(driver.read(r.query(), r.leaderOnly()));
    }
    if (batching && !driver.quiet()) {
      batching = false; // a message woke it (a catch-up, an election): tick at the full rate from now
      timers.startSingleTimer(Tick.INSTANCE, Duration.ofNanos(tickNanos));
    }
    return failed || driver.stopped() ? Behaviors.stopped() : this;
  }

  private Behavior<Command> onPropose(Propose p) {
    return next(() -> propose(p, null));
  }

  /** Hands a proposal to the driver; the first of a batch marks where the batch ends in the mailbox. */
  private void propose(Propose p, ActorRef<Replies> via) {
    Proposer proposer = p.ticket() != 0 && via != null ? new Proposer(null, via, p.ticket())
        : new Proposer(p.replyTo(), null, 0);
    if (driver.propose(p.proposal(), proposer, clock.millis())) {
      getContext().getSelf().tell(ProposeBatch.INSTANCE);
    }
  }

  private Behavior<Command> onStoreSynced(StoreSynced s) {
    if (s.failure() != null) {
      Throwable cause = s.failure() instanceof java.util.concurrent.CompletionException c ? c.getCause() : s.failure();
      getContext().getLog().error("Replica {} stops: its message store failed to sync ({}); nothing is retried (D10)",
          name, cause.getMessage());
      return Behaviors.stopped();
    }
    return next(() -> driver.onStoreSynced(s.job()));
  }

  private Behavior<Command> onConnect(Connect c) {
    peers = Map.copyOf(c.peers());
    nodeAt.clear();
    largePeers = Map.copyOf(c.largePeers());
    if (localHost == null) {
      localHost = c.localHost();
      localHost.tell(new ReplicaHost.Register(name, raftInbox, storeInbox));
    }
    return this;
  }

  /** Replies gathered for routers' reply desks, until the next {@link FlushReplies}. */
  private final Map<ActorRef<Replies>, List<Routed>> outgoing = new java.util.HashMap<>();

  private void flushReplies() {
    outgoing.forEach((via, replies) -> {
      List<Routed> chunk = new java.util.ArrayList<>();
      long bytes = 0;
      for (Routed r : replies) {
        long size = weight(r.reply());
        if (!chunk.isEmpty() && bytes + size > REPLIES_BYTES) {
          via.tell(new Replies(chunk));
          chunk = new java.util.ArrayList<>();
          bytes = 0;
        }
        chunk.add(r);
        bytes += size;
      }
      via.tell(new Replies(chunk));
    });
    outgoing.clear();
  }

  /** About the bytes {@code reply} takes on the wire. */
  private static long weight(ProposeReply reply) {
    long bytes = 256;
    if (reply instanceof Applied a && a.outcome() instanceof Wire.Delivered d) {
      for (var x : d.deliveries()) {
        bytes += x.message().message().sizeBytes() + 96;
      }
    }
    return bytes;
  }

  private Behavior<Command> onStop() {
    flushReplies(); // what was applied is answered, as it would have been one by one
    heldReads.forEach(h -> h.read().replyTo().tell(new Wire.NotLeader(-1))); // ask again elsewhere
    heldReads.clear();
    driver.close();
    if (localHost != null) {
      localHost.tell(new ReplicaHost.Unregister(name, raftInbox));
    }
    onStop.run();
    return this;
  }

  private Behavior<Command> onFromStorage(FromStorage f) {
    NodeStorage.Reply reply = f.reply();
    if (reply instanceof NodeStorage.Persisted p) {
      return next(() -> {
        while (!unpersisted.isEmpty() && unpersisted.firstKey() <= p.seq()) {
          PersistRequest done = unpersisted.pollFirstEntry().getValue().request();
          if (done != null) {
            driver.onPersisted(done);
          }
        }
        lastPersistedSeq = Math.max(lastPersistedSeq, p.seq());
      });
    }
    if (reply instanceof NodeStorage.CompactSoon) {
      return next(driver::compactSoon);
    }
    if (reply instanceof NodeStorage.ResendFrom r) {
      for (var e : unpersisted.tailMap(r.seq(), true).entrySet()) {
        storage.tell(new NodeStorage.Write(storageName, e.getKey(), lastPersistedSeq, e.getValue().write(),
            storageReplies));
      }
      return this;
    }
    NodeStorage.StorageStopped stopped = (NodeStorage.StorageStopped) reply;
    getContext().getLog().error("Replica {} stops: its storage stopped ({})", name, stopped.reason());
    return Behaviors.stopped();
  }
}
