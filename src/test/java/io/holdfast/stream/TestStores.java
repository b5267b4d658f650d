package io.holdfast.stream;

import io.holdfast.base.RangeSet;
import io.holdfast.storage.segment.SegmentStore;
import io.holdfast.storage.sim.SimDisk;

/** Message stores for tests of the stream rules: the real segment store, on a simulated disk. */
public final class TestStores {
  private TestStores() {}

  /** Small segments, so that rules meet segment boundaries often. */
  public static final SegmentStore.Options OPTIONS = new SegmentStore.Options(8192, 32);

  public static SegmentStore fresh() {
    return SegmentStore.open(new SimDisk(), OPTIONS, 0);
  }

  /** A stream state on a fresh store. */
  public static StreamState stream(String name) {
    return new StreamState(name, fresh());
  }

  /**
   * A replica catching up from {@code source} (as a snapshot install does): {@code target} takes
   * the records it lacks up to {@code lastSeq}, in chunks.
   */
  public static void catchUp(SegmentStore source, SegmentStore target, long lastSeq) {
    long from = target.lastSeq() + 1;
    while (from <= lastSeq) {
      RangeSet missing = new RangeSet();
      var records = source.records(from, lastSeq, 4096, missing);
      if (records.isEmpty()) {
        break;
      }
      for (byte[] r : records) {
        target.take(r);
      }
      from = target.lastSeq() + 1;
    }
  }

  /** A new replica restored from {@code source}'s snapshot, its store caught up from {@code source}'s. */
  public static StreamState restoredFrom(StreamState source) {
    SegmentStore store = fresh();
    byte[] snapshot = source.snapshot();
    catchUp((SegmentStore) source.store(), store, StreamState.span(snapshot)[1]);
    StreamState s = new StreamState(source.name(), store);
    s.restore(snapshot);
    return s;
  }
}
