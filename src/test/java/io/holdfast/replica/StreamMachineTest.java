package io.holdfast.replica;

import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.SortedMap;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;

/**
 * Goal: a stream refuses, before anything is logged, a message whose payload or headers are over
 * the limits that keep every append, forwarded proposal and fetch answer inside one Artery frame;
 * and takes one at the limits. Method: the machine's proposal check, no store needed.
 */
class StreamMachineTest {
  private final StreamMachine machine = new StreamMachine("s", last -> {
    throw new AssertionError("checking a proposal opens no store");
  });

  private static SortedMap<String, List<String>> header(int valueBytes) {
    SortedMap<String, List<String>> h = new TreeMap<>();
    h.put("X-Big", List.of("v".repeat(valueBytes)));
    return h;
  }

  @Test
  void aMessageAtTheLimitsIsTakenAndOneByteMoreIsNot() {
    int headerRoom = StreamMachine.HEADER_BYTES_MAX - "X-Big".length() - 4;
    assertNull(machine.invalid(new Wire.Publish("a.b", header(headerRoom),
        new byte[StreamMachine.MESSAGE_BYTES_MAX])));
    String payload = machine.invalid(new Wire.Publish("a.b", new TreeMap<>(), new byte[StreamMachine.MESSAGE_BYTES_MAX + 1]));
    assertTrue(payload != null && payload.contains("larger than the maximum"), payload);
    String headers = machine.invalid(new Wire.Publish("a.b", header(headerRoom + 1), new byte[1]));
    assertTrue(headers != null && headers.contains("headers of"), headers);
  }

  @Test
  void anAtomicPublishCountsTheHeadersOfAllItsMessages() {
    Wire.Publish half = new Wire.Publish("a.b", header(StreamMachine.HEADER_BYTES_MAX / 2), new byte[1]);
    assertNull(StreamMachine.invalidAtomic(new Wire.PublishAtomic(List.of(half))));
    String both = StreamMachine.invalidAtomic(new Wire.PublishAtomic(List.of(half, half)));
    assertTrue(both != null && both.contains("headers of"), both);
  }
}
