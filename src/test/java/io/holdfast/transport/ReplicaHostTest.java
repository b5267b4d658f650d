package io.holdfast.transport;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.ConfigFactory;
import io.holdfast.raft.message.RaftMessage;
import io.holdfast.storage.StoreMessage;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
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
  void aBatchFromAnotherNodeIsRoutedEnvelopeByEnvelopeInOrder() {
    ActorRef<ReplicaHost.Command> host = kit.spawn(ReplicaHost.create());
    TestProbe<RaftMessage> g = kit.createTestProbe();
    TestProbe<StoreMessage> gStore = kit.createTestProbe();
    TestProbe<RaftMessage> h = kit.createTestProbe();
    host.tell(new ReplicaHost.Register("g", g.ref(), gStore.ref()));
    host.tell(new ReplicaHost.Register("h", h.ref(), kit.<StoreMessage>createTestProbe().ref()));
    StoreMessage fetch = new StoreMessage.FetchRecords(2, 1, 7, 1, 100, 1 << 20);
    host.tell(new ReplicaHost.PeerBatch(List.of(new PeerEnvelope("g", timeout(1)), new PeerEnvelope("nobody", timeout(2)),
        new PeerEnvelope("h", timeout(3)), new StoreEnvelope("g", fetch), new PeerEnvelope("g", timeout(4)))));
    assertEquals(timeout(1), g.receiveMessage(Duration.ofSeconds(5)));
    assertEquals(timeout(4), g.receiveMessage(Duration.ofSeconds(5)));
    assertEquals(timeout(3), h.receiveMessage(Duration.ofSeconds(5)));
    assertEquals(fetch, gStore.receiveMessage(Duration.ofSeconds(5)));
  }

  /** Whatever way the envelopes bunch into batches, each destination gets all of them, in order, and nobody else's. */
  @Test
  void outgoingEnvelopesReachTheirHostsInOrderSinglyOrBatched() {
    ActorRef<ReplicaHost.Command> host = kit.spawn(ReplicaHost.create());
    TestProbe<ReplicaHost.Command> a = kit.createTestProbe();
    TestProbe<ReplicaHost.Command> b = kit.createTestProbe();
    List<ReplicaHost.Command> toA = new ArrayList<>();
    List<ReplicaHost.Command> toB = new ArrayList<>();
    for (int i = 1; i <= 300; i++) {
      PeerEnvelope e = new PeerEnvelope("g", timeout(i));
      (i % 3 == 0 ? toB : toA).add(e);
      host.tell(new ReplicaHost.Outgoing(i % 3 == 0 ? b.ref() : a.ref(), e));
    }
    assertEquals(toA, unbatch(a, toA.size()));
    assertEquals(toB, unbatch(b, toB.size()));
    a.expectNoMessage(Duration.ofMillis(100));
  }

  @Test
  void theOutboxSendsOneBatchPerHostAndStartsANewOneBeforeTheByteCap() {
    TestProbe<ReplicaHost.Command> a = kit.createTestProbe();
    TestProbe<ReplicaHost.Command> b = kit.createTestProbe();
    ReplicaHost.Outbox outbox = new ReplicaHost.Outbox();
    PeerEnvelope a1 = new PeerEnvelope("g", timeout(1));
    PeerEnvelope a2 = new PeerEnvelope("h", timeout(2));
    PeerEnvelope b1 = new PeerEnvelope("g", timeout(3));
    assertTrue(outbox.add(new ReplicaHost.Outgoing(a.ref(), a1)), "the first of a batch asks for a flush");
    assertFalse(outbox.add(new ReplicaHost.Outgoing(b.ref(), b1)));
    assertFalse(outbox.add(new ReplicaHost.Outgoing(a.ref(), a2)));
    a.expectNoMessage(Duration.ofMillis(50));
    outbox.flush();
    assertEquals(new ReplicaHost.PeerBatch(List.of(a1, a2)), a.receiveMessage(Duration.ofSeconds(5)));
    assertEquals(b1, b.receiveMessage(Duration.ofSeconds(5)), "alone: not wrapped");

    PeerEnvelope big1 = bigAppend(100 << 10);
    PeerEnvelope big2 = bigAppend(100 << 10);
    assertTrue(outbox.add(new ReplicaHost.Outgoing(a.ref(), big1)), "a new batch after the flush");
    outbox.add(new ReplicaHost.Outgoing(a.ref(), big2)); // 200 KiB together: over the cap
    assertEquals(big1, a.receiveMessage(Duration.ofSeconds(5)), "sent before the cap was passed");
    outbox.add(new ReplicaHost.Outgoing(a.ref(), a1));
    outbox.flush();
    assertEquals(new ReplicaHost.PeerBatch(List.of(big2, a1)), a.receiveMessage(Duration.ofSeconds(5)));
  }

  private static PeerEnvelope bigAppend(int bytes) {
    var entry = new io.holdfast.raft.message.LogEntry(1, 1, io.holdfast.raft.message.EntryType.COMMAND, new byte[bytes]);
    return new PeerEnvelope("g", new RaftMessage.AppendEntries(1, 2, 1, 0, 0, List.of(entry), 0));
  }

  /** What {@code probe} received until {@code n} envelopes arrived, batches unpacked. */
  private static List<ReplicaHost.Command> unbatch(TestProbe<ReplicaHost.Command> probe, int n) {
    List<ReplicaHost.Command> got = new ArrayList<>();
    while (got.size() < n) {
      ReplicaHost.Command m = probe.receiveMessage(Duration.ofSeconds(5));
      if (m instanceof ReplicaHost.PeerBatch batch) {
        assertTrue(batch.envelopes().size() > 1, "a batch of one goes as the envelope itself");
        got.addAll(batch.envelopes());
      } else {
        got.add(m);
      }
    }
    return got;
  }

  private static RaftMessage timeout(long term) {
    return new RaftMessage.TimeoutNow(1, 2, term);
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
