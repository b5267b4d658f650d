package io.holdfast.sim;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.holdfast.base.Prng;
import io.holdfast.raft.RaftCore;
import io.holdfast.raft.RaftSettings;
import io.holdfast.raft.message.EntryType;
import io.holdfast.raft.message.HardState;
import io.holdfast.raft.message.LogEntry;
import io.holdfast.raft.message.Membership;
import io.holdfast.raft.message.Snapshot;
import io.holdfast.raft.message.SnapshotMeta;
import io.holdfast.replica.StreamMachine;
import io.holdfast.replica.Wire;
import io.holdfast.storage.segment.SegmentStore;
import io.holdfast.storage.sim.SimDisk;
import io.holdfast.stream.Message;
import io.holdfast.stream.StreamCommand;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Goal: every checker can fail. Method: plant exactly the fault each one exists to catch and
 * assert that it is reported (and that a clean history is not). The end-to-end negative controls
 * (disks and stores that lie) are in {@link SimulationTest}; these are the checker-by-checker ones.
 */
class SimCheckerTest {

  private static RaftCore leaderOfItsOwnGroup(int id) {
    RaftCore c = RaftCore.restart(RaftSettings.defaults(), id, HardState.INITIAL,
        Snapshot.initial(Membership.ofVoters(id)), List.of(), Prng.of(id));
    for (int i = 0; i < 40 && c.role() != RaftCore.Role.CANDIDATE; i++) {
      c.tick();
    }
    c.onPersisted(c.ready().persist());
    return c;
  }

  private static RaftCore follower(int id, List<LogEntry> entries) {
    return RaftCore.restart(RaftSettings.defaults(), id, new HardState(5, 0),
        Snapshot.initial(Membership.ofVoters(1, 2, 3)), entries, Prng.of(id));
  }

  private static long value(int client, int counter) {
    return ((long) client << 32) | counter;
  }

  /** A committed publish batch of the workload's messages for {@code values}. */
  private static LogEntry publishes(long index, long term, long... values) {
    List<Message> messages = new ArrayList<>();
    for (long v : values) {
      Wire.Publish p = SimStream.publish(v, -1);
      messages.add(new Message(p.subject(), p.headers(), p.payload(), index * 10));
    }
    return new LogEntry(index, term, EntryType.COMMAND, StreamCommand.encode(new StreamCommand.PublishBatch(messages)));
  }

  @Test
  void twoLeadersInOneTermAreReported() {
    SimChecker checker = new SimChecker();
    RaftCore a = leaderOfItsOwnGroup(1);
    RaftCore b = leaderOfItsOwnGroup(2);
    assertEquals(RaftCore.Role.LEADER, a.role());
    assertEquals(a.term(), b.term());
    checker.observeRole(a, 1);
    checker.observeRole(a, 2);
    assertEquals(0, checker.violationCount(), "the same leader seen twice is fine");
    checker.observeRole(b, 3);
    assertEquals(1, checker.violationCount());
    assertTrue(checker.violations().get(0).startsWith("election safety"));
  }

  @Test
  void aCommittedEntryThatChangesIsReported() {
    SimChecker checker = new SimChecker();
    checker.observeApply(1, publishes(5, 2, value(1, 1)), 0);
    checker.observeApply(2, publishes(5, 2, value(1, 1)), 0);
    assertEquals(0, checker.violationCount());
    checker.observeApply(3, publishes(5, 3, value(2, 1)), 0);
    assertEquals(1, checker.violationCount());
    assertTrue(checker.violations().get(0).startsWith("committed entry changed"));
  }

  @Test
  void anAppliedDamagedEntryIsReported() {
    SimChecker checker = new SimChecker();
    checker.observeApply(1, new LogEntry(3, 1, EntryType.COMMAND, new byte[0]), 0);
    assertTrue(checker.violations().get(0).startsWith("applied a damaged entry"));
  }

