package io.holdfast.stream;

import java.nio.ByteBuffer;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * One consumer's replicated state inside {@link StreamState}: where new deliveries continue
 * ({@link #nextSeq}), the messages delivered and not yet acked with their delivery counts and ack
 * deadlines ({@link #pending}), and — for {@code last_per_subject} — the starting messages not
 * yet delivered ({@link #backlog}). Everything below the lowest of these is done (acked, termed,
 * past max_deliver, or not taken by the filter): that is the ack floor.
 */
final class ConsumerState {
  /** A delivered, unacked message: its latest consumer sequence, deliveries so far, and when it is due again. */
  record Pending(long consumerSeq, int deliveries, long deadlineMillis) {}

  final ConsumerConfig config;
  /** The stream's last sequence when this consumer was created: interest retention waits only for later messages. */
  final long createdAtSeq;
  long nextSeq;
  long consumerSeq;
  long lastActiveMillis;
  final TreeSet<Long> backlog = new TreeSet<>();
  final TreeMap<Long, Pending> pending = new TreeMap<>();

  ConsumerState(ConsumerConfig config, long createdAtSeq, long nextSeq, long lastActiveMillis) {
    this.config = config;
    this.createdAtSeq = createdAtSeq;
    this.nextSeq = nextSeq;
    this.lastActiveMillis = lastActiveMillis;
  }

  /** Whether this consumer is finished with {@code seq} (interest retention's test). */
  boolean done(long seq) {
    return seq < nextSeq && !pending.containsKey(seq) && !backlog.contains(seq);
  }

  long ackFloor() {
    long floor = nextSeq;
    if (!pending.isEmpty()) {
      floor = Math.min(floor, pending.firstKey());
    }
    if (!backlog.isEmpty()) {
      floor = Math.min(floor, backlog.first());
    }
    return floor - 1;
  }

  /** The consumer sequence below which every delivery is done: below the oldest one still pending. */
  long ackFloorConsumerSeq() {
    long floor = consumerSeq;
    for (Pending p : pending.values()) {
      floor = Math.min(floor, p.consumerSeq() - 1);
    }
    return floor;
  }

  long redelivered() {
    return pending.values().stream().filter(p -> p.deliveries() > 1).count();
  }

  void write(StreamCommand.Writer w) {
    config.write(w);
    w.ensure(36 + 8 * backlog.size() + 4 + 28 * pending.size());
    w.b.putLong(createdAtSeq).putLong(nextSeq).putLong(consumerSeq).putLong(lastActiveMillis);
    w.b.putInt(backlog.size());
    backlog.forEach(w.b::putLong);
    w.b.putInt(pending.size());
    pending.forEach((seq, p) -> w.b.putLong(seq).putLong(p.consumerSeq()).putInt(p.deliveries())
        .putLong(p.deadlineMillis()));
  }

  static ConsumerState read(ByteBuffer b) {
    ConsumerConfig config = ConsumerConfig.read(b);
    ConsumerState c = new ConsumerState(config, b.getLong(), b.getLong(), 0);
    c.consumerSeq = b.getLong();
    c.lastActiveMillis = b.getLong();
    for (int n = b.getInt(); n > 0; n--) {
      c.backlog.add(b.getLong());
    }
    for (int n = b.getInt(); n > 0; n--) {
      c.pending.put(b.getLong(), new Pending(b.getLong(), b.getInt(), b.getLong()));
    }
    return c;
  }
}
