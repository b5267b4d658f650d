package io.holdfast.raft.message;

import java.util.Arrays;
import java.util.Objects;

/**
 * One Raft log entry. {@code index} is the 1-based log position, {@code term} the leader term that
 * created it. Equality is by content (the payload bytes are compared), so checkers can compare
 * entries from different replicas directly.
 */
public record LogEntry(long index, long term, EntryType type, byte[] data) {
  private static final byte[] EMPTY = new byte[0];

  public LogEntry {
    Objects.requireNonNull(type, "type");
    data = data == null ? EMPTY : data;
    if (index < 1 || term < 1) {
      throw new IllegalArgumentException("index and term start at 1: " + index + "/" + term);
    }
  }

  /** Bytes this entry costs in messages and batches (payload plus a fixed header). */
  public int weightBytes() {
    return data.length + 32;
  }

  @Override
  public boolean equals(Object other) {
    return other instanceof LogEntry e
        && index == e.index
        && term == e.term
        && type == e.type
        && Arrays.equals(data, e.data);
  }

  @Override
  public int hashCode() {
    return Objects.hash(index, term, type, Arrays.hashCode(data));
  }

  @Override
  public String toString() {
    return "LogEntry[" + index + "@" + term + " " + type + " " + data.length + "B]";
  }
}