  @Test
  void twoSnapshotsAtOneIndexThatDifferAreReported() {
    SimChecker checker = new SimChecker();
    SnapshotMeta meta = new SnapshotMeta(7, 2, Membership.ofVoters(1, 2, 3));
    checker.observeSnapshot(1, new Snapshot(meta, new byte[] {1, 2}), 0);
    checker.observeSnapshot(2, new Snapshot(meta, new byte[] {1, 2}), 0);
    assertEquals(0, checker.violationCount());
    checker.observeSnapshot(3, new Snapshot(meta, new byte[] {1, 3}), 0);
    assertEquals(1, checker.violationCount());
    assertTrue(checker.violations().get(0).startsWith("snapshots differ"));
  }

  @Test
  void logsThatAgreeOnATermButDifferBeforeItAreReported() {
    SimChecker checker = new SimChecker();
    List<LogEntry> log = List.of(publishes(1, 1, 10), publishes(2, 1, 11), publishes(3, 2, 12));
    checker.checkLogMatching(List.of(follower(1, log), follower(2, log)), 0);
    assertEquals(0, checker.violationCount());
    checker.checkLogMatching(List.of(follower(1, log),
        follower(2, List.of(publishes(1, 1, 10), publishes(2, 1, 99), publishes(3, 2, 12)))), 0);
    assertEquals(1, checker.violationCount());
    assertTrue(checker.violations().get(0).startsWith("log matching"));
  }

  @Test
  void acknowledgedValuesMissingFromTheCommittedHistoryAreLostAndThoseInTheMiddleToo() {
    SimChecker checker = new SimChecker();
    checker.observeApply(1, publishes(1, 1, value(1, 1)), 0);
    checker.observeApply(1, publishes(2, 1, value(1, 3)), 0); // counters pair up by msg id: 1 with 0, 3 with 2
    checker.acked(value(1, 1), 1);
    checker.acked(value(1, 2), 2); // acked, but sequence 2 holds 1-3
    checker.acked(value(1, 3), 2);
    checker.acked(value(1, 4), 3);
    checker.checkAcked(null, new SimReplica[1]);
    assertEquals(2, checker.lost, "1-2 and 1-4 are not where their acks said: " + checker.violations());
    assertEquals(1, checker.lostMiddle, "1-2 was lost while the later 1-3 survived");
  }

  /** A machine on its own simulated disk that applied {@code entries}. */
  private static SimReplica replicaThatApplied(int id, SimDisk disk, LogEntry... entries) {
    SimReplica r = new SimReplica(id, Snapshot.initial(Membership.ofVoters(1)));
    r.machine = new StreamMachine("sim", synced -> SegmentStore.open(disk, new SegmentStore.Options(4096, 8), synced));
    r.machine.open(new byte[0]);
    for (LogEntry e : entries) {
      r.machine.apply(e, false);
    }
    return r;
  }

  @Test
  void anAcknowledgedMessageThatOneReplicaCannotServeIsLostOnThatReplica() {
    SimChecker checker = new SimChecker();
    LogEntry[] log = {publishes(1, 1, value(1, 0)), publishes(2, 1, value(1, 2)), publishes(3, 1, value(1, 4))};
    for (LogEntry e : log) {
      checker.observeApply(1, e, 0);
    }
    checker.acked(value(1, 2), 2);
    SimDisk damaged = new SimDisk();
    SimReplica[] nodes = {null, replicaThatApplied(1, new SimDisk(), log), replicaThatApplied(2, damaged, log)};
    checker.checkAcked(null, nodes);
    assertEquals(0, checker.violationCount(), "both serve it");
    var sync = nodes[2].machine.syncStore();
    sync.run();
    nodes[2].machine.storeSynced(sync);
    damaged.flipBit(Prng.of(1), name -> name.endsWith(".seg"));
    damaged.flipBit(Prng.of(2), name -> name.endsWith(".seg"));
    damaged.flipBit(Prng.of(3), name -> name.endsWith(".seg"));
    SimChecker again = new SimChecker();
    for (LogEntry e : log) {
      again.observeApply(1, e, 0);
    }
    for (long counter = 0; counter <= 4; counter += 2) {
      again.acked(value(1, (int) counter), counter / 2 + 1);
    }
    again.checkAcked(null, nodes);
    assertTrue(again.lostOnReplica > 0, "the damaged store's copy is not served: " + again.violations());
    assertEquals(0, again.lost, "the other replica still serves it");
  }

