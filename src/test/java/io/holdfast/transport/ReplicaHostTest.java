package io.holdfast.transport;

import static org.junit.jupiter.api.Assertions.assertEquals;

import com.typesafe.config.ConfigFactory;
import io.holdfast.raft.message.RaftMessage;
import io.holdfast.storage.StoreMessage;
import java.time.Duration;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.actor.testkit.typed.javadsl.TestProbe;
import org.apache.pekko.actor.typed.ActorRef;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;

/**
 * Goal: the node's router of peer messages hands each group's messages to the replica registered
 * for it, forgets a replica only when that replica unregisters, and survives a failure routing
 * one message with its registrations intact (its failure policy: resume). Method: probes as
 * replicas.
 */
class ReplicaHostTest {
  private static final ActorTestKit kit = ActorTestKit.create(
      ConfigFactory.parseString("pekko.actor.provider = local").withFallback(ConfigFactory.load()));

  @AfterAll
  static void shutdown() {
    kit.shutdownTestKit();
  }

  @Test
  void eachGroupsMessagesGoToTheReplicaRegisteredForIt() {
    ActorRef<ReplicaHost.Command> host = kit.spawn(ReplicaHost.create());
    TestProbe<RaftMessage> old = kit.createTestProbe();
    TestProbe<RaftMessage> replaced = kit.createTestProbe();
    TestProbe<StoreMessage> store = kit.createTestProbe();
    host.tell(new ReplicaHost.Register("g", old.ref(), store.ref()));
    host.tell(new ReplicaHost.Register("g", replaced.ref(), store.ref())); // a new replica of the group
    host.tell(new ReplicaHost.Unregister("g", old.ref())); // the old one stopped later: ignored
    RaftMessage m = new RaftMessage.TimeoutNow(1, 2, 1);
    host.tell(new PeerEnvelope("g", m));
    host.tell(new PeerEnvelope("other", new RaftMessage.TimeoutNow(1, 2, 9)));
    assertEquals(m, replaced.receiveMessage(Duration.ofSeconds(5)));
    old.expectNoMessage(Duration.ofMillis(100));
    host.tell(new ReplicaHost.Unregister("g", replaced.ref()));
    host.tell(new PeerEnvelope("g", m));
    replaced.expectNoMessage(Duration.ofMillis(100));
  }

  @Test
  void aMessageWhoseRoutingFailsIsDroppedAndTheRestStillArrive() {
    ActorRef<ReplicaHost.Command> host = kit.spawn(ReplicaHost.create());
    TestProbe<RaftMessage> replica = kit.createTestProbe();
    host.tell(new ReplicaHost.Register("broken", null, null)); // routing to it throws
    host.tell(new ReplicaHost.Register("g", replica.ref(), kit.<StoreMessage>createTestProbe().ref()));
    host.tell(new PeerEnvelope("broken", new RaftMessage.TimeoutNow(1, 2, 1)));
    RaftMessage after = new RaftMessage.TimeoutNow(1, 2, 2);
    host.tell(new PeerEnvelope("g", after));
    assertEquals(after, replica.receiveMessage(Duration.ofSeconds(5)), "the registrations outlived the failure");
  }
}
