package io.holdfast.transport;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;

import com.typesafe.config.ConfigFactory;
import io.holdfast.raft.ProposeResult;
import io.holdfast.replica.ReplicaShell;
import io.holdfast.replica.Wire;
import io.holdfast.stream.Delivery;
import io.holdfast.stream.Message;
import io.holdfast.stream.StoredMessage;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.TreeMap;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.javadsl.Adapter;
import org.apache.pekko.serialization.ByteBufferSerializer;
import org.apache.pekko.serialization.Serialization;
import org.apache.pekko.serialization.SerializationExtension;
import org.apache.pekko.serialization.Serializer;
import org.apache.pekko.serialization.Serializers;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Goal: what client requests send between nodes (proposals to a leader, its replies with fetched
 * messages) goes through {@link ProposalSerializer}, not the CBOR binding of their interface, and
 * comes back as it was sent. Method: Pekko's serialization, as Artery calls it, on one of each.
 */
class ProposalSerializerTest {
  private static ActorTestKit kit;
  private static Serialization serialization;

  @BeforeAll
  static void start() {
    kit = ActorTestKit.create("serializer", ConfigFactory.parseString("""
        pekko.actor.provider = remote
        pekko.remote.artery.canonical.hostname = "127.0.0.1"
        pekko.remote.artery.canonical.port = 0
        """).withFallback(ConfigFactory.load()));
    serialization = SerializationExtension.get(Adapter.toClassic(kit.system()));
  }

  @AfterAll
  static void stop() {
    kit.shutdownTestKit();
  }

  /**
   * {@code o} serialized as Artery does it, into a frame buffer after other bytes, and read back
   * from there; the bytes must be those {@code toBinary(o)} returns, which must decode too.
   */
  private static Object roundTrip(Object o) {
    Serializer s = serialization.findSerializerFor(o);
    assertInstanceOf(ProposalSerializer.class, s, "serializer of " + o.getClass().getSimpleName());
    String manifest = Serializers.manifestFor(s, o);
    byte[] bytes = serialization.serialize(o).get();
    serialization.deserialize(bytes, s.identifier(), manifest).get();
    ByteBuffer frame = ByteBuffer.allocateDirect(bytes.length + 64).position(16);
    ((ByteBufferSerializer) s).toBinary(o, frame);
    assertEquals(16 + bytes.length, frame.position(), "bytes written into the frame");
    byte[] written = new byte[bytes.length];
    frame.get(16, written);
    assertArrayEquals(bytes, written, "the same bytes into a frame as into an array");
    frame.flip().position(16);
    Object back;
    try {
      back = ((ByteBufferSerializer) s).fromBinary(frame, manifest);
    } catch (java.io.NotSerializableException e) {
      throw new AssertionError(e);
    }
    assertEquals(0, frame.remaining(), "read to the end of the frame");
    return back;
  }

  @Test
  void whatDoesNotFitItsFrameOverflows() {
    // Artery drops a message whose serializer overflows the frame buffer, as an oversized one.
    var publish = new ReplicaShell.Propose(new Wire.Publish("orders.new", headers(), new byte[100]),
        kit.createTestProbe(ReplicaShell.ProposeReply.class).ref());
    var s = (ByteBufferSerializer) serialization.findSerializerFor(publish);
    assertThrows(java.nio.BufferOverflowException.class, () -> s.toBinary(publish, ByteBuffer.allocate(64)));
  }

  private static TreeMap<String, List<String>> headers() {
    TreeMap<String, List<String>> h = new TreeMap<>();
    h.put("Nats-Msg-Id", List.of("m1"));
    h.put("X-Many", List.of("a", "b"));
    return h;
  }

