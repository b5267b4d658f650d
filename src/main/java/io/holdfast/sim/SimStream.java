package io.holdfast.sim;

import io.holdfast.base.Prng;
import io.holdfast.raft.message.EntryType;
import io.holdfast.raft.message.LogEntry;
import io.holdfast.stream.Message;
import io.holdfast.stream.StoredMessage;
import io.holdfast.stream.StreamCommand;
import io.holdfast.stream.StreamLimits;
import io.holdfast.stream.StreamState;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.TreeMap;

/**
 * The stream workload over the simulated log: every applied value is read as a publish to a
 * stream with limits, so the whole of {@link StreamState} runs under the simulator's faults.
 * Client values {@code client<<32 | counter} become messages whose msg id is shared by each pair
 * of consecutive counters (the second is a client's retry, to be de-duplicated inside the
 * window), some with an expectation on the last sequence, time = entry index × 10 ms. The
 * limits (max_msgs with discard old, the duplicate window) are drawn from the seed.
 *
 * <p>Checks on the final state, independent of how {@link StreamState} computes it: the limits
 * keep exactly the newest {@code min(max_msgs, last_seq)} messages with no hole (nothing the limits
 * say must remain is missing); no msg id is stored twice within the window; every stored message
 * that carried an expected last sequence E sits at E + 1.
 */
final class SimStream {
  static final long MILLIS_PER_INDEX = 10;

  private SimStream() {}

  /** The seed's stream limits; their own PRNG, so the rest of the history does not change with them. */
  static StreamLimits limitsFor(long seed) {
    Prng p = Prng.of(seed ^ 0x5354524541_4d4cL);
    long window = p.between(5, 500) * MILLIS_PER_INDEX;
    return new StreamLimits(p.between(20, 2000), -1, 0, -1, -1, false, false, window, "limits", false, false, false,
        false);
  }

  static Message message(long index, long value) {
    long client = value >>> 32;
    long counter = value & 0xffffffffL;
    TreeMap<String, List<String>> headers = new TreeMap<>();
    headers.put(StreamState.MSG_ID, List.of("c" + client + "-" + counter / 2));
    if (counter % 13 == 5) {
      headers.put(StreamState.EXPECTED_LAST_SEQ, List.of(Long.toString(index / 2)));
    }
    byte[] payload = new byte[8];
    SimReplica.putLong(payload, 0, value);
    return new Message("s." + counter % 5, headers, payload, index * MILLIS_PER_INDEX);
  }

  /** The durable consumers of the workload, both created before the first publish, deliver all, explicit acks. */
  static final List<String> CONSUMERS = List.of("d0", "d1");
  /** Ack wait of the workload's consumers, in milliseconds of the stream's clock (50 log indexes). */
  static final long ACK_WAIT_MILLIS = 50 * MILLIS_PER_INDEX;

  /**
   * What the workload's subscribers saw, per consumer in the order it happened: deliveries
   * ({@code acked} false) and confirmed acks ({@code acked} true); {@code value} is the delivered
   * message's client value (0 for acks).
   */
  record Event(long seq, boolean acked, long value) {}

  /** A replayed stream and what its consumers saw; {@code stored}: stream sequence → client value of every stored publish. */
  record Replay(StreamState state, java.util.Map<String, List<Event>> events, java.util.Map<Long, Long> stored) {}

  /** The stream a replica's applied values make, from the configured limits on. */
  static StreamState replay(SimReplica r, StreamLimits limits) {
    return replay(r, limits, null).state();
  }