  /**
   * The simulator's wrapper around each machine passes every method on: a default it did not
   * override would answer for the real machine (storeUnsynced did, and hid a durability bug).
   */
  @Test
  void theObservingWrapperOverridesEveryMachineMethod() {
    for (java.lang.reflect.Method m : io.holdfast.replica.ReplicatedMachine.class.getMethods()) {
      if (java.lang.reflect.Modifier.isStatic(m.getModifiers())) {
        continue;
      }
      try {
        ObservedMachine.class.getDeclaredMethod(m.getName(), m.getParameterTypes());
      } catch (NoSuchMethodException e) {
        throw new AssertionError("ObservedMachine does not pass on " + m, e);
      }
    }
  }

  @Test
  void anAtomicPublishStoredInPartOrOutOfOrderIsReported() {
    long[] group = {value(1, 3), value(1, 4), value(1, 5)};
    SimChecker whole = new SimChecker();
    whole.proposedAtomic(group);
    whole.checkAtomic(java.util.Map.of(7L, group[0], 8L, group[1], 9L, group[2]));
    whole.checkAtomic(java.util.Map.of(1L, value(1, 1)));
    assertEquals(0, whole.violationCount(), "all at consecutive sequences, or none: " + whole.violations());

    SimChecker part = new SimChecker();
    part.proposedAtomic(group);
    part.checkAtomic(java.util.Map.of(7L, group[0], 8L, group[1]));
    assertEquals(1, part.atomicBroken);
    assertTrue(part.violations().get(0).startsWith("atomic:"), part.violations().toString());

    SimChecker spread = new SimChecker();
    spread.proposedAtomic(group);
    spread.checkAtomic(java.util.Map.of(7L, group[0], 9L, group[1], 10L, group[2]));
    assertEquals(1, spread.atomicBroken, "a hole between the first and second");
    SimChecker swapped = new SimChecker();
    swapped.proposedAtomic(group);
    swapped.checkAtomic(java.util.Map.of(7L, group[1], 8L, group[0], 9L, group[2]));
    assertEquals(1, swapped.atomicBroken, "out of order");
  }

  @Test
  void valuesNobodyProposedOrStoredTwiceAreReported() {
    SimChecker checker = new SimChecker();
    checker.proposed(value(1, 1));
    checker.checkUnique(java.util.Map.of(1L, value(1, 1), 2L, value(1, 1), 3L, value(9, 9)));
    assertEquals(1, checker.duplicates);
    assertEquals(1, checker.unexpected);
    assertEquals(2, checker.violationCount());
  }

  @Test
  void aReplicaWhoseStreamDiffersFromTheOraclesIsDivergent() {
    LogEntry[] log = {publishes(1, 1, value(1, 0)), publishes(2, 1, value(1, 2))};
    SimChecker same = new SimChecker();
    same.proposed(value(1, 0));
    same.proposed(value(1, 2));
    for (LogEntry e : log) {
      same.observeApply(1, e, 0);
    }
    io.holdfast.stream.StreamLimits keepAll = io.holdfast.stream.StreamLimits.DEFAULT.withDuplicateWindowMillis(100);
    same.checkStreams(new SimReplica[] {null, replicaThatApplied(1, new SimDisk(), log)}, keepAll, new Coverage());
    assertEquals(0, same.violationCount(), same.violations().toString());
    SimChecker differ = new SimChecker();
    differ.proposed(value(1, 0));
    differ.proposed(value(1, 2));
    for (LogEntry e : log) {
      differ.observeApply(1, e, 0);
    }
    differ.checkStreams(new SimReplica[] {null, replicaThatApplied(1, new SimDisk(), log[0])}, keepAll, new Coverage());
    assertEquals(1, differ.divergent, differ.violations().toString());
  }

  private static io.holdfast.stream.StoredMessage stored(long seq, String msgId, long time, String expectedLastSeq) {
    java.util.TreeMap<String, List<String>> h = new java.util.TreeMap<>();
    h.put(io.holdfast.stream.StreamState.MSG_ID, List.of(msgId));
    if (expectedLastSeq != null) {
      h.put(io.holdfast.stream.StreamState.EXPECTED_LAST_SEQ, List.of(expectedLastSeq));
    }
    return new io.holdfast.stream.StoredMessage(seq, new io.holdfast.stream.Message("s.1", h, new byte[8], time));
  }

