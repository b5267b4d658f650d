package io.holdfast.raft;

import static io.holdfast.raft.CoreHarness.bytes;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.holdfast.base.Check;
import io.holdfast.base.Prng;
import io.holdfast.raft.message.EntryType;
import io.holdfast.raft.message.HardState;
import io.holdfast.raft.message.LogEntry;
import io.holdfast.raft.message.Membership;
import io.holdfast.raft.message.RaftMessage;
import io.holdfast.raft.message.RaftMessage.AppendEntries;
import io.holdfast.raft.message.RaftMessage.AppendEntriesResult;
import io.holdfast.raft.message.RaftMessage.InstallSnapshot;
import io.holdfast.raft.message.RaftMessage.RequestVote;
import io.holdfast.raft.message.RaftMessage.RequestVoteResult;
import io.holdfast.raft.message.Snapshot;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Goal: pin down, one rule per test, what the Raft core promises — above all the persistence
 * rules D1–D3 that JetStream broke. Method: drive cores by hand through {@link CoreHarness}, where
 * nothing is persisted or delivered unless the test says so, and look at exactly what comes out.
 * The simulator covers the interleavings; these tests name the rules.
 */
class RaftCoreTest {

  private static List<LogEntry> log(long... terms) {
    List<LogEntry> out = new ArrayList<>();
    for (int i = 0; i < terms.length; i++) {
      out.add(new LogEntry(i + 1, terms[i], EntryType.COMMAND, bytes("e" + (i + 1))));
    }
    return out;
  }

  private static RaftCore restarted(int id, long term, int votedFor, List<LogEntry> entries, int... voters) {
    return RaftCore.restart(CoreHarness.SETTINGS, id, new HardState(term, votedFor),
        Snapshot.initial(Membership.ofVoters(voters)), entries, Prng.of(id));
  }

  // --- D6/D7: a lost tail ----------------------------------------------------------------------

  @Test
  void aReplicaThatLostItsTailNeitherVotesNorCampaignsUntilItHoldsAnEntryOfALaterTerm() {
    // Entries 1-3 of term 2 were committed on 1 and 3; then 3's synced tail was cut off: it holds
    // only entry 1, and its store says terms up to 2 may be gone. 2 never had entries 2-3.
    CoreHarness h = new CoreHarness();
    h.add(1, restarted(1, 2, 1, log(2, 2, 2), 1, 2, 3));
    h.add(2, restarted(2, 2, 1, log(2), 1, 2, 3));
    h.add(3, RaftCore.restart(CoreHarness.SETTINGS, 3, new HardState(2, 1), Snapshot.initial(Membership.ofVoters(1, 2, 3)),
        log(2), new java.util.TreeMap<>(), false, 2, Prng.of(3)));
    assertTrue(h.core(3).recoveringLostTail());

    h.isolated.add(1); // the only intact copy is away
    h.runFor(10 * CoreHarness.SETTINGS.electionTimeoutTicks());
    assertNotEquals(RaftCore.Role.LEADER, h.core(2).role(), "3's vote would have let 2 lead without entries 2-3");
    assertNotEquals(RaftCore.Role.LEADER, h.core(3).role());
    assertTrue(h.delivered.stream().noneMatch(m -> m instanceof RequestVote rv && rv.from() == 3), "3 never campaigns");
    assertTrue(h.delivered.stream().noneMatch(m -> m instanceof RequestVoteResult r && r.from() == 3 && r.granted()),
        "3 grants nothing, not even a pre-vote");

    h.isolated.clear();
    h.runFor(10 * CoreHarness.SETTINGS.electionTimeoutTicks());
    assertEquals(RaftCore.Role.LEADER, h.core(1).role(), "only the replica holding 1-3 can win");
    assertFalse(h.core(3).recoveringLostTail(), "3 holds an entry of the new leader's term: recovered");
    assertEquals(h.core(1).lastIndex(), h.core(3).lastIndex());
    assertEquals(log(2, 2, 2), h.applied.get(3).subList(0, 3), "3 applies the entries it had lost, from 1");
  }

  @Test
  void negativeControlWithoutTheLostTailRuleTheCutReplicaElectsALeaderMissingCommittedEntries() {
    // The same history, but 3 restarts as if its store had taken the cut for a torn write.
    CoreHarness h = new CoreHarness();
    h.add(1, restarted(1, 2, 1, log(2, 2, 2), 1, 2, 3));
    h.add(2, restarted(2, 2, 1, log(2), 1, 2, 3));
    h.add(3, restarted(3, 2, 1, log(2), 1, 2, 3));
    h.isolated.add(1);
    h.runFor(10 * CoreHarness.SETTINGS.electionTimeoutTicks());
    RaftCore leader = h.core(2).role() == RaftCore.Role.LEADER ? h.core(2) : h.core(3);
    assertEquals(RaftCore.Role.LEADER, leader.role(), "2 or 3 leads with the other's vote");
    assertNotEquals(2, leader.termAt(2), "entry 2 of term 2, committed on 1 and 3, is overwritten: this history loses it");
  }

  @Test
  void aSoleVoterThatLostItsTailCarriesOn() {
    CoreHarness h = new CoreHarness();
    h.add(1, RaftCore.restart(CoreHarness.SETTINGS, 1, new HardState(4, 1), Snapshot.initial(Membership.ofVoters(1)),
        log(4), new java.util.TreeMap<>(), false, 7, Prng.of(1)));
    assertFalse(h.core(1).recoveringLostTail(), "nobody to recover from");
    h.elect(1);
    assertTrue(h.core(1).term() > 7, "it never votes again in a term the lost tail may have held");
  }

  // --- D1: persist before acknowledging --------------------------------------------------------

