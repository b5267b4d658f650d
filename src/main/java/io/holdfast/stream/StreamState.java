package io.holdfast.stream;

import io.holdfast.raft.message.EntryType;
import io.holdfast.raft.message.LogEntry;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.TreeMap;

/**
 * One stream's replicated state: the messages, by stream sequence. Pure and deterministic:
 * every replica applies the same committed entries in the same order and ends byte for byte
 * equal. Sequences are assigned here, when a {@link StreamCommand.PublishBatch} is applied, so
 * they are contiguous from 1 whatever else the log holds (no-ops, membership changes).
 *
 * <p>This first version keeps messages in memory and has no limits; retention, limits, subjects
 * with wildcards, de-duplication and expectations are the stream-semantics work (issue 5).
 */
public final class StreamState {
  private final String name;
  private final TreeMap<Long, Message> messages = new TreeMap<>();
  private long lastSeq;
  private long bytes;

  public StreamState(String name) {
    this.name = name;
  }

  public String name() {
    return name;
  }

  /**
   * Applies a committed entry. Returns the sequences assigned to the messages it carried, in
   * order (empty for entries that carry no stream command).
   */
  public List<Long> apply(LogEntry entry) {
    if (entry.type() != EntryType.COMMAND) {
      return List.of();
    }
    StreamCommand.PublishBatch batch = (StreamCommand.PublishBatch) StreamCommand.decode(entry.data());
    List<Long> seqs = new ArrayList<>(batch.messages().size());
    for (Message m : batch.messages()) {
      lastSeq++;
      messages.put(lastSeq, m);
      bytes += m.sizeBytes();
      seqs.add(lastSeq);
    }
    return seqs;
  }

  /** The message at {@code seq}, or null if there is none (never was, or no longer). */
  public StoredMessage get(long seq) {
    Message m = messages.get(seq);
    return m == null ? null : new StoredMessage(seq, m);
  }

  /** Counts of the stream as applied so far. */
  public record Info(String name, long messages, long bytes, long firstSeq, long lastSeq) {}

  public Info info() {
    return new Info(name, messages.size(), bytes, messages.isEmpty() ? lastSeq + 1 : messages.firstKey(), lastSeq);
  }

  public List<StoredMessage> range(long fromSeq, int max) {
    List<StoredMessage> out = new ArrayList<>();
    for (var e : messages.tailMap(fromSeq, true).entrySet()) {
      if (out.size() >= max) {
        break;
      }
      out.add(new StoredMessage(e.getKey(), e.getValue()));
    }
    return Collections.unmodifiableList(out);
  }

  /** The whole state, checksummed (D5): u32 crc32c of the rest, i64 lastSeq, u32 count, messages. */
  public byte[] snapshot() {
    StreamCommand.Writer w = new StreamCommand.Writer();
    w.b.putInt(0).putLong(lastSeq).putInt(messages.size());
    for (var e : messages.entrySet()) {
      w.ensure(8);
      w.b.putLong(e.getKey());
      StreamCommand.writeMessage(w, e.getValue());
    }
    return StreamCommand.sealChecksum(w.bytes());
  }

  /** Replaces the state by a snapshot; an empty one (a new group's initial snapshot) is the empty stream. */
  public void restore(byte[] snapshot) {
    messages.clear();
    bytes = 0;
    lastSeq = 0;
    if (snapshot.length == 0) {
      return;
    }
    ByteBuffer b = StreamCommand.openChecksummed(snapshot, "stream snapshot of " + name);
    lastSeq = b.getLong();
    int count = b.getInt();
    for (int i = 0; i < count; i++) {
      long seq = b.getLong();
      Message m = StreamCommand.readMessage(b);
      messages.put(seq, m);
      bytes += m.sizeBytes();
    }
  }
}