  @Test
  void proposalsComeBackAsSent() {
    ActorRef<ReplicaShell.ProposeReply> a = kit.createTestProbe(ReplicaShell.ProposeReply.class).ref();
    ActorRef<ReplicaShell.ProposeReply> b = kit.createTestProbe(ReplicaShell.ProposeReply.class).ref();
    byte[] payload = "hello\r\nworld".getBytes(StandardCharsets.UTF_8);
    var publish = new ReplicaShell.Propose(new Wire.Publish("orders.new", headers(), payload), a);
    var back = (ReplicaShell.Propose) roundTrip(publish);
    assertEquals(a, back.replyTo());
    var pub = (Wire.Publish) back.proposal();
    assertEquals("orders.new", pub.subject());
    assertEquals(headers(), pub.headers());
    assertArrayEquals(payload, pub.payload());

    ActorRef<ReplicaShell.Replies> via = kit.createTestProbe(ReplicaShell.Replies.class).ref();
    var all = new ReplicaShell.ProposeAll(List.of(
        new ReplicaShell.Propose(new Wire.Consume("c1", "ack", 17, 0, 0), b),
        new ReplicaShell.Propose(new Wire.Consume("c1", "nak", 18, 0, 2500), b),
        new ReplicaShell.Propose(new Wire.Consume("c2", "fetch", 0, 90, 0), a),
        new ReplicaShell.Propose(new Wire.StreamOp(new byte[] {1, 2, 3}), a),
        new ReplicaShell.Propose(new Wire.MetaChange(new byte[] {9}), b),
        new ReplicaShell.Propose(new Wire.Publish("orders.new", headers(), payload), null, 1L << 40)), via);
    var allBack = (ReplicaShell.ProposeAll) roundTrip(all);
    assertEquals(via, allBack.repliesVia());
    assertEquals(null, ((ReplicaShell.ProposeAll) roundTrip(new ReplicaShell.ProposeAll(all.proposals())))
        .repliesVia());
    assertEquals(6, allBack.proposals().size());
    for (int i = 0; i < 3; i++) {
      assertEquals(all.proposals().get(i), allBack.proposals().get(i), "proposal " + i); // records of values
    }
    assertArrayEquals(new byte[] {1, 2, 3}, ((Wire.StreamOp) allBack.proposals().get(3).proposal()).command());
    assertEquals(a, allBack.proposals().get(3).replyTo());
    assertArrayEquals(new byte[] {9}, ((Wire.MetaChange) allBack.proposals().get(4).proposal()).command());
    assertEquals(b, allBack.proposals().get(4).replyTo());
    assertEquals(null, allBack.proposals().get(5).replyTo()); // answered by its ticket, through via
    assertEquals(1L << 40, allBack.proposals().get(5).ticket());
    assertEquals(0, allBack.proposals().get(0).ticket());
    assertThrows(IllegalArgumentException.class, () -> serialization.serialize(allBack.proposals().get(5)).get(),
        "a ticket without its repliesVia would be answered nowhere");

    var atomic = new ReplicaShell.Propose(new Wire.PublishAtomic(List.of(new Wire.Publish("a.1", headers(), payload),
        new Wire.Publish("a.2", new TreeMap<>(), new byte[0]))), b);
    var atomicBack = (Wire.PublishAtomic) ((ReplicaShell.Propose) roundTrip(atomic)).proposal();
    assertEquals(2, atomicBack.messages().size());
    assertEquals("a.1", atomicBack.messages().get(0).subject());
    assertEquals(headers(), atomicBack.messages().get(0).headers());
    assertArrayEquals(payload, atomicBack.messages().get(0).payload());
    assertEquals("a.2", atomicBack.messages().get(1).subject());
    assertArrayEquals(new byte[0], atomicBack.messages().get(1).payload());
  }