  @Test
  void followerAcknowledgesOnlyPersistedEntries() {
    CoreHarness h = new CoreHarness();
    h.add(1, restarted(1, 1, 0, List.of(), 1, 2, 3));
    RaftCore follower = h.core(1);
    follower.step(new AppendEntries(2, 1, 1, 0, 0, log(1, 1), 0));
    h.drain(1);

    AppendEntriesResult before = (AppendEntriesResult) h.take(m -> true).get(0);
    assertTrue(before.success());
    assertEquals(0, before.matchIndex(), "nothing is durable yet, so nothing may be claimed as matched");
    assertEquals(2, before.hintIndex(), "the leader learns the entries arrived, so it need not resend them");

    h.persist(1);
    AppendEntriesResult after = (AppendEntriesResult) h.take(m -> true).get(0);
    assertEquals(2, after.matchIndex(), "once durable, the follower reports them on its own");
  }

  @Test
  void leaderCountsItselfOnlyUpToItsOwnPersistedIndex() {
    CoreHarness h = CoreHarness.of(3);
    h.elect(1);
    RaftCore leader = h.core(1);
    long committedBefore = leader.commitIndex();
    leader.propose(bytes("x"));
    h.drain(1); // leader's own write is queued, not durable
    h.deliverAll();
    h.persist(2); // one follower persists
    h.deliverAll();
    assertEquals(committedBefore, leader.commitIndex(),
        "leader (unpersisted) + one follower is not a majority of persisted copies");

    h.persist(3);
    h.deliverAll();
    assertEquals(leader.lastIndex(), leader.commitIndex(), "two persisted followers are a majority without the leader");
    assertFalse(h.unpersisted.get(1).isEmpty(), "the leader's own write is still pending: it was not counted");
  }

  @Test
  void commitIsReachedOnlyWhenAMajorityHasPersisted() {
    CoreHarness h = CoreHarness.of(5);
    h.elect(1);
    RaftCore leader = h.core(1);
    leader.propose(bytes("x"));
    h.drain(1);
    h.persist(1);
    h.deliverAll();
    h.persist(2);
    h.deliverAll();
    assertNotEquals(leader.lastIndex(), leader.commitIndex(), "2 of 5 persisted");
    h.persist(3);
    h.deliverAll();
    assertEquals(leader.lastIndex(), leader.commitIndex(), "3 of 5 persisted");
  }

  // --- D2: persist before voting -----------------------------------------------------------------

  @Test
  void candidateSendsVoteRequestsOnlyAfterItsNewTermIsPersisted() {
    CoreHarness h = CoreHarness.of(3);
    h.timeOut(1); // pre-vote requests go out at once: they promise nothing
    assertEquals(RaftCore.Role.PRE_CANDIDATE, h.core(1).role());
    assertEquals(0, h.core(1).term(), "a pre-vote does not change the term");
    h.deliverAll(); // pre-votes granted; 1 becomes candidate in term 1
    assertEquals(RaftCore.Role.CANDIDATE, h.core(1).role());
    assertTrue(h.take(m -> m instanceof RequestVote rv && !rv.preVote()).isEmpty(),
        "no vote request may leave before term 1 and the self-vote are durable");

    h.persist(1);
    assertEquals(2, h.take(m -> m instanceof RequestVote rv && !rv.preVote()).size());
  }

  @Test
  void voterGrantsItsVoteOnlyAfterPersistingIt() {
    CoreHarness h = new CoreHarness();
    h.add(2, restarted(2, 0, 0, List.of(), 1, 2, 3));
    h.core(2).step(new RequestVote(1, 2, 1, 0, 0, false, false));
    h.drain(2);
    assertTrue(h.network.isEmpty(), "the grant waits for (term 1, vote 1) to be durable");
    assertEquals(new HardState(1, 1), h.core(2).hardState());

    h.persist(2);
    RequestVoteResult grant = (RequestVoteResult) h.take(m -> true).get(0);
    assertTrue(grant.granted());
    assertEquals(new HardState(1, 1), h.persisted.get(2).get(0).hardState());
  }

  /**
   * Why D2 exists, pinned as a scenario: a voter that loses its vote in a crash (the disk lied)
   * votes again in the same term, and two replicas lead term 1. With the vote persisted, the
   * restarted voter refuses the second candidate.
   */
  @Test
  void voterThatForgetsItsVoteLetsTwoReplicasLeadOneTerm() {
    for (boolean voteSurvives : new boolean[] {false, true}) {
      CoreHarness h = CoreHarness.of(3);
      h.isolated.add(3);
      h.elect(1); // replica 2 voted for 1 in term 1
      assertEquals(new HardState(1, 1), h.core(2).hardState());
      assertTrue(h.persisted.get(2).stream().anyMatch(p -> new HardState(1, 1).equals(p.hardState())),
          "D2: the vote was durable before it was granted");
      HardState onDisk = voteSurvives ? new HardState(1, 1) : HardState.INITIAL; // what the disk kept
      h.cores.put(2, RaftCore.restart(CoreHarness.SETTINGS, 2, onDisk, Snapshot.initial(Membership.ofVoters(1, 2, 3)),
          List.of(), Prng.of(22)));
      h.isolated.clear();
      h.isolated.add(1); // replica 3, still in term 0, campaigns for term 1 via 2
      h.network.clear();
      h.timeOut(3);
      h.stabilize();
      boolean twoLeaders = h.core(1).role() == RaftCore.Role.LEADER && h.core(3).role() == RaftCore.Role.LEADER
          && h.core(1).term() == h.core(3).term();
      assertEquals(!voteSurvives, twoLeaders, voteSurvives ? "a durable vote prevents it" : "a forgotten vote allows it");
    }
  }

  @Test
  void candidateCountsItsOwnVoteOnlyOnceDurable() {
    CoreHarness h = CoreHarness.of(1);
    h.timeOut(1);
    assertEquals(RaftCore.Role.CANDIDATE, h.core(1).role(), "a single voter wins the pre-vote alone");
    h.persist(1);
    assertEquals(RaftCore.Role.LEADER, h.core(1).role());
  }

  @Test
  void restartedReplicaKeepsItsVoteForTheTerm() {
    CoreHarness h = new CoreHarness();
    h.add(1, restarted(1, 5, 2, List.of(), 1, 2, 3));
    h.core(1).step(new RequestVote(3, 1, 5, 10, 5, false, false));
    h.drain(1);
    RequestVoteResult answer = (RequestVoteResult) h.take(m -> true).get(0);
    assertFalse(answer.granted(), "it already voted for 2 in term 5");
  }