  /**
   * As {@link #replay(SimReplica, StreamLimits)}, with the consumer workload's events, counting
   * into {@code coverage} if given. After each publish, the value decides a subscriber's step on
   * consumer {@code d<client%2>}: fetch up to 1–4 messages, or ack / nak / term the oldest message
   * it holds, or nothing — all through {@link StreamCommand.ConsumerBatch} entries at the same
   * point of the log on every replica.
   */
  static Replay replay(SimReplica r, StreamLimits limits, Coverage coverage) {
    StreamState s = new StreamState("sim", io.holdfast.storage.segment.SegmentStore.open(
        new io.holdfast.storage.sim.SimDisk(), new io.holdfast.storage.segment.SegmentStore.Options(64 << 10, 256), 0));
    s.apply(new LogEntry(1, 1, EntryType.COMMAND, StreamCommand.encode(new StreamCommand.UpdateConfig(limits))));
    java.util.Map<String, List<Event>> events = new java.util.TreeMap<>();
    java.util.Map<String, java.util.ArrayDeque<Long>> held = new java.util.TreeMap<>();
    for (String c : CONSUMERS) {
      s.apply(new LogEntry(1, 1, EntryType.COMMAND, StreamCommand.encode(new StreamCommand.AddConsumer(
          new io.holdfast.stream.ConsumerConfig(c, true, "all", 0, 0, List.of(), "explicit", ACK_WAIT_MILLIS, -1,
              List.of(), 64, "instant", 0), 0))));
      events.put(c, new ArrayList<>());
      held.put(c, new java.util.ArrayDeque<>());
    }
    java.util.Map<Long, Long> stored = new HashMap<>();
    for (int i = 0; i < r.valueCount(); i++) {
      long index = r.indexAt(i);
      long value = r.valueAt(i);
      StreamState.Result result = s.apply(new LogEntry(index, 1, EntryType.COMMAND,
          StreamCommand.encode(new StreamCommand.PublishBatch(List.of(message(index, value)))))).get(0);
      if (result.ok() && !result.duplicate()) {
        stored.put(result.seq(), value);
      }
      if (coverage != null) {
        coverage.streamStored += result.ok() && !result.duplicate() ? 1 : 0;
        coverage.streamDuplicates += result.duplicate() ? 1 : 0;
        coverage.streamRejected += result.ok() ? 0 : 1;
      }
      long counter = value & 0xffffffffL;
      String consumer = CONSUMERS.get((int) ((value >>> 32) % CONSUMERS.size()));
      long now = index * MILLIS_PER_INDEX;
      switch ((int) (counter % 4)) {
        case 0 -> fetch(s, consumer, (int) (1 + counter / 4 % 4), now, events.get(consumer), held.get(consumer), coverage);
        case 1, 2 -> {
          Long oldest = held.get(consumer).poll();
          if (oldest != null) {
            StreamCommand.AckKind kind = counter % 29 == 1 ? StreamCommand.AckKind.TERM
                : counter % 11 == 2 ? StreamCommand.AckKind.NAK : StreamCommand.AckKind.ACK;
            ack(s, consumer, oldest, kind, now, events.get(consumer), coverage);
          }
        }
        default -> { }
      }
    }
    if (coverage != null) {
      coverage.streamEvicted += coverage.streamStored - s.info().messages();
    }
    return new Replay(s, events, stored);
  }

  private static void fetch(StreamState s, String consumer, int max, long now, List<Event> events,
      java.util.ArrayDeque<Long> held, Coverage coverage) {
    // Consumer entries take index 1: only publishes' indexes matter to the state (erase locations).
    StreamState.Result r = s.apply(new LogEntry(1, 1, EntryType.COMMAND, StreamCommand.encode(
        new StreamCommand.ConsumerBatch(now, List.of(new StreamCommand.Fetch(consumer, max)))))).get(0);
    for (io.holdfast.stream.Delivery d : r.deliveries().stream().map(s::deliver).toList()) {
      long seq = d.message().seq();
      events.add(new Event(seq, false, SimReplica.getLong(d.message().message().payload(), 0)));
      held.remove(seq);
      held.add(seq);
      if (coverage != null) {
        coverage.consumerDeliveries++;
        coverage.consumerRedeliveries += d.deliveries() > 1 ? 1 : 0;
      }
    }
  }

  private static void ack(StreamState s, String consumer, long seq, StreamCommand.AckKind kind, long now,
      List<Event> events, Coverage coverage) {
    StreamState.Result r = s.apply(new LogEntry(1, 1, EntryType.COMMAND, StreamCommand.encode(
        new StreamCommand.ConsumerBatch(now, List.of(new StreamCommand.Ack(consumer, seq, kind, 0)))))).get(0);
    if (r.ok() && kind == StreamCommand.AckKind.ACK) {
      events.add(new Event(seq, true, 0));
      if (coverage != null) {
        coverage.consumerAcks++;
      }
    }
  }

  /**
   * Drains every consumer of a replayed stream: fetches (acking everything) with the clock moved
   * past the ack wait each round until nothing comes, so whatever it still holds is delivered.
   */
  static void drain(Replay replay) {
    StreamState s = replay.state();
    long now = s.info().lastTimestamp() + 1;
    for (String c : CONSUMERS) {
      for (int round = 0; round < 1_000_000; round++) {
        now += ACK_WAIT_MILLIS + 1;
        List<Event> events = replay.events().get(c);
        int before = events.size();
        java.util.ArrayDeque<Long> got = new java.util.ArrayDeque<>();
        fetch(s, c, 64, now, events, got, null);
        if (events.size() == before) {
          break;
        }
        for (long seq : got) {
          ack(s, c, seq, StreamCommand.AckKind.ACK, now, events, null);
        }
      }
    }
  }

  /**
   * What is wrong with what a consumer's subscribers saw, independent of how {@link StreamState}
   * decides it: a delivery of something other than what was stored at that sequence; a delivery
   * of a message after its ack was confirmed; first deliveries out of stream order; and, after a
   * drain, a message still in the stream ({@code retained}) that was never delivered.
   */
  static List<String> checkConsumer(String consumer, List<Event> events, java.util.Map<Long, Long> stored,
      List<Long> retained) {
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

  private static String describe(long value) {
    return "c" + (value >>> 32) + "#" + (value & 0xffffffffL);
  }

  /** What is wrong with a final stream: {@code retained} in sequence order, {@code lastSeq} the last assigned. */
  static List<String> check(List<StoredMessage> retained, long lastSeq, StreamLimits limits) {
    List<String> problems = new ArrayList<>();
    long keep = Math.min(limits.maxMsgs(), lastSeq);
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
