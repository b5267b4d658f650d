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
import io.holdfast.stream.Message;
import io.holdfast.stream.StoredMessage;
import io.holdfast.stream.StreamCommand;
import io.holdfast.stream.StreamState;
import io.holdfast.storage.RecoveredState;
import io.holdfast.transport.PeerEnvelope;
import io.holdfast.transport.ReplicaHost;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.SortedMap;
import java.util.TreeMap;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.javadsl.AbstractBehavior;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.actor.typed.javadsl.Receive;
import org.apache.pekko.actor.typed.javadsl.StashBuffer;
import org.apache.pekko.actor.typed.javadsl.TimerScheduler;

/**
 * The actor shell around one stream replica's {@link RaftCore} and {@link StreamState}
 * (DESIGN.md §3): timer ticks, peer messages and publishes go in; {@link #drainReady()} moves the effects out — durable writes to the node's
 * {@link NodeStorage} (messages held by a write are sent only once it is persisted), messages to
 * peers, committed entries to the state machine and to the proposers waiting for them. No protocol
 * decisions are made here.
 *
 * <p>Phases: recovering (asks NodeStorage for what the disk holds, stashes everything else), then
 * running. A storage failure stops the replica (D10). Peers are given by {@link Connect}: the
 * {@link ReplicaHost} of each peer's node, local or across Artery (placement by the meta group and
 * the sharded stream entity come next).
 */
public final class ReplicaShell extends AbstractBehavior<ReplicaShell.Command> {
  public sealed interface Command {}

  /**
   * Publish a message; answered with {@link PubAck} once it is committed (fsynced on a majority)
   * and applied, or refused at once. Publishes that reach the leader between two proposals share
   * one log entry.
   */
  public record Publish(String subject, SortedMap<String, List<String>> headers, byte[] payload,
      ActorRef<PublishReply> replyTo) implements Command {}

  public sealed interface PublishReply {}

  /** The message is durable and final at stream sequence {@code seq}. */
  public record PubAck(String stream, long seq) implements PublishReply {}

  /** Not appended here: try {@code leaderHint} (0 if unknown) — or the reason says why not. */
  public record Refused(ProposeResult.Reason reason, int leaderHint) implements PublishReply {}

  /** Appended, then lost to a leader change or covered by a snapshot: outcome unknown, retry. */
  public record Superseded(long index) implements PublishReply {}

  /** Refused for what it is (e.g. too large); retrying will not help. */
  public record Invalid(String reason) implements PublishReply {}

  /** Up to {@code max} messages from stream sequence {@code fromSeq} on, as applied here. */
  public record GetMessages(long fromSeq, int max, ActorRef<List<StoredMessage>> replyTo) implements Command {}

  /**
   * Where the peers are: replica id → the {@link ReplicaHost} of its node (local or remote). This
   * replica registers itself with {@code localHost} to receive what its peers send it.
   */
  public record Connect(Map<Integer, ActorRef<ReplicaHost.Command>> peers, ActorRef<ReplicaHost.Command> localHost)
      implements Command {}

  public record FromPeer(RaftMessage message) implements Command {}

  public record GetStatus(ActorRef<Status> replyTo) implements Command {}

  public record Status(int id, RaftCore.Role role, long term, int leader, long commitIndex, long appliedIndex) {}

  private enum Tick implements Command { INSTANCE }

  /** Marks the end of the publishes already in the mailbox: propose them as one batch. */
  private enum ProposeBatch implements Command { INSTANCE }

  private record FromStorage(NodeStorage.Reply reply) implements Command {}

  private record RecoveredFromDisk(SortedMap<String, RecoveredState> states) implements Command {}

  private record Waiting(long term, List<ActorRef<PublishReply>> publishers) {}

  private static final int BATCH_MESSAGES_MAX = 1024;
  /**
   * A batch is one log entry, and an entry must fit one transport frame (Artery's default maximum
   * frame is 256 KiB; replication messages carry at least one entry). Larger messages will need
   * chunking or Artery's large-message channel.
   */
  public static final int BATCH_BYTES_MAX = 160 << 10;
  public static final int MESSAGE_BYTES_MAX = 128 << 10;

  /** A write sent to storage and not yet persisted; {@code request} is null for the bootstrap write. */
  private record Unpersisted(LogWrite write, PersistRequest request) {}

  private final String name;
  private final int self;
  private final ActorRef<NodeStorage.Command> storage;
  private final ActorRef<NodeStorage.Reply> storageReplies;
  private final RaftCore core;
  private Map<Integer, ActorRef<ReplicaHost.Command>> peers = Map.of();
  /** By write sequence number: what to resend if storage lost writes, what to report when persisted. */
  private final TreeMap<Long, Unpersisted> unpersisted = new TreeMap<>();
  private long nextWriteSeq = 1;
  private long lastPersistedSeq;
  private final TreeMap<Long, Waiting> waiting = new TreeMap<>();
  private final ArrayList<Publish> pendingPublishes = new ArrayList<>();
  private long pendingBytes;
  private final StreamState state;

