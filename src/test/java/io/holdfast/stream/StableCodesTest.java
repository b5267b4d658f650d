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
}
