package io.holdfast.node;

import io.holdfast.storage.EntryRegion;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.ConfigFactory;
import io.holdfast.raft.message.EntryType;
import io.holdfast.raft.message.LogEntry;
import io.holdfast.storage.LogStore;
import io.holdfast.storage.LogWrite;
import io.holdfast.storage.RecoveredState;
import io.holdfast.storage.StorageFailure;
import io.holdfast.storage.sim.SimLogStore;
import java.time.Duration;
import java.util.List;
import java.util.SortedMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.actor.testkit.typed.javadsl.TestProbe;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.DispatcherSelector;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;

/**
 * Goal: the storage actor group-commits (one fsync for everything that arrived during the
 * previous one), answers in order, detects lost writes, and stops for good on a storage failure.
 * Method: a store whose fsync the test can hold open and make fail, so batching is observed
 * exactly rather than by timing.
 */
class NodeStorageTest {
  private static final ActorTestKit kit = ActorTestKit.create(
      ConfigFactory.parseString("pekko.actor.provider = local").withFallback(ConfigFactory.load()));
  private static final NodeStorage.Settings SETTINGS = new NodeStorage.Settings(4096, 16 << 20);

  @AfterAll
  static void shutdown() {
    kit.shutdownTestKit();
  }

  /** Delegates to a SimLogStore; the first sync can be held open, any sync can be made to fail. */
  static final class GatedStore implements LogStore {
    final SimLogStore inner = new SimLogStore("gated");
    final CountDownLatch firstSyncEntered = new CountDownLatch(1);
    final CountDownLatch releaseFirstSync = new CountDownLatch(1);
    final AtomicInteger syncs = new AtomicInteger();
    volatile boolean failSyncs;
    /** A bug, not a storage failure: write throws this. */
    volatile RuntimeException writeThrows;

    /** A store whose syncs go straight through. */
    static GatedStore open() {
      GatedStore s = new GatedStore();
      s.releaseFirstSync.countDown();
      return s;
    }

    @Override
    public String incarnation() {
      return inner.incarnation();
    }

    @Override
    public boolean createdFresh() {
      return inner.createdFresh();
    }

    @Override
    public SortedMap<String, RecoveredState> recovered() {
      return inner.recovered();
    }

    @Override
    public void write(String replica, LogWrite write) {
      if (writeThrows != null) {
        throw writeThrows;
      }
      inner.write(replica, write);
    }

    @Override
    public void sync() throws StorageFailure {
      if (syncs.incrementAndGet() == 1) {
        firstSyncEntered.countDown();
        try {
          releaseFirstSync.await(10, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        }
      }
      if (failSyncs) {
        throw new StorageFailure("injected: fsync failed with EIO");
      }
      inner.sync();
    }

    @Override
    public int erase(String replica, long index, long term, EntryRegion region) {
      return inner.erase(replica, index, term, region);
    }

    @Override
    public long unsyncedBytes() {
      return inner.unsyncedBytes();
    }

    @Override
    public void forget(String replica) {
      inner.forget(replica);
    }

    @Override
    public void close() {}
  }

  private static LogWrite entry(long index) {
    return LogWrite.append(index, List.of(new LogEntry(index, 1, EntryType.COMMAND, new byte[100])));
  }

  private static ActorRef<NodeStorage.Command> spawn(LogStore store) {
    return kit.spawn(NodeStorage.create(store, SETTINGS), DispatcherSelector.fromConfig(NodeStorage.DISPATCHER));
  }

  @Test
  void writesThatArriveDuringAnFsyncShareTheNextOne() throws Exception {
    GatedStore store = new GatedStore();
    ActorRef<NodeStorage.Command> storage = spawn(store);
    TestProbe<NodeStorage.Reply> probe = kit.createTestProbe();
    storage.tell(new NodeStorage.Write("w0", 1, 0, entry(1), probe.ref()));
    assertTrue(store.firstSyncEntered.await(5, TimeUnit.SECONDS));
    for (int w = 0; w < 33; w++) {
      for (long seq = (w == 0 ? 2 : 1); seq <= 3; seq++) {
        storage.tell(new NodeStorage.Write("w" + w, seq, w == 0 ? 1 : 0, entry(seq), probe.ref()));
      }
    }
    store.releaseFirstSync.countDown();
    assertEquals(new NodeStorage.Persisted("w0", 1), probe.receiveMessage());
    List<NodeStorage.Reply> rest = probe.receiveSeveralMessages(33);
    for (NodeStorage.Reply r : rest) {
      assertEquals(3, ((NodeStorage.Persisted) r).seq(), "one answer per writer covers all its writes in the batch");
    }
    TestProbe<NodeStorage.Stats> stats = kit.createTestProbe();
    storage.tell(new NodeStorage.GetStats(stats.ref()));
    NodeStorage.Stats s = stats.receiveMessage();
    assertEquals(2, s.syncs(), "99 writes, 2 fsyncs: the first alone, the 98 that queued behind it together");
    assertEquals(99, s.writesSynced());
    assertEquals(98, s.largestBatch());
    assertEquals(3, store.inner.recovered().get("w7").lastIndex());
  }

