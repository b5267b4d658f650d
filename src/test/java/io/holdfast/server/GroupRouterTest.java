package io.holdfast.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;

import com.typesafe.config.ConfigFactory;
import io.holdfast.replica.ReplicaShell;
import io.holdfast.replica.Wire;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.TimeUnit;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.actor.testkit.typed.javadsl.TestProbe;
import org.apache.pekko.actor.typed.ActorRef;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * Goal: the router gives up on a request early (outcome unknown, before its deadline) only when
 * the leader's node has gone silent, not when one busy group is slow to answer while its node
 * answers for others (1,000 streams with one publish each in flight abandoned 2-4% of them).
 * Method: probes play two leaders on one node; real time, since the rule is about 2 s of silence.
 * Also: acks sent without waiting are held and sent as runs, and never overtaken by what the
 * router sends the same group next (a test executor holds the scheduled flush back).
 */
class GroupRouterTest {
  private final ActorTestKit kit = ActorTestKit.create(
      ConfigFactory.parseString("pekko.actor.provider = local").withFallback(ConfigFactory.load()));
  private final GroupRouter router = new GroupRouter(kit.system());
  private final TestProbe<ReplicaShell.Command> slow = kit.createTestProbe();
  private final TestProbe<ReplicaShell.Command> busy = kit.createTestProbe();

  @AfterEach
  void shutdown() {
    kit.shutdownTestKit();
  }

  private CompletionStage<Object> publish(String group, TestProbe<ReplicaShell.Command> leader) {
    return router.propose(group, List.of(1, 2, 3), new Wire.Publish("s", new java.util.TreeMap<>(), new byte[1]),
        Duration.ofSeconds(30), wait -> CompletableFuture.completedFuture(Optional.of(leader.getRef())));
  }

  /** A proposal the router waits on: one ticketed proposal, and where its reply goes. */
  private record Asked(ReplicaShell.Propose propose, ActorRef<ReplicaShell.Replies> via) {}

  private static Asked asked(TestProbe<ReplicaShell.Command> leader) {
    ReplicaShell.ProposeAll all = assertInstanceOf(ReplicaShell.ProposeAll.class, leader.receiveMessage());
    assertEquals(1, all.proposals().size());
    return new Asked(all.proposals().get(0), all.repliesVia());
  }

  private static void answer(Asked a, long seq) {
    a.via().tell(new ReplicaShell.Replies(List.of(new ReplicaShell.Routed(a.propose().ticket(),
        new ReplicaShell.Applied(new Wire.Seq("s", seq), null)))));
  }

  @Test
  void aSlowGroupOnANodeThatAnswersOthersIsWaitedFor() throws Exception {
    CompletableFuture<Object> held = publish("slow", slow).toCompletableFuture();
    Asked first = asked(slow);
    // The same node answers another group's publishes for 3 s, past the 2 s of silence.
    long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(3);
    long seq = 0;
    while (System.nanoTime() < until) {
      CompletableFuture<Object> other = publish("busy", busy).toCompletableFuture();
      answer(asked(busy), ++seq);
      assertInstanceOf(ReplicaShell.Applied.class, other.get(10, TimeUnit.SECONDS));
      assertFalse(held.isDone(), "abandoned although its node kept answering: " + held.getNow(null));
      busy.expectNoMessage(Duration.ofMillis(200));
    }
    answer(first, 7);
    ReplicaShell.Applied applied = assertInstanceOf(ReplicaShell.Applied.class, held.get(10, TimeUnit.SECONDS));
    assertEquals(new Wire.Seq("s", 7), applied.outcome());
  }

  @Test
  void aRequestToASilentNodeIsAnsweredUnknownBeforeItsDeadline() throws Exception {
    CompletableFuture<Object> held = publish("slow", slow).toCompletableFuture();
    slow.receiveMessage();
    // Nothing on the node answers: unknown after the 2 s of silence, well before the 30 s deadline.
    Object outcome = held.get(10, TimeUnit.SECONDS);
    assertInstanceOf(GroupRouter.Unknown.class, outcome);
  }

  @Test
  void heldAcksGoOutAsRunsOfConsecutiveSequences() {
    List<long[]> runs = GroupRouter.runs(List.of(7L, 3L, 4L, 5L, 5L, 9L, 10L, 1L));
    assertEquals(List.of("1+1", "3+3", "7+1", "9+2"), runs.stream().map(r -> r[0] + "+" + r[1]).toList());
    List<Long> many = new java.util.ArrayList<>();
    for (long seq = 1; seq <= Wire.Consume.ACK_RUN_MAX + 1; seq++) {
      many.add(seq);
    }
    assertEquals(List.of("1+" + Wire.Consume.ACK_RUN_MAX,
        (Wire.Consume.ACK_RUN_MAX + 1) + "+1"),
        GroupRouter.runs(many).stream().map(r -> r[0] + "+" + r[1]).toList(), "a run is capped");
  }

  @Test
  void heldAcksReachTheLeaderBeforeWhatTheRouterSendsTheGroupNext() throws Exception {
    List<Runnable> flushes = new java.util.ArrayList<>();
    GroupRouter router = new GroupRouter(kit.system(), flushes::add); // held acks wait for what comes next
    CompletableFuture<Object> first = router.propose("g", List.of(1, 2, 3), new Wire.Publish("s",
        new java.util.TreeMap<>(), new byte[1]), Duration.ofSeconds(30),
        wait -> CompletableFuture.completedFuture(Optional.of(slow.getRef()))).toCompletableFuture();
    answer(asked(slow), 1);
    first.get(10, TimeUnit.SECONDS); // the leader is known from here on: acks go straight to it
    for (long seq = 1; seq <= 3; seq++) {
      router.send("g", List.of(1, 2, 3), new Wire.Consume("c", "ack", seq, 0, 0), Duration.ofSeconds(30),
          wait -> CompletableFuture.completedFuture(Optional.of(slow.getRef())));
    }
    assertEquals(1, flushes.size(), "one flush for the three, scheduled by the first");
    slow.expectNoMessage(Duration.ofMillis(100));
    router.propose("g", List.of(1, 2, 3), new Wire.Publish("s", new java.util.TreeMap<>(), new byte[1]),
        Duration.ofSeconds(30), wait -> CompletableFuture.completedFuture(Optional.of(slow.getRef())));
    assertEquals(new Wire.Consume("c", "ack", 1, 3, 0), ((ReplicaShell.Propose) slow.receiveMessage()).proposal(),
        "the held acks first, as one run");
    assertInstanceOf(Wire.Publish.class, asked(slow).propose().proposal());
    flushes.forEach(Runnable::run);
    slow.expectNoMessage(Duration.ofMillis(100)); // nothing left to flush
  }
}
