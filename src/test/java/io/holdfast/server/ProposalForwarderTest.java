package io.holdfast.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;

import com.typesafe.config.ConfigFactory;
import io.holdfast.replica.ReplicaShell;
import io.holdfast.replica.Wire;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.actor.testkit.typed.javadsl.ManualTime;
import org.apache.pekko.actor.testkit.typed.javadsl.TestProbe;
import org.apache.pekko.actor.typed.ActorRef;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * Goal: the forwarder batches proposals to a leader, answers each asker by the ticket it gave its
 * proposal (askers' refs never travel), keeps a read behind the proposals before it, and forgets
 * tickets whose asks are over. Method: a probe plays the leader; Pekko's ManualTime drives the
 * forwarder's sweep timer.
 */
class ProposalForwarderTest {
  private final ActorTestKit kit = ActorTestKit.create(ManualTime.config()
      .withFallback(ConfigFactory.parseString("pekko.actor.provider = local")).withFallback(ConfigFactory.load()));
  private final ManualTime time = ManualTime.get(kit.system());

  @AfterEach
  void shutdown() {
    kit.shutdownTestKit();
  }

  /** A proposal that compares by value (a publish's payload array would compare by identity). */
  private static Wire.Consume ack(long seq) {
    return new Wire.Consume("workers", "ack", seq, 0, 0);
  }

  private record Batches(List<ReplicaShell.Propose> proposals, ActorRef<ReplicaShell.Replies> via) {}

  /** The first {@code n} proposals the leader gets (one batch, or a few if the mailbox was read in between). */
  private static Batches receive(TestProbe<ReplicaShell.Command> leader, int n) {
    List<ReplicaShell.Propose> got = new ArrayList<>();
    ActorRef<ReplicaShell.Replies> via = null;
    while (got.size() < n) {
      ReplicaShell.ProposeAll all = assertInstanceOf(ReplicaShell.ProposeAll.class, leader.receiveMessage());
      via = all.repliesVia();
      got.addAll(all.proposals());
    }
    return new Batches(got, via);
  }

  @Test
  void forwardedProposalsTravelWithTicketsAndTheRepliesFindTheirAskers() {
    ActorRef<ProposalForwarder.Command> forwarder = kit.spawn(ProposalForwarder.create());
    TestProbe<ReplicaShell.Command> leader = kit.createTestProbe();
    List<TestProbe<ReplicaShell.ProposeReply>> askers = new ArrayList<>();
    long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
    for (int i = 0; i < 3; i++) {
      TestProbe<ReplicaShell.ProposeReply> asker = kit.createTestProbe();
      askers.add(asker);
      forwarder.tell(new ProposalForwarder.Forward(leader.ref(), new ReplicaShell.Propose(ack(i), asker.ref()),
          deadline));
    }
    TestProbe<Wire.ReadReply> reader = kit.createTestProbe();
    forwarder.tell(new ProposalForwarder.Forward(leader.ref(),
        new ReplicaShell.Read(new Wire.GetMessages(1, 10), true, reader.ref()), deadline));

    // The leader gets the proposals, then the read.
    Batches batches = receive(leader, 3);
    List<ReplicaShell.Propose> got = batches.proposals();
    ActorRef<ReplicaShell.Replies> via = batches.via();
    assertInstanceOf(ReplicaShell.Read.class, leader.receiveMessage(), "the read comes behind the proposals");
    assertNotNull(via);
    for (int i = 0; i < 3; i++) {
      assertEquals(ack(i), got.get(i).proposal());
      assertNull(got.get(i).replyTo(), "the asker's ref stays on its node");
      assertNotEquals(0, got.get(i).ticket());
    }

    // Replies come back by ticket, in any order, and each reaches its own asker once.
    List<ReplicaShell.Routed> replies = new ArrayList<>();
    for (int i = 2; i >= 0; i--) {
      replies.add(new ReplicaShell.Routed(got.get(i).ticket(), new ReplicaShell.Superseded(100 + i)));
    }
    via.tell(new ReplicaShell.Replies(replies));
    via.tell(new ReplicaShell.Replies(List.of(replies.get(0)))); // a duplicate: nobody waits for it any more
    for (int i = 0; i < 3; i++) {
      assertEquals(new ReplicaShell.Superseded(100 + i), askers.get(i).receiveMessage());
    }
    askers.get(2).expectNoMessage(Duration.ofMillis(100));
  }

  @Test
  void aTicketWhoseAskIsOverIsForgotten() {
    ActorRef<ProposalForwarder.Command> forwarder = kit.spawn(ProposalForwarder.create());
    TestProbe<ReplicaShell.Command> leader = kit.createTestProbe();
    TestProbe<ReplicaShell.ProposeReply> late = kit.createTestProbe();
    TestProbe<ReplicaShell.ProposeReply> waiting = kit.createTestProbe();
    long now = System.nanoTime();
    forwarder.tell(new ProposalForwarder.Forward(leader.ref(), new ReplicaShell.Propose(ack(7), late.ref()),
        now - 1)); // its asker already stopped waiting
    forwarder.tell(new ProposalForwarder.Forward(leader.ref(), new ReplicaShell.Propose(ack(8),
        waiting.ref()), now + Duration.ofMinutes(5).toNanos()));
    Batches batches = receive(leader, 2);
    List<ReplicaShell.Propose> got = batches.proposals();
    ActorRef<ReplicaShell.Replies> via = batches.via();
    time.timePasses(Duration.ofSeconds(2)); // the sweep runs
    via.tell(new ReplicaShell.Replies(List.of(new ReplicaShell.Routed(got.get(0).ticket(), new ReplicaShell.Superseded(1)),
        new ReplicaShell.Routed(got.get(1).ticket(), new ReplicaShell.Superseded(2)))));
    assertEquals(new ReplicaShell.Superseded(2), waiting.receiveMessage());
    late.expectNoMessage(Duration.ofMillis(100));
  }
}
