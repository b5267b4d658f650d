package io.holdfast.transport;

import static org.junit.jupiter.api.Assertions.assertEquals;

import com.typesafe.config.ConfigFactory;
import io.holdfast.raft.message.RaftMessage;
import java.time.Duration;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.actor.testkit.typed.javadsl.TestProbe;
import org.apache.pekko.actor.typed.ActorRef;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;

/**
 * Goal: the node's router of peer messages survives a failure routing one message with its
 * registrations intact (its failure policy: resume). Method: a replica whose delivery throws once.
 */
class ReplicaHostTest {
  private static final ActorTestKit kit = ActorTestKit.create(
      ConfigFactory.parseString("pekko.actor.provider = local").withFallback(ConfigFactory.load()));

  @AfterAll
  static void shutdown() {
    kit.shutdownTestKit();
  }

  @Test
  void aMessageWhoseDeliveryThrowsIsDroppedAndTheRestStillArrive() {
    ActorRef<ReplicaHost.Command> host = kit.spawn(ReplicaHost.create());
    TestProbe<RaftMessage> delivered = kit.createTestProbe();
    host.tell(new ReplicaHost.Register("g", "owner", m -> {
      if (m.term() == 1) {
        throw new IllegalStateException("a bug in the replica's delivery");
      }
      delivered.ref().tell(m);
    }));
    host.tell(new PeerEnvelope("g", new RaftMessage.TimeoutNow(1, 2, 1)));
    RaftMessage after = new RaftMessage.TimeoutNow(1, 2, 2);
    host.tell(new PeerEnvelope("g", after));
    assertEquals(after, delivered.receiveMessage(Duration.ofSeconds(5)), "the registration outlived the failure");
  }
}