  /**
   * @param name the replica's storage name (unique on its node), e.g. the stream name
   * @param self the replica id; {@code initial} is the group's membership if the disk is new
   */
  @SuppressWarnings("unchecked")
  public static Behavior<Command> create(String name, int self, Membership initial, RaftSettings settings,
      Duration tickInterval, ActorRef<NodeStorage.Command> storage, long seed) {
    return Behaviors.withStash(10_000, stash -> Behaviors.withTimers(timers -> Behaviors.setup(ctx -> {
      ActorRef<SortedMap<String, RecoveredState>> adapter = ctx.messageAdapter(
          (Class<SortedMap<String, RecoveredState>>) (Class<?>) SortedMap.class, RecoveredFromDisk::new);
      storage.tell(new NodeStorage.GetRecovered(adapter));
      return recovering(ctx, stash, timers, name, self, initial, settings, tickInterval, storage, seed);
    })));
  }

  private static Behavior<Command> recovering(ActorContext<Command> ctx, StashBuffer<Command> stash,
      TimerScheduler<Command> timers, String name, int self, Membership initial, RaftSettings settings,
      Duration tickInterval, ActorRef<NodeStorage.Command> storage, long seed) {
    return Behaviors.receive(Command.class)
        .onMessage(RecoveredFromDisk.class, r -> {
          RecoveredState disk = r.states().get(name);
          ReplicaShell shell = new ReplicaShell(ctx, name, self, settings, storage, disk, initial, seed);
          timers.startTimerAtFixedRate(Tick.INSTANCE, tickInterval);
          return stash.unstashAll(shell);
        })
        .onAnyMessage(m -> {
          stash.stash(m);
          return Behaviors.same();
        })
        .build();
  }

  private ReplicaShell(ActorContext<Command> ctx, String name, int self, RaftSettings settings,
      ActorRef<NodeStorage.Command> storage, RecoveredState disk, Membership initial, long seed) {
    super(ctx);
    this.name = name;
    this.self = self;
    this.state = new StreamState(name);
    this.storage = storage;
    this.storageReplies = ctx.messageAdapter(NodeStorage.Reply.class, FromStorage::new);
    if (disk == null) {
      // A new replica: its first durable write is the group's initial snapshot (bootstrap).
      Snapshot bootstrap = Snapshot.initial(initial);
      this.core = RaftCore.restart(settings, self, HardState.INITIAL, bootstrap, List.of(), Prng.of(seed));
      write(new LogWrite(null, bootstrap, 0, List.of()), null);
    } else {
      this.core = RaftCore.restart(settings, self, disk.hardState(), disk.snapshot(), disk.entries(), disk.faulty(),
          disk.snapshotFaulty(), Prng.of(seed));
      state.restore(disk.snapshot().data());
    }
  }

  @Override
  public Receive<Command> createReceive() {
    return newReceiveBuilder()
        .onMessageEquals(Tick.INSTANCE, this::onTick)
        .onMessage(FromPeer.class, this::onFromPeer)
        .onMessage(Publish.class, this::onPublish)
        .onMessageEquals(ProposeBatch.INSTANCE, this::onProposeBatch)
        .onMessage(FromStorage.class, this::onFromStorage)
        .onMessage(Connect.class, this::onConnect)
        .onMessage(GetMessages.class, this::onGetMessages)
        .onMessage(GetStatus.class, this::onGetStatus)
        .build();
  }

  private Behavior<Command> onTick() {
    core.tick();
    return drainReady();
  }

  private Behavior<Command> onFromPeer(FromPeer m) {
    core.step(m.message());
    return drainReady();
  }

  private Behavior<Command> onPublish(Publish p) {
    if (core.role() != RaftCore.Role.LEADER) {
      p.replyTo().tell(new Refused(ProposeResult.Reason.NOT_LEADER, core.leaderId()));
      return this;
    }
    long bytes = p.payload().length + p.subject().length() + 64L;
    if (p.payload().length > MESSAGE_BYTES_MAX) {
      p.replyTo().tell(new Invalid("message of " + p.payload().length + " bytes is larger than " + MESSAGE_BYTES_MAX));
      return this;
    }
    if (pendingBytes + bytes > BATCH_BYTES_MAX) {
      onProposeBatch();
    }
    if (pendingPublishes.isEmpty()) {
      getContext().getSelf().tell(ProposeBatch.INSTANCE);
    }
    pendingPublishes.add(p);
    pendingBytes += bytes;
    return pendingPublishes.size() >= BATCH_MESSAGES_MAX ? onProposeBatch() : this;
  }