  @Test
  void repliesComeBackAsSent() {
    ActorRef<ReplicaShell.Command> leader = kit.createTestProbe(ReplicaShell.Command.class).ref();
    List<ReplicaShell.ProposeReply> replies = List.of(
        new ReplicaShell.Applied(new Wire.Seq("ORDERS", 42, true), leader),
        new ReplicaShell.Applied(new Wire.Rejected("wrong_last_seq", "wrong last sequence: 41"), leader),
        new ReplicaShell.Applied(new Wire.MetaOutcome(null, null), leader),
        new ReplicaShell.Refused(ProposeResult.Reason.NOT_LEADER, 3),
        new ReplicaShell.Superseded(1234),
        new ReplicaShell.Invalid("too large"));
    for (ReplicaShell.ProposeReply r : replies) {
      assertEquals(r, roundTrip(r));
    }
    Message m = new Message("orders.new", headers(), new byte[] {0, 1, 2}, 1_700_000_000_123L);
    var delivered = new ReplicaShell.Applied(new Wire.Delivered(List.of(
        new Delivery("c1", new StoredMessage(7, m), 11, 2, 5),
        new Delivery("c1", new StoredMessage(8, Message.of("x", new byte[0], 5)), 12, 1, 4))), leader);
    assertEquals(delivered, roundTrip(delivered)); // Message compares payloads by content
    var together = new ReplicaShell.Replies(List.of(new ReplicaShell.Routed(1, delivered),
        new ReplicaShell.Routed(2, replies.get(0)), new ReplicaShell.Routed(Long.MAX_VALUE, replies.get(4))));
    assertEquals(together, roundTrip(together));
  }

  @Test
  void aTruncatedFrameIsRefused() {
    var reply = new ReplicaShell.Applied(new Wire.Seq("ORDERS", 42, false), kit.createTestProbe(
        ReplicaShell.Command.class).ref());
    Serializer s = serialization.findSerializerFor(reply);
    byte[] bytes = serialization.serialize(reply).get();
    byte[] cut = java.util.Arrays.copyOf(bytes, bytes.length - 3);
    assertThrows(RuntimeException.class,
        () -> serialization.deserialize(cut, s.identifier(), Serializers.manifestFor(s, reply)).get());
    byte[] longer = java.util.Arrays.copyOf(bytes, bytes.length + 1);
    assertThrows(RuntimeException.class,
        () -> serialization.deserialize(longer, s.identifier(), Serializers.manifestFor(s, reply)).get());
  }

  @Test
  void anIgnoringReplyToStaysOnTheReceivingNode() {
    ActorTestKit other = ActorTestKit.create("other", ConfigFactory.parseString("""
        pekko.actor.provider = remote
        pekko.remote.artery.canonical.hostname = "127.0.0.1"
        pekko.remote.artery.canonical.port = 0
        """).withFallback(ConfigFactory.load()));
    try {
      var ack = new ReplicaShell.Propose(new Wire.Consume("c1", "ack", 5, 0, 0), kit.system().ignoreRef());
      Serializer s = serialization.findSerializerFor(ack);
      byte[] bytes = serialization.serialize(ack).get();
      var there = (ReplicaShell.Propose) SerializationExtension.get(Adapter.toClassic(other.system()))
          .deserialize(bytes, s.identifier(), Serializers.manifestFor(s, ack)).get();
      assertEquals(other.system().ignoreRef(), there.replyTo(), "the leader's reply is dropped where it is made");
    } finally {
      other.shutdownTestKit();
    }
  }

  @Test
  void batchesOfEverySizeFitTheirBuffer() {
    // The writer grows its buffer as it goes: a batch whose reply-to refs ended within 4 bytes of
    // the buffer's end once overflowed it (Artery reported an oversized message and dropped it).
    // Refs of every name length from 1 to 64, 1 to 4 of them per batch, cover every ending.
    for (int length = 1; length <= 64; length++) {
      List<ReplicaShell.Propose> proposals = new java.util.ArrayList<>();
      for (int n = 0; n < 4; n++) {
        String name = "r" + n + "x".repeat(length);
        proposals.add(new ReplicaShell.Propose(new Wire.Consume("c", "ack", n, 0, 0),
            kit.spawn(org.apache.pekko.actor.typed.javadsl.Behaviors.<ReplicaShell.ProposeReply>ignore(), name)));
        var all = new ReplicaShell.ProposeAll(List.copyOf(proposals));
        assertEquals(n + 1, ((ReplicaShell.ProposeAll) roundTrip(all)).proposals().size(), name);
      }
    }
  }
}
