package io.holdfast.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;

import com.typesafe.config.ConfigFactory;
import io.holdfast.replica.ReplicaShell;
import io.holdfast.replica.Wire;
import java.util.ArrayList;
import java.util.List;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.actor.testkit.typed.javadsl.TestProbe;
import org.apache.pekko.actor.typed.ActorRef;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * Goal: the forwarder batches proposals to a leader, names the router's reply desk in each batch
 * (proposers' refs never travel, their tickets do), and keeps a read behind the proposals before it.
 * Method: probes play the leader and the desk.
 */
class ProposalForwarderTest {
  private final ActorTestKit kit = ActorTestKit.create(
      ConfigFactory.parseString("pekko.actor.provider = local").withFallback(ConfigFactory.load()));

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
  void forwardedProposalsTravelWithTheirTicketsAndTheDeskThatAnswersThem() {
    TestProbe<ReplicaShell.Replies> desk = kit.createTestProbe();
    ActorRef<ProposalForwarder.Command> forwarder = kit.spawn(ProposalForwarder.create(desk.ref()));
    TestProbe<ReplicaShell.Command> leader = kit.createTestProbe();
    for (int i = 0; i < 3; i++) {
      forwarder.tell(new ProposalForwarder.Forward(leader.ref(), new ReplicaShell.Propose(ack(i), null, 100 + i)));
    }
    TestProbe<Wire.ReadReply> reader = kit.createTestProbe();
    forwarder.tell(new ProposalForwarder.Forward(leader.ref(),
        new ReplicaShell.Read(new Wire.GetMessages(1, 10), true, reader.ref())));

    Batches batches = receive(leader, 3);
    assertInstanceOf(ReplicaShell.Read.class, leader.receiveMessage(), "the read comes behind the proposals");
    assertEquals(desk.ref(), batches.via());
    for (int i = 0; i < 3; i++) {
      assertEquals(ack(i), batches.proposals().get(i).proposal());
      assertNull(batches.proposals().get(i).replyTo(), "no proposer's ref travels");
      assertEquals(100 + i, batches.proposals().get(i).ticket());
    }
  }

  @Test
  void anUnansweredProposalGoesAloneAndUnchanged() {
    TestProbe<ReplicaShell.Replies> desk = kit.createTestProbe();
    ActorRef<ProposalForwarder.Command> forwarder = kit.spawn(ProposalForwarder.create(desk.ref()));
    TestProbe<ReplicaShell.Command> leader = kit.createTestProbe();
    ReplicaShell.Propose ack = new ReplicaShell.Propose(ack(1), kit.system().ignoreRef());
    forwarder.tell(new ProposalForwarder.Forward(leader.ref(), ack));
    assertEquals(ack, leader.receiveMessage(), "a fire-and-forget ack is not wrapped in a batch of one");
  }
}
