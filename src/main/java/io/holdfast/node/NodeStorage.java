package io.holdfast.node;

import io.holdfast.storage.EntryRegion;
import io.holdfast.base.Check;
import io.holdfast.storage.LogStore;
import io.holdfast.storage.LogWrite;
import io.holdfast.storage.RecoveredState;
import io.holdfast.storage.StorageFailure;
import java.util.ArrayList;
import java.util.SortedMap;
import java.util.TreeMap;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.javadsl.AbstractBehavior;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.actor.typed.javadsl.Receive;

/**
 * The one owner of a node's storage. Every replica on the node sends its durable writes here;
 * they are group-committed: the first write of a batch sends this actor a {@link FlushBatch}
 * marker, so every write already in the mailbox — everything that arrived while the previous
 * fsync ran — joins the batch before the marker is handled. No timer: the batch grows with load
 * and with fsync latency, capped by {@link Settings}. After the one fsync, each writer gets
 * {@link Persisted} for its writes, in order.
 *
 * <p>Lost writes: every write carries its writer's sequence number and the last one the writer
 * saw persisted. Messages from one actor to another are not lost or reordered while both live,
 * so a gap means this actor restarted: it answers {@link ResendFrom} and ignores writes until the
 * expected one arrives. Writes replay idempotently in order (a log write deletes from its first
 * index before appending), so resending is always safe.
 *
 * <p>Failure (D10): the first {@link StorageFailure} stops storage for good: the actor moves to its
 * stopped phase (a behavior of its own), where every write is answered {@link StorageStopped} and
 * nothing is retried. Any other exception from the store is
 * handled the same way: it leaves the store in a state nobody knows, and acknowledging anything
 * after that could acknowledge what is not on disk. This actor therefore never dies of a store
 * failure; should it die anyway (an {@link Error}), the node's {@code StreamManager} watches it
 * and shuts the node down, and each replica watches it and stops — no replica ever writes to a
 * dead storage actor and waits.
 *
 * <p>What the store recovered at open ({@link GetRecovered}) is out of date for every writer that
 * wrote since: {@link Recovered#writtenSince} names them, and a replica must not start on it (its
 * votes and acknowledged entries would be forgotten, D1/D2). Such a replica starts again when the
 * node restarts and the store recovers anew.
 *
 * <p>Runs on {@code holdfast.storage-dispatcher} (a single dedicated thread): write and fsync block.
 */
public final class NodeStorage extends AbstractBehavior<NodeStorage.Command> {
  public static final String DISPATCHER = "holdfast.storage-dispatcher";

  public sealed interface Command {}

  /**
   * A replica's write, number {@code seq} (from 1, consecutive) of {@code writer}; the writer has
   * seen every write up to {@code lastPersistedSeq} persisted.
   */
  public record Write(String writer, long seq, long lastPersistedSeq, LogWrite write, ActorRef<Reply> replyTo)
      implements Command {}

  /**
   * Overwrite, wherever this node's disk holds it, the region {@code region} picks in entry
   * (index, term) of {@code writer} ({@link LogStore#erase}). Handled in order with writes: every
   * write sent before it is synced first, and no later write is acknowledged before it is done.
   */
  public record Erase(String writer, long index, long term, EntryRegion region)
      implements Command {}

  public record GetRecovered(ActorRef<Recovered> replyTo) implements Command {}

  /**
   * The replica stored as {@code writer} is gone from this node for good (its stream's deletion or
   * its retirement committed; it has stopped): forget it and delete its files ({@link LogStore#forget}).
   */
  public record Forget(String writer) implements Command {}

  /**
   * What the store recovered, by replica; {@code lostTailTerm} is {@link LogStore#lostTailTerm()},
   * for replicas not on the disk.
   */
  /**
   * What the store recovered at open; {@code writtenSince}: the writers that wrote since, whose
   * recovered state is out of date (see the class comment).
   */
  public record Recovered(SortedMap<String, RecoveredState> states, long lostTailTerm, java.util.Set<String> writtenSince) {
    public Recovered {
      writtenSince = java.util.Set.copyOf(writtenSince);
    }
  }

  public record GetStats(ActorRef<Stats> replyTo) implements Command {}

  private enum FlushBatch implements Command { INSTANCE }

  public sealed interface Reply {}

  /** Every write of {@code writer} up to and including {@code seq} is durable. */
  public record Persisted(String writer, long seq) implements Reply {}

  /** Writes were lost (this actor restarted): resend every unpersisted write from {@code seq} on. */
  public record ResendFrom(String writer, long seq) implements Reply {}

  /** The node's log is past its file budget and {@code writer}'s entries hold its oldest files: snapshot soon. */
  public record CompactSoon(String writer) implements Reply {}

  /** Storage is stopped (D10); nothing more will be persisted on this node. */
  public record StorageStopped(String writer, String reason) implements Reply {}

