package io.holdfast.replica;

import io.holdfast.base.RangeSet;
import io.holdfast.raft.message.LogEntry;
import io.holdfast.storage.StoreSync;
import io.holdfast.storage.segment.SegmentStore;
import io.holdfast.storage.segment.StreamStore;
import io.holdfast.stream.Delivery;
import io.holdfast.stream.Message;
import io.holdfast.stream.MessageStore;
import io.holdfast.stream.StoredMessage;
import io.holdfast.stream.StreamCommand;
import io.holdfast.stream.StreamLimits;
import io.holdfast.stream.StreamState;
import io.holdfast.stream.Subjects;
import java.util.ArrayList;
import java.util.List;
import java.util.function.LongFunction;

/**
 * A stream replica's machine: publishes become {@link StreamCommand.PublishBatch} entries; the
 * applied state is a {@link StreamState} whose messages live in a {@link SegmentStore} on disk.
 */
public final class StreamMachine implements ReplicatedMachine {
  public static final int BATCH_MESSAGES_MAX = 1024;
  /**
   * Payload bytes of one message at most: 1 MiB, as NATS's default {@code max_payload}. A log
   * entry, an append, a forwarded proposal or a fetch's answer holds at most one message beyond
   * its byte budget, so every ordinary Artery message stays under 1.5 MiB; reference.conf sets
   * Artery's ordinary frame to 2 MiB for that.
   */
  public static final int MESSAGE_BYTES_MAX = 1 << 20;
  /** Bytes of one message's headers at most (names and values), over its payload. */
  public static final int HEADER_BYTES_MAX = 64 << 10;
  /**
   * Bytes of messages one fetch or read answers with at most (beyond its first message): the
   * answer crosses Artery as one ordinary message, and stays well inside its frame. 320 KiB holds
   * a NATS pull's fetch of 256 messages of 1 KiB; at 96 KiB (for Artery's default 256 KiB frame)
   * such a fetch stopped at ~90, and a pull consumer made three log entries where one does now.
   */
  public static final long FETCH_BYTES_MAX = 320 << 10;
  /**
   * Bytes of one atomic publish at most ({@link #sizeOf}): it is one proposal, and crosses Artery
   * as one ordinary message when forwarded to the leader, as a single message of {@link
   * #MESSAGE_BYTES_MAX} does.
   */
  public static final int ATOMIC_BYTES_MAX = MESSAGE_BYTES_MAX + (4 << 10);
  /** Subjects one subject listing answers with at most. */
  public static final int SUBJECTS_MAX = 1024;
  private static final List<String> CONSUME_KINDS = List.of("fetch", "ack", "nak", "progress", "term");

  private final String stream;
  private final LongFunction<StreamStore> openStore;
  private StreamStore store;
  private StreamState state;

  /**
   * @param stream the stream's name (what acks carry)
   * @param openStore opens this replica's store, cut to the given last synced sequence (the one its snapshot covers)
   */
  public StreamMachine(String stream, LongFunction<? extends StreamStore> openStore) {
    this.stream = stream;
    this.openStore = openStore::apply;
  }

  /** The applied state (tests and diagnostics). */
  public StreamState state() {
    return state;
  }
  @Override
  public boolean growsData(Wire.Proposal p) {
    return p instanceof Wire.Publish || p instanceof Wire.PublishAtomic;
  }