  @Test
  void voterRefusesCandidateWithLessUpToDateLog() {
    CoreHarness h = new CoreHarness();
    h.add(1, restarted(1, 2, 0, log(1, 2), 1, 2, 3));
    h.core(1).step(new RequestVote(2, 1, 3, 5, 1, false, false));
    h.drain(1);
    h.persist(1);
    RequestVoteResult answer = (RequestVoteResult) h.take(m -> true).get(0);
    assertFalse(answer.granted(), "last term 1 is older than our last term 2, however long the log");
  }

  // --- D3: commit by counting only current-term entries ------------------------------------------

  @Test
  void leaderDoesNotCommitAnOlderTermEntryByCountingReplicas() {
    CoreHarness h = new CoreHarness();
    h.add(1, restarted(1, 3, 0, log(1, 2), 1, 2, 3));
    h.add(2, restarted(2, 3, 0, log(1), 1, 2, 3));
    h.add(3, restarted(3, 3, 0, log(1), 1, 2, 3));
    h.isolated.add(2);
    h.elect(1); // with 3's vote, in term 4; appends its no-op at index 3
    RaftCore leader = h.core(1);
    assertEquals(4, leader.term());
    h.isolated.clear();
    // Replica 2 says it persisted up to index 2 (the term-2 entry): a majority holds index 2.
    leader.step(new AppendEntriesResult(2, 1, 4, true, 2, 0, 2, 0, 0));
    h.drain(1);
    assertTrue(leader.commitIndex() < 2 || leader.termAt(leader.commitIndex()) == 4,
        "index 2 (term 2) must not commit by counting (Raft §5.4.2, Figure 8)");
    h.stabilize();
    assertEquals(3, leader.commitIndex(), "it commits once the no-op of term 4 does");
  }

  @Test
  void aNewLeaderIsNotReadableUntilAnEntryOfItsTermCommits() {
    CoreHarness h = new CoreHarness();
    h.add(1, restarted(1, 3, 0, log(1, 2), 1, 2, 3));
    h.add(2, restarted(2, 3, 0, log(1, 2), 1, 2, 3));
    h.add(3, restarted(3, 3, 0, log(1, 2), 1, 2, 3));
    RaftCore leader = h.core(1);
    h.timeOut(1);
    for (int round = 0; round < 100 && leader.role() != RaftCore.Role.LEADER; round++) {
      for (int id = 1; id <= 3; id++) {
        h.persist(id);
      }
      h.deliverAll(); // the round that elects it sends the no-op, which nobody has persisted yet
    }
    assertEquals(RaftCore.Role.LEADER, leader.role());
    assertFalse(leader.leaderReadable(), "commit index " + leader.commitIndex() + " is not of term " + leader.term());
    h.stabilize();
    assertTrue(leader.leaderReadable());
    assertFalse(h.core(2).leaderReadable(), "a follower never is");
  }

  @Test
  void aFollowerBehindWhatItsLeaderCommittedIsNotReadable() {
    // 1 and 2 hold four entries; 3 restarted holding one (its disk was behind).
    CoreHarness h = new CoreHarness();
    h.add(1, restarted(1, 1, 0, log(1, 1, 1, 1), 1, 2, 3));
    h.add(2, restarted(2, 1, 0, log(1, 1, 1, 1), 1, 2, 3));
    h.add(3, restarted(3, 1, 0, log(1), 1, 2, 3));
    h.isolated.add(3);
    h.elect(1);
    h.runFor(CoreHarness.SETTINGS.heartbeatIntervalTicks() + 1); // the commit of the term-2 no-op reaches 2
    assertTrue(h.core(1).readable());
    assertTrue(h.core(2).readable(), "2 applied all its leader committed, of the leader's term");
    assertFalse(h.core(3).readable(), "3 hears no leader");

    h.isolated.clear();
    // Deliver one message at a time until the leader's first append reaches 3; stop right after it.
    AppendEntries first = null;
    for (int tick = 0; tick < 4 * CoreHarness.SETTINGS.electionTimeoutTicks() && first == null; tick++) {
      h.tickAll(1);
      while (!h.network.isEmpty() && first == null) {
        RaftMessage m = h.network.poll();
        h.core(m.to()).step(m);
        h.drain(m.to());
        h.persist(m.to()); // a new term is persisted before its answers go out
        if (m.to() == 3 && m instanceof AppendEntries ae) {
          first = ae;
        }
      }
    }
    assertTrue(first != null, "the leader probes 3 with an append");
    assertTrue(h.core(3).hearsLeader());
    assertTrue(first.leaderCommit() > h.core(3).lastIndex());
    assertFalse(h.core(3).readable(), "3 hears its leader but holds " + h.core(3).lastIndex() + " of "
        + first.leaderCommit() + " committed entries: its applied state is stale");

    h.runFor(CoreHarness.SETTINGS.heartbeatIntervalTicks() + 1);
    assertTrue(h.core(3).readable(), "caught up");
  }

  // --- Elections: pre-vote, check-quorum, lease ---------------------------------------------------

  @Test
  void partitionedFollowerDoesNotDisruptTheLeaderWhenItComesBack() {
    CoreHarness h = CoreHarness.of(3);
    h.elect(1);
    h.isolated.add(3);
    for (int i = 0; i < 5; i++) {
      h.timeOut(3);
      h.core(3).tick();
    }
    assertEquals(1, h.core(3).term(), "pre-votes failed, so the isolated replica never raised its term");
    h.isolated.clear();
    h.tickAll(CoreHarness.SETTINGS.heartbeatIntervalTicks());
    h.stabilize();
    assertEquals(RaftCore.Role.LEADER, h.core(1).role());
    assertEquals(1, h.core(1).term());
  }

  @Test
  void leaderStepsDownWhenItCannotHearAMajority() {
    CoreHarness h = CoreHarness.of(3);
    h.elect(1);
    h.isolated.add(1);
    for (int i = 0; i < 2 * CoreHarness.SETTINGS.electionTimeoutTicks(); i++) {
      h.core(1).tick();
    }
    assertEquals(RaftCore.Role.FOLLOWER, h.core(1).role());
  }