  /** One log entry for every publish that arrived since the last one; the leader stamps the time. */
  private Behavior<Command> onProposeBatch() {
    if (pendingPublishes.isEmpty()) {
      return this;
    }
    long now = System.currentTimeMillis();
    List<Message> messages = new ArrayList<>(pendingPublishes.size());
    List<ActorRef<PublishReply>> publishers = new ArrayList<>(pendingPublishes.size());
    for (Publish p : pendingPublishes) {
      messages.add(new Message(p.subject(), p.headers(), p.payload(), now));
      publishers.add(p.replyTo());
    }
    pendingPublishes.clear();
    pendingBytes = 0;
    ProposeResult result = core.propose(StreamCommand.encode(new StreamCommand.PublishBatch(messages)));
    if (result instanceof ProposeResult.Accepted a) {
      waiting.put(a.index(), new Waiting(a.term(), publishers));
    } else {
      ProposeResult.Rejected r = (ProposeResult.Rejected) result;
      publishers.forEach(p -> p.tell(new Refused(r.reason(), r.leaderHint())));
    }
    return drainReady();
  }

  private Behavior<Command> onConnect(Connect c) {
    peers = Map.copyOf(c.peers());
    ActorRef<Command> me = getContext().getSelf();
    c.localHost().tell(new ReplicaHost.Register(name, m -> me.tell(new FromPeer(m))));
    return this;
  }

  private Behavior<Command> onGetMessages(GetMessages g) {
    g.replyTo().tell(state.range(g.fromSeq(), g.max()));
    return this;
  }

  private Behavior<Command> onGetStatus(GetStatus g) {
    g.replyTo().tell(new Status(self, core.role(), core.term(), core.leaderId(), core.commitIndex(), core.appliedIndex()));
    return this;
  }

  private Behavior<Command> onFromStorage(FromStorage f) {
    NodeStorage.Reply reply = f.reply();
    if (reply instanceof NodeStorage.Persisted p) {
      while (!unpersisted.isEmpty() && unpersisted.firstKey() <= p.seq()) {
        PersistRequest done = unpersisted.pollFirstEntry().getValue().request();
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

  /** The only place effects leave the core. */
  private Behavior<Command> drainReady() {
    while (core.hasReady()) {
      Ready ready = core.ready();
      if (ready.persist() != null) {
        PersistRequest p = ready.persist();
        write(new LogWrite(p.hardState(), p.snapshot(), p.entriesFrom(), p.entries(), p.repaired()), p);
      }
      ready.messages().forEach(this::send);
      if (ready.snapshotToApply() != null) {
        state.restore(ready.snapshotToApply().data());
      }
      for (LogEntry e : ready.committed()) {
        apply(e);
      }
      if (ready.snapshotRequested() && core.appliedIndex() >= core.firstIndex()) {
        core.compact(core.appliedIndex(), state.snapshot());
      }
    }
    return this;
  }

  /** Sends a durable write; {@code request} (null for bootstrap) is reported to the core when persisted. */
  private void write(LogWrite w, PersistRequest request) {
    long seq = nextWriteSeq++;
    unpersisted.put(seq, new Unpersisted(w, request));
    storage.tell(new NodeStorage.Write(name, seq, lastPersistedSeq, w, storageReplies));
  }

  /** Storage restarted and lost writes: send again, in order, every one not yet persisted from {@code seq}. */
  private void resendFrom(long seq) {
    for (var e : unpersisted.tailMap(seq, true).entrySet()) {
      storage.tell(new NodeStorage.Write(name, e.getKey(), lastPersistedSeq, e.getValue().write(), storageReplies));
    }
  }

  private void send(RaftMessage m) {
    ActorRef<ReplicaHost.Command> host = peers.get(m.to());
    if (host != null) {
      host.tell(new PeerEnvelope(name, m));
    }
  }

  private void apply(LogEntry e) {
    List<Long> seqs = state.apply(e);
    Waiting w = waiting.remove(e.index());
    if (w != null) {
      for (int i = 0; i < w.publishers().size(); i++) {
        w.publishers().get(i).tell(w.term() == e.term() ? new PubAck(name, seqs.get(i)) : new Superseded(e.index()));
      }
    }
    // Proposals at lower indexes that were never applied one by one (a snapshot covered them).
    for (Waiting stale : waiting.headMap(e.index()).values()) {
      stale.publishers().forEach(p -> p.tell(new Superseded(e.index())));
    }
    waiting.headMap(e.index()).clear();
  }
}
