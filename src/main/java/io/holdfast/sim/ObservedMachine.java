package io.holdfast.sim;

import io.holdfast.base.RangeSet;
import io.holdfast.raft.message.LogEntry;
import io.holdfast.replica.ReplicatedMachine;
import io.holdfast.replica.Wire;
import io.holdfast.storage.StoreSync;
import io.holdfast.stream.StreamLimits;
import java.util.List;
import java.util.function.Consumer;

/**
 * The production machine of a simulated replica, with every committed entry it applies shown to
 * the checkers first (committed entries are final, the oracle's log). Nothing else is changed.
 */
final class ObservedMachine implements ReplicatedMachine {
  private final ReplicatedMachine inner;
  private final Consumer<LogEntry> observeApply;

  ObservedMachine(ReplicatedMachine inner, Consumer<LogEntry> observeApply) {
    this.inner = inner;
    this.observeApply = observeApply;
  }

  @Override
  public List<Wire.Outcome> apply(LogEntry entry, boolean answered) {
    observeApply.accept(entry);
    return inner.apply(entry, answered);
  }

  @Override
  public String invalid(Wire.Proposal p) {
    return inner.invalid(p);
  }

  @Override
  public boolean growsData(Wire.Proposal p) {
    return inner.growsData(p);
  }

  @Override
  public Wire.Outcome answerWithoutLog(Wire.Proposal p, long nowMillis) {
    return inner.answerWithoutLog(p, nowMillis);
  }

  @Override
  public long waitMillis(Wire.Proposal p) {
    return inner.waitMillis(p);
  }

  @Override
  public long sizeOf(Wire.Proposal p) {
    return inner.sizeOf(p);
  }

  @Override
  public int batchMax() {
    return inner.batchMax();
  }

  @Override
  public int batchKind(Wire.Proposal p) {
    return inner.batchKind(p);
  }

  @Override
  public boolean alone(Wire.Proposal p) {
    return inner.alone(p);
  }

  @Override
  public Wire.Proposal toward(StreamLimits desired) {
    return inner.toward(desired);
  }

  @Override
  public Wire.Proposal housekeeping(long nowMillis) {
    return inner.housekeeping(nowMillis);
  }

  @Override
  public byte[] encode(List<Wire.Proposal> batch, long nowMillis) {
    return inner.encode(batch, nowMillis);
  }

  @Override
  public List<Erasure> takeErasures() {
    return inner.takeErasures();
  }

  @Override
  public Wire.ReadReply read(Wire.Query query) {
    return inner.read(query);
  }

  @Override
  public byte[] snapshot() {
    return inner.snapshot();
  }

  @Override
  public void restore(byte[] snapshot) {
    inner.restore(snapshot);
  }

  @Override
  public void open(byte[] snapshot) {
    inner.open(snapshot);
  }

  @Override
  public RangeSet missingFor(byte[] snapshot) {
    return inner.missingFor(snapshot);
  }

  @Override
  public StoreSync syncStore() {
    return inner.syncStore();
  }

  @Override
  public boolean storeUnsynced() {
    return inner.storeUnsynced();
  }

  @Override
  public void storeSynced(StoreSync job) {
    inner.storeSynced(job);
  }

  @Override
  public void snapshotDurable(byte[] snapshot) {
    inner.snapshotDurable(snapshot);
  }

  @Override
  public void flushStore() {
    inner.flushStore();
  }

  @Override
  public List<byte[]> records(long fromSeq, long toSeq, long bytesMax, RangeSet missing) {
    return inner.records(fromSeq, toSeq, bytesMax, missing);
  }

  @Override
  public long recordSeq(byte[] record) {
    return inner.recordSeq(record);
  }

  @Override
  public boolean take(byte[] record) {
    return inner.take(record);
  }

  @Override
  public long storeLastSeq() {
    return inner.storeLastSeq();
  }

  @Override
  public RangeSet missingLive() {
    return inner.missingLive();
  }

  @Override
  public long scrub(long fromSeq, int count) {
    return inner.scrub(fromSeq, count);
  }

  @Override
  public List<String> takeStoreNotes() {
    return inner.takeStoreNotes();
  }
}