  @Test
  void followerHearingALeaderIgnoresVoteRequests() {
    CoreHarness h = CoreHarness.of(3);
    h.elect(1);
    h.core(2).step(new RequestVote(3, 2, 7, 100, 7, false, false));
    h.drain(2);
    assertEquals(1, h.core(2).term(), "within the leader lease, a higher-term vote request is ignored");
    assertTrue(h.take(m -> m.from() == 2 && m instanceof RequestVoteResult).isEmpty());
  }

  @Test
  void staleLeaderStepsDownWhenAnsweredWithAHigherTerm() {
    CoreHarness h = CoreHarness.of(3);
    h.elect(1);
    h.isolated.add(1);
    h.runFor(3 * CoreHarness.SETTINGS.electionTimeoutTicks());
    int newLeader = h.core(2).role() == RaftCore.Role.LEADER ? 2 : 3;
    assertEquals(RaftCore.Role.LEADER, h.core(newLeader).role());
    assertEquals(RaftCore.Role.LEADER, h.core(1).role(), "the isolated leader has not noticed yet");
    h.isolated.clear();
    for (int i = 0; i < CoreHarness.SETTINGS.heartbeatIntervalTicks(); i++) {
      h.core(1).tick(); // its heartbeats, in the old term, are answered with the new one
    }
    h.stabilize();
    assertEquals(RaftCore.Role.FOLLOWER, h.core(1).role());
    assertEquals(h.core(newLeader).term(), h.core(1).term());
  }

  // --- Replication --------------------------------------------------------------------------------

  @Test
  void followerRejectsAppendWhenPreviousTermDiffers() {
    CoreHarness h = new CoreHarness();
    h.add(1, restarted(1, 2, 0, log(1, 1, 1), 1, 2, 3));
    h.core(1).step(new AppendEntries(2, 1, 2, 3, 2, List.of(new LogEntry(4, 2, EntryType.COMMAND, bytes("y"))), 0));
    h.drain(1);
    AppendEntriesResult r = (AppendEntriesResult) h.take(m -> true).get(0);
    assertFalse(r.success());
    assertEquals(3, r.rejectedPrevIndex());
    assertEquals(3, r.hintIndex(), "last index whose term is at most the leader's prevLogTerm");
    assertEquals(1, r.hintTerm());
    assertEquals(3, h.core(1).lastIndex(), "the log is untouched");
  }

  @Test
  void rejectedAppendSkipsBackAWholeTermAtOnce() {
    CoreHarness h = new CoreHarness();
    h.add(1, restarted(1, 2, 0, log(1, 1, 1, 1, 1), 1, 2, 3));
    h.add(2, restarted(2, 2, 0, log(1, 2, 2, 2, 2, 2, 2, 2), 1, 2, 3));
    h.add(3, restarted(3, 2, 0, log(1), 1, 2, 3));
    h.isolated.add(2);
    h.elect(1);
    h.isolated.clear();
    h.tickAll(CoreHarness.SETTINGS.heartbeatIntervalTicks());
    h.stabilize();
    long rejections = h.delivered.stream()
        .filter(m -> m instanceof AppendEntriesResult r && r.from() == 2 && !r.success()).count();
    assertEquals(1, rejections, "one rejection skips all seven conflicting term-2 entries");
    assertEquals(h.core(1).entries(1, 100), h.core(2).entries(1, 100), "the conflicting suffix was replaced");
  }

  @Test
  void theLeaderReportsEachFollowersLagInEntriesAndBytesAndWhenItNeedsASnapshot() {
    CoreHarness h = CoreHarness.of(3);
    h.elect(1);
    h.stabilize();
    assertTrue(h.core(2).followerLags().isEmpty(), "only a leader knows lags");
    h.isolated.add(3);
    long bytes = 0;
    for (int i = 0; i < 5; i++) {
      byte[] v = bytes("value-" + i);
      h.core(1).propose(v);
      bytes += new io.holdfast.raft.message.LogEntry(1, 1, io.holdfast.raft.message.EntryType.COMMAND, v).weightBytes();
    }
    h.stabilize();
    java.util.Map<Integer, RaftCore.FollowerLag> lags = new java.util.TreeMap<>();
    h.core(1).followerLags().forEach(l -> lags.put(l.id(), l));
    assertEquals(java.util.Set.of(2, 3), lags.keySet());
    assertEquals(0, lags.get(2).entries());
    assertEquals(0, lags.get(2).bytes());
    assertEquals(5, lags.get(3).entries(), "the isolated follower lacks the five new entries");
    assertEquals(bytes, lags.get(3).bytes());
    assertFalse(lags.get(3).snapshot());
    h.core(1).compact(h.core(1).appliedIndex(), new byte[0]);
    RaftCore.FollowerLag behind = h.core(1).followerLags().stream().filter(l -> l.id() == 3).findFirst().orElseThrow();
    assertTrue(behind.snapshot(), "behind the leader's compacted log: it needs a snapshot");
    assertEquals(0, behind.bytes(), "nothing of what it lacks is in the leader's log any more");
    assertEquals(5, behind.entries());
  }

  @Test
  void leaderKeepsAtMostInflightAppendsUnansweredPerFollower() {
    RaftSettings oneEntryPerMessage = CoreHarness.SETTINGS.withAppendEntriesMax(1);
    CoreHarness h = CoreHarness.of(3, oneEntryPerMessage);
    h.elect(1);
    for (int i = 0; i < 10; i++) {
      h.core(1).propose(bytes("v" + i));
    }
    h.drain(1);
    List<RaftMessage> toTwo = h.take(m -> m.to() == 2 && m instanceof AppendEntries);
    assertEquals(4, toTwo.size(), "pipelined up to the window, then paused");
    for (RaftMessage m : toTwo) {
      h.core(2).step(m);
    }
    h.drain(2);
    for (RaftMessage answer : h.take(m -> m.from() == 2)) {
      h.core(1).step(answer);
    }
    h.drain(1);
    assertEquals(4, h.take(m -> m.to() == 2 && m instanceof AppendEntries).size(), "answers reopen the window");
  }