  private static final io.holdfast.stream.StreamLimits KEEP_3 = io.holdfast.stream.StreamLimits.DEFAULT.withMaxMsgs(3)
      .withDuplicateWindowMillis(100);

  @Test
  void streamChecksPassAStreamThatKeepsItsRules() {
    assertEquals(List.of(), SimStream.check(List.of(stored(3, "a", 10, null), stored(4, "b", 20, "3"),
        stored(5, "a", 200, null)), 5, KEEP_3), "the same msg id outside the window is fine");
  }

  @Test
  void aMessageTheLimitsSayMustRemainButIsMissingIsReported() {
    List<String> problems = SimStream.check(List.of(stored(3, "a", 10, null), stored(5, "c", 30, null)), 5, KEEP_3);
    assertEquals(1, problems.size(), problems.toString());
    assertTrue(problems.get(0).startsWith("limits:"), problems.get(0));
    assertTrue(SimStream.check(List.of(stored(4, "b", 20, null), stored(5, "c", 30, null)), 5, KEEP_3).get(0)
        .startsWith("limits:"), "too few kept");
  }

  @Test
  void aMsgIdStoredTwiceInsideTheWindowIsReported() {
    List<String> problems = SimStream.check(List.of(stored(1, "a", 10, null), stored(2, "a", 60, null)), 2, KEEP_3);
    assertEquals(1, problems.size(), problems.toString());
    assertTrue(problems.get(0).startsWith("dedupe:"), problems.get(0));
  }

  @Test
  void aStoredMessageWhoseExpectationDidNotHoldIsReported() {
    List<String> problems = SimStream.check(List.of(stored(1, "a", 10, null), stored(2, "b", 20, "5")), 2, KEEP_3);
    assertEquals(1, problems.size(), problems.toString());
    assertTrue(problems.get(0).startsWith("expectation:"), problems.get(0));
  }

  // ---- consumers: each check passes a history that keeps the rule and reports one that breaks it ----

  private static SimStream.Event delivered(long seq, long value) {
    return new SimStream.Event(seq, false, value);
  }

  private static SimStream.Event acked(long seq) {
    return new SimStream.Event(seq, true, 0);
  }

  private static final java.util.Map<Long, Long> STORED = java.util.Map.of(1L, 11L, 2L, 12L, 3L, 13L);

  @Test
  void aConsumerHistoryThatKeepsTheRulesPasses() {
    assertEquals(List.of(), SimStream.checkConsumer("d0", List.of(delivered(1, 11), delivered(2, 12), delivered(1, 11),
        acked(1), delivered(3, 13), acked(2), acked(3)), STORED, List.of(1L, 2L, 3L)));
  }

  @Test
  void aDeliveryAfterItsAckIsReported() {
    List<String> problems = SimStream.checkConsumer("d0", List.of(delivered(1, 11), acked(1), delivered(1, 11)),
        STORED, List.of(1L));
    assertEquals(1, problems.size(), problems.toString());
    assertTrue(problems.get(0).contains("delivered again after its ack"), problems.get(0));
  }

  @Test
  void aDeliveryOfSomethingNotStoredThereIsReported() {
    List<String> problems = SimStream.checkConsumer("d0", List.of(delivered(1, 12)), STORED, List.of());
    assertTrue(problems.get(0).contains("at sequence 1, which holds"), problems.toString());
    assertTrue(SimStream.checkConsumer("d0", List.of(delivered(9, 19)), STORED, List.of()).get(0)
        .contains("nothing stored"));
  }

  @Test
  void firstDeliveriesOutOfStreamOrderAreReported() {
    List<String> problems = SimStream.checkConsumer("d0", List.of(delivered(2, 12), delivered(1, 11)), STORED,
        List.of());
    assertTrue(problems.get(0).contains("first delivery of 1 after that of 2"), problems.toString());
  }

  @Test
  void aRetainedMessageNeverDeliveredIsReported() {
    List<String> problems = SimStream.checkConsumer("d0", List.of(delivered(1, 11)), STORED, List.of(1L, 3L));
    assertEquals(List.of("consumer d0: sequence 3 is in the stream but was never delivered"), problems);
  }
}
