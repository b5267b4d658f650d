package io.holdfast.sim;

import io.holdfast.base.Prng;
import io.holdfast.raft.message.LogEntry;
import io.holdfast.replica.Wire;
import io.holdfast.stream.ConsumerConfig;
import io.holdfast.stream.StoredMessage;
import io.holdfast.stream.StreamCommand;
import io.holdfast.stream.StreamLimits;
import io.holdfast.stream.StreamState;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * The stream workload: what clients publish and consume, and the checks of the stream rules on
 * the final stream, independent of how {@link StreamState} computes it. Client values {@code
 * client<<32 | counter} are the 8-byte payloads; each pair of consecutive counters shares a msg id
 * (the second is a client's retry, to be de-duplicated inside the window); some carry an
 * expectation on the last sequence. The limits (max_msgs with discard old, or none; the duplicate
 * window) are drawn from the seed.
 */
final class SimStream {
  private SimStream() {}

  /** The durable consumers of the workload: deliver all, explicit acks. */
  static final List<String> CONSUMERS = List.of("d0", "d1");
  /** Ack wait of the workload's consumers, in milliseconds of the stream's clock (50 ticks). */
  static final long ACK_WAIT_MILLIS = 50 * Simulation.MILLIS_PER_TICK;

  /** The seed's stream limits; their own PRNG, so the rest of the history does not change with them. */
  static StreamLimits limitsFor(long seed) {
    Prng p = Prng.of(seed ^ 0x5354524541_4d4cL);
    long window = p.between(5, 500) * Simulation.MILLIS_PER_TICK;
    long maxMsgs = p.chance(0.3) ? -1 : p.between(20, 5000);
    return StreamLimits.DEFAULT.withMaxMsgs(maxMsgs).withDuplicateWindowMillis(window);
  }

  static ConsumerConfig consumerConfig(String name) {
    return ConsumerConfig.durable(name).withAckWaitMillis(ACK_WAIT_MILLIS).withMaxAckPending(64);
  }

  /** A client's publish of {@code value}, expecting the stream's last sequence to be {@code expectedLastSeq} if not negative. */
  static Wire.Publish publish(long value, long expectedLastSeq) {
    long client = value >>> 32;
    long counter = value & 0xffffffffL;
    TreeMap<String, List<String>> headers = new TreeMap<>();
    headers.put(StreamState.MSG_ID, List.of("c" + client + "-" + counter / 2));
    if (expectedLastSeq >= 0) {
      headers.put(StreamState.EXPECTED_LAST_SEQ, List.of(Long.toString(expectedLastSeq)));
    }
    byte[] payload = new byte[8];
    putLong(payload, value);
    return new Wire.Publish("s." + counter % 5, headers, payload);
  }

  /**
   * A client's atomic publish of {@code values} (consecutive counters): no msg id (refused in an
   * atomic publish), the first expecting the stream's last sequence to be {@code expectedLastSeq}
   * if not negative.
   */
  static Wire.PublishAtomic publishAtomic(long[] values, long expectedLastSeq) {
    List<Wire.Publish> messages = new ArrayList<>();
    for (long value : values) {
      TreeMap<String, List<String>> headers = new TreeMap<>();
      if (messages.isEmpty() && expectedLastSeq >= 0) {
        headers.put(StreamState.EXPECTED_LAST_SEQ, List.of(Long.toString(expectedLastSeq)));
      }
      byte[] payload = new byte[8];
      putLong(payload, value);
      messages.add(new Wire.Publish("s." + (value & 0xffffffffL) % 5, headers, payload));
    }
    return new Wire.PublishAtomic(messages);
  }

  static long valueOf(byte[] payload) {
    long v = 0;
    for (int i = 0; i < 8 && i < payload.length; i++) {
      v = (v << 8) | (payload[i] & 0xffL);
    }
    return v;
  }

  private static void putLong(byte[] b, long v) {
    for (int i = 7; i >= 0; i--) {
      b[i] = (byte) v;
      v >>>= 8;
    }
  }

  /**
   * What subscribers saw, per consumer in the order it happened: deliveries ({@code acked} false,
   * with the delivered message's value) and confirmed acks ({@code acked} true).
   */
  record Event(long seq, boolean acked, long value) {}

  /**
   * Drains every consumer of a stream (the oracle's, equal to every replica's): fetches, acking
   * everything, with the clock moved past the ack wait each round until nothing comes, so whatever
   * it still holds is delivered. Appends what it delivered to {@code events}.
   */
  static void drain(StreamState s, Map<String, List<Event>> events) {
    long now = Math.max(s.info().lastTimestamp(), 0) + 1;
    long index = 1;
    for (String c : CONSUMERS) {
      if (s.consumerInfo(c) == null) {
        continue;
      }
      List<Event> seen = events.computeIfAbsent(c, k -> new ArrayList<>());
      for (int round = 0; round < 1_000_000; round++) {
        now += ACK_WAIT_MILLIS + 1;
        StreamState.Result r = s.apply(new LogEntry(index, 1, io.holdfast.raft.message.EntryType.COMMAND,
            StreamCommand.encode(new StreamCommand.ConsumerBatch(now, List.of(new StreamCommand.Fetch(c, 64)))))).get(0);
        if (r.deliveries().isEmpty()) {
          break;
        }
        List<StreamCommand.ConsumerOp> acks = new ArrayList<>();
        for (StreamState.Delivered d : r.deliveries()) {
          seen.add(new Event(d.seq(), false, valueOf(s.get(d.seq()).message().payload())));
          acks.add(new StreamCommand.Ack(c, d.seq(), StreamCommand.AckKind.ACK, 0));
        }
        s.apply(new LogEntry(index, 1, io.holdfast.raft.message.EntryType.COMMAND,
            StreamCommand.encode(new StreamCommand.ConsumerBatch(now, acks))));
        for (StreamState.Delivered d : r.deliveries()) {
          seen.add(new Event(d.seq(), true, 0));
        }
      }
    }
  }

  /**
   * What is wrong with what a consumer's subscribers saw, independent of how {@link StreamState}
   * decides it, in log order: a delivery of something other than what was stored at that
   * sequence; a delivery of a message after its ack; first deliveries out of stream order; and,
   * after a drain, a message still in the stream ({@code retained}) that was never delivered.
   */
  static List<String> checkConsumer(String consumer, List<Event> events, Map<Long, Long> stored, List<Long> retained) {
    List<String> problems = new ArrayList<>();
    java.util.HashSet<Long> acked = new java.util.HashSet<>();
    java.util.HashSet<Long> delivered = new java.util.HashSet<>();
    long lastFirst = 0;
    for (Event e : events) {
      if (e.acked()) {
        acked.add(e.seq());
        continue;
      }
      Long value = stored.get(e.seq());
      if (value == null || value != e.value()) {
        problems.add("consumer " + consumer + ": delivered " + describe(e.value()) + " at sequence " + e.seq()
            + ", which holds " + (value == null ? "nothing stored" : describe(value)));
      }
      if (acked.contains(e.seq())) {
        problems.add("consumer " + consumer + ": sequence " + e.seq() + " delivered again after its ack");
      }
      if (delivered.add(e.seq())) {
        if (e.seq() <= lastFirst) {
          problems.add("consumer " + consumer + ": first delivery of " + e.seq() + " after that of " + lastFirst);
        }
        lastFirst = e.seq();
      }
    }
    for (long seq : retained) {
      if (!delivered.contains(seq)) {
        problems.add("consumer " + consumer + ": sequence " + seq + " is in the stream but was never delivered");
      }
    }
    return problems;
  }

  static String describe(long value) {
    return "c" + (value >>> 32) + "#" + (value & 0xffffffffL);
  }

  /** What is wrong with a final stream: {@code retained} in sequence order, {@code lastSeq} the last assigned. */
  static List<String> check(List<StoredMessage> retained, long lastSeq, StreamLimits limits) {
    List<String> problems = new ArrayList<>();
    long keep = limits.maxMsgs() < 0 ? lastSeq : Math.min(limits.maxMsgs(), lastSeq);
    boolean contiguous = true;
    for (int i = 0; i < retained.size(); i++) {
      contiguous &= retained.get(i).seq() == lastSeq - retained.size() + 1 + i;
    }
    if (retained.size() != keep || !contiguous) {
      problems.add("limits: max_msgs " + limits.maxMsgs() + " with discard old must keep exactly sequences "
          + (lastSeq - keep + 1) + ".." + lastSeq + ", the stream holds " + retained.size() + " messages"
          + (retained.isEmpty() ? "" : " from " + retained.get(0).seq() + " to " + retained.get(retained.size() - 1).seq())
          + (contiguous ? "" : " with holes"));
    }
    HashMap<String, StoredMessage> byId = new HashMap<>();
    for (StoredMessage m : retained) {
      List<String> id = m.message().headers().get(StreamState.MSG_ID);
      if (id != null) {
        StoredMessage earlier = byId.put(id.get(0), m);
        if (earlier != null && m.message().timestampMillis() - earlier.message().timestampMillis()
            <= limits.duplicateWindowMillis()) {
          problems.add("dedupe: msg id " + id.get(0) + " stored at " + earlier.seq() + " and " + m.seq()
              + " within the duplicate window");
        }
      }
      List<String> expected = m.message().headers().get(StreamState.EXPECTED_LAST_SEQ);
      if (expected != null && Long.parseLong(expected.get(0)) + 1 != m.seq()) {
        problems.add("expectation: message at " + m.seq() + " expected the last sequence to be " + expected.get(0));
      }
    }
    return problems;
  }
}