  @Test
  void persistRequestsMustBeReportedInOrder() {
    CoreHarness h = CoreHarness.of(1);
    h.timeOut(1);
    h.persist(1);
    h.core(1).propose(bytes("a"));
    h.drain(1);
    h.core(1).propose(bytes("b"));
    h.drain(1);
    PersistRequest first = h.unpersisted.get(1).poll();
    PersistRequest second = h.unpersisted.get(1).poll();
    assertTrue(first != null && second != null);
    assertThrows(Check.InvariantViolation.class, () -> h.core(1).onPersisted(second));
  }

  // --- Membership and transfer -------------------------------------------------------------------

  /** Three voters led by 1, and replica 4 added as a learner that has caught up. */
  private static CoreHarness withLearnerFour() {
    CoreHarness h = CoreHarness.of(3);
    h.add(4, RaftCore.restart(CoreHarness.SETTINGS, 4, HardState.INITIAL, Snapshot.initial(Membership.EMPTY),
        List.of(), Prng.of(4)));
    h.elect(1);
    assertInstanceOf(ProposeResult.Accepted.class, h.core(1).addLearner(4));
    h.tickAll(CoreHarness.SETTINGS.heartbeatIntervalTicks());
    h.stabilize();
    return h;
  }

  @Test
  void learnerReceivesTheLogButDoesNotCountTowardCommit() {
    CoreHarness h = withLearnerFour();
    assertEquals(h.core(1).lastIndex(), h.core(4).lastIndex(), "the learner caught up");
    assertTrue(h.core(4).membership().learners().contains(4));

    h.isolated.add(2);
    h.isolated.add(3);
    long commit = h.core(1).commitIndex();
    h.core(1).propose(bytes("x"));
    h.stabilize();
    assertEquals(h.core(1).lastIndex(), h.core(4).lastIndex());
    assertEquals(commit, h.core(1).commitIndex(), "leader + learner is not a majority of voters");
  }

  @Test
  void aReplicaThatMayNotCampaignStillKnowsWhenItsLeaderFellSilent() {
    CoreHarness h = withLearnerFour();
    assertTrue(h.core(4).hearsLeader());
    assertTrue(h.core(1).hearsLeader(), "a leader hears itself");
    h.isolated.add(4);
    for (int i = 0; i < CoreHarness.SETTINGS.electionTimeoutTicks(); i++) {
      h.core(4).tick();
    }
    assertEquals(1, h.core(4).leaderId(), "a learner does not campaign: it keeps the last leader's id");
    assertTrue(!h.core(4).hearsLeader(), "but that leader has been silent for an election timeout");
  }

  @Test
  void aRemovedReplicaMayLeaveOnlyOnceALeaderHasCommittedItsRemoval() {
    CoreHarness h = CoreHarness.of(3);
    h.elect(1);
    h.isolated.add(2);
    assertInstanceOf(ProposeResult.Accepted.class, h.core(1).remove(3));
    h.stabilize();
    assertEquals(Membership.ofVoters(1, 2), h.core(1).membership());
    assertEquals(Membership.ofVoters(1, 2, 3), h.core(3).membership(), "the leader stopped writing to 3 at once");
    h.core(3).askToLeave();
    h.stabilize();
    assertFalse(h.core(3).leaveGranted(), "the removal is not committed (2 is cut off): 3 may still be needed");

    h.isolated.remove(2);
    h.runFor(2 * CoreHarness.SETTINGS.heartbeatIntervalTicks());
    assertTrue(h.core(1).membershipCommitted());
    long term = h.core(1).term();
    h.core(3).askToLeave();
    h.drain(3);
    h.take(m -> m.to() == 1); // only a follower hears the question now
    h.isolated.add(1); // and its relay does not reach the leader
    h.deliverAll();
    assertFalse(h.core(3).leaveGranted(), "a follower does not know whether a newer membership has 3 back");
    h.isolated.remove(1);
    h.core(3).askToLeave();
    h.drain(3);
    h.take(m -> m.to() == 1); // again only the follower hears it: it relays the question to its leader
    h.deliverAll();
    assertTrue(h.core(3).leaveGranted(), "the leader's committed membership lacks 3, and it answers 3 itself");
    assertEquals(RaftCore.Role.LEADER, h.core(1).role());
    assertEquals(term, h.core(1).term(), "the question moves no one's term");
  }

  @Test
  void aLeaveAnswerCountsByMembershipIndexOrANewerTermAndAQuestionDeposesNoOne() {
    CoreHarness h = CoreHarness.of(3);
    h.elect(1);
    long term = h.core(1).term();
    h.core(1).step(new RaftMessage.Leave(9, 1, term + 5, false, 9, 100));
    assertEquals(RaftCore.Role.LEADER, h.core(1).role());
    assertEquals(term, h.core(1).term());
    long index = h.core(3).membershipIndex();
    long entryTerm = h.core(3).termAt(index);
    h.core(3).step(new RaftMessage.Leave(1, 3, entryTerm, true, 3, index - 1));
    assertFalse(h.core(3).leaveGranted(), "an older membership, from a leader no newer than ours: it may not hold our add");
    h.core(2).step(new RaftMessage.Leave(1, 2, entryTerm + 1, true, 3, index));
    assertFalse(h.core(2).leaveGranted(), "an answer about another replica");
    h.core(3).step(new RaftMessage.Leave(1, 3, entryTerm, true, 3, index));
    assertTrue(h.core(3).leaveGranted(), "a committed membership as new as ours lacks us");

    CoreHarness g = CoreHarness.of(3);
    g.elect(1);
    long gIndex = g.core(3).membershipIndex();
    long groupTerm = g.core(1).term();
    g.isolated.add(3);
    // As after failed elections of its own: 3's term is past the group's.
    g.core(3).step(new RaftMessage.RequestVote(2, 3, groupTerm + 5, 0, 0, false, true));
    assertEquals(groupTerm + 5, g.core(3).term());
    long gEntryTerm = g.core(3).termAt(gIndex);
    g.core(3).step(new RaftMessage.Leave(1, 3, gEntryTerm, true, 3, gIndex - 1));
    assertFalse(g.core(3).leaveGranted(), "an older membership from a leader no newer than our membership entry");
    g.core(3).step(new RaftMessage.Leave(1, 3, gEntryTerm + 1, true, 3, gIndex - 1));
    assertTrue(g.core(3).leaveGranted(), "a leader of a newer term than our membership entry, however high our own term");
  }

