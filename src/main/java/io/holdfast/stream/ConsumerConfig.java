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
 * @param deliverPolicy where delivery starts ({@link DeliverPolicy})
 * @param ackPolicy how acks count ({@link AckPolicy})
 * @param backoffMillis delays for the 1st, 2nd... redelivery instead of {@code ackWaitMillis}
 *     (the last repeats)
 * @param replayPolicy {@link ReplayPolicy}
 */
public record ConsumerConfig(String name, boolean durable, DeliverPolicy deliverPolicy, long optStartSeq,
    long optStartTimeMillis, List<String> filterSubjects, AckPolicy ackPolicy, long ackWaitMillis, long maxDeliver,
    List<Long> backoffMillis, long maxAckPending, ReplayPolicy replayPolicy, long inactiveThresholdMillis) {

  /** Where a consumer starts; the names are JetStream's, stored and sent as they are. */
  public enum DeliverPolicy {
    ALL("all"), LAST("last"), NEW("new"), LAST_PER_SUBJECT("last_per_subject"),
    /** From {@code optStartSeq}. */
    BY_START_SEQUENCE("by_start_sequence"),
    /** From the first message at or after {@code optStartTimeMillis}. */
    BY_START_TIME("by_start_time");

    public final String wireName;

    DeliverPolicy(String wireName) {
      this.wireName = wireName;
    }

    /** The policy named {@code name}, or null. */
    public static DeliverPolicy ofName(String name) {
      return WireNames.of(values(), p -> p.wireName, name);
    }

    public static String unknown(String name) {
      return "deliver_policy must be one of all, last, new, last_per_subject, by_start_sequence, by_start_time, got '"
          + name + "'";
    }
  }

  /** How acks count: each message ({@code explicit}), every earlier one too ({@code all}), or not at all. */
  public enum AckPolicy {
    EXPLICIT("explicit"), ALL("all"), NONE("none");

    public final String wireName;

    AckPolicy(String wireName) {
      this.wireName = wireName;
    }

    public static AckPolicy ofName(String name) {
      return WireNames.of(values(), p -> p.wireName, name);
    }

    public static String unknown(String name) {
      return "ack_policy must be explicit, all or none, got '" + name + "'";
    }
  }

  /** {@code instant}, or {@code original}: the subscriber spaces messages as they were published. */
  public enum ReplayPolicy {
    INSTANT("instant"), ORIGINAL("original");

    public final String wireName;

    ReplayPolicy(String wireName) {
      this.wireName = wireName;
    }

    public static ReplayPolicy ofName(String name) {
      return WireNames.of(values(), p -> p.wireName, name);
    }

    public static String unknown(String name) {
      return "replay_policy must be instant or original, got '" + name + "'";
    }
  }

  public static final long ACK_WAIT_DEFAULT = 30_000;
  public static final long MAX_ACK_PENDING_DEFAULT = 1000;
  public static final long INACTIVE_THRESHOLD_DEFAULT = 5_000;

  public ConsumerConfig {
    filterSubjects = List.copyOf(filterSubjects);
    backoffMillis = List.copyOf(backoffMillis);
  }

  /** A durable consumer of everything, explicit acks, JetStream's defaults. */
  public static ConsumerConfig durable(String name) {
    return new ConsumerConfig(name, true, DeliverPolicy.ALL, 0, 0, List.of(), AckPolicy.EXPLICIT, ACK_WAIT_DEFAULT, -1,
        List.of(), MAX_ACK_PENDING_DEFAULT, ReplayPolicy.INSTANT, 0);
  }

  // Copies with one value changed, so that no two of the thirteen values can be swapped unseen:
  // ConsumerConfig.durable("billing").withAckPolicy(AckPolicy.ALL).withMaxDeliver(5).

  public ConsumerConfig withName(String value) {
    return new ConsumerConfig(value, durable, deliverPolicy, optStartSeq, optStartTimeMillis, filterSubjects,
        ackPolicy, ackWaitMillis, maxDeliver, backoffMillis, maxAckPending, replayPolicy, inactiveThresholdMillis);
  }

  public ConsumerConfig withDurable(boolean value) {
    return new ConsumerConfig(name, value, deliverPolicy, optStartSeq, optStartTimeMillis, filterSubjects,
        ackPolicy, ackWaitMillis, maxDeliver, backoffMillis, maxAckPending, replayPolicy, inactiveThresholdMillis);
  }

  public ConsumerConfig withDeliverPolicy(DeliverPolicy value) {
    return new ConsumerConfig(name, durable, value, optStartSeq, optStartTimeMillis, filterSubjects, ackPolicy,
        ackWaitMillis, maxDeliver, backoffMillis, maxAckPending, replayPolicy, inactiveThresholdMillis);
  }

  public ConsumerConfig withOptStartSeq(long value) {
    return new ConsumerConfig(name, durable, deliverPolicy, value, optStartTimeMillis, filterSubjects, ackPolicy,
        ackWaitMillis, maxDeliver, backoffMillis, maxAckPending, replayPolicy, inactiveThresholdMillis);
  }

  public ConsumerConfig withOptStartTimeMillis(long value) {
    return new ConsumerConfig(name, durable, deliverPolicy, optStartSeq, value, filterSubjects, ackPolicy,
        ackWaitMillis, maxDeliver, backoffMillis, maxAckPending, replayPolicy, inactiveThresholdMillis);
  }

  public ConsumerConfig withFilterSubjects(List<String> value) {
    return new ConsumerConfig(name, durable, deliverPolicy, optStartSeq, optStartTimeMillis, value, ackPolicy,
        ackWaitMillis, maxDeliver, backoffMillis, maxAckPending, replayPolicy, inactiveThresholdMillis);
  }

  public ConsumerConfig withAckPolicy(AckPolicy value) {
    return new ConsumerConfig(name, durable, deliverPolicy, optStartSeq, optStartTimeMillis, filterSubjects, value,
        ackWaitMillis, maxDeliver, backoffMillis, maxAckPending, replayPolicy, inactiveThresholdMillis);
  }

  public ConsumerConfig withAckWaitMillis(long value) {
    return new ConsumerConfig(name, durable, deliverPolicy, optStartSeq, optStartTimeMillis, filterSubjects,
        ackPolicy, value, maxDeliver, backoffMillis, maxAckPending, replayPolicy, inactiveThresholdMillis);
  }

  public ConsumerConfig withMaxDeliver(long value) {
    return new ConsumerConfig(name, durable, deliverPolicy, optStartSeq, optStartTimeMillis, filterSubjects,
        ackPolicy, ackWaitMillis, value, backoffMillis, maxAckPending, replayPolicy, inactiveThresholdMillis);
  }

  public ConsumerConfig withBackoffMillis(List<Long> value) {
    return new ConsumerConfig(name, durable, deliverPolicy, optStartSeq, optStartTimeMillis, filterSubjects,
        ackPolicy, ackWaitMillis, maxDeliver, value, maxAckPending, replayPolicy, inactiveThresholdMillis);
  }

  public ConsumerConfig withMaxAckPending(long value) {
    return new ConsumerConfig(name, durable, deliverPolicy, optStartSeq, optStartTimeMillis, filterSubjects,
        ackPolicy, ackWaitMillis, maxDeliver, backoffMillis, value, replayPolicy, inactiveThresholdMillis);
  }

  public ConsumerConfig withReplayPolicy(ReplayPolicy value) {
    return new ConsumerConfig(name, durable, deliverPolicy, optStartSeq, optStartTimeMillis, filterSubjects,
        ackPolicy, ackWaitMillis, maxDeliver, backoffMillis, maxAckPending, value, inactiveThresholdMillis);
  }

  public ConsumerConfig withInactiveThresholdMillis(long value) {
    return new ConsumerConfig(name, durable, deliverPolicy, optStartSeq, optStartTimeMillis, filterSubjects,
        ackPolicy, ackWaitMillis, maxDeliver, backoffMillis, maxAckPending, replayPolicy, value);
  }

  /** Why this configuration is not acceptable, or null. */
  public String invalid() {
    if (name == null || name.isEmpty() || !name.matches("[A-Za-z0-9_-]{1,64}")) {
      return "consumer name must be 1 to 64 letters, digits, '-' or '_', got '" + name + "'";
    }
    if (deliverPolicy == null || ackPolicy == null || replayPolicy == null) {
      return "deliver_policy, ack_policy and replay_policy must be given";
    }
    if (deliverPolicy == DeliverPolicy.BY_START_SEQUENCE && optStartSeq < 1) {
      return "deliver_policy by_start_sequence needs opt_start_seq >= 1";
    }
    if (deliverPolicy == DeliverPolicy.BY_START_TIME && optStartTimeMillis <= 0) {
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
    w.string(deliverPolicy.wireName);
    w.string(ackPolicy.wireName);
    w.string(replayPolicy.wireName);
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
    DeliverPolicy deliver = WireNames.stored(DeliverPolicy.ofName(StreamCommand.readString(b)), "deliver policy");
    AckPolicy ack = WireNames.stored(AckPolicy.ofName(StreamCommand.readString(b)), "ack policy");
    ReplayPolicy replay = WireNames.stored(ReplayPolicy.ofName(StreamCommand.readString(b)), "replay policy");
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
