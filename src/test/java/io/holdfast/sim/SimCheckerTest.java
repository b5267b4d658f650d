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
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Goal: every checker can fail. Method: plant exactly the fault each one exists to catch and
 * assert that it is reported (and that a clean history is not). The end-to-end negative controls
 * (disks that lie) are in {@link SimulationTest}; these are the checker-by-checker ones.
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

  private static LogEntry entry(long index, long term, long value) {
    byte[] data = new byte[8];
    SimReplica.putLong(data, 0, value);
    return new LogEntry(index, term, EntryType.COMMAND, data);
  }

  private static long value(int client, int counter) {
    return ((long) client << 32) | counter;
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
    checker.observeApply(1, entry(5, 2, value(1, 1)), value(1, 1));
    checker.observeApply(2, entry(5, 2, value(1, 1)), value(1, 1));
    assertEquals(0, checker.violationCount());
    checker.observeApply(3, entry(5, 3, value(2, 1)), value(2, 1));
    assertEquals(1, checker.violationCount());
    assertTrue(checker.violations().get(0).startsWith("committed entry changed"));
  }

  @Test
  void logsThatAgreeOnATermButDifferBeforeItAreReported() {
    SimChecker checker = new SimChecker();
    SimReplica[] nodes = {null, new SimReplica(1, Snapshot.initial(Membership.ofVoters(1, 2))),
        new SimReplica(2, Snapshot.initial(Membership.ofVoters(1, 2)))};
    nodes[1].core = follower(1, List.of(entry(1, 1, 10), entry(2, 1, 11), entry(3, 2, 12)));
    nodes[2].core = follower(2, List.of(entry(1, 1, 10), entry(2, 1, 11), entry(3, 2, 12)));
    checker.checkLogMatching(nodes, 0);
    assertEquals(0, checker.violationCount());
    nodes[2].core = follower(2, List.of(entry(1, 1, 10), entry(2, 1, 99), entry(3, 2, 12)));
    checker.checkLogMatching(nodes, 0);
    assertEquals(1, checker.violationCount());
    assertTrue(checker.violations().get(0).startsWith("log matching"));
  }

  @Test
  void lostAcknowledgedValuesAreCountedAndThoseInTheMiddleToo() {
    SimChecker checker = new SimChecker();
    SimReplica[] nodes = replicasHolding(new long[] {value(1, 1), value(1, 3)}, new long[] {value(1, 1), value(1, 3)});
    for (int counter = 1; counter <= 4; counter++) {
      checker.proposed(value(1, counter));
      checker.acked(value(1, counter));
    }
    checker.checkFinal(nodes, true);
    assertEquals(2, checker.lost, "1-2 and 1-4 are on no replica");
    assertEquals(1, checker.lostMiddle, "1-2 was lost while the later 1-3 survived");
    assertEquals(0, checker.divergent);
  }

  @Test
  void aReplicaMissingWhatOthersHoldIsDivergent() {
    SimChecker checker = new SimChecker();
    SimReplica[] nodes = replicasHolding(new long[] {value(1, 1), value(1, 2)}, new long[] {value(1, 1)});
    checker.proposed(value(1, 1));
    checker.proposed(value(1, 2));
    checker.acked(value(1, 2));
    checker.checkFinal(nodes, true);
    assertEquals(0, checker.lost);
    assertEquals(1, checker.divergent);
  }

  @Test
  void valuesNobodyProposedOrAppliedTwiceAreReported() {
    SimChecker checker = new SimChecker();
    SimReplica[] nodes = replicasHolding(new long[] {value(1, 1), value(1, 1), value(9, 9)});
    checker.proposed(value(1, 1));
    checker.checkFinal(nodes, true);
    assertEquals(1, checker.duplicates);
    assertEquals(1, checker.unexpected);
    assertEquals(2, checker.violationCount());
  }

  private static SimReplica[] replicasHolding(long[]... values) {
    SimReplica[] nodes = new SimReplica[values.length + 1];
    for (int i = 0; i < values.length; i++) {
      nodes[i + 1] = new SimReplica(i + 1, Snapshot.initial(Membership.ofVoters(1)));
      for (int j = 0; j < values[i].length; j++) {
        nodes[i + 1].applyValue(j + 1, values[i][j]);
      }
    }
    return nodes;
  }

  private static io.holdfast.stream.StoredMessage stored(long seq, String msgId, long time, String expectedLastSeq) {
    java.util.TreeMap<String, List<String>> h = new java.util.TreeMap<>();
    h.put(io.holdfast.stream.StreamState.MSG_ID, List.of(msgId));
    if (expectedLastSeq != null) {
      h.put(io.holdfast.stream.StreamState.EXPECTED_LAST_SEQ, List.of(expectedLastSeq));
    }
    return new io.holdfast.stream.StoredMessage(seq, new io.holdfast.stream.Message("s.1", h, new byte[8], time));
  }

  private static final io.holdfast.stream.StreamLimits KEEP_3 = new io.holdfast.stream.StreamLimits(3, -1, 0, -1, -1,
      false, false, 100, "limits", false, false, false, false);

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

  @Test
  void replicasWhoseStreamsDifferAreReported() {
    SimReplica[] nodes = new SimReplica[3];
    for (int id = 1; id <= 2; id++) {
      nodes[id] = new SimReplica(id, Snapshot.initial(Membership.ofVoters(1, 2)));
      nodes[id].applyValue(1, value(1, 0));
    }
    SimChecker same = new SimChecker();
    same.checkStreams(nodes, KEEP_3);
    assertEquals(0, same.violationCount());
    nodes[2].applyValue(2, value(1, 2)); // (value(1, 1) would be the retry of value(1, 0): de-duplicated, same stream)
    SimChecker differ = new SimChecker();
    differ.checkStreams(nodes, KEEP_3);
    assertEquals(1, differ.violationCount());
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
