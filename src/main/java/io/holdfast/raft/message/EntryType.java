package io.holdfast.raft.message;

/** What a log entry carries. The core never decodes {@link #COMMAND} payloads. */
public enum EntryType {
  /** An opaque state-machine command (for streams: an encoded stream command batch). */
  COMMAND,
  /** Appended by every new leader so that an entry of its own term can commit (Raft §5.4.2, §8). */
  NOOP,
  /** A new {@link Membership}; takes effect on every replica as soon as it is appended. */
  MEMBERSHIP
}
