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
 * @param retention {@link Retention}: interest and workqueue also remove messages when consumers'
 *     acks allow
 */
public record StreamLimits(long maxMsgs, long maxBytes, long maxAgeMillis, long maxMsgsPerSubject, long maxMsgSize,
    boolean discardNew, boolean discardNewPerSubject, long duplicateWindowMillis, Retention retention, boolean sealed,
    boolean denyDelete, boolean denyPurge, boolean allowRollup, long maxConsumers) {

  /** Without a consumer limit ({@code maxConsumers} is enforced when consumers are created, issue 6). */
  public StreamLimits(long maxMsgs, long maxBytes, long maxAgeMillis, long maxMsgsPerSubject, long maxMsgSize,
      boolean discardNew, boolean discardNewPerSubject, long duplicateWindowMillis, Retention retention, boolean sealed,
      boolean denyDelete, boolean denyPurge, boolean allowRollup) {
    this(maxMsgs, maxBytes, maxAgeMillis, maxMsgsPerSubject, maxMsgSize, discardNew, discardNewPerSubject,
        duplicateWindowMillis, retention, sealed, denyDelete, denyPurge, allowRollup, -1);
  }

  public static final StreamLimits DEFAULT = new StreamLimits(-1, -1, 0, -1, -1, false, false, 120_000, Retention.LIMITS,
      false, false, false, false);

  // Copies with one value changed, so that no two of the fourteen values can be swapped unseen:
  // StreamLimits.DEFAULT.withMaxMsgs(100).withDiscardNew(true).
  public StreamLimits withMaxMsgs(long value) {
    return new StreamLimits(value, maxBytes, maxAgeMillis, maxMsgsPerSubject, maxMsgSize, discardNew,
        discardNewPerSubject, duplicateWindowMillis, retention, sealed, denyDelete, denyPurge, allowRollup, maxConsumers);
  }

  public StreamLimits withMaxBytes(long value) {
    return new StreamLimits(maxMsgs, value, maxAgeMillis, maxMsgsPerSubject, maxMsgSize, discardNew,
        discardNewPerSubject, duplicateWindowMillis, retention, sealed, denyDelete, denyPurge, allowRollup, maxConsumers);
  }

  public StreamLimits withMaxAgeMillis(long value) {
    return new StreamLimits(maxMsgs, maxBytes, value, maxMsgsPerSubject, maxMsgSize, discardNew,
        discardNewPerSubject, duplicateWindowMillis, retention, sealed, denyDelete, denyPurge, allowRollup, maxConsumers);
  }

  public StreamLimits withMaxMsgsPerSubject(long value) {
    return new StreamLimits(maxMsgs, maxBytes, maxAgeMillis, value, maxMsgSize, discardNew, discardNewPerSubject,
        duplicateWindowMillis, retention, sealed, denyDelete, denyPurge, allowRollup, maxConsumers);
  }

  public StreamLimits withMaxMsgSize(long value) {
    return new StreamLimits(maxMsgs, maxBytes, maxAgeMillis, maxMsgsPerSubject, value, discardNew,
        discardNewPerSubject, duplicateWindowMillis, retention, sealed, denyDelete, denyPurge, allowRollup, maxConsumers);
  }

  public StreamLimits withDiscardNew(boolean value) {
    return new StreamLimits(maxMsgs, maxBytes, maxAgeMillis, maxMsgsPerSubject, maxMsgSize, value,
        discardNewPerSubject, duplicateWindowMillis, retention, sealed, denyDelete, denyPurge, allowRollup, maxConsumers);
  }

  public StreamLimits withDiscardNewPerSubject(boolean value) {
    return new StreamLimits(maxMsgs, maxBytes, maxAgeMillis, maxMsgsPerSubject, maxMsgSize, discardNew, value,
        duplicateWindowMillis, retention, sealed, denyDelete, denyPurge, allowRollup, maxConsumers);
  }

  public StreamLimits withDuplicateWindowMillis(long value) {
    return new StreamLimits(maxMsgs, maxBytes, maxAgeMillis, maxMsgsPerSubject, maxMsgSize, discardNew,
        discardNewPerSubject, value, retention, sealed, denyDelete, denyPurge, allowRollup, maxConsumers);
  }

  public StreamLimits withRetention(Retention value) {
    return new StreamLimits(maxMsgs, maxBytes, maxAgeMillis, maxMsgsPerSubject, maxMsgSize, discardNew,
        discardNewPerSubject, duplicateWindowMillis, value, sealed, denyDelete, denyPurge, allowRollup, maxConsumers);
  }

  public StreamLimits withSealed(boolean value) {
    return new StreamLimits(maxMsgs, maxBytes, maxAgeMillis, maxMsgsPerSubject, maxMsgSize, discardNew,
        discardNewPerSubject, duplicateWindowMillis, retention, value, denyDelete, denyPurge, allowRollup, maxConsumers);
  }

  public StreamLimits withDenyDelete(boolean value) {
    return new StreamLimits(maxMsgs, maxBytes, maxAgeMillis, maxMsgsPerSubject, maxMsgSize, discardNew,
        discardNewPerSubject, duplicateWindowMillis, retention, sealed, value, denyPurge, allowRollup, maxConsumers);
  }

  public StreamLimits withDenyPurge(boolean value) {
    return new StreamLimits(maxMsgs, maxBytes, maxAgeMillis, maxMsgsPerSubject, maxMsgSize, discardNew,
        discardNewPerSubject, duplicateWindowMillis, retention, sealed, denyDelete, value, allowRollup, maxConsumers);
  }

  public StreamLimits withAllowRollup(boolean value) {
    return new StreamLimits(maxMsgs, maxBytes, maxAgeMillis, maxMsgsPerSubject, maxMsgSize, discardNew,
        discardNewPerSubject, duplicateWindowMillis, retention, sealed, denyDelete, denyPurge, value, maxConsumers);
  }

  public StreamLimits withMaxConsumers(long value) {
    return new StreamLimits(maxMsgs, maxBytes, maxAgeMillis, maxMsgsPerSubject, maxMsgSize, discardNew,
        discardNewPerSubject, duplicateWindowMillis, retention, sealed, denyDelete, denyPurge, allowRollup, value);
  }

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
    if (retention == null) {
      return "retention must be limits, interest or workqueue";
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
    w.string(retention.wireName);
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
    Retention retention = WireNames.stored(Retention.ofName(StreamCommand.readString(b)), "retention");
    int f = b.get();
    return new StreamLimits(maxMsgs, maxBytes, maxAge, perSubject, maxSize, (f & 1) != 0, (f & 2) != 0, window,
        retention, (f & 4) != 0, (f & 8) != 0, (f & 16) != 0, (f & 32) != 0, maxConsumers);
  }
}
