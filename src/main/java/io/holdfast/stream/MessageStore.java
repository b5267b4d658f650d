package io.holdfast.stream;

/**
 * Where a stream's messages live: on disk, never in the replica's heap (DESIGN.md §3). {@link
 * StreamState} keeps only metadata (counts, subjects, deleted ranges, consumers) and asks the
 * store for the few facts its rules need about a stored message — its time, size, subject and the
 * previous message of its subject — and, for reads, the message itself.
 *
 * <p>Only committed, applied messages are appended, in sequence order, so every replica's store
 * holds the same messages at the same sequences. Appends are buffered: durable only once the
 * host has synced the store (before it snapshots, so a snapshot never covers unsynced messages).
 */
public interface MessageStore {
  /** What the store's index knows about message {@code seq} (without reading the message). */
  record Entry(long seq, long timestampMillis, long sizeBytes, int subjectId, long prevSameSubject, boolean erased) {}

  /** Where a message was in the Raft log: message {@code ordinal} of the publish batch at (index, term). */
  record Location(long index, long term, int ordinal) {}

  /**
   * Appends message {@code seq}: sequences only grow, a gap after the last stored one is allowed
   * (messages a snapshot install skipped, all deleted). A sequence already stored is skipped: it
   * is the same committed message, applied again after a restart or a catch-up.
   */
  void append(long seq, Message message, int subjectId, long prevSameSubject, Location location);

  /**
   * The index facts of {@code seq}, or null if the store holds no record of it. Throws {@link
   * Unreadable} if neither its index entry nor its record is intact (damage on two files at once).
   */
  Entry entry(long seq);

  /** The message at {@code seq}, or null if the store holds no intact copy (a damaged one is remembered for repair). */
  Message read(long seq);

  /** The messages at {@code seqs}, each as {@link #read} gives it, in the same order. */
  default Message[] readAll(long[] seqs) {
    Message[] out = new Message[seqs.length];
    for (int i = 0; i < seqs.length; i++) {
      out[i] = read(seqs[i]);
    }
    return out;
  }

  /**
   * Overwrites the payload of {@code seq} with zeros where the store holds it (checksums
   * rewritten) and returns where the message was in the log (so its log copies can be erased too),
   * or null if the store holds no record of it.
   */
  Location erase(long seq);

  /** The highest sequence stored (0 if none). */
  long lastSeq();

  /** The store cannot give a fact a replicated decision needs: stop this replica (its copy must be rebuilt). */
  final class Unreadable extends RuntimeException {
    private static final long serialVersionUID = 1L;

    public Unreadable(String message) {
      super(message);
    }
  }
}
