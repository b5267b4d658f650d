package io.holdfast.storage;

import io.holdfast.raft.message.HardState;
import io.holdfast.raft.message.LogEntry;
import io.holdfast.raft.message.Snapshot;
import java.util.List;

/**
 * One replica's durable write, applied in this order: {@code snapshot} (store it, drop stored
 * entries up to its index), then — if {@code entriesFrom > 0} — delete stored entries at or after
 * {@code entriesFrom} and append {@code entries} (which start there), then {@code repaired} (each
 * replaces the payload of the stored entry with the same index and term — the repair of an entry
 * that failed its checksum; nothing is truncated), then {@code hardState}. Any part may be absent.
 * Mirrors the core's PersistRequest without its messages.
 */
public record LogWrite(HardState hardState, Snapshot snapshot, long entriesFrom, List<LogEntry> entries,
    List<LogEntry> repaired) {
  public LogWrite {
    entries = List.copyOf(entries);
    repaired = List.copyOf(repaired);
    if (!entries.isEmpty() && entries.get(0).index() != entriesFrom) {
      throw new IllegalArgumentException("entries start at " + entries.get(0).index() + ", not " + entriesFrom);
    }
  }

  public LogWrite(HardState hardState, Snapshot snapshot, long entriesFrom, List<LogEntry> entries) {
    this(hardState, snapshot, entriesFrom, entries, List.of());
  }

  public static LogWrite hardState(HardState hs) {
    return new LogWrite(hs, null, 0, List.of());
  }

  public static LogWrite append(long from, List<LogEntry> entries) {
    return new LogWrite(null, null, from, entries);
  }

  public boolean changesLog() {
    return entriesFrom > 0;
  }

  public long weightBytes() {
    long bytes = hardState == null ? 0 : 16;
    if (snapshot != null) {
      bytes += snapshot.data().length + 64;
    }
    for (LogEntry e : entries) {
      bytes += e.weightBytes();
    }
    for (LogEntry e : repaired) {
      bytes += e.weightBytes();
    }
    return bytes;
  }
}
