package io.holdfast.stream;

import java.nio.ByteBuffer;

/**
 * What a stream keeps and accepts (JetStream's stream configuration, minus name and subjects,
 * which the meta group owns). Decided inside {@link StreamState}, so every replica agrees.
 * A negative limit (or 0 for {@code maxAgeMillis}) means unlimited.
 *
 * @param discardNew when a limit is reached, refuse the publish ({@code discard new}) instead of
 *     evicting the oldest message ({@code discard old}, the default)
 * @param discardNewPerSubject with {@code discardNew}, also refuse when the subject's own
 *     {@code maxMsgsPerSubject} is reached
 * @param duplicateWindowMillis how long a {@code Nats-Msg-Id} is remembered for de-duplication
 * @param retention {@code limits}, {@code interest} or {@code workqueue}; the last two also remove
 *     messages when consumers' acks allow (consumers come with issue 6)
 */
public record StreamLimits(long maxMsgs, long maxBytes, long maxAgeMillis, long maxMsgsPerSubject, long maxMsgSize,
    boolean discardNew, boolean discardNewPerSubject, long duplicateWindowMillis, String retention, boolean sealed,
    boolean denyDelete, boolean denyPurge, boolean allowRollup, long maxConsumers) {

  /** Without a consumer limit ({@code maxConsumers} is enforced when consumers are created, issue 6). */
  public StreamLimits(long maxMsgs, long maxBytes, long maxAgeMillis, long maxMsgsPerSubject, long maxMsgSize,
      boolean discardNew, boolean discardNewPerSubject, long duplicateWindowMillis, String retention, boolean sealed,
      boolean denyDelete, boolean denyPurge, boolean allowRollup) {
    this(maxMsgs, maxBytes, maxAgeMillis, maxMsgsPerSubject, maxMsgSize, discardNew, discardNewPerSubject,
        duplicateWindowMillis, retention, sealed, denyDelete, denyPurge, allowRollup, -1);
  }

  public static final StreamLimits DEFAULT = new StreamLimits(-1, -1, 0, -1, -1, false, false, 120_000, "limits",
      false, false, false, false);

  /** Why these limits are not acceptable, or null. */
  public String invalid() {
    if (maxAgeMillis < 0) {
      return "max_age must not be negative";
    }
    if (duplicateWindowMillis < 0) {
      return "duplicate_window must not be negative";
    }
    if (maxAgeMillis > 0 && duplicateWindowMillis > maxAgeMillis) {
      return "duplicate_window must not exceed max_age";
    }
    if (!retention.equals("limits") && !retention.equals("interest") && !retention.equals("workqueue")) {
      return "retention must be limits, interest or workqueue, got '" + retention + "'";
    }
    if (discardNewPerSubject && (!discardNew || maxMsgsPerSubject <= 0)) {
      return "discard_new_per_subject needs discard new and max_msgs_per_subject";
    }
    return null;
  }

  public byte[] encode() {
    StreamCommand.Writer w = new StreamCommand.Writer();
    w.ensure(56);
    w.b.putLong(maxMsgs).putLong(maxBytes).putLong(maxAgeMillis).putLong(maxMsgsPerSubject).putLong(maxMsgSize)
        .putLong(duplicateWindowMillis).putLong(maxConsumers);
    w.string(retention);
    w.ensure(1);
    w.b.put((byte) ((discardNew ? 1 : 0) | (discardNewPerSubject ? 2 : 0) | (sealed ? 4 : 0) | (denyDelete ? 8 : 0)
        | (denyPurge ? 16 : 0) | (allowRollup ? 32 : 0)));
    return w.bytes();
  }

  public static StreamLimits decode(byte[] bytes) {
    return read(ByteBuffer.wrap(bytes));
  }

  static StreamLimits read(ByteBuffer b) {
    long maxMsgs = b.getLong();
    long maxBytes = b.getLong();
    long maxAge = b.getLong();
    long perSubject = b.getLong();
    long maxSize = b.getLong();
    long window = b.getLong();
    long maxConsumers = b.getLong();
    String retention = StreamCommand.readString(b);
    int f = b.get();
    return new StreamLimits(maxMsgs, maxBytes, maxAge, perSubject, maxSize, (f & 1) != 0, (f & 2) != 0, window,
        retention, (f & 4) != 0, (f & 8) != 0, (f & 16) != 0, (f & 32) != 0, maxConsumers);
  }
}