  /** @param batchWritesMax writes per fsync at most @param batchBytesMax buffered bytes per fsync at most */
  public record Settings(int batchWritesMax, long batchBytesMax) {
    public Settings {
      if (batchWritesMax < 1) {
        throw new IllegalArgumentException("holdfast.storage.batch-writes-max must be at least 1, got " + batchWritesMax);
      }
      if (batchBytesMax < 4096) {
        throw new IllegalArgumentException("holdfast.storage.batch-bytes-max must be at least 4 KiB, got " + batchBytesMax);
      }
    }

    public static Settings fromConfig(com.typesafe.config.Config config) {
      com.typesafe.config.Config c = config.getConfig("holdfast.storage");
      return new Settings(c.getInt("batch-writes-max"), c.getBytes("batch-bytes-max"));
    }
  }

  /** Counters since start: fsyncs, writes and bytes they covered, the largest batch. */
  public record Stats(long syncs, long writesSynced, long bytesSynced, long largestBatch) {}

  private record Pending(String writer, long seq, long bytes, ActorRef<Reply> replyTo) {}

  private final LogStore store;
  private final Settings settings;
  /** Fsync latency and batch sizes, for /metrics. */
  private final io.holdfast.metrics.HoldfastMetrics metrics;
  private final TreeMap<String, Long> expectedSeq = new TreeMap<>();
  /** Where each writer hears from storage (for {@link CompactSoon}). */
  private final TreeMap<String, ActorRef<Reply>> writers = new TreeMap<>();
  private final ArrayList<Pending> batch = new ArrayList<>();
  /** The highest write of each writer acknowledged persisted (only ever rises). */
  private final TreeMap<String, Long> persistedUpTo = new TreeMap<>();
  private long batchBytes;
  private long syncs;
  private long writesSynced;
  private long bytesSynced;
  private long largestBatch;

  /** Opens (creating if need be) the node's file store in {@code dataDir}, as {@code holdfast.storage.*} says. */
  public static io.holdfast.storage.file.FileLogStore openFileStore(String dataDir, com.typesafe.config.Config config)
      throws StorageFailure {
    return io.holdfast.storage.file.FileLogStore.open(
        io.holdfast.storage.file.FileLogStore.Options.fromConfig(java.nio.file.Path.of(dataDir), config));
  }

  public static Behavior<Command> create(LogStore store, Settings settings) {
    return Behaviors.setup(ctx -> new NodeStorage(ctx, store, settings));
  }

  private NodeStorage(ActorContext<Command> ctx, LogStore store, Settings settings) {
    super(ctx);
    this.store = store;
    this.settings = settings;
    this.metrics = io.holdfast.metrics.HoldfastMetrics.get(ctx.getSystem());
  }

  @Override
  public Receive<Command> createReceive() {
    return newReceiveBuilder()
        .onMessage(Write.class, this::onWrite)
        .onMessageEquals(FlushBatch.INSTANCE, this::onFlushBatch)
        .onMessage(Erase.class, this::onErase)
        .onMessage(GetRecovered.class, this::onGetRecovered)
        .onMessage(Forget.class, this::onForget)
        .onMessage(GetStats.class, this::onGetStats)
        .onSignal(org.apache.pekko.actor.typed.PostStop.class, x -> closeStore())
        .build();
  }

  /**
   * The store's files closed when this actor stops (its ActorSystem terminating): a node that
   * starts a new ActorSystem in the same process opens them afresh.
   */
  private Behavior<Command> closeStore() {
    try {
      store.close();
    } catch (StorageFailure | RuntimeException e) {
      getContext().getLog().warn("Closing the node's log: {}", e.getMessage());
    }
    return this;
  }

  private Behavior<Command> onWrite(Write w) {
    Long expected = expectedSeq.get(w.writer());
    long want = expected != null ? expected : w.lastPersistedSeq() + 1;
    if (w.seq() != want) {
      if (w.seq() > want) {
        w.replyTo().tell(new ResendFrom(w.writer(), want));
      }
      return this; // a duplicate of something already written, or a write after a gap
    }
    try {
      store.write(w.writer(), w.write());
    } catch (StorageFailure | RuntimeException e) {
      batch.add(new Pending(w.writer(), w.seq(), 0, w.replyTo())); // answered with the rest
      return stop(e);
    }
    expectedSeq.put(w.writer(), want + 1);
    if (batch.isEmpty()) {
      getContext().getSelf().tell(FlushBatch.INSTANCE);
    }
    batch.add(new Pending(w.writer(), w.seq(), w.write().weightBytes(), w.replyTo()));
    batchBytes += w.write().weightBytes();
    if (batch.size() >= settings.batchWritesMax() || batchBytes >= settings.batchBytesMax()) {
      return flush();
    }
    return this;
  }

  private Behavior<Command> onFlushBatch() {
    return batch.isEmpty() ? this : flush();
  }