  @Test
  void promotedLearnerBecomesAVoterEverywhere() {
    CoreHarness h = withLearnerFour();
    assertInstanceOf(ProposeResult.Accepted.class, h.core(1).promote(4));
    h.stabilize();
    for (int id = 1; id <= 4; id++) {
      assertEquals(Membership.ofVoters(1, 2, 3, 4), h.core(id).membership(), "replica " + id);
    }
  }

  @Test
  void onlyOneMembershipChangeIsPendingAtATime() {
    CoreHarness h = CoreHarness.of(3);
    h.elect(1);
    assertInstanceOf(ProposeResult.Accepted.class, h.core(1).addLearner(4));
    ProposeResult second = h.core(1).addLearner(5);
    assertEquals(new ProposeResult.Rejected(ProposeResult.Reason.MEMBERSHIP_CHANGE_PENDING, 1), second);
  }

  @Test
  void leaderRemovedFromTheGroupStepsDownOnceTheRemovalCommits() {
    CoreHarness h = CoreHarness.of(3);
    h.elect(1);
    assertInstanceOf(ProposeResult.Accepted.class, h.core(1).remove(1));
    h.stabilize();
    assertEquals(RaftCore.Role.FOLLOWER, h.core(1).role());
    assertEquals(Membership.ofVoters(2, 3), h.core(2).membership());
    h.runFor(3 * CoreHarness.SETTINGS.electionTimeoutTicks());
    assertTrue(h.core(2).role() == RaftCore.Role.LEADER || h.core(3).role() == RaftCore.Role.LEADER);
    assertEquals(RaftCore.Role.FOLLOWER, h.core(1).role(), "a removed replica never campaigns");
  }

  @Test
  void leaderTransferHandsLeadershipToTheTarget() {
    CoreHarness h = CoreHarness.of(3);
    h.elect(1);
    h.core(1).propose(bytes("x"));
    h.drain(1);
    assertTrue(h.core(1).transferLeadership(3));
    assertInstanceOf(ProposeResult.Rejected.class, h.core(1).propose(bytes("y")), "no proposals during a transfer");
    h.stabilize();
    assertEquals(RaftCore.Role.LEADER, h.core(3).role());
    assertEquals(2, h.core(3).term());
  }

  // --- D6/D7: damaged entries --------------------------------------------------------------------

  /** Entries 1..5 of term 1 with entry {@code damaged} present only as its identity. */
  private static List<LogEntry> withDamage(int damaged) {
    List<LogEntry> out = new ArrayList<>(log(1, 1, 1, 1, 1));
    out.set(damaged - 1, new LogEntry(damaged, 1, EntryType.COMMAND, new byte[0]));
    return out;
  }

  private static RaftCore damaged(int id, int damagedIndex, int... voters) {
    return RaftCore.restart(CoreHarness.SETTINGS, id, new HardState(1, 0), Snapshot.initial(Membership.ofVoters(voters)),
        withDamage(damagedIndex), new java.util.TreeMap<>(java.util.Map.of((long) damagedIndex, 1L)), Prng.of(id));
  }

  @Test
  void damagedFollowerIsRepairedFromTheLeaderAndNeverAppliesTheDamage() {
    CoreHarness h = new CoreHarness();
    h.add(1, restarted(1, 1, 0, log(1, 1, 1, 1, 1), 1, 2, 3));
    h.add(2, damaged(2, 3, 1, 2, 3));
    h.add(3, restarted(3, 1, 0, log(1, 1, 1, 1, 1), 1, 2, 3));
    h.isolated.add(2);
    h.elect(1);
    h.isolated.clear();
    h.runFor(2 * CoreHarness.SETTINGS.heartbeatIntervalTicks());
    assertTrue(h.core(2).faulty().isEmpty(), "repaired");
    // Repaired either by the payload (written back, truncating nothing) or by the leader's snapshot.
    boolean byPayload = h.persisted.get(2).stream().anyMatch(p -> p.repaired().contains(log(1, 1, 1).get(2)));
    boolean bySnapshot = h.restored.get(2).stream().anyMatch(snap -> snap.index() >= 3);
    assertTrue(byPayload || bySnapshot);
    assertTrue(h.persisted.get(2).stream().noneMatch(p -> p.entriesFrom() > 0 && p.entriesFrom() <= 3),
        "nothing truncated over the damage");
    assertTrue(h.applied.get(2).stream().noneMatch(e -> e.type() == EntryType.COMMAND && e.data().length == 0),
        "the damaged payload was never applied");
    assertEquals(h.core(1).commitIndex(), h.core(2).appliedIndex(), "it applies everything once repaired");
    assertTrue(h.delivered.stream().noneMatch(m -> m instanceof AppendEntries a && a.from() == 2));
  }

  @Test
  void damagedReplicaStopsApplyingAtItsFirstDamagedEntry() {
    CoreHarness h = new CoreHarness();
    h.add(2, damaged(2, 3, 1, 2, 3));
    h.core(2).step(new RaftMessage.Heartbeat(1, 2, 1, 5));
    h.drain(2);
    assertEquals(2, h.applied.get(2).size(), "entries 1 and 2 only; 3 is damaged");
  }

