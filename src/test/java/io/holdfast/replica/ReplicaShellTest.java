package io.holdfast.replica;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.ConfigFactory;
import io.holdfast.node.NodeStorage;
import io.holdfast.raft.RaftCore;
import io.holdfast.raft.RaftSettings;
import io.holdfast.raft.message.Membership;
import io.holdfast.storage.file.FileLogStore;
import io.holdfast.transport.ReplicaHost;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.actor.testkit.typed.javadsl.ManualTime;
import org.apache.pekko.actor.testkit.typed.javadsl.TestProbe;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.DispatcherSelector;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Goal: the actor shell moves the core's effects faithfully — an acknowledged proposal is fsynced
 * on a majority and applied everywhere, and survives a replica being killed and restarted from its
 * own disk; members are added and retired; a leader whose writes do not persist stops taking
 * proposals at its cap; writes lost on the way to storage are sent again; a replica stops with its
 * storage. Method: replicas in one JVM, each with its own NodeStorage over a real FileLogStore (or
 * a stand-in storage actor that withholds or loses writes); local actor messages stand in for the
 * network. Time is Pekko's ManualTime: a replica's timers (its ticks: elections, heartbeats, the
 * retiring replica's asking to leave) fire only when a test lets time pass, one tick at a time
 * while it waits for a condition ({@link #advancingUntil}); the replicas' clock moves with it.
 * Only fsyncs and message passing take real time.
 */
class ReplicaShellTest {
  private static final RaftSettings SETTINGS = RaftSettings.defaults().withInflightAppendsMax(16)
      .withAppendEntriesMax(256).withAppendBytesMax(1 << 20).withUncommittedEntriesMax(10_000)
      .withApplyEntriesMax(1024);
  private static final Duration TICK = Duration.ofMillis(10);
  private static final Membership GROUP = Membership.ofVoters(1, 2, 3);

  @TempDir
  Path tmp;
  private final ActorTestKit kit = ActorTestKit.create(ManualTime.config()
      .withFallback(ConfigFactory.parseString("pekko.actor.provider = local")).withFallback(ConfigFactory.load()));
  private final ManualTime time = ManualTime.get(kit.system());
  private final TestClock clock = new TestClock();
  private final TreeMap<Integer, FileLogStore> stores = new TreeMap<>();
  private final TreeMap<Integer, ActorRef<NodeStorage.Command>> storages = new TreeMap<>();
  private final TreeMap<Integer, ActorRef<ReplicaShell.Command>> replicas = new TreeMap<>();
  private final TreeMap<Integer, ActorRef<ReplicaHost.Command>> hosts = new TreeMap<>();
  private int incarnation;

  /** The replicas' clock: moves only with the actor system's manual time, in {@link #tick}. */
  private static final class TestClock implements ReplicaShell.Clock {
    private final AtomicLong nanos = new AtomicLong(1_000_000_000L);

    @Override
    public long nanos() {
      return nanos.get();
    }

    @Override
    public long millis() {
      return 1_700_000_000_000L + nanos.get() / 1_000_000;
    }
  }

  /** One tick interval passes: the clock moves, then the timers due by then fire. */
  private void tick() {
    clock.nanos.addAndGet(TICK.toNanos());
    time.timePasses(TICK);
  }

  /**
   * Lets time pass a tick at a time until {@code attempt} returns without an AssertionError, and
   * returns what it returned. {@code wallLimit} bounds the real time this may take (a failing test
   * fails, never hangs); the replicas see only as much time as the condition needed.
   */
  private <T> T advancingUntil(Duration wallLimit, java.util.concurrent.Callable<T> attempt) throws Exception {
    long deadline = System.nanoTime() + wallLimit.toNanos();
    while (true) {
      try {
        return attempt.call();
      } catch (AssertionError notYet) {
        if (System.nanoTime() > deadline) {
          throw notYet;
        }
      }
      tick();
    }
  }

  /** Until {@code ref} has stopped, letting time pass. */
  private void awaitTerminated(ActorRef<?> ref) throws Exception {
    TestProbe<Object> watcher = kit.createTestProbe();
    advancingUntil(Duration.ofSeconds(30), () -> {
      watcher.expectTerminated(ref, Duration.ofMillis(20));
      return null;
    });
  }

  @AfterEach
  void shutdown() throws Exception {
    kit.shutdownTestKit();
    for (FileLogStore s : stores.values()) {
      s.close();
    }
  }

  private void start(int id) throws Exception {
    start(id, GROUP);
  }

  /** Replica {@code id} on its own node's storage; {@code initial} is the membership an empty log starts with. */
  private void start(int id, Membership initial) throws Exception {
    FileLogStore store = FileLogStore.open(FileLogStore.Options.defaults(tmp.resolve("node" + id)));
    stores.put(id, store);
    ActorRef<NodeStorage.Command> storage = kit.spawn(NodeStorage.create(store, new NodeStorage.Settings(4096, 16 << 20)),
        "storage-" + id + "-" + incarnation, DispatcherSelector.fromConfig(NodeStorage.DISPATCHER));
    storages.put(id, storage);
    hosts.put(id, kit.spawn(ReplicaHost.create(), "host-" + id + "-" + incarnation));
    replicas.put(id, kit.spawn(ReplicaShell.create("stream-a", id, initial, SETTINGS, TICK, storage,
        1000L * id + incarnation,
        new StreamMachine("stream-a", synced -> io.holdfast.storage.segment.SegmentStore.open(
            new io.holdfast.storage.file.FileDisk(tmp.resolve("node" + id).resolve("streams")),
            io.holdfast.storage.segment.SegmentStore.Options.defaults(), synced)), clock),
        "replica-" + id + "-" + incarnation));
    incarnation++;
  }

  private void connectAll() {
    Map<Integer, ActorRef<ReplicaHost.Command>> peers = Map.copyOf(hosts);
    replicas.forEach((id, r) -> r.tell(new ReplicaShell.Connect(peers, hosts.get(id))));
  }

  private void stop(int id) throws Exception {
    TestProbe<Object> watcher = kit.createTestProbe();
    ActorRef<NodeStorage.Command> storage = storages.remove(id);
    kit.stop(replicas.remove(id));
    kit.stop(hosts.remove(id));
    kit.stop(storage);
    watcher.expectTerminated(storage); // the store is only ever used from that actor: now it is free
    stores.remove(id).close(); // unsynced writes (none were acknowledged) are gone, as after kill -9
  }

  /** Replicas 1-3 started and connected; the one that leads, once one does. */
  private int startThreeAndAwaitLeader() throws Exception {
    for (int id = 1; id <= 3; id++) {
      start(id);
    }
    connectAll();
    return awaitLeader();
  }

  /** The replica that currently leads, once there is one. */
  private int awaitLeader() throws Exception {
    TestProbe<ReplicaDriver.Status> status = kit.createTestProbe();
    return advancingUntil(Duration.ofSeconds(20), () -> {
      for (int id : replicas.keySet()) {
        replicas.get(id).tell(new ReplicaShell.GetStatus(status.ref()));
        if (status.receiveMessage().role() == RaftCore.Role.LEADER) {
          return id;
        }
      }
      throw new AssertionError("no leader yet");
    });
  }

  /** Publishes through the leader; if leadership moved meanwhile, through the next one. Returns the ack. */
  private Wire.Seq publish(String value) throws Exception {
    TestProbe<ReplicaShell.ProposeReply> probe = kit.createTestProbe();
    for (int attempt = 0; attempt < 20; attempt++) {
      replicas.get(awaitLeader()).tell(new ReplicaShell.Propose(
          new Wire.Publish("orders.new", null, value.getBytes(StandardCharsets.UTF_8)), probe.ref()));
      if (receive(probe) instanceof ReplicaShell.Applied a) {
        return (Wire.Seq) a.outcome();
      }
    }
    throw new AssertionError("no leader accepted " + value);
  }

  /** The next message {@code probe} gets, letting time pass until it comes. */
  private <T> T receive(TestProbe<T> probe) throws Exception {
    return advancingUntil(Duration.ofSeconds(20), () -> probe.receiveMessage(Duration.ofMillis(20)));
  }

  /** The stream as replica {@code id} has applied it: payloads in sequence order, from 1. */
  private List<String> appliedOn(int id) {
    TestProbe<Wire.ReadReply> probe = kit.createTestProbe();
    replicas.get(id).tell(new ReplicaShell.Read(new Wire.GetMessages(1, 10_000), false, probe.ref()));
    List<String> out = new ArrayList<>();
    long expectedSeq = 1;
    for (var m : ((Wire.Messages) probe.receiveMessage()).messages()) {
      assertEquals(expectedSeq++, m.seq(), "sequences are contiguous from 1");
      out.add(new String(m.message().payload(), StandardCharsets.UTF_8));
    }
    return out;
  }

  private void awaitAllApplied(List<String> expected) throws Exception {
    advancingUntil(Duration.ofSeconds(20), () -> {
      for (int id : replicas.keySet()) {
        assertEquals(expected, appliedOn(id), "replica " + id);
      }
      return null;
    });
  }

  @Test
  void acknowledgedProposalsAreAppliedEverywhereAndSurviveARestartFromDisk() throws Exception {
    for (int id = 1; id <= 3; id++) {
      start(id);
    }
    connectAll();
    List<String> acked = new ArrayList<>();
    for (int i = 0; i < 50; i++) {
      assertEquals(new Wire.Seq("stream-a", i + 1), publish("v" + i));
      acked.add("v" + i);
    }
    awaitAllApplied(acked);

    int leader = awaitLeader();
    stop(leader); // the leader dies; the others elect a new one and go on
    connectAll();
    for (int i = 50; i < 80; i++) {
      assertEquals(new Wire.Seq("stream-a", i + 1), publish("v" + i));
      acked.add("v" + i);
    }
    start(leader); // back from its own disk, under its old identity (its disk is intact)
    connectAll();
    awaitAllApplied(acked);
  }

  @Test
  void concurrentPublishesEachGetADistinctSequenceAndTogetherOneToN() throws Exception {
    int leader = startThreeAndAwaitLeader();
    TestProbe<ReplicaShell.ProposeReply> probe = kit.createTestProbe();
    for (int i = 0; i < 200; i++) { // no waiting in between: they arrive together and share entries
      replicas.get(leader).tell(new ReplicaShell.Propose(
          new Wire.Publish("orders.new", null, ("c" + i).getBytes(StandardCharsets.UTF_8)), probe.ref()));
    }
    java.util.TreeSet<Long> seqs = new java.util.TreeSet<>();
    for (int i = 0; i < 200; i++) {
      seqs.add(((Wire.Seq) ((ReplicaShell.Applied) receive(probe)).outcome()).seq());
    }
    assertEquals(200, seqs.size());
    assertEquals(1L, seqs.first());
    assertEquals(200L, seqs.last());
    List<String> expected = new ArrayList<>();
    for (int i = 0; i < 200; i++) {
      expected.add("c" + i);
    }
    awaitAllApplied(expected); // in publish order: one publisher, one leader
  }

  @Test
  void aLeaderReadSeesEveryProposalThatReachedTheLeaderBeforeIt() throws Exception {
    // As a NATS client's fire-and-forget acks then its consumer info: nobody waits for the
    // proposals, and the read right behind them must not be answered from the state before them.
    int leader = startThreeAndAwaitLeader();
    publish("warm-up"); // the leader has committed in its term: its reads are answered
    ActorRef<ReplicaShell.ProposeReply> nobody = kit.system().ignoreRef();
    for (int i = 0; i < 50; i++) {
      replicas.get(leader).tell(new ReplicaShell.Propose(
          new Wire.Publish("orders.new", null, ("f" + i).getBytes(StandardCharsets.UTF_8)), nobody));
    }
    TestProbe<Wire.ReadReply> probe = kit.createTestProbe();
    replicas.get(leader).tell(new ReplicaShell.Read(new Wire.GetMessages(1, 10_000), true, probe.ref()));
    Wire.ReadReply reply = receive(probe);
    assertEquals(51, ((Wire.Messages) reply).messages().size(), "the read waited for the 50 proposals before it");
  }

  @Test
  void aReplicaStopsWhenTheNodesStorageActorStops() throws Exception {
    start(1);
    TestProbe<Object> watcher = kit.createTestProbe();
    ActorRef<ReplicaShell.Command> replica = replicas.get(1);
    awaitStatus(replica);
    kit.stop(storages.get(1));
    watcher.expectTerminated(replica, Duration.ofSeconds(10)); // rather than wait forever for writes to persist
  }

  @Test
  void aReplicaDoesNotStartAgainOnRecoveredStateItHasWrittenPast() throws Exception {
    start(1);
    ActorRef<ReplicaShell.Command> first = replicas.get(1);
    awaitStatus(first); // it started, and wrote its bootstrap snapshot through the node's storage
    TestProbe<Object> watcher = kit.createTestProbe();
    kit.stop(first);
    watcher.expectTerminated(first);
    // The same storage name again, in the same process: what the store recovered at open no longer
    // holds what that replica persisted (its votes, its acknowledged entries), so it must not start.
    ActorRef<ReplicaShell.Command> again = kit.spawn(ReplicaShell.create("stream-a", 1, GROUP, SETTINGS, TICK,
        storages.get(1), 7, new StreamMachine("stream-a", synced -> io.holdfast.storage.segment.SegmentStore.open(
            new io.holdfast.storage.file.FileDisk(tmp.resolve("node1").resolve("streams")),
            io.holdfast.storage.segment.SegmentStore.Options.defaults(), synced)), clock), "replica-1-again");
    watcher.expectTerminated(again, Duration.ofSeconds(10));
  }

  /**
   * Told by its node's storage to snapshot soon (the WAL is over budget), a replica waits its own
   * share of {@link ReplicaDriver#COMPACT_SPREAD_TICKS} first, so that the node's replicas told at
   * once do not all snapshot at once; then it does snapshot.
   */
  @Test
  void aReplicaToldToCompactSoonSnapshotsAfterItsShareOfTheSpread() throws Exception {
    startThreeAndAwaitLeader();
    List<String> values = List.of("a", "b", "c");
    for (String v : values) {
      publish(v);
    }
    awaitAllApplied(values);
    int id = java.util.stream.IntStream.rangeClosed(1, 3).boxed()
        .max(java.util.Comparator.comparingInt(r -> ReplicaDriver.compactSoonDelay("stream-a", r))).orElseThrow();
    int share = ReplicaDriver.compactSoonDelay("stream-a", id);
    assertTrue(share >= 10, "the test needs a share of some length, got " + share);
    long before = snapshotIndex(id);
    long applied = statusOf(id).appliedIndex();
    replicas.get(id).tell(new ReplicaShell.FromStorage(new NodeStorage.CompactSoon("stream-a")));
    for (int i = 0; i < share - 1; i++) {
      tick();
      assertEquals(before, snapshotIndex(id), "snapshotted after " + (i + 1) + " of its " + share + " ticks");
    }
    advancingUntil(Duration.ofSeconds(20), () -> {
      long now = snapshotIndex(id);
      assertTrue(now >= applied, "snapshot at " + now + ", applied " + applied);
      return null;
    });
  }

  private ReplicaDriver.Status statusOf(int id) {
    return awaitStatus(replicas.get(id));
  }

  private long snapshotIndex(int id) {
    return statusOf(id).snapshotIndex();
  }

  private ReplicaDriver.Status awaitStatus(ActorRef<ReplicaShell.Command> replica) {
    TestProbe<ReplicaDriver.Status> status = kit.createTestProbe();
    replica.tell(new ReplicaShell.GetStatus(status.ref()));
    return status.receiveMessage(Duration.ofSeconds(10));
  }

  @Test
  void aNewMemberIsAddedAsALearnerAndPromotedAndARemovedOneRetires() throws Exception {
    for (int id = 1; id <= 3; id++) {
      start(id);
    }
    connectAll();
    publish("before");
    start(4, Membership.EMPTY); // an empty replica the leader brings up to date
    connectAll();
    List<Integer> four = List.of(1, 2, 3, 4);
    replicas.values().forEach(r -> r.tell(new ReplicaShell.Members(four)));
    awaitVoters(four);
    awaitAllApplied(List.of("before"));

    // Replica 3 is no longer wanted: the group removes it, and it goes once a leader says the removal is committed.
    ActorRef<ReplicaShell.Command> three = replicas.get(3);
    List<Integer> without = List.of(1, 2, 4);
    replicas.values().forEach(r -> r.tell(new ReplicaShell.Members(without)));
    three.tell(ReplicaShell.Retire.INSTANCE);
    awaitTerminated(three);
    replicas.remove(3);
    awaitVoters(without);
    publish("after");
    awaitAllApplied(List.of("before", "after"));
  }

  @Test
  void aLeaderWhoseWritesDoNotPersistRefusesProposalsOnceItHoldsTheCap() throws Exception {
    // A one-replica group over a storage actor that persists the small writes that make it leader
    // (its bootstrap, its vote, its no-op), then takes writes and never says they are persisted.
    java.util.concurrent.atomic.AtomicLong held = new java.util.concurrent.atomic.AtomicLong();
    java.util.concurrent.atomic.AtomicBoolean swallowing = new java.util.concurrent.atomic.AtomicBoolean();
    ActorRef<NodeStorage.Command> storage = kit.spawn(org.apache.pekko.actor.typed.javadsl.Behaviors.receive(
        NodeStorage.Command.class).onMessage(NodeStorage.GetRecovered.class, g -> {
          g.replyTo().tell(new NodeStorage.Recovered(new java.util.TreeMap<>(), 0, java.util.Set.of()));
          return org.apache.pekko.actor.typed.javadsl.Behaviors.same();
        }).onMessage(NodeStorage.Write.class, w -> {
          if (swallowing.get() || w.write().weightBytes() > 10_000) {
            swallowing.set(true); // from the first publish on, nothing is persisted
            held.addAndGet(w.write().weightBytes());
          } else {
            w.replyTo().tell(new NodeStorage.Persisted(w.writer(), w.seq()));
          }
          return org.apache.pekko.actor.typed.javadsl.Behaviors.same();
        }).build(), "swallowing-storage");
    ActorRef<ReplicaShell.Command> solo = kit.spawn(ReplicaShell.create("solo", 1, Membership.ofVoters(1), SETTINGS,
        TICK, storage, 1, new StreamMachine("solo", synced -> io.holdfast.storage.segment.SegmentStore.open(
            new io.holdfast.storage.file.FileDisk(tmp.resolve("solo")),
            io.holdfast.storage.segment.SegmentStore.Options.defaults(), synced)), clock), "solo");
    awaitLeading(solo);
    TestProbe<ReplicaShell.ProposeReply> replies = kit.createTestProbe();
    byte[] payload = new byte[100 << 10];
    int proposals = (int) (2 * ReplicaDriver.UNPERSISTED_BYTES_MAX / payload.length); // twice the cap's worth
    for (int i = 0; i < proposals; i++) {
      solo.tell(new ReplicaShell.Propose(new Wire.Publish("solo.x", null, payload), replies.ref()));
    }
    ReplicaShell.ProposeReply first = receive(replies);
    assertEquals(new ReplicaShell.Refused(io.holdfast.raft.ProposeResult.Reason.TOO_MANY_UNCOMMITTED, 1), first,
        "nothing is applied (nothing persisted); what is refused is refused for holding too much");
    // It wrote up to the cap and at most one more entry beyond it (the check comes before each entry).
    advancingUntil(Duration.ofSeconds(10), () -> {
      org.junit.jupiter.api.Assertions.assertTrue(held.get() >= ReplicaDriver.UNPERSISTED_BYTES_MAX, "held " + held);
      return null;
    });
    org.junit.jupiter.api.Assertions.assertTrue(
        held.get() < ReplicaDriver.UNPERSISTED_BYTES_MAX + 2L * ReplicaDriver.BATCH_BYTES_MAX, "held " + held);
  }

  @Test
  void writesLostOnTheWayToStorageAreSentAgainWhenStorageAsksForThem() throws Exception {
    // A one-replica group whose second write to storage is lost (as if the storage actor had
    // restarted and missed it): storage answers the third with ResendFrom(2), the replica resends.
    FileLogStore store = FileLogStore.open(FileLogStore.Options.defaults(tmp.resolve("lossy")));
    stores.put(9, store);
    ActorRef<NodeStorage.Command> real = kit.spawn(NodeStorage.create(store, new NodeStorage.Settings(4096, 16 << 20)),
        "lossy-storage", DispatcherSelector.fromConfig(NodeStorage.DISPATCHER));
    java.util.concurrent.atomic.AtomicInteger dropped = new java.util.concurrent.atomic.AtomicInteger();
    ActorRef<NodeStorage.Command> lossy = kit.spawn(org.apache.pekko.actor.typed.javadsl.Behaviors.receive(
        NodeStorage.Command.class).onMessage(NodeStorage.Write.class, w -> {
          if (w.seq() == 2 && dropped.getAndIncrement() == 0) {
            return org.apache.pekko.actor.typed.javadsl.Behaviors.same(); // the first copy of write 2 is lost
          }
          real.tell(w);
          return org.apache.pekko.actor.typed.javadsl.Behaviors.same();
        }).onAnyMessage(m -> {
          real.tell(m);
          return org.apache.pekko.actor.typed.javadsl.Behaviors.same();
        }).build(), "lossy");
    ActorRef<ReplicaShell.Command> solo = kit.spawn(ReplicaShell.create("lossy", 1, Membership.ofVoters(1), SETTINGS,
        TICK, lossy, 1, new StreamMachine("lossy", synced -> io.holdfast.storage.segment.SegmentStore.open(
            new io.holdfast.storage.file.FileDisk(tmp.resolve("lossy").resolve("streams")),
            io.holdfast.storage.segment.SegmentStore.Options.defaults(), synced)), clock), "lossy-replica");
    awaitLeading(solo);
    TestProbe<ReplicaShell.ProposeReply> replies = kit.createTestProbe();
    List<Long> seqs = new ArrayList<>();
    for (int i = 0; i < 5; i++) {
      solo.tell(new ReplicaShell.Propose(new Wire.Publish("lossy.x", null, new byte[] {(byte) i}), replies.ref()));
      ReplicaShell.ProposeReply r = receive(replies);
      seqs.add(((Wire.Seq) ((ReplicaShell.Applied) r).outcome()).seq());
    }
    assertEquals(List.of(1L, 2L, 3L, 4L, 5L), seqs);
    assertEquals(2, dropped.get(), "write 2 was lost once and sent again");
  }

  /** Until {@code replica} leads. */
  private void awaitLeading(ActorRef<ReplicaShell.Command> replica) throws Exception {
    TestProbe<ReplicaDriver.Status> status = kit.createTestProbe();
    advancingUntil(Duration.ofSeconds(10), () -> {
      replica.tell(new ReplicaShell.GetStatus(status.ref()));
      assertEquals(RaftCore.Role.LEADER, status.receiveMessage().role());
      return null;
    });
  }

  /** Until the leader's voters are exactly {@code voters}. */
  private void awaitVoters(List<Integer> voters) throws Exception {
    TestProbe<ReplicaDriver.Status> status = kit.createTestProbe();
    advancingUntil(Duration.ofSeconds(30), () -> {
      replicas.get(awaitLeader()).tell(new ReplicaShell.GetStatus(status.ref()));
      assertEquals(voters, status.receiveMessage().voters().stream().sorted().toList());
      return null;
    });
  }
}