  @Override
  public String invalid(Wire.Proposal p) {
    if (p instanceof Wire.StreamOp op) {
      try {
        StreamCommand c = StreamCommand.decode(op.command());
        return c instanceof StreamCommand.PublishBatch || c instanceof StreamCommand.ConsumerBatch
            || c instanceof StreamCommand.AtomicPublishes
            ? "publish with Publish or PublishAtomic, fetch and ack with Consume" : null;
      } catch (RuntimeException e) {
        return "malformed stream operation: " + e.getMessage();
      }
    }
    if (p instanceof Wire.Consume c) {
      if (!CONSUME_KINDS.contains(c.kind())) {
        return "unknown consumer request '" + c.kind() + "'";
      }
      return c.kind().equals("ack") && (c.max() < 0 || c.max() > Wire.Consume.ACK_RUN_MAX || c.max() > 1 && c.seq() < 1)
          ? "an ack covers 1 to " + Wire.Consume.ACK_RUN_MAX + " sequences from 1 on, not " + c.max() + " from "
              + c.seq() : null;
    }
    if (p instanceof Wire.PublishAtomic a) {
      return invalidAtomic(a);
    }
    if (!(p instanceof Wire.Publish pub)) {
      return "a stream takes publishes, consumer requests and stream operations only";
    }
    if (pub.payload() != null && pub.payload().length > MESSAGE_BYTES_MAX) {
      return "message of " + pub.payload().length + " bytes is larger than the maximum of " + MESSAGE_BYTES_MAX;
    }
    long headerBytes = headerBytes(pub);
    if (headerBytes > HEADER_BYTES_MAX) {
      return "headers of " + headerBytes + " bytes are larger than the maximum of " + HEADER_BYTES_MAX;
    }
    return Subjects.invalidSubject(pub.subject());
  }

  /** Why {@code a} cannot be proposed (its size, a subject), or null. */
  public static String invalidAtomic(Wire.PublishAtomic a) {
    if (a.messages().isEmpty() || a.messages().size() > BATCH_MESSAGES_MAX) {
      return "an atomic publish takes 1 to " + BATCH_MESSAGES_MAX + " messages, got " + a.messages().size();
    }
    long bytes = atomicSize(a);
    if (bytes > ATOMIC_BYTES_MAX) {
      return "an atomic publish of " + bytes + " bytes is larger than the maximum of " + ATOMIC_BYTES_MAX;
    }
    long headerBytes = a.messages().stream().mapToLong(StreamMachine::headerBytes).sum();
    if (headerBytes > HEADER_BYTES_MAX) {
      return "an atomic publish's headers of " + headerBytes + " bytes are larger than the maximum of "
          + HEADER_BYTES_MAX;
    }
    for (Wire.Publish m : a.messages()) {
      String bad = Subjects.invalidSubject(m.subject());
      if (bad != null) {
        return bad;
      }
    }
    return null;
  }

  @Override
  public long sizeOf(Wire.Proposal p) {
    if (p instanceof Wire.StreamOp op) {
      return op.command().length;
    }
    if (p instanceof Wire.Consume c) {
      return 32L + c.consumer().length();
    }
    if (p instanceof Wire.PublishAtomic a) {
      return atomicSize(a);
    }
    return publishSize((Wire.Publish) p);
  }

  /** The bytes a publish weighs in batches and proposals (its payload, subject and some overhead). */
  public static long publishSize(Wire.Publish pub) {
    return (pub.payload() == null ? 0 : pub.payload().length) + pub.subject().length() + 64L;
  }

  /** The characters of {@code pub}'s header names and values, and 4 per value (": " and a line end). */
  static long headerBytes(Wire.Publish pub) {
    long bytes = 0;
    if (pub.headers() != null) {
      for (var h : pub.headers().entrySet()) {
        for (String v : h.getValue()) {
          bytes += h.getKey().length() + v.length() + 4;
        }
      }
    }
    return bytes;
  }

  public static long atomicSize(Wire.PublishAtomic a) {
    long bytes = 0;
    for (Wire.Publish m : a.messages()) {
      bytes += publishSize(m);
    }
    return bytes;
  }

  @Override
  public int batchMax() {
    return BATCH_MESSAGES_MAX;
  }

  @Override
  public boolean alone(Wire.Proposal p) {
    return p instanceof Wire.StreamOp;
  }

  @Override
  public int batchKind(Wire.Proposal p) {
    return p instanceof Wire.Consume ? 1 : p instanceof Wire.PublishAtomic ? 2 : 0;
  }

