package io.holdfast.stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.holdfast.base.Prng;
import io.holdfast.raft.message.EntryType;
import io.holdfast.raft.message.LogEntry;
import io.holdfast.raft.message.Membership;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;

/**
 * Goal: the stream state machine is deterministic and numbers messages contiguously from 1, so
 * every replica serves the same message at the same sequence. Method: apply log entries directly.
 */
class StreamStateTest {
  private static Message msg(String subject, String payload) {
    return new Message(subject, new TreeMap<>(Map.of("Nats-Msg-Id", List.of(payload))),
        payload.getBytes(StandardCharsets.UTF_8), 1_700_000_000_000L);
  }

  private static LogEntry batch(long index, Message... messages) {
    return new LogEntry(index, 1, EntryType.COMMAND, StreamCommand.encode(new StreamCommand.PublishBatch(List.of(messages))));
  }

  @Test
  void sequencesAreContiguousFromOneWhateverElseTheLogHolds() {
    StreamState s = TestStores.stream("orders");
    assertEquals(List.of(1L, 2L), seqs(s.apply(batch(1, msg("orders.new", "a"), msg("orders.new", "b")))));
    assertEquals(List.of(), s.apply(new LogEntry(2, 2, EntryType.NOOP, new byte[0])));
    assertEquals(List.of(), s.apply(new LogEntry(3, 2, EntryType.MEMBERSHIP, Membership.ofVoters(1, 2).encode())));
    assertEquals(List.of(3L), seqs(s.apply(batch(4, msg("orders.paid", "c")))));
    assertEquals("c", new String(s.get(3).message().payload(), StandardCharsets.UTF_8));
    assertNull(s.get(4));
    StreamState.Info info = s.info();
    assertEquals(3, info.messages());
    assertEquals(1, info.firstSeq());
    assertEquals(3, info.lastSeq());
    assertEquals(2, info.subjects());
  }

  static List<Long> seqs(List<StreamState.Result> results) {
    List<Long> out = new ArrayList<>();
    for (StreamState.Result r : results) {
      assertTrue(r.ok(), r.toString());
      out.add(r.seq());
    }
    return out;
  }

  @Test
  void replicasApplyingTheSameEntriesAgreeByteForByte() {
    Prng prng = Prng.of(42);
    List<LogEntry> log = new ArrayList<>();
    for (int i = 1; i <= 200; i++) {
      List<Message> ms = new ArrayList<>();
      for (int j = prng.between(1, 5); j > 0; j--) {
        ms.add(msg("s." + prng.nextInt(10), "p" + prng.nextLong()));
      }
      log.add(batch(i, ms.toArray(new Message[0])));
    }
    StreamState a = TestStores.stream("s");
    StreamState b = TestStores.stream("s");
    log.forEach(a::apply);
    log.forEach(b::apply);
    assertArrayEquals(a.snapshot(), b.snapshot());
    StreamState restored = TestStores.restoredFrom(a);
    assertArrayEquals(a.snapshot(), restored.snapshot());
    assertEquals(a.info(), restored.info());
    assertEquals(a.range(10, 5), restored.range(10, 5));
  }

  @Test
  void aDamagedSnapshotIsRefusedNeverTakenAsEmpty() {
    StreamState s = TestStores.stream("s");
    s.apply(batch(1, msg("x", "y")));
    byte[] snap = s.snapshot();
    snap[snap.length - 3] ^= 0x01;
    assertThrows(IllegalArgumentException.class, () -> TestStores.stream("s").restore(snap));
  }

  @Test
  void commandsRoundTripWithHeadersAndUnicode() {
    Message m = new Message("grüße.ü", new TreeMap<>(Map.of("a", List.of("1", "2"), "b", List.of()))
        , new byte[] {0, -1, 7}, 5);
    StreamCommand c = new StreamCommand.PublishBatch(List.of(m, msg("z", "")));
    assertEquals(c, StreamCommand.decode(StreamCommand.encode(c)));
  }

  /** The size a publish batch's buffer is given up front is what it takes: no byte unwritten or grown into. */
  @Test
  void aPublishBatchIsEncodedIntoExactlyTheBytesItsSizeSays() {
    byte[] big = new byte[70_000];
    big[69_999] = 9;
    List<Message> messages = List.of(
        Message.of("orders.new", "x".getBytes(StandardCharsets.UTF_8), 1),
        new Message("grüße.ü", new TreeMap<>(Map.of("a", List.of("1", "é"), "b", List.of())), new byte[] {0, -1, 7}, 5),
        new Message("emoji.\uD83D\uDE00", new TreeMap<>(Map.of("k\uD83D\uDE00", List.of(""))), new byte[0], 6),
        Message.of("big", big, 7));
    for (Message m : messages) {
      StreamCommand c = new StreamCommand.PublishBatch(List.of(m));
      byte[] encoded = StreamCommand.encode(c);
      assertEquals(1 + 4 + StreamCommand.messageBytes(m), encoded.length, m.subject());
      StreamCommand.Writer grown = new StreamCommand.Writer(1); // the growing path writes the same bytes
      StreamCommand.writeMessage(grown, m);
      assertEquals(StreamCommand.messageBytes(m), grown.bytes().length, m.subject());
      assertArrayEquals(grown.bytes(), java.util.Arrays.copyOfRange(encoded, 5, encoded.length), m.subject());
      assertEquals(c, StreamCommand.decode(encoded));
    }
    StreamCommand atomic = new StreamCommand.AtomicPublishes(messages, List.of(1, 3));
    byte[] encoded = StreamCommand.encode(atomic);
    int messageBytes = messages.stream().mapToInt(StreamCommand::messageBytes).sum();
    assertEquals(1 + 4 + messageBytes + 4 + 2 * 4, encoded.length, "an atomic batch: its messages, then its groups");
    assertEquals(atomic, StreamCommand.decode(encoded));
    // An unpaired surrogate has no UTF-8 form; it is written as '?', in the size and in the bytes.
    Message odd = Message.of("a.\uD800", new byte[1], 8);
    assertEquals(1 + 4 + StreamCommand.messageBytes(odd), StreamCommand.encode(new StreamCommand.PublishBatch(List.of(odd))).length);
  }
}
