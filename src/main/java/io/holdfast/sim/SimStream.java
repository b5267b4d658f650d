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

  /** The stream a replica's applied values make, from the configured limits on. */
  static StreamState replay(SimReplica r, StreamLimits limits) {
    return replay(r, limits, null);
  }

  /** As {@link #replay(SimReplica, StreamLimits)}, counting into {@code coverage} if given. */
  static StreamState replay(SimReplica r, StreamLimits limits, Coverage coverage) {
    StreamState s = new StreamState("sim");
    s.apply(new LogEntry(1, 1, EntryType.COMMAND, StreamCommand.encode(new StreamCommand.UpdateConfig(limits))));
    for (int i = 0; i < r.valueCount(); i++) {
      long index = r.indexAt(i);
      StreamState.Result result = s.apply(new LogEntry(index, 1, EntryType.COMMAND,
          StreamCommand.encode(new StreamCommand.PublishBatch(List.of(message(index, r.valueAt(i))))))).get(0);
      if (coverage != null) {
        coverage.streamStored += result.ok() && !result.duplicate() ? 1 : 0;
        coverage.streamDuplicates += result.duplicate() ? 1 : 0;
        coverage.streamRejected += result.ok() ? 0 : 1;
      }
    }
    if (coverage != null) {
      coverage.streamEvicted += coverage.streamStored - s.info().messages();
    }
    return s;
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