  @Override
  public byte[] encode(List<Wire.Proposal> batch, long nowMillis) {
    if (batch.get(0) instanceof Wire.StreamOp op) {
      StreamCommand c = StreamCommand.decode(op.command());
      return c instanceof StreamCommand.AddConsumer a
          ? StreamCommand.encode(new StreamCommand.AddConsumer(a.config(), nowMillis)) : op.command();
    }
    if (batch.get(0) instanceof Wire.Consume) {
      List<StreamCommand.ConsumerOp> ops = new ArrayList<>(batch.size());
      for (Wire.Proposal p : batch) {
        Wire.Consume c = (Wire.Consume) p;
        if (c.kind().equals("fetch")) {
          ops.add(new StreamCommand.Fetch(c.consumer(), c.max(), FETCH_BYTES_MAX));
          continue;
        }
        if (c.run() > 1) {
          ops.add(new StreamCommand.AckRun(c.consumer(), c.seq(), c.run()));
          continue;
        }
        ops.add(new StreamCommand.Ack(c.consumer(), c.seq(), StreamCommand.AckKind.valueOf(c.kind().toUpperCase(
            java.util.Locale.ROOT)), c.delayMillis()));
      }
      return StreamCommand.encode(new StreamCommand.ConsumerBatch(nowMillis, ops));
    }
    if (batch.get(0) instanceof Wire.PublishAtomic) {
      List<Message> messages = new ArrayList<>();
      List<Integer> groups = new ArrayList<>(batch.size());
      for (Wire.Proposal p : batch) {
        List<Wire.Publish> group = ((Wire.PublishAtomic) p).messages();
        group.forEach(m -> messages.add(new Message(m.subject(), m.headers(), m.payload(), nowMillis)));
        groups.add(group.size());
      }
      return StreamCommand.encode(new StreamCommand.AtomicPublishes(messages, groups));
    }
    List<Message> messages = new ArrayList<>(batch.size());
    for (Wire.Proposal p : batch) {
      Wire.Publish pub = (Wire.Publish) p;
      messages.add(new Message(pub.subject(), pub.headers(), pub.payload(), nowMillis));
    }
    return StreamCommand.encode(new StreamCommand.PublishBatch(messages));
  }

  @Override
  public List<Wire.Outcome> apply(LogEntry entry, boolean answered) {
    List<StreamState.Result> results = state.apply(entry);
    List<Wire.Outcome> out = new ArrayList<>(results.size());
    for (StreamState.Result r : results) {
      out.add(!r.ok() ? new Wire.Rejected(r.error(), r.message())
          : r.deliveries() != null ? new Wire.Delivered(answered ? state.deliver(r.deliveries()) : List.of())
          : new Wire.Seq(stream, r.seq(), r.duplicate()));
    }
    return out;
  }

  /** The payload of message {@code ordinal} of a publish-batch entry: what erasing that message overwrites. */
  record PayloadOf(int ordinal) implements io.holdfast.storage.EntryRegion {
    @Override
    public int[] within(byte[] entryData) {
      return StreamCommand.payloadRegion(entryData, ordinal);
    }
  }

  @Override
  public List<Erasure> takeErasures() {
    List<MessageStore.Location> erased = state.takeErasures();
    List<Erasure> out = new ArrayList<>(erased.size());
    for (MessageStore.Location at : erased) {
      out.add(new Erasure(at.index(), at.term(), new PayloadOf(at.ordinal())));
    }
    return out;
  }

  @Override
  public Wire.Outcome answerWithoutLog(Wire.Proposal p, long nowMillis) {
    return p instanceof Wire.Consume c && c.kind().equals("fetch") && state.idleFetch(c.consumer(), nowMillis)
        ? new Wire.Delivered(List.of()) : null;
  }

  @Override
  public long waitMillis(Wire.Proposal p) {
    return p instanceof Wire.Consume c && c.kind().equals("fetch") ? c.delayMillis() : 0;
  }

