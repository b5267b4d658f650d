package io.holdfast.stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.holdfast.raft.message.EntryType;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * Goal: every enum written to disk or to the wire keeps the code it was first written with. A WAL,
 * a segment or a peer of the previous version holds these bytes; a renumbering would make them
 * mean something else. Method: pin each constant's code here, and check every code decodes back.
 * Adding a constant means adding its line; changing one of these numbers is a format break.
 */
class StableCodesTest {
  @Test
  void logEntryTypesKeepTheirCodes() {
    Map<EntryType, Integer> pinned = new LinkedHashMap<>();
    pinned.put(EntryType.COMMAND, 0);
    pinned.put(EntryType.NOOP, 1);
    pinned.put(EntryType.MEMBERSHIP, 2);
    assertEquals(Arrays.asList(EntryType.values()), pinned.keySet().stream().toList(), "every type is pinned");
    pinned.forEach((t, code) -> {
      assertEquals(code.byteValue(), t.code, t.name());
      assertEquals(t, EntryType.ofCode(code));
    });
    assertThrows(IllegalArgumentException.class, () -> EntryType.ofCode(3));
  }

  @Test
  void consumerAckKindsKeepTheirCodes() {
    Map<StreamCommand.AckKind, Integer> pinned = new LinkedHashMap<>();
    pinned.put(StreamCommand.AckKind.ACK, 1);
    pinned.put(StreamCommand.AckKind.NAK, 2);
    pinned.put(StreamCommand.AckKind.PROGRESS, 3);
    pinned.put(StreamCommand.AckKind.TERM, 4);
    assertEquals(Arrays.asList(StreamCommand.AckKind.values()), pinned.keySet().stream().toList(),
        "every kind is pinned");
    pinned.forEach((k, code) -> {
      assertEquals(code.byteValue(), k.code, k.name());
      assertEquals(k, StreamCommand.AckKind.ofCode(code));
    });
    assertThrows(IllegalArgumentException.class, () -> StreamCommand.AckKind.ofCode(0), "0 is a fetch, not an ack");
  }

  /** Policies are stored (stream config, consumer config) and sent by name: the names are pinned. */
  @Test
  void policiesKeepTheirNames() {
    assertNames(Retention.values(), r -> r.wireName, Retention::ofName, "limits", "interest", "workqueue");
    assertNames(ConsumerConfig.DeliverPolicy.values(), p -> p.wireName, ConsumerConfig.DeliverPolicy::ofName, "all",
        "last", "new", "last_per_subject", "by_start_sequence", "by_start_time");
    assertNames(ConsumerConfig.AckPolicy.values(), p -> p.wireName, ConsumerConfig.AckPolicy::ofName, "explicit", "all",
        "none");
    assertNames(ConsumerConfig.ReplayPolicy.values(), p -> p.wireName, ConsumerConfig.ReplayPolicy::ofName, "instant",
        "original");
    ConsumerConfig c = ConsumerConfig.durable("c").withDeliverPolicy(ConsumerConfig.DeliverPolicy.LAST_PER_SUBJECT)
        .withAckPolicy(ConsumerConfig.AckPolicy.NONE).withReplayPolicy(ConsumerConfig.ReplayPolicy.ORIGINAL);
    StreamCommand.Writer w = new StreamCommand.Writer();
    c.write(w);
    assertEquals(c, ConsumerConfig.read(java.nio.ByteBuffer.wrap(w.bytes())), "a consumer config reads back");
  }

  private static <E> void assertNames(E[] values, java.util.function.Function<E, String> nameOf,
      java.util.function.Function<String, E> ofName, String... names) {
    assertEquals(Arrays.asList(names), Arrays.stream(values).map(nameOf).toList(), "every value is pinned, in order");
    for (E v : values) {
      assertEquals(v, ofName.apply(nameOf.apply(v)));
    }
    assertEquals(null, ofName.apply("unknown"));
  }

  /** Each stream command starts with the tag it was first written with (log entries hold them). */
  @Test
  void streamCommandsKeepTheirTags() {
    Message m = new Message("s", new java.util.TreeMap<>(), new byte[] {1}, 5);
    Map<StreamCommand, Integer> pinned = new LinkedHashMap<>();
    pinned.put(new StreamCommand.PublishBatch(java.util.List.of(m)), 1);
    pinned.put(new StreamCommand.UpdateConfig(StreamLimits.DEFAULT), 2);
    pinned.put(new StreamCommand.Purge(null, 0, 0), 3);
    pinned.put(new StreamCommand.DeleteMessage(4, false), 4);
    pinned.put(new StreamCommand.Expire(5), 5);
    pinned.put(new StreamCommand.DeleteMessage(4, true), 6);
    pinned.put(new StreamCommand.AddConsumer(ConsumerConfig.durable("c"), 5), 7);
    pinned.put(new StreamCommand.DeleteConsumer("c"), 8);
    pinned.put(new StreamCommand.ConsumerBatch(5, java.util.List.of(new StreamCommand.Fetch("c", 1))), 9);
    pinned.forEach((c, tag) -> {
      assertEquals(tag.byteValue(), StreamCommand.encode(c)[0], c.getClass().getSimpleName());
      assertEquals(StreamCommand.encode(c).length, StreamCommand.encode(StreamCommand.decode(StreamCommand.encode(c)))
          .length, c.getClass().getSimpleName() + " reads back");
    });
  }
}