  @Test
  void damagedReplicaDoesNotClaimTheDamagedEntryAsMatched() {
    CoreHarness h = new CoreHarness();
    h.add(2, damaged(2, 3, 1, 2, 3));
    h.core(2).step(new AppendEntries(1, 2, 1, 2, 1, List.of(), 0));
    h.drain(2);
    AppendEntriesResult r = (AppendEntriesResult) h.take(m -> true).get(0);
    assertTrue(r.success());
    assertTrue(r.matchIndex() <= 2 && r.hintIndex() <= 2, "never past the damage: " + r);
    h.core(2).step(new AppendEntries(1, 2, 1, 5, 1, List.of(), 0));
    h.drain(2);
    AppendEntriesResult beyond = (AppendEntriesResult) h.take(m -> true).get(0);
    assertFalse(beyond.success());
    assertEquals(3, beyond.damagedFrom(), "it tells the leader where its damage starts");
  }

  @Test
  void damagedLeaderFetchesTheEntryFromAFollower() {
    CoreHarness h = new CoreHarness();
    h.add(1, damaged(1, 4, 1, 2, 3));
    h.add(2, restarted(2, 1, 0, log(1, 1, 1, 1, 1), 1, 2, 3));
    h.add(3, restarted(3, 1, 0, log(1, 1, 1), 1, 2, 3));
    h.elect(1);
    h.runFor(2);
    assertTrue(h.core(1).faulty().isEmpty());
    assertEquals(h.core(2).entries(1, 5), h.core(1).entries(1, 5), "its copy of entry 4 came from replica 2");
    assertEquals(h.core(1).lastIndex(), h.core(3).lastIndex(), "and replication went on past it");
  }

  @Test
  void damagedLeaderDiscardsAnEntryThatEveryOtherVoterLacks() {
    CoreHarness h = new CoreHarness();
    h.add(1, damaged(1, 4, 1, 2, 3));
    h.add(2, restarted(2, 1, 0, log(1, 1, 1), 1, 2, 3));
    h.add(3, restarted(3, 1, 0, log(1, 1, 1), 1, 2, 3));
    h.timeOut(1); // a damaged replica may campaign: its vote requests use only verified identities
    h.stabilize();
    assertTrue(h.delivered.stream().anyMatch(m -> m instanceof RaftMessage.RepairResult r && r.absent()));
    assertEquals(RaftCore.Role.FOLLOWER, h.core(1).role(), "it led, learned entries 4-5 were never committed, dropped them, stepped down");
    assertEquals(3, h.core(1).lastIndex());
    assertTrue(h.core(1).faulty().isEmpty());
    h.runFor(3 * CoreHarness.SETTINGS.electionTimeoutTicks());
    long leaders = h.cores.values().stream().filter(c -> c.role() == RaftCore.Role.LEADER).count();
    assertEquals(1, leaders, "the group goes on under a new leader");
  }

  @Test
  void damagedLeaderKeepsAnEntryOneVoterMayStillHold() {
    CoreHarness h = new CoreHarness();
    h.add(1, damaged(1, 4, 1, 2, 3));
    h.add(2, restarted(2, 1, 0, log(1, 1, 1), 1, 2, 3));
    h.add(3, restarted(3, 1, 0, log(1, 1, 1, 1, 1), 1, 2, 3));
    h.isolated.add(3); // the voter that holds entry 4 cannot answer
    h.elect(1);
    h.runFor(5);
    assertEquals(RaftCore.Role.LEADER, h.core(1).role());
    assertEquals(4L, h.core(1).faulty().firstKey(), "still waiting for a voter that may hold it");
    assertTrue(h.core(1).lastIndex() >= 5, "nothing discarded on one absentee");
  }

  /** A replica that compacted to index 3 of log(1,1,1,1,1) but whose snapshot data is gone. */
  private static RaftCore snapshotDamaged(int id, int... voters) {
    Snapshot damagedSnap = new Snapshot(new io.holdfast.raft.message.SnapshotMeta(3, 1, Membership.ofVoters(voters)),
        new byte[0]);
    return RaftCore.restart(CoreHarness.SETTINGS, id, new HardState(1, 0), damagedSnap, log(1, 1, 1, 1, 1).subList(3, 5),
        new java.util.TreeMap<>(), true, Prng.of(id));
  }

  @Test
  void followerWithADamagedSnapshotAppliesNothingUntilALeadersSnapshotReplacesIt() {
    CoreHarness h = new CoreHarness();
    h.add(1, restarted(1, 1, 0, log(1, 1, 1, 1, 1), 1, 2, 3));
    h.add(2, snapshotDamaged(2, 1, 2, 3));
    h.add(3, restarted(3, 1, 0, log(1, 1, 1, 1, 1), 1, 2, 3));
    h.isolated.add(2);
    h.elect(1);
    h.isolated.clear();
    assertTrue(h.core(2).snapshotDamaged());
    h.runFor(6 * CoreHarness.SETTINGS.heartbeatIntervalTicks()); // the leader is asked to compact, then sends it
    assertTrue(!h.core(2).snapshotDamaged(), "repaired from the leader's snapshot");
    Snapshot installed = h.restored.get(2).get(0);
    assertTrue(installed.index() >= 3 && installed.data().length > 0);
    assertTrue(h.delivered.stream().noneMatch(m -> m instanceof InstallSnapshot i && i.from() == 2));
  }

  @Test
  void leaderWithADamagedSnapshotNeverSendsItAndTakesAPeers() {
    CoreHarness h = new CoreHarness();
    h.add(1, snapshotDamaged(1, 1, 2, 3));
    h.add(2, restarted(2, 1, 0, log(1, 1, 1, 1, 1), 1, 2, 3));
    h.add(3, restarted(3, 1, 0, List.of(), 1, 2, 3));
    h.elect(1); // its log (identities) is the most up to date
    h.runFor(4 * CoreHarness.SETTINGS.heartbeatIntervalTicks());
    assertTrue(h.delivered.stream().noneMatch(m -> m instanceof InstallSnapshot i && i.snapshot().data().length == 0),
        "a damaged snapshot is never sent");
    assertTrue(!h.core(1).snapshotDamaged(), "taken over from a peer that compacted when asked");
    assertEquals(h.core(1).lastIndex(), h.core(3).lastIndex(), "and the empty follower caught up through it");
  }

