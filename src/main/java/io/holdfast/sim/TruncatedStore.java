package io.holdfast.sim;

import io.holdfast.base.RangeSet;
import io.holdfast.storage.segment.SegmentStore;
import io.holdfast.storage.segment.StreamStore;
import io.holdfast.stream.Message;
import java.util.List;

/**
 * A negative control's store ({@link Mode#TRUNCATE_STORE_ON_CORRUPTION}): one that takes a damaged
 * record for a torn write — cut there at open (the simulator reopens it so), and from then on
 * believing it ends before its first damaged record: what lies beyond is none of its business, so
 * it is never repaired. The checkers must find the acknowledged messages it lost.
 */
final class TruncatedStore implements StreamStore {
  private final SegmentStore inner;

  TruncatedStore(SegmentStore inner) {
    this.inner = inner;
  }

  /** The planted bug: the store ends, as it believes, before its first damaged record, and lacks nothing before. */
  @Override
  public RangeSet missing(long from, long to) {
    long firstDamaged = inner.damaged().nextPresent(1);
    long end = firstDamaged == -1 ? inner.lastSeq() : Math.min(inner.lastSeq(), firstDamaged - 1);
    return inner.missing(from, Math.min(to, end));
  }

  @Override
  public void append(long seq, Message message, int subjectId, long prevSameSubject, Location location) {
    inner.append(seq, message, subjectId, prevSameSubject, location);
  }

  @Override
  public Entry entry(long seq) {
    return inner.entry(seq);
  }

  @Override
  public Message read(long seq) {
    return inner.read(seq);
  }

  @Override
  public Location erase(long seq) {
    return inner.erase(seq);
  }

  @Override
  public long lastSeq() {
    return inner.lastSeq();
  }

  @Override
  public void flush() {
    inner.flush();
  }

  @Override
  public SegmentStore.SyncJob syncJob() {
    return inner.syncJob();
  }

  @Override
  public boolean unsynced() {
    return inner.unsynced();
  }

  @Override
  public void synced(SegmentStore.SyncJob job) {
    inner.synced(job);
  }

  @Override
  public int dropBelow(long seq) {
    return inner.dropBelow(seq);
  }

  @Override
  public List<byte[]> records(long fromSeq, long toSeq, long bytesMax, RangeSet missing) {
    return inner.records(fromSeq, toSeq, bytesMax, missing);
  }

  @Override
  public boolean take(byte[] record) {
    return inner.take(record);
  }

  @Override
  public long scrub(long fromSeq, int count) {
    return inner.scrub(fromSeq, count);
  }

  @Override
  public List<String> takeNotes() {
    return inner.takeNotes();
  }

  @Override
  public void close() {
    inner.close();
  }
}
