package io.holdfast.storage.segment;

import io.holdfast.base.RangeSet;
import io.holdfast.stream.MessageStore;
import java.util.List;

/**
 * A stream replica's message store as its replica uses it: the {@link MessageStore} its state
 * reads and writes, plus durability, catch-up and repair. {@link SegmentStore} is the one
 * implementation; the simulator wraps it to plant known bugs (its negative controls).
 */
public interface StreamStore extends MessageStore {
  /** Writes out what is buffered in memory (not a sync). */
  void flush();

  /** An fsync of everything appended so far (its {@code run} blocks), or one that is {@link SegmentStore.SyncJob#empty()}. */
  SegmentStore.SyncJob syncJob();

  /** A sync job has run. */
  void synced(SegmentStore.SyncJob job);

  /** Whether anything it holds is not yet durable: buffered, written but not in a sync job, or in one still running. */
  boolean unsynced();

  /** Deletes whole segments below {@code seq}; returns how many. */
  int dropBelow(long seq);

  /** Intact records from {@code fromSeq} to {@code toSeq}, about {@code bytesMax}; what it lacks goes in {@code missing}. */
  List<byte[]> records(long fromSeq, long toSeq, long bytesMax, RangeSet missing);

  /** Takes a record fetched from a peer: the next one to append, or a repair. */
  boolean take(byte[] record);

  /** The sequences in [from, to] it holds no intact record of. */
  RangeSet missing(long from, long to);

  /** Verifies up to {@code count} records from {@code fromSeq} on; returns where to go on, 0 at the end of a round. */
  long scrub(long fromSeq, int count);

  /** What it found that an operator should know; taking them clears them. */
  List<String> takeNotes();

  void close();
}