  @Test
  void followerThatNeedsASnapshotIsSentOnePastItsAppliedIndexAndKeepsTheEntriesAfterIt() {
    CoreHarness h = CoreHarness.of(3);
    h.elect(1);
    h.core(2).holdApply(true); // its machine cannot go on: what applying needs is gone from its store
    for (int i = 0; i < 10; i++) {
      h.core(1).propose(bytes("v" + i));
    }
    h.stabilize();
    long held = h.core(2).appliedIndex();
    assertTrue(held < h.core(1).commitIndex());
    h.core(2).needSnapshot();
    h.runFor(6 * CoreHarness.SETTINGS.heartbeatIntervalTicks()); // the leader compacts when asked, then sends it
    assertTrue(!h.core(2).snapshotNeeded(), "it took one");
    Snapshot installed = h.restored.get(2).get(h.restored.get(2).size() - 1);
    assertTrue(installed.index() > held, "past what it had applied");
    assertEquals(installed.index(), h.core(2).appliedIndex());
    assertEquals(h.core(1).lastIndex(), h.core(2).lastIndex(), "its log after the snapshot stays");
    h.core(2).holdApply(false);
    h.runFor(2 * CoreHarness.SETTINGS.heartbeatIntervalTicks());
    assertEquals(h.core(1).commitIndex(), h.core(2).appliedIndex());
  }

  @Test
  void storeDamagedVotersCampaignOnlyOnceNoLeaderCameForTheirPatience() {
    CoreHarness h = CoreHarness.of(3);
    h.isolated.add(3); // the one replica that could lead at once is cut off
    h.core(1).setStoreDamaged(true);
    h.core(2).setStoreDamaged(true);
    int timeout = CoreHarness.SETTINGS.electionTimeoutTicks();
    h.runFor(2 * timeout); // past every randomized election timeout
    assertEquals(0L, h.core(1).term(), "a store-damaged voter waits");
    assertEquals(0L, h.core(2).term(), "a store-damaged voter waits");
    h.runFor(2 * RaftCore.STORE_DAMAGED_PATIENCE * timeout);
    assertTrue(h.core(1).role() == RaftCore.Role.LEADER || h.core(2).role() == RaftCore.Role.LEADER,
        "with nobody else to lead, one of them does");
  }

  @Test
  void storeDamagedLeaderSendsNoSnapshotUntilItsStoreIsWhole() {
    CoreHarness h = CoreHarness.of(3);
    RaftCore leader = leaderThatCompactedWhileThreeWasCutOff(h);
    leader.setStoreDamaged(true);
    h.isolated.clear();
    h.runFor(4 * CoreHarness.SETTINGS.heartbeatIntervalTicks());
    assertTrue(h.delivered.stream().noneMatch(m -> m instanceof InstallSnapshot), "its store lacks what it covers");
    assertEquals(RaftCore.Role.LEADER, leader.role());
    leader.setStoreDamaged(false);
    h.runFor(4 * CoreHarness.SETTINGS.heartbeatIntervalTicks());
    assertTrue(h.delivered.stream().anyMatch(m -> m instanceof InstallSnapshot && m.to() == 3), "once repaired");
    assertEquals(leader.lastIndex(), h.core(3).lastIndex());
  }

  // --- Snapshots ---------------------------------------------------------------------------------

  /** Replica 1 leads, takes 20 entries while replica 3 is cut off, and compacts them away; 3 is still cut off. */
  private static RaftCore leaderThatCompactedWhileThreeWasCutOff(CoreHarness h) {
    h.elect(1);
    h.isolated.add(3);
    for (int i = 0; i < 20; i++) {
      h.core(1).propose(bytes("v" + i));
    }
    h.stabilize();
    RaftCore leader = h.core(1);
    leader.compact(leader.appliedIndex(), bytes("state@" + leader.appliedIndex()));
    h.drain(1);
    return leader;
  }

  @Test
  void followerBehindTheCompactedLogIsSentASnapshot() {
    CoreHarness h = CoreHarness.of(3);
    RaftCore leader = leaderThatCompactedWhileThreeWasCutOff(h);
    assertTrue(leader.firstIndex() > 1);
    h.isolated.clear();
    h.tickAll(CoreHarness.SETTINGS.heartbeatIntervalTicks());
    h.stabilize();
    assertTrue(h.delivered.stream().anyMatch(m -> m instanceof InstallSnapshot && m.to() == 3));
    Snapshot installed = h.restored.get(3).get(0);
    assertEquals(leader.firstIndex() - 1, installed.index());
    assertEquals("state@" + installed.index(), new String(installed.data(), java.nio.charset.StandardCharsets.UTF_8));
    assertEquals(leader.lastIndex(), h.core(3).lastIndex());
    assertEquals(leader.commitIndex(), h.core(3).commitIndex());
  }

  @Test
  void aLeaderKnowsWhetherEveryFollowerHoldsWhatACompactionWouldDrop() {
    CoreHarness h = CoreHarness.of(3);
    h.elect(1);
    h.isolated.add(3);
    for (int i = 0; i < 5; i++) {
      h.core(1).propose(bytes("v" + i));
    }
    h.stabilize();
    long applied = h.core(1).appliedIndex();
    assertTrue(!h.core(1).othersMatch(applied), "follower 3 lacks the last entries");
    assertTrue(h.core(2).othersMatch(applied), "a follower answers true: it sends no snapshots");
    h.isolated.clear();
    h.tickAll(CoreHarness.SETTINGS.heartbeatIntervalTicks());
    h.stabilize();
    assertTrue(h.core(1).othersMatch(applied), "follower 3 caught up by entries");
    assertTrue(!h.core(1).othersMatch(h.core(1).lastIndex() + 1));
  }

  @Test
  void compactionIsPersistedAsASnapshot() {
    CoreHarness h = CoreHarness.of(1);
    h.elect(1);
    h.core(1).propose(bytes("a"));
    h.stabilize();
    h.core(1).compact(h.core(1).appliedIndex(), bytes("s"));
    h.drain(1);
    PersistRequest p = h.unpersisted.get(1).peekLast();
    assertEquals(h.core(1).appliedIndex(), p.snapshot().index());
  }
}
