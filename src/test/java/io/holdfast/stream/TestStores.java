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

  /**
   * {@code replica} after a restart: its store opened again on the same disk (what was synced;
   * the test's disk loses nothing), its state restored from its own snapshot.
   */
  public static StreamState restartedFrom(StreamState replica) {
    SegmentStore store = (SegmentStore) replica.store();
    byte[] snapshot = replica.snapshot();
    SegmentStore.SyncJob job = store.syncJob(); // what the host does before it takes a snapshot
    job.run();
    store.synced(job);
    store.close();
    SegmentStore reopened = SegmentStore.open(store.disk(), OPTIONS, StreamState.span(snapshot)[1]);
    StreamState s = new StreamState(replica.name(), reopened);
    s.restore(snapshot);
    return s;
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