  @Test
  void aGapInAWritersSequenceAsksForAResend() {
    GatedStore store = GatedStore.open();
    ActorRef<NodeStorage.Command> storage = spawn(store);
    TestProbe<NodeStorage.Reply> probe = kit.createTestProbe();
    storage.tell(new NodeStorage.Write("w", 1, 0, entry(1), probe.ref()));
    assertEquals(new NodeStorage.Persisted("w", 1), probe.receiveMessage());
    storage.tell(new NodeStorage.Write("w", 3, 1, entry(3), probe.ref()));
    assertEquals(new NodeStorage.ResendFrom("w", 2), probe.receiveMessage());
    storage.tell(new NodeStorage.Write("w", 2, 1, entry(2), probe.ref()));
    storage.tell(new NodeStorage.Write("w", 3, 1, entry(3), probe.ref()));
    NodeStorage.Persisted last = (NodeStorage.Persisted) probe.fishForMessage(Duration.ofSeconds(5),
        r -> r instanceof NodeStorage.Persisted p && p.seq() == 3
            ? org.apache.pekko.actor.testkit.typed.javadsl.FishingOutcomes.complete()
            : org.apache.pekko.actor.testkit.typed.javadsl.FishingOutcomes.continueAndIgnore()).get(0);
    assertEquals(3, last.seq());
    assertEquals(3, store.inner.recovered().get("w").lastIndex());
  }

  @Test
  void aRestartedStorageActorPicksUpAWriterFromItsLastPersistedWrite() {
    GatedStore store = GatedStore.open();
    TestProbe<NodeStorage.Reply> probe = kit.createTestProbe();
    ActorRef<NodeStorage.Command> fresh = spawn(store);
    fresh.tell(new NodeStorage.Write("w", 7, 4, entry(1), probe.ref()));
    assertEquals(new NodeStorage.ResendFrom("w", 5), probe.receiveMessage(), "writes 5 and 6 were lost");
    fresh.tell(new NodeStorage.Write("w", 5, 4, entry(1), probe.ref()));
    assertEquals(new NodeStorage.Persisted("w", 5), probe.receiveMessage());
  }

  @Test
  void aFailedFsyncStopsStorageForGood() {
    GatedStore store = new GatedStore();
    store.failSyncs = true;
    store.releaseFirstSync.countDown();
    ActorRef<NodeStorage.Command> storage = spawn(store);
    TestProbe<NodeStorage.Reply> probe = kit.createTestProbe();
    storage.tell(new NodeStorage.Write("w", 1, 0, entry(1), probe.ref()));
    assertInstanceOf(NodeStorage.StorageStopped.class, probe.receiveMessage());
    storage.tell(new NodeStorage.Write("w", 2, 0, entry(2), probe.ref()));
    NodeStorage.StorageStopped stopped = (NodeStorage.StorageStopped) probe.receiveMessage();
    assertTrue(stopped.reason().contains("EIO"));
    assertEquals(1, store.syncs.get(), "the failed fsync is never retried");
  }

  @Test
  void anyExceptionFromTheStoreStopsStorageLikeAFailureAndTheActorLivesToSaySo() {
    GatedStore store = GatedStore.open();
    ActorRef<NodeStorage.Command> storage = spawn(store);
    TestProbe<NodeStorage.Reply> probe = kit.createTestProbe();
    storage.tell(new NodeStorage.Write("w", 1, 0, entry(1), probe.ref()));
    assertEquals(new NodeStorage.Persisted("w", 1), probe.receiveMessage());
    store.writeThrows = new IllegalStateException("a bug in the store");
    storage.tell(new NodeStorage.Write("w", 2, 1, entry(2), probe.ref()));
    NodeStorage.StorageStopped stopped = (NodeStorage.StorageStopped) probe.receiveMessage();
    assertTrue(stopped.reason().contains("a bug in the store"), stopped.reason());
    store.writeThrows = null; // the store would take writes again: storage does not trust it
    storage.tell(new NodeStorage.Write("w", 3, 1, entry(3), probe.ref()));
    assertEquals(stopped, probe.receiveMessage());
    assertEquals(1, store.inner.recovered().get("w").lastIndex(), "nothing after the failure is written");
    TestProbe<NodeStorage.Stats> stats = kit.createTestProbe();
    storage.tell(new NodeStorage.GetStats(stats.ref()));
    assertEquals(1, stats.receiveMessage().syncs(), "the actor still answers: nobody writes to a dead one");
  }

  @Test
  void whatTheStoreRecoveredIsMarkedOutOfDateForEveryWriterThatWroteSince() {
    GatedStore store = GatedStore.open();
    ActorRef<NodeStorage.Command> storage = spawn(store);
    TestProbe<NodeStorage.Reply> probe = kit.createTestProbe();
    TestProbe<NodeStorage.Recovered> recovered = kit.createTestProbe();
    storage.tell(new NodeStorage.GetRecovered(recovered.ref()));
    assertEquals(java.util.Set.of(), recovered.receiveMessage().writtenSince());
    storage.tell(new NodeStorage.Write("w", 1, 0, entry(1), probe.ref()));
    probe.receiveMessage();
    storage.tell(new NodeStorage.GetRecovered(recovered.ref()));
    assertEquals(java.util.Set.of("w"), recovered.receiveMessage().writtenSince());
    storage.tell(new NodeStorage.Forget("w"));
    storage.tell(new NodeStorage.GetRecovered(recovered.ref()));
    assertEquals(java.util.Set.of(), recovered.receiveMessage().writtenSince(), "a forgotten writer's name is new again");
  }
}
