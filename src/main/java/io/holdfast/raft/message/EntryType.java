package io.holdfast.raft.message;

/**
 * What a log entry carries. The core never decodes {@link #COMMAND} payloads. Each type has a
 * fixed {@link #code}, written to the WAL and the wire: never the ordinal, so that reordering or
 * adding constants cannot change what a stored entry means.
 */
public enum EntryType {
  /** An opaque state-machine command (for streams: an encoded stream command batch). */
  COMMAND(0),
  /** Appended by every new leader so that an entry of its own term can commit (Raft §5.4.2, §8). */
  NOOP(1),
  /** A new {@link Membership}; takes effect on every replica as soon as it is appended. */
  MEMBERSHIP(2);

  /** The type's byte on disk and on the wire. */
  public final byte code;

  EntryType(int code) {
    this.code = (byte) code;
  }

  /** The type written as {@code code}; an unknown code is an {@link IllegalArgumentException}. */
  public static EntryType ofCode(int code) {
    for (EntryType t : values()) {
      if (t.code == code) {
        return t;
      }
    }
    throw new IllegalArgumentException("unknown log entry type code " + code);
  }
}
