package io.holdfast.stream;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;

/**
 * A consumer of a stream, JetStream's model: where it starts ({@code deliverPolicy}), which
 * subjects it takes, how acks work, and the redelivery rules. Decided inside {@link StreamState}
 * so every replica agrees on what was delivered and acked. Times are milliseconds; a negative
 * {@code maxDeliver} or {@code maxAckPending} means unlimited.
 *
 * @param durable a durable consumer lives until deleted; an ephemeral one is removed once no
 *     fetch or ack has been seen for {@code inactiveThresholdMillis}
 * @param deliverPolicy {@code all}, {@code last}, {@code new}, {@code last_per_subject},
 *     {@code by_start_sequence} (from {@code optStartSeq}) or {@code by_start_time} (from
 *     {@code optStartTimeMillis})
 * @param ackPolicy {@code explicit} (each message), {@code all} (an ack covers every earlier one)
 *     or {@code none} (delivered is done)
 * @param backoffMillis delays for the 1st, 2nd... redelivery instead of {@code ackWaitMillis}
 *     (the last repeats)
 * @param replayPolicy {@code instant}, or {@code original}: the subscriber spaces messages as they
 *     were published
 */
public record ConsumerConfig(String name, boolean durable, String deliverPolicy, long optStartSeq,
    long optStartTimeMillis, List<String> filterSubjects, String ackPolicy, long ackWaitMillis, long maxDeliver,
    List<Long> backoffMillis, long maxAckPending, String replayPolicy, long inactiveThresholdMillis) {

  public static final long ACK_WAIT_DEFAULT = 30_000;
  public static final long MAX_ACK_PENDING_DEFAULT = 1000;
  public static final long INACTIVE_THRESHOLD_DEFAULT = 5_000;
  private static final List<String> DELIVER = List.of("all", "last", "new", "last_per_subject", "by_start_sequence",
      "by_start_time");
  private static final List<String> ACK = List.of("explicit", "all", "none");

  public ConsumerConfig {
    filterSubjects = List.copyOf(filterSubjects);
    backoffMillis = List.copyOf(backoffMillis);
  }

  /** A durable consumer of everything, explicit acks, JetStream's defaults. */
  public static ConsumerConfig durable(String name) {
    return new ConsumerConfig(name, true, "all", 0, 0, List.of(), "explicit", ACK_WAIT_DEFAULT, -1, List.of(),
        MAX_ACK_PENDING_DEFAULT, "instant", 0);
  }

  /** Why this configuration is not acceptable, or null. */
  public String invalid() {
    if (name == null || name.isEmpty() || !name.matches("[A-Za-z0-9_-]{1,64}")) {
      return "consumer name must be 1 to 64 letters, digits, '-' or '_', got '" + name + "'";
    }
    if (!DELIVER.contains(deliverPolicy)) {
      return "deliver_policy must be one of " + String.join(", ", DELIVER) + ", got '" + deliverPolicy + "'";
    }
    if (!ACK.contains(ackPolicy)) {
      return "ack_policy must be explicit, all or none, got '" + ackPolicy + "'";
    }
    if (!replayPolicy.equals("instant") && !replayPolicy.equals("original")) {
      return "replay_policy must be instant or original, got '" + replayPolicy + "'";
    }
    if (deliverPolicy.equals("by_start_sequence") && optStartSeq < 1) {
      return "deliver_policy by_start_sequence needs opt_start_seq >= 1";
    }
    if (deliverPolicy.equals("by_start_time") && optStartTimeMillis <= 0) {
      return "deliver_policy by_start_time needs opt_start_time";
    }
    if (ackWaitMillis <= 0) {
      return "ack_wait must be positive";
    }
    if (maxDeliver == 0) {
      return "max_deliver must be positive or -1 (unlimited)";
    }
    if (maxAckPending == 0) {
      return "max_ack_pending must be positive or -1 (unlimited)";
    }
    for (long b : backoffMillis) {
      if (b <= 0) {
        return "backoff delays must be positive";
      }
    }
    if (!durable && inactiveThresholdMillis <= 0) {
      return "an ephemeral consumer needs a positive inactive_threshold";
    }
    for (String f : filterSubjects) {
      String bad = Subjects.invalidFilter(f);
      if (bad != null) {
        return "filter subject: " + bad;
      }
    }
    return null;
  }

  /** Whether {@code subject} is one this consumer takes. */
  public boolean takes(String subject) {
    if (filterSubjects.isEmpty()) {
      return true;
    }
    for (String f : filterSubjects) {
      if (Subjects.matches(f, subject)) {
        return true;
      }
    }
    return false;
  }

  /** Whether some subject could be taken by both this consumer and {@code other} (workqueue streams forbid it). */
  public boolean overlaps(ConsumerConfig other) {
    if (filterSubjects.isEmpty() || other.filterSubjects.isEmpty()) {
      return true;
    }
    for (String a : filterSubjects) {
      for (String b : other.filterSubjects) {
        if (Subjects.overlap(a, b)) {
          return true;
        }
      }
    }
    return false;
  }

  /** How long the {@code deliveries}-th delivery (from 1) may stay unacked before it is sent again. */
  public long ackWaitFor(int deliveries) {
    if (backoffMillis.isEmpty() || deliveries <= 1) {
      return backoffMillis.isEmpty() ? ackWaitMillis : Math.min(ackWaitMillis, backoffMillis.get(0));
    }
    return backoffMillis.get(Math.min(deliveries - 1, backoffMillis.size() - 1));
  }

  void write(StreamCommand.Writer w) {
    w.string(name);
    w.string(deliverPolicy);
    w.string(ackPolicy);
    w.string(replayPolicy);
    w.ensure(1 + 8 * 6 + 4);
    w.b.put((byte) (durable ? 1 : 0)).putLong(optStartSeq).putLong(optStartTimeMillis).putLong(ackWaitMillis)
        .putLong(maxDeliver).putLong(maxAckPending).putLong(inactiveThresholdMillis).putInt(filterSubjects.size());
    filterSubjects.forEach(w::string);
    w.ensure(4 + 8 * backoffMillis.size());
    w.b.putInt(backoffMillis.size());
    backoffMillis.forEach(w.b::putLong);
  }

  static ConsumerConfig read(ByteBuffer b) {
    String name = StreamCommand.readString(b);
    String deliver = StreamCommand.readString(b);
    String ack = StreamCommand.readString(b);
    String replay = StreamCommand.readString(b);
    boolean durable = b.get() != 0;
    long startSeq = b.getLong();
    long startTime = b.getLong();
    long ackWait = b.getLong();
    long maxDeliver = b.getLong();
    long maxAckPending = b.getLong();
    long inactive = b.getLong();
    List<String> filters = new ArrayList<>();
    for (int n = b.getInt(); n > 0; n--) {
      filters.add(StreamCommand.readString(b));
    }
    List<Long> backoff = new ArrayList<>();
    for (int n = b.getInt(); n > 0; n--) {
      backoff.add(b.getLong());
    }
    return new ConsumerConfig(name, durable, deliver, startSeq, startTime, filters, ack, ackWait, maxDeliver, backoff,
        maxAckPending, replay, inactive);
  }
}