  private Behavior<Command> flush() {
    long start = System.nanoTime();
    try {
      store.sync();
    } catch (StorageFailure | RuntimeException e) {
      return stop(e);
    }
    metrics.fsync.record(System.nanoTime() - start, java.util.concurrent.TimeUnit.NANOSECONDS);
    metrics.batchWrites.record(batch.size());
    metrics.batchBytes.record(batchBytes);
    checkBatch();
    syncs++;
    writesSynced += batch.size();
    bytesSynced += batchBytes;
    largestBatch = Math.max(largestBatch, batch.size());
    // One Persisted per writer per batch: the highest of its writes in the batch covers the rest.
    TreeMap<String, Pending> highest = new TreeMap<>();
    for (Pending p : batch) {
      highest.put(p.writer(), p);
    }
    for (Pending p : highest.values()) {
      Long before = persistedUpTo.put(p.writer(), p.seq());
      Check.that(before == null || p.seq() > before, "storage acknowledged write %d of a writer after its write %d",
          p.seq(), before == null ? 0 : before);
      p.replyTo().tell(new Persisted(p.writer(), p.seq()));
      writers.put(p.writer(), p.replyTo());
    }
    for (String pinning : store.takePinning()) {
      ActorRef<Reply> w = writers.get(pinning);
      if (w != null) {
        w.tell(new CompactSoon(pinning));
      }
    }
    batch.clear();
    batchBytes = 0;
    return this;
  }

  /**
   * The batch about to be acknowledged is what was counted into it: its bytes add up, it is within
   * the caps (the write that reached one flushes at once), and each writer's writes in it are
   * consecutive.
   */
  private void checkBatch() {
    long bytes = 0;
    TreeMap<String, Long> last = new TreeMap<>();
    for (Pending p : batch) {
      bytes += p.bytes();
      Long before = last.put(p.writer(), p.seq());
      Check.that(before == null || p.seq() == before + 1, "a batch holds write %d of a writer after its write %d",
          p.seq(), before == null ? 0 : before);
    }
    Check.that(bytes == batchBytes, "a batch counted %d bytes but holds %d", batchBytes, bytes);
    Check.that(batch.size() <= settings.batchWritesMax(), "a batch of %d writes, above the cap %d", batch.size(),
        settings.batchWritesMax());
  }

  /** Storage stops for good (D10): the writes not yet acknowledged are answered, and so is every later one. */
  private Behavior<Command> stop(Exception e) {
    String reason = e instanceof StorageFailure ? e.getMessage() : "unexpected failure of the store: " + e;
    getContext().getLog().error("Storage stopped, this node persists nothing more: {}", e.getMessage(), e);
    for (Pending p : batch) {
      p.replyTo().tell(new StorageStopped(p.writer(), reason));
    }
    batch.clear();
    return stopped(reason, new Recovered(store.recovered(), store.lostTailTerm(), expectedSeq.keySet()),
        new Stats(syncs, writesSynced, bytesSynced, largestBatch));
  }

  /** The phase after a storage failure: nothing is written; writes are told so; what it knew it still says. */
  private static Behavior<Command> stopped(String reason, Recovered recovered, Stats stats) {
    return Behaviors.receive(Command.class)
        .onMessage(Write.class, w -> {
          w.replyTo().tell(new StorageStopped(w.writer(), reason));
          return Behaviors.same();
        })
        .onMessage(GetRecovered.class, g -> {
          g.replyTo().tell(recovered);
          return Behaviors.same();
        })
        .onMessage(GetStats.class, g -> {
          g.replyTo().tell(stats);
          return Behaviors.same();
        })
        .onAnyMessage(m -> Behaviors.same()) // flush markers, erasures, forgets: nothing to do any more
        .build();
  }

  /** Acknowledges the batch (if any) before an operation that must come after it; the stopped phase if that failed. */
  private Behavior<Command> flushFirst() {
    return batch.isEmpty() ? this : flush();
  }

  private Behavior<Command> onErase(Erase e) {
    Behavior<Command> flushed = flushFirst(); // so the writes' acknowledgements go out; erase would sync them anyway
    if (flushed != this) {
      return flushed;
    }
    try {
      int copies = store.erase(e.writer(), e.index(), e.term(), e.region());
      getContext().getLog().info("Erased a message of {} at log index {}: {} cop{} overwritten", e.writer(), e.index(),
          copies, copies == 1 ? "y" : "ies");
    } catch (StorageFailure | RuntimeException failure) {
      return stop(failure);
    }
    return this;
  }

  private Behavior<Command> onForget(Forget f) {
    Behavior<Command> flushed = flushFirst();
    if (flushed != this) {
      return flushed;
    }
    try {
      store.forget(f.writer());
      expectedSeq.remove(f.writer());
      persistedUpTo.remove(f.writer());
      writers.remove(f.writer());
      getContext().getLog().info("Forgot replica {}: its log records, snapshots and message store are gone from this"
          + " node", f.writer());
    } catch (StorageFailure | RuntimeException failure) {
      return stop(failure);
    }
    return this;
  }

  private Behavior<Command> onGetRecovered(GetRecovered r) {
    r.replyTo().tell(new Recovered(store.recovered(), store.lostTailTerm(), expectedSeq.keySet()));
    return this;
  }

  private Behavior<Command> onGetStats(GetStats r) {
    r.replyTo().tell(new Stats(syncs, writesSynced, bytesSynced, largestBatch));
    return this;
  }
}