  @Override
  public Wire.ReadReply read(Wire.Query query) {
    try {
      if (query instanceof Wire.GetMessages g) {
        return new Wire.Messages(state.range(g.fromSeq(), g.max(), FETCH_BYTES_MAX));
      }
      if (query instanceof Wire.GetConsumers g) {
        if (g.name() == null) {
          return new Wire.Consumers(state.consumerInfos());
        }
        io.holdfast.stream.ConsumerInfo info = state.consumerInfo(g.name());
        return new Wire.Consumers(info == null ? List.of() : List.of(info));
      }
      if (query instanceof Wire.GetSubjects g) {
        return new Wire.SubjectNames(state.subjectNames(g.filter(), g.after(), Math.min(g.max(), SUBJECTS_MAX)));
      }
      if (query instanceof Wire.GetSubject g) {
        return new Wire.Messages(state.subjectRange(g.subject(), g.fromSeq(), g.max(), FETCH_BYTES_MAX));
      }
      if (query instanceof Wire.GetLastFor l) {
        StoredMessage m = state.lastFor(l.subject());
        return new Wire.Messages(m == null ? List.of() : List.of(m));
      }
      return new Wire.Info(state.info(), state.limits().encode(), null);
    } catch (StreamState.Damaged e) {
      return new Wire.NotLeader(-1); // this copy is being repaired: ask again shortly
    }
  }

  /** Expiry by age when the oldest message is past max_age by the leader's clock. */
  @Override
  public Wire.Proposal housekeeping(long nowMillis) {
    return state.expiresBefore(nowMillis)
        ? new Wire.StreamOp(StreamCommand.encode(new StreamCommand.Expire(nowMillis))) : null;
  }

  /** The config change that would bring the stream to {@code desired}, or null if it is there. */
  @Override
  public Wire.Proposal toward(StreamLimits desired) {
    return desired.equals(state.limits()) ? null
        : new Wire.StreamOp(StreamCommand.encode(new StreamCommand.UpdateConfig(desired)));
  }

  @Override
  public byte[] snapshot() {
    return state.snapshot();
  }

  @Override
  public void restore(byte[] snapshot) {
    state.restore(snapshot);
  }

  /**
   * Opens the store cut to what {@code snapshot} covers, then restores it. A null snapshot is a
   * damaged one: the store keeps every intact record, and the state starts empty until a peer's
   * snapshot replaces it (what the store then lacks is repaired).
   */
  @Override
  public void open(byte[] snapshot) {
    store = openStore.apply(snapshot == null ? SegmentStore.SYNC_UNKNOWN : StreamState.span(snapshot)[1]);
    state = new StreamState(stream, store);
    state.restore(snapshot == null ? new byte[0] : snapshot);
  }

  @Override
  public RangeSet missingFor(byte[] snapshot) {
    long[] span = StreamState.span(snapshot);
    return store.missing(span[0], span[1]);
  }

  @Override
  public StoreSync syncStore() {
    SegmentStore.SyncJob job = store.syncJob();
    if (job.empty()) {
      store.synced(job);
      return null;
    }
    return job;
  }

  @Override
  public boolean storeUnsynced() {
    return store.unsynced();
  }

  @Override
  public void storeSynced(StoreSync job) {
    store.synced((SegmentStore.SyncJob) job);
  }

  @Override
  public void snapshotDurable(byte[] snapshot) {
    store.dropBelow(StreamState.span(snapshot)[0]);
  }

  @Override
  public void flushStore() {
    store.flush();
  }

  @Override
  public List<byte[]> records(long fromSeq, long toSeq, long bytesMax, RangeSet missing) {
    return store.records(fromSeq, toSeq, bytesMax, missing);
  }

  @Override
  public long recordSeq(byte[] record) {
    return io.holdfast.storage.segment.SegmentFormat.recordSeq(record);
  }

  @Override
  public boolean take(byte[] record) {
    return store.take(record);
  }

  @Override
  public long storeLastSeq() {
    return store.lastSeq();
  }

  @Override
  public RangeSet missingLive() {
    RangeSet missing = store.missing(state.firstSeq(), state.lastSeq());
    if (!missing.isEmpty()) {
      for (long[] r : state.deletedIn(state.firstSeq(), state.lastSeq()).ranges()) {
        missing.remove(r[0], r[1]);
      }
    }
    return missing;
  }

  @Override
  public long scrub(long fromSeq, int count) {
    return store.scrub(fromSeq, count);
  }

  @Override
  public List<String> takeStoreNotes() {
    return store.takeNotes();
  }

  /** Closes the store's files (the replica stopped). */
  public void close() {
    if (store != null) {
      store.close();
    }
  }
}
