package io.holdfast.stream;

import io.holdfast.base.RangeSet;
import io.holdfast.raft.message.EntryType;
import io.holdfast.raft.message.LogEntry;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.PriorityQueue;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * One stream's replicated state and the publish rules of JetStream — limits with discard old/new,
 * de-duplication by {@code Nats-Msg-Id} within the duplicate window, expectations, rollups, purge
 * and delete — and its consumers. Pure and deterministic: every replica applies the same committed
 * entries in the same order and ends byte for byte equal. Time comes only from the leader's stamp
 * on each message (and {@link StreamCommand.Expire}), so age limits agree too. Sequences are
 * assigned here, contiguous from 1 whatever else the log holds.
 *
 * <p>The messages are in the {@link MessageStore}, not here (DESIGN.md §3): this object holds what
 * the rules need about the whole stream — first and last sequence, counts, the deleted sequences
 * as ranges, each subject's count and newest sequence, the duplicate window, the consumers — and
 * reads the store's index for facts about single messages (the one being evicted, say). Its heap
 * grows with subjects, consumers and the duplicate window, never with messages. A snapshot is that
 * metadata alone: the store holds the messages it covers (synced before the snapshot is taken).
 *
 * <p>Publish options travel as NATS headers, so a NATS front door can pass them unchanged:
 * {@value #MSG_ID}, {@value #EXPECTED_STREAM}, {@value #EXPECTED_LAST_SEQ},
 * {@value #EXPECTED_LAST_SUBJECT_SEQ}, {@value #EXPECTED_LAST_MSG_ID}, and {@value #ROLLUP}
 * ({@code sub} or {@code all}).
 */
public final class StreamState {
  public static final String MSG_ID = "Nats-Msg-Id";
  public static final String EXPECTED_STREAM = "Nats-Expected-Stream";
  public static final String EXPECTED_LAST_SEQ = "Nats-Expected-Last-Sequence";
  public static final String EXPECTED_LAST_SUBJECT_SEQ = "Nats-Expected-Last-Subject-Sequence";
  public static final String EXPECTED_LAST_MSG_ID = "Nats-Expected-Last-Msg-Id";
  public static final String ROLLUP = "Holdfast-Rollup";

  /**
   * What one command did: a stored (or de-duplicated) message at {@code seq}, a count for purges,
   * what a fetch delivered ({@code deliveries}, null for anything else), or an {@code error} code
   * with a message (nothing changed).
   */
  public record Result(long seq, boolean duplicate, String error, String message, List<Delivered> deliveries) {
    /** Not a fetch: {@code deliveries} is null. */
    public Result(long seq, boolean duplicate, String error, String message) {
      this(seq, duplicate, error, message, null);
    }

    static Result stored(long seq) {
      return new Result(seq, false, null, null);
    }

    static Result rejected(String error, String message) {
      return new Result(0, false, error, message);
    }

    public boolean ok() {
      return error == null;
    }
  }

  /**
   * One message a fetch handed to a consumer: its stream sequence, its consumer sequence (a new
   * one on every delivery), how many times it has been delivered, and how many messages the
   * consumer has not reached yet. The message itself is read from the store by whoever answers.
   */
  public record Delivered(String consumer, long seq, long consumerSeq, int deliveries, long pending) {}

  /** A message that is in the stream but whose stored copy is damaged on this replica (it is being repaired). */
  public static final class Damaged extends RuntimeException {
    private static final long serialVersionUID = 1L;

    Damaged(String message) {
      super(message);
    }
  }

  private record MsgId(long seq, long timestamp) {}

  /** A subject with messages in the stream: its id in the store, how many it has, its newest. */
  private static final class Subject {
    final String name;
    final int id;
    long count;
    long last;
    /** At or below its oldest message (0: unknown): where a search for that one starts. Not replicated. */
    long firstHint;

    Subject(String name, int id) {
      this.name = name;
      this.id = id;
    }
  }

  /** Subjects with at most this many messages find their oldest by walking back from the newest. */
  private static final int WALK_BACK_MAX = 64;

  private final String name;
  private final MessageStore store;
  private StreamLimits limits = StreamLimits.DEFAULT;
  private long lastSeq;
  /** The oldest message still in the stream; lastSeq + 1 when the stream is empty. */
  private long firstSeq = 1;
  private long messages;
  private long bytes;
  /** Sequences between firstSeq and lastSeq that are no longer in the stream. */
  private final RangeSet deleted = new RangeSet();
  private final TreeMap<String, Subject> subjects = new TreeMap<>();
  private final HashMap<Integer, Subject> subjectsById = new HashMap<>();
  private int nextSubjectId = 1;
  /** Msg ids inside the duplicate window, oldest first. */
  private final LinkedHashMap<String, MsgId> msgIds = new LinkedHashMap<>();
  private final TreeMap<String, ConsumerState> consumers = new TreeMap<>();
  private String lastMsgId = "";
  /**
   * Erased sequences still in the stream's range: a replica that skips the erase by installing a
   * snapshot erases its own copy when it restores one.
   */
  private final TreeSet<Long> erased = new TreeSet<>();
  /** Erased messages' locations not yet taken by the shell ({@link #takeErasures()}); not replicated state. */
  private final ArrayList<MessageStore.Location> erasures = new ArrayList<>();

  /**
   * @param name the stream's name (what {@value #EXPECTED_STREAM} is compared with)
   * @param store where its messages are
   */
  public StreamState(String name, MessageStore store) {
    this.name = name;
    this.store = store;
  }

  public String name() {
    return name;
  }

  public StreamLimits limits() {
    return limits;
  }

  public MessageStore store() {
    return store;
  }

  /** Applies a committed entry: one result per message of a publish batch, one for other commands, none for no-ops. */
  public List<Result> apply(LogEntry entry) {
    if (entry.type() != EntryType.COMMAND) {
      return List.of();
    }
    StreamCommand c = StreamCommand.decode(entry.data());
    if (c instanceof StreamCommand.AtomicPublishes atomic) {
      List<Result> out = new ArrayList<>(atomic.groups().size());
      int first = 0;
      for (int size : atomic.groups()) {
        out.add(publishAtomic(atomic.messages().subList(first, first + size), entry, first));
        first += size;
      }
      return out;
    }
    if (c instanceof StreamCommand.PublishBatch batch) {
      List<Result> out = new ArrayList<>(batch.messages().size());
      for (int i = 0; i < batch.messages().size(); i++) {
        out.add(publish(batch.messages().get(i), new MessageStore.Location(entry.index(), entry.term(), i)));
      }
      return out;
    }
    if (c instanceof StreamCommand.UpdateConfig u) {
      limits = u.limits();
      enforceLimits(null);
      return List.of(Result.stored(lastSeq));
    }
    if (c instanceof StreamCommand.Purge p) {
      return List.of(limits.denyPurge() ? Result.rejected("purge_denied", "stream " + name + " denies purge")
          : Result.stored(purge(p.subject(), p.upToSeq(), p.keep())));
    }
    if (c instanceof StreamCommand.DeleteMessage d) {
      return List.of(delete(d));
    }
    if (c instanceof StreamCommand.AddConsumer a) {
      return List.of(addConsumer(a.config(), a.nowMillis()));
    }
    if (c instanceof StreamCommand.DeleteConsumer d) {
      if (consumers.remove(d.name()) == null) {
        return List.of(noConsumer(d.name()));
      }
      sweepInterest();
      return List.of(Result.stored(0));
    }
    if (c instanceof StreamCommand.ConsumerBatch batch) {
      List<Result> out = new ArrayList<>(batch.ops().size());
      for (StreamCommand.ConsumerOp op : batch.ops()) {
        out.add(op instanceof StreamCommand.Fetch f ? fetch(f, batch.nowMillis())
            : op instanceof StreamCommand.AckRun r ? ackRun(r, batch.nowMillis())
            : ack((StreamCommand.Ack) op, batch.nowMillis()));
      }
      return out;
    }
    long now = ((StreamCommand.Expire) c).nowMillis();
    expire(now);
    List<String> idle = new ArrayList<>();
    consumers.forEach((n, cs) -> {
      if (inactive(cs, now)) {
        idle.add(n);
      }
    });
    if (!idle.isEmpty()) {
      idle.forEach(consumers::remove);
      sweepInterest();
    }
    return List.of(Result.stored(lastSeq));
  }

  private Result delete(StreamCommand.DeleteMessage d) {
    if (limits.denyDelete()) {
      return Result.rejected("delete_denied", "stream " + name + " denies deleting messages");
    }
    if (!remove(d.seq())) {
      return Result.rejected("no_message", "stream " + name + " has no message at sequence " + d.seq());
    }
    if (d.erase()) {
      erased.add(d.seq());
      MessageStore.Location at = store.erase(d.seq());
      if (at != null) {
        erasures.add(at);
      }
    }
    return Result.stored(d.seq());
  }

  // =========================================================================================
  // Messages in the store
  // =========================================================================================

  /** Whether {@code seq} is in the stream. */
  public boolean live(long seq) {
    return seq >= firstSeq && seq <= lastSeq && !deleted.contains(seq);
  }

  /** The first message in the stream at or after {@code seq}, or lastSeq + 1. */
  private long nextLive(long seq) {
    return deleted.nextAbsent(Math.max(seq, firstSeq));
  }

  /** The store's facts about a message in the stream; a replica whose store lost them cannot go on. */
  private MessageStore.Entry facts(long seq) {
    MessageStore.Entry e = store.entry(seq);
    if (e == null) {
      throw new MessageStore.Unreadable("stream " + name + ": message " + seq + " is in the stream but not in its"
          + " store (which ends at " + store.lastSeq() + "); this replica's copy must be rebuilt");
    }
    return e;
  }

  private String subjectOf(MessageStore.Entry e) {
    Subject s = subjectsById.get(e.subjectId());
    return s == null ? null : s.name;
  }

  // =========================================================================================
  // Consumers
  // =========================================================================================

  private static boolean inactive(ConsumerState c, long now) {
    return !c.config.durable() && c.lastActiveMillis + c.config.inactiveThresholdMillis() < now;
  }

  /** Pending deliveries a leader scans to answer a fetch without the log, at most (see {@link #idleFetch}). */
  private static final int IDLE_FETCH_PENDING_MAX = 1024;

  /**
   * Whether a fetch for consumer {@code name} at {@code now} (the leader's clock) would deliver
   * nothing and change nothing that needs replicating, so that the leader may answer it empty
   * without a log entry: nothing is due for redelivery, nothing waits in the backlog, no message
   * past the consumer's position, and — for an ephemeral consumer — its last replicated activity
   * is less than half its inactivity threshold old (a fetch through the log keeps it alive). An
   * idle poller then costs no fsync. A consumer with over {@value #IDLE_FETCH_PENDING_MAX}
   * pending deliveries always goes through the log (the scan is bounded).
   */
  public boolean idleFetch(String name, long now) {
    ConsumerState c = consumers.get(name);
    if (c == null || !c.backlog.isEmpty() || c.nextSeq <= lastSeq || c.pending.size() > IDLE_FETCH_PENDING_MAX) {
      return false;
    }
    if (!c.config.durable() && now - c.lastActiveMillis >= c.config.inactiveThresholdMillis() / 2) {
      return false;
    }
    for (ConsumerState.Pending p : c.pending.values()) {
      if (p.deadlineMillis() <= now) {
        return false;
      }
    }
    return true;
  }

  private Result addConsumer(ConsumerConfig config, long now) {
    String bad = config.invalid();
    if (bad != null) {
      return Result.rejected("bad_consumer", bad);
    }
    ConsumerState existing = consumers.get(config.name());
    if (existing != null) {
      return existing.config.equals(config) ? Result.stored(0)
          : Result.rejected("consumer_exists", "consumer " + config.name() + " exists with another configuration");
    }
    if (limits.maxConsumers() >= 0 && consumers.size() >= limits.maxConsumers()) {
      return Result.rejected("maximum_consumers_exceeded", "stream " + name + " has max_consumers "
          + limits.maxConsumers());
    }
    if (limits.retention() == Retention.WORKQUEUE) {
      if (config.deliverPolicy() != ConsumerConfig.DeliverPolicy.ALL) {
        return Result.rejected("bad_consumer", "a workqueue stream's consumers must deliver all");
      }
      for (ConsumerState other : consumers.values()) {
        if (other.config.overlaps(config)) {
          return Result.rejected("workqueue_overlap", "on a workqueue stream consumers may not overlap: "
              + config.name() + " and " + other.config.name() + " share subjects");
        }
      }
    }
    long start = switch (config.deliverPolicy()) {
      case NEW, LAST_PER_SUBJECT -> lastSeq + 1;
      case BY_START_SEQUENCE -> Math.max(firstSeq, config.optStartSeq());
      case BY_START_TIME -> firstAtOrAfter(config.optStartTimeMillis());
      case LAST -> {
        long at = -1;
        for (Subject s : subjects.values()) {
          if (config.takes(s.name)) {
            at = Math.max(at, s.last);
          }
        }
        yield at < 0 ? lastSeq + 1 : at;
      }
      case ALL -> firstSeq;
    };
    ConsumerState cs = new ConsumerState(config, lastSeq, start, now);
    if (config.deliverPolicy() == ConsumerConfig.DeliverPolicy.LAST_PER_SUBJECT) {
      for (Subject s : subjects.values()) {
        if (config.takes(s.name)) {
          cs.backlog.add(s.last);
        }
      }
    }
    consumers.put(config.name(), cs);
    return Result.stored(0);
  }

  /**
   * The first message stamped at or after {@code millis} (lastSeq + 1 if none), by binary search
   * over the store's index: leader stamps grow along the log (a leader's clock behind its
   * predecessor's makes the answer approximate, but the same on every replica).
   */
  private long firstAtOrAfter(long millis) {
    long lo = firstSeq;
    long hi = lastSeq + 1;
    while (lo < hi) { // the smallest x whose next message is stamped at or after millis (or is none)
      long mid = lo + (hi - lo) / 2;
      long m = nextLive(mid);
      if (m > lastSeq || facts(m).timestampMillis() >= millis) {
        hi = mid;
      } else {
        lo = m + 1;
      }
    }
    return nextLive(lo);
  }

  /** How far one fetch scans past messages its filter does not take (it continues on the next fetch). */
  private static final int FETCH_SCAN_MAX = 100_000;

  private Result fetch(StreamCommand.Fetch f, long now) {
    ConsumerState c = consumers.get(f.consumer());
    if (c == null) {
      return noConsumer(f.consumer());
    }
    c.lastActiveMillis = now;
    ConsumerConfig cfg = c.config;
    List<Delivered> out = new ArrayList<>();
    List<Long> finished = new ArrayList<>();
    long[] taken = {0};
    for (var it = c.pending.entrySet().iterator(); it.hasNext() && out.size() < f.max(); ) {
      var e = it.next();
      ConsumerState.Pending p = e.getValue();
      if (p.deadlineMillis() > now) {
        continue;
      }
      long seq = e.getKey();
      if (!live(seq) || (cfg.maxDeliver() > 0 && p.deliveries() >= cfg.maxDeliver())) {
        it.remove(); // gone from the stream, or delivered max_deliver times: never again
        finished.add(seq);
        continue;
      }
      if (!fits(out, taken, facts(seq).sizeBytes(), f.maxBytes())) {
        break;
      }
      int deliveries = p.deliveries() + 1;
      e.setValue(new ConsumerState.Pending(++c.consumerSeq, deliveries, now + cfg.ackWaitFor(deliveries)));
      out.add(new Delivered(cfg.name(), seq, c.consumerSeq, deliveries, 0));
    }
    int scanned = 0;
    while (out.size() < f.max() && (cfg.maxAckPending() < 0 || c.pending.size() < cfg.maxAckPending())
        && scanned < FETCH_SCAN_MAX) {
      long seq;
      MessageStore.Entry facts;
      boolean fromBacklog = !c.backlog.isEmpty();
      if (fromBacklog) {
        seq = c.backlog.first();
        if (!live(seq)) {
          c.backlog.pollFirst();
          continue;
        }
        facts = facts(seq);
      } else {
        long next = nextLive(c.nextSeq);
        if (next > lastSeq) {
          c.nextSeq = lastSeq + 1;
          break;
        }
        scanned++;
        facts = facts(next);
        String subject = subjectOf(facts);
        if (subject == null || !cfg.takes(subject)) {
          c.nextSeq = next + 1;
          continue;
        }
        seq = next;
      }
      if (!fits(out, taken, facts.sizeBytes(), f.maxBytes())) {
        break; // taken by the next fetch
      }
      if (fromBacklog) {
        c.backlog.pollFirst();
      } else {
        c.nextSeq = seq + 1;
      }
      c.consumerSeq++;
      if (cfg.ackPolicy() == ConsumerConfig.AckPolicy.NONE) {
        finished.add(seq);
      } else {
        c.pending.put(seq, new ConsumerState.Pending(c.consumerSeq, 1, now + cfg.ackWaitFor(1)));
      }
      out.add(new Delivered(cfg.name(), seq, c.consumerSeq, 1, 0));
    }
    long notReached = Math.max(0, lastSeq + 1 - c.nextSeq) + c.backlog.size();
    List<Delivered> stamped = new ArrayList<>(out.size());
    for (Delivered d : out) {
      stamped.add(new Delivered(d.consumer(), d.seq(), d.consumerSeq(), d.deliveries(), notReached));
    }
    finished.forEach(this::retain);
    return new Result(0, false, null, null, stamped);
  }

  /** Whether a message of {@code size} joins a fetch within its byte budget (the first always does); counts it if so. */
  private static boolean fits(List<Delivered> out, long[] taken, long size, long maxBytes) {
    if (!out.isEmpty() && taken[0] + size > maxBytes) {
      return false;
    }
    taken[0] += size;
    return true;
  }

  /** Each sequence of the run acked as by its own {@link StreamCommand.Ack}; one outcome (the last sequence's). */
  private Result ackRun(StreamCommand.AckRun r, long now) {
    ConsumerState c = consumers.get(r.consumer());
    if (c == null) {
      return noConsumer(r.consumer());
    }
    c.lastActiveMillis = now;
    long last = r.from() + r.count() - 1;
    // With ack policy all, the last sequence's ack covers the whole run.
    for (long seq = c.config.ackPolicy() == ConsumerConfig.AckPolicy.ALL ? last : r.from(); seq <= last; seq++) {
      acked(c, seq);
    }
    return Result.stored(last);
  }

  private Result noConsumer(String consumer) {
    return Result.rejected("no_consumer", "stream " + name + " has no consumer " + consumer);
  }

  /** {@code c} is done with {@code seq} (a plain ack): with ack policy all, with every pending sequence up to it too. */
  private void acked(ConsumerState c, long seq) {
    if (c.config.ackPolicy() == ConsumerConfig.AckPolicy.ALL) {
      List<Long> done = new ArrayList<>(c.pending.headMap(seq, true).keySet());
      done.forEach(c.pending::remove);
      done.forEach(this::retain);
    } else if (c.pending.remove(seq) != null) {
      retain(seq);
    }
  }

  private Result ack(StreamCommand.Ack a, long now) {
    ConsumerState c = consumers.get(a.consumer());
    if (c == null) {
      return noConsumer(a.consumer());
    }
    c.lastActiveMillis = now;
    ConsumerState.Pending p = c.pending.get(a.seq());
    switch (a.kind()) {
      case ACK -> acked(c, a.seq());
      case TERM -> {
        if (p != null) {
          c.pending.remove(a.seq());
          retain(a.seq());
        }
      }
      case NAK -> {
        if (p != null) {
          c.pending.put(a.seq(), new ConsumerState.Pending(p.consumerSeq(), p.deliveries(),
              now + Math.max(0, a.delayMillis())));
        }
      }
      case PROGRESS -> {
        if (p != null) {
          c.pending.put(a.seq(), new ConsumerState.Pending(p.consumerSeq(), p.deliveries(),
              now + c.config.ackWaitFor(p.deliveries())));
        }
      }
    }
    return Result.stored(a.seq());
  }

  /**
   * Retention once a consumer is done with {@code seq}: on a workqueue stream the message goes
   * (consumers do not overlap); on an interest stream it goes once every consumer that existed
   * when it was stored and takes its subject is done with it.
   */
  private void retain(long seq) {
    if (!live(seq) || limits.retention() == Retention.LIMITS) {
      return;
    }
    if (limits.retention() == Retention.WORKQUEUE || !interested(seq, subjectOf(facts(seq)))) {
      remove(seq);
    }
  }

  private boolean interested(long seq, String subject) {
    for (ConsumerState c : consumers.values()) {
      if (c.createdAtSeq < seq && subject != null && c.config.takes(subject) && !c.done(seq)) {
        return true;
      }
    }
    return false;
  }

  /** Interest retention after a consumer went: every message nobody still waits for goes (an index walk). */
  private void sweepInterest() {
    if (limits.retention() != Retention.INTEREST) {
      return;
    }
    for (long seq = nextLive(firstSeq); seq <= lastSeq; seq = nextLive(seq + 1)) {
      if (!interested(seq, subjectOf(facts(seq)))) {
        remove(seq);
      }
    }
  }

  /** The consumer's state, or null if there is no such consumer. */
  public ConsumerInfo consumerInfo(String consumer) {
    ConsumerState c = consumers.get(consumer);
    return c == null ? null : new ConsumerInfo(name, c.config, c.nextSeq - 1, c.consumerSeq, c.ackFloor(),
        c.ackFloorConsumerSeq(), c.pending.size(), c.redelivered(),
        Math.max(0, lastSeq + 1 - c.nextSeq) + c.backlog.size());
  }

  public List<ConsumerInfo> consumerInfos() {
    List<ConsumerInfo> out = new ArrayList<>();
    consumers.keySet().forEach(n -> out.add(consumerInfo(n)));
    return out;
  }

  // =========================================================================================
  // Publishing and limits
  // =========================================================================================

  /**
   * Why {@code m} cannot be stored as the stream is now (sealed, its size, its expectations), or
   * null. De-duplication, rollups and discard-new limits come after, in {@link #publish}.
   */
  private Result refusal(Message m) {
    if (limits.sealed()) {
      return Result.rejected("stream_sealed", "stream " + name + " is sealed");
    }
    long size = m.sizeBytes();
    if (limits.maxMsgSize() >= 0 && size > limits.maxMsgSize()) {
      return Result.rejected("message_too_large", "message of " + size + " bytes exceeds max_msg_size "
          + limits.maxMsgSize());
    }
    String expectedStream = header(m, EXPECTED_STREAM);
    if (expectedStream != null && !expectedStream.equals(name)) {
      return Result.rejected("wrong_stream", "expected stream " + expectedStream + ", this is " + name);
    }
    Subject subject = subjects.get(m.subject());
    String bad = expectation(m, EXPECTED_LAST_SEQ, lastSeq, "last sequence");
    if (bad == null) {
      bad = expectation(m, EXPECTED_LAST_SUBJECT_SEQ, subject == null ? 0 : subject.last,
          "last sequence of " + m.subject());
    }
    if (bad != null) {
      return Result.rejected("wrong_last_sequence", bad);
    }
    String expectedMsgId = header(m, EXPECTED_LAST_MSG_ID);
    if (expectedMsgId != null && !expectedMsgId.equals(lastMsgId)) {
      return Result.rejected("wrong_last_msg_id", "expected last msg id '" + expectedMsgId + "', current is '"
          + lastMsgId + "'");
    }
    return null;
  }

  /**
   * An atomic publish: every message is stored, at consecutive sequences, or none is. It is
   * checked whole before anything changes — each message as {@link #refusal} checks one, and the
   * discard-new limits against the batch's totals — so storing it message by message cannot fail
   * halfway. Expectations are the first message's only (they are about the stream before the
   * batch); msg ids and rollups are refused, as their rules are per message (a duplicate half of a
   * batch, a rollup that purges the batch's own messages). One result: the last message's sequence.
   * {@code ordinal} is the batch's first message's place in the entry.
   */
  private Result publishAtomic(List<Message> batch, LogEntry entry, int ordinal) {
    Result refused = atomicRefusal(batch);
    if (refused != null) {
      return refused;
    }
    Result last = null;
    for (int i = 0; i < batch.size(); i++) {
      last = publish(batch.get(i), new MessageStore.Location(entry.index(), entry.term(), ordinal + i));
      if (!last.ok()) {
        io.holdfast.base.Check.that(false, "stream " + name + ": message " + i + " of the atomic publish at index "
            + entry.index() + " was refused after the whole batch was checked: " + last.message());
      }
    }
    return last;
  }

  private static final List<String> EXPECTATIONS = List.of(EXPECTED_STREAM, EXPECTED_LAST_SEQ,
      EXPECTED_LAST_SUBJECT_SEQ, EXPECTED_LAST_MSG_ID);

  private Result atomicRefusal(List<Message> batch) {
    if (batch.isEmpty()) {
      return Result.rejected("bad_batch", "an atomic publish needs at least one message");
    }
    long size = 0;
    Map<String, Long> perSubject = new HashMap<>();
    for (int i = 0; i < batch.size(); i++) {
      Message m = batch.get(i);
      if (header(m, MSG_ID) != null || header(m, ROLLUP) != null) {
        return Result.rejected("bad_batch", "an atomic publish takes no " + MSG_ID + " or " + ROLLUP + " header");
      }
      if (i > 0 && EXPECTATIONS.stream().anyMatch(h -> header(m, h) != null)) {
        return Result.rejected("bad_batch", "only the first message of an atomic publish may carry expectations");
      }
      Result r = refusal(m);
      if (r != null) {
        return r;
      }
      size += m.sizeBytes();
      perSubject.merge(m.subject(), 1L, Long::sum);
    }
    if (limits.discardNew()) {
      if (limits.maxMsgs() >= 0 && messages + batch.size() > limits.maxMsgs()) {
        return Result.rejected("maximum_messages_exceeded", "stream " + name + " holds max_msgs " + limits.maxMsgs());
      }
      if (limits.maxBytes() >= 0 && bytes + size > limits.maxBytes()) {
        return Result.rejected("maximum_bytes_exceeded", "stream " + name + " would exceed max_bytes "
            + limits.maxBytes());
      }
      if (limits.discardNewPerSubject() && limits.maxMsgsPerSubject() >= 0) {
        for (Map.Entry<String, Long> e : perSubject.entrySet()) {
          Subject s = subjects.get(e.getKey());
          if ((s == null ? 0 : s.count) + e.getValue() > limits.maxMsgsPerSubject()) {
            return Result.rejected("maximum_messages_per_subject_exceeded", "subject " + e.getKey() + " holds "
                + "max_msgs_per_subject " + limits.maxMsgsPerSubject());
          }
        }
      }
    }
    return null;
  }

  private Result publish(Message m, MessageStore.Location at) {
    Result refused = refusal(m);
    if (refused != null) {
      return refused;
    }
    long size = m.sizeBytes();
    Subject subject = subjects.get(m.subject());
    String id = header(m, MSG_ID);
    pruneMsgIds(m.timestampMillis());
    if (id != null && msgIds.containsKey(id)) {
      return new Result(msgIds.get(id).seq(), true, null, null);
    }
    String rollup = header(m, ROLLUP);
    if (rollup != null) {
      if (!limits.allowRollup()) {
        return Result.rejected("rollup_denied", "stream " + name + " does not allow rollups");
      }
      if (!rollup.equals("sub") && !rollup.equals("all")) {
        return Result.rejected("bad_rollup", ROLLUP + " must be sub or all, got '" + rollup + "'");
      }
    }
    if (limits.discardNew()) {
      long count = rollup == null ? messages : 0;
      if (limits.maxMsgs() >= 0 && count >= limits.maxMsgs()) {
        return Result.rejected("maximum_messages_exceeded", "stream " + name + " holds max_msgs " + limits.maxMsgs());
      }
      if (limits.maxBytes() >= 0 && (rollup == null ? bytes : 0) + size > limits.maxBytes()) {
        return Result.rejected("maximum_bytes_exceeded", "stream " + name + " would exceed max_bytes "
            + limits.maxBytes());
      }
      if (limits.discardNewPerSubject() && rollup == null && subject != null
          && subject.count >= limits.maxMsgsPerSubject()) {
        return Result.rejected("maximum_messages_per_subject_exceeded", "subject " + m.subject() + " holds "
            + "max_msgs_per_subject " + limits.maxMsgsPerSubject());
      }
    }
    if (rollup != null) {
      purge(rollup.equals("all") ? null : m.subject(), 0, 0);
      subject = subjects.get(m.subject());
    }
    long seq = ++lastSeq;
    if (subject == null) {
      subject = new Subject(m.subject(), nextSubjectId++);
      subject.firstHint = seq;
      subjects.put(subject.name, subject);
      subjectsById.put(subject.id, subject);
    }
    store.append(seq, m, subject.id, subject.last, at);
    subject.count++;
    subject.last = seq;
    messages++;
    bytes += size;
    if (id != null) {
      msgIds.put(id, new MsgId(seq, m.timestampMillis()));
      lastMsgId = id;
    }
    enforceLimits(m.subject());
    expire(m.timestampMillis());
    if (limits.retention() == Retention.INTEREST && live(seq) && !interested(seq, m.subject())) {
      remove(seq); // JetStream's interest retention: a message no consumer takes is not kept
    }
    return Result.stored(seq);
  }

  private static String header(Message m, String name) {
    List<String> v = m.headers().get(name);
    return v == null || v.isEmpty() ? null : v.get(0);
  }

  private static String expectation(Message m, String header, long actual, String what) {
    String v = header(m, header);
    if (v == null) {
      return null;
    }
    try {
      long expected = Long.parseLong(v.trim());
      return expected == actual ? null : "expected " + what + " " + expected + ", current is " + actual;
    } catch (NumberFormatException e) {
      return header + " must be a number, got '" + v + "'";
    }
  }

  /** Discard old: the oldest go until every limit holds (for {@code subject}'s own limit, its oldest). */
  private void enforceLimits(String subject) {
    if (limits.maxMsgsPerSubject() >= 0) {
      if (subject != null) {
        trimSubject(subject);
      } else {
        for (String s : new ArrayList<>(subjects.keySet())) {
          trimSubject(s);
        }
      }
    }
    while (limits.maxMsgs() >= 0 && messages > limits.maxMsgs()) {
      remove(firstSeq);
    }
    while (limits.maxBytes() >= 0 && bytes > limits.maxBytes() && messages > 0) {
      remove(firstSeq);
    }
  }

  private void trimSubject(String name) {
    Subject s = subjects.get(name);
    while (s != null && s.count > limits.maxMsgsPerSubject()) {
      long oldest = oldestOf(s);
      remove(oldest);
      s.firstHint = oldest + 1;
      s = subjects.get(name);
    }
  }

  /**
   * The oldest message of {@code s}: for a few messages, by walking back from its newest along the
   * store's previous-of-subject links (each visit one index entry); else by scanning the index
   * forward from where its oldest was last found. Either way the answer is the same.
   */
  private long oldestOf(Subject s) {
    if (s.count <= WALK_BACK_MAX) {
      long oldest = s.last;
      long found = 0;
      for (long p = s.last; found < s.count && p >= firstSeq; p = facts(p).prevSameSubject()) {
        if (live(p)) {
          oldest = p;
          found++;
        }
      }
      return oldest;
    }
    for (long seq = nextLive(Math.max(s.firstHint, firstSeq)); seq <= lastSeq; seq = nextLive(seq + 1)) {
      if (facts(seq).subjectId() == s.id) {
        return seq;
      }
    }
    throw new MessageStore.Unreadable("stream " + name + ": subject " + s.name + " counts " + s.count
        + " messages but none was found in the store");
  }

  private void expire(long nowMillis) {
    if (limits.maxAgeMillis() <= 0) {
      return;
    }
    long cutoff = nowMillis - limits.maxAgeMillis();
    while (messages > 0 && facts(firstSeq).timestampMillis() < cutoff) {
      remove(firstSeq);
    }
  }

  /** Whether an {@link StreamCommand.Expire} at {@code nowMillis} would remove something. */
  public boolean expiresBefore(long nowMillis) {
    for (ConsumerState c : consumers.values()) {
      if (inactive(c, nowMillis)) {
        return true;
      }
    }
    return limits.maxAgeMillis() > 0 && messages > 0
        && facts(firstSeq).timestampMillis() < nowMillis - limits.maxAgeMillis();
  }

  private void pruneMsgIds(long nowMillis) {
    long cutoff = nowMillis - limits.duplicateWindowMillis();
    Iterator<MsgId> it = msgIds.values().iterator();
    while (it.hasNext() && it.next().timestamp() < cutoff) {
      it.remove();
    }
  }

  /** Takes {@code seq} out of the stream (its stored copy stays until its whole segment goes). */
  private boolean remove(long seq) {
    if (!live(seq)) {
      return false;
    }
    MessageStore.Entry e = facts(seq);
    for (ConsumerState c : consumers.values()) {
      c.pending.remove(seq);
      c.backlog.remove(seq);
    }
    bytes -= e.sizeBytes();
    messages--;
    Subject s = subjectsById.get(e.subjectId());
    if (s != null) {
      s.count--;
      if (s.count == 0) {
        subjects.remove(s.name);
        subjectsById.remove(s.id);
      } else if (s.last == seq) {
        long p = e.prevSameSubject();
        while (!live(p)) {
          p = facts(p).prevSameSubject(); // a live one precedes: the links pass every message of the subject
        }
        s.last = p;
      }
    }
    if (seq == firstSeq) {
      firstSeq = deleted.nextAbsent(seq + 1);
      deleted.removeBelow(firstSeq);
      erased.headSet(firstSeq).clear();
    } else {
      deleted.add(seq);
    }
    return true;
  }

  /**
   * Removes the messages matching {@code filter} (null: all) below {@code upToSeq} (0: no bound),
   * but for the newest {@code keep} of them. Returns how many went. Costs an index read per message
   * removed (and per message kept, with a filter and {@code keep}).
   */
  private long purge(String filter, long upToSeq, long keep) {
    long bound = upToSeq > 0 ? Math.min(upToSeq - 1, lastSeq) : lastSeq;
    long before = messages;
    if (filter == null) {
      long cut = bound; // the messages at or below cut go
      long seq = deleted.previousAbsent(bound);
      for (long k = 0; k < keep; k++, seq = deleted.previousAbsent(seq - 1)) {
        if (seq < firstSeq) {
          return 0; // no more than keep of them
        }
        cut = seq - 1;
      }
      if (cut >= lastSeq) {
        purgeAll();
      } else {
        for (long at = nextLive(firstSeq); at <= cut; at = nextLive(at + 1)) {
          remove(at);
        }
      }
      return before - messages;
    }
    List<Subject> matching = new ArrayList<>();
    for (Subject s : subjects.values()) {
      if (Subjects.matches(filter, s.name)) {
        matching.add(s);
      }
    }
    long cut = bound;
    if (keep > 0) {
      cut = newestKept(matching, bound, keep);
      if (cut < 0) {
        return 0; // no more than keep of them
      }
    }
    for (Subject s : matching) {
      long p = s.last;
      while (p >= firstSeq && p > 0) {
        long prev = facts(p).prevSameSubject();
        if (p <= cut) {
          remove(p);
        }
        p = prev;
      }
    }
    return before - messages;
  }

  /**
   * Among the messages of {@code matching} at or below {@code bound}, the sequence just below the
   * newest {@code keep} of them (a merge walking back along each subject's links), or -1 if there
   * are no more than {@code keep}.
   */
  private long newestKept(List<Subject> matching, long bound, long keep) {
    PriorityQueue<long[]> newest = new PriorityQueue<>((a, b) -> Long.compare(b[0], a[0])); // {seq}
    for (Subject s : matching) {
      long p = s.last;
      while (p >= firstSeq && p > 0 && (p > bound || !live(p))) {
        p = facts(p).prevSameSubject();
      }
      if (p >= firstSeq && p > 0) {
        newest.add(new long[] {p});
      }
    }
    for (long k = 0; k < keep; k++) {
      long[] top = newest.poll();
      if (top == null) {
        return -1;
      }
      long p = facts(top[0]).prevSameSubject();
      while (p >= firstSeq && p > 0 && !live(p)) {
        p = facts(p).prevSameSubject();
      }
      if (p >= firstSeq && p > 0) {
        newest.add(new long[] {p});
      }
    }
    long[] next = newest.peek();
    return next == null ? -1 : next[0];
  }

  private void purgeAll() {
    for (ConsumerState c : consumers.values()) {
      c.pending.clear();
      c.backlog.clear();
    }
    firstSeq = lastSeq + 1;
    messages = 0;
    bytes = 0;
    deleted.clear();
    subjects.clear();
    subjectsById.clear();
    erased.clear();
  }

  /**
   * Where the messages erased since the last call were in the log (every replica applies the same
   * erase, so each overwrites its own copies). Taking them clears the list.
   */
  public List<MessageStore.Location> takeErasures() {
    List<MessageStore.Location> out = List.copyOf(erasures);
    erasures.clear();
    return out;
  }

  // =========================================================================================
  // Reads
  // =========================================================================================

  /**
   * The message at {@code seq}, or null if there is none (never was, or no longer). Throws {@link
   * Damaged} if it is in the stream but this replica's copy is damaged.
   */
  public StoredMessage get(long seq) {
    if (!live(seq)) {
      return null;
    }
    Message m = store.read(seq);
    if (m == null) {
      throw new Damaged("stream " + name + ": the copy of message " + seq + " on this replica is damaged; it is"
          + " being repaired from a peer");
    }
    return new StoredMessage(seq, m);
  }

  /**
   * What a fetch delivered, with the messages read from the store (by the replica that answers the
   * fetch) in one {@link MessageStore#readAll}. A message whose copy here is damaged is left out:
   * the consumer holds it as delivered, so it comes again after its ack wait, by when the store has
   * it repaired.
   */
  public List<Delivery> deliver(List<Delivered> delivered) {
    long[] seqs = new long[delivered.size()];
    for (int i = 0; i < seqs.length; i++) {
      seqs[i] = delivered.get(i).seq();
    }
    Message[] read = store.readAll(seqs);
    List<Delivery> out = new ArrayList<>(seqs.length);
    for (int i = 0; i < seqs.length; i++) {
      Delivered d = delivered.get(i);
      if (read[i] != null) {
        out.add(new Delivery(d.consumer(), new StoredMessage(d.seq(), read[i]), d.consumerSeq(), d.deliveries(),
            d.pending()));
      }
    }
    return out;
  }

  /** The newest message whose subject is {@code subject}, or null. */
  public StoredMessage lastFor(String subject) {
    Subject s = subjects.get(subject);
    return s == null ? null : get(s.last);
  }

  /** Counts of the stream as applied so far; {@code deleted} counts the holes between first and last. */
  public record Info(String name, long messages, long bytes, long firstSeq, long lastSeq, long firstTimestamp,
      long lastTimestamp, long subjects, long deleted) {}

  public Info info() {
    boolean empty = messages == 0;
    long deletedCount = empty ? 0 : lastSeq - firstSeq + 1 - messages;
    return new Info(name, messages, bytes, firstSeq, lastSeq, empty ? 0 : facts(firstSeq).timestampMillis(),
        empty ? 0 : facts(deleted.previousAbsent(lastSeq)).timestampMillis(), subjects.size(), deletedCount);
  }

  /** Up to {@code max} messages from {@code fromSeq} on, about {@code bytesMax} bytes at most (at least one). */
  public List<StoredMessage> range(long fromSeq, int max, long bytesMax) {
    List<StoredMessage> out = new ArrayList<>();
    long taken = 0;
    for (long seq = nextLive(fromSeq); seq <= lastSeq && out.size() < max; seq = nextLive(seq + 1)) {
      StoredMessage m = get(seq);
      if (!out.isEmpty() && taken + m.message().sizeBytes() > bytesMax) {
        break;
      }
      taken += m.message().sizeBytes();
      out.add(m);
    }
    return out;
  }

  /**
   * Up to {@code max} messages on exactly {@code subject} from {@code fromSeq} on, oldest first,
   * about {@code bytesMax} bytes at most (at least one). Found by walking the store's
   * previous-of-subject links back from the subject's newest message to {@code fromSeq}: one index
   * entry per message of this subject at or after {@code fromSeq}, none for other subjects'
   * messages, however many there are between. Paging through a subject of n messages thus costs
   * about n²/(2·page) index reads: fine for an entity's events between snapshots, slow for a
   * subject of millions (read that with a filtered consumer instead).
   */
  public List<StoredMessage> subjectRange(String subject, long fromSeq, int max, long bytesMax) {
    Subject s = subjects.get(subject);
    if (s == null || max <= 0 || s.last < fromSeq) {
      return List.of();
    }
    long floor = Math.max(fromSeq, firstSeq);
    java.util.ArrayDeque<Long> oldest = new java.util.ArrayDeque<>(); // newest first; only the oldest max kept
    for (long p = s.last; p >= floor; p = facts(p).prevSameSubject()) {
      if (live(p)) {
        oldest.addLast(p);
        if (oldest.size() > max) {
          oldest.removeFirst();
        }
      }
    }
    List<StoredMessage> out = new ArrayList<>(oldest.size());
    long taken = 0;
    for (java.util.Iterator<Long> it = oldest.descendingIterator(); it.hasNext(); ) {
      StoredMessage m = get(it.next());
      if (!out.isEmpty() && taken + m.message().sizeBytes() > bytesMax) {
        break;
      }
      taken += m.message().sizeBytes();
      out.add(m);
    }
    return out;
  }

  /** Up to {@code max} subjects with messages matching {@code filter}, in name order after {@code after}. */
  public List<String> subjectNames(String filter, String after, int max) {
    List<String> out = new ArrayList<>();
    for (String subject : subjects.tailMap(after, false).keySet()) {
      if (out.size() >= max) {
        break;
      }
      if (Subjects.matches(filter, subject)) {
        out.add(subject);
      }
    }
    return out;
  }

  public List<StoredMessage> range(long fromSeq, int max) {
    return range(fromSeq, max, Long.MAX_VALUE);
  }

  /** The sequences in [from, to] that are no longer in the stream (for repairs: those need no copy). */
  public RangeSet deletedIn(long from, long to) {
    RangeSet out = new RangeSet();
    out.add(from, Math.min(to, firstSeq - 1));
    for (long[] r : deleted.ranges()) {
      out.add(Math.max(r[0], from), Math.min(r[1], to));
    }
    out.add(Math.max(from, lastSeq + 1), to);
    return out;
  }

  /** The oldest message in the stream (lastSeq + 1 if empty). */
  public long firstSeq() {
    return firstSeq;
  }

  public long lastSeq() {
    return lastSeq;
  }

  /** Subjects with messages in the stream (the part of this object's heap that grows with the stream's variety). */
  public int subjectCount() {
    return subjects.size();
  }

  // =========================================================================================
  // Snapshots
  // =========================================================================================

  private static final byte SNAPSHOT_VERSION = 2;

  /**
   * The metadata, checksummed (D5): u32 crc32c of the rest, u8 version, i64 firstSeq, i64 lastSeq
   * (the store holds every message up to it), limits, i64 messages, i64 bytes, last msg id, i32
   * next subject id, u32 subjects × (name, i32 id, i64 count, i64 last), u32 deleted ranges ×
   * (i64, i64), u32 msg ids × (id, i64 seq, i64 time) oldest first, u32 consumers × {@link
   * ConsumerState#write}, u32 erased × i64. No message: its size follows subjects and consumers.
   */
  public byte[] snapshot() {
    StreamCommand.Writer w = new StreamCommand.Writer();
    w.b.putInt(0).put(SNAPSHOT_VERSION).putLong(firstSeq).putLong(lastSeq);
    byte[] l = limits.encode();
    w.ensure(l.length + 16);
    w.b.put(l).putLong(messages).putLong(bytes);
    w.string(lastMsgId);
    w.ensure(8);
    w.b.putInt(nextSubjectId).putInt(subjects.size());
    for (Subject s : subjects.values()) {
      w.string(s.name);
      w.ensure(20);
      w.b.putInt(s.id).putLong(s.count).putLong(s.last);
    }
    List<long[]> ranges = deleted.ranges();
    w.ensure(4 + 16 * ranges.size());
    w.b.putInt(ranges.size());
    ranges.forEach(r -> w.b.putLong(r[0]).putLong(r[1]));
    w.ensure(4);
    w.b.putInt(msgIds.size());
    for (Map.Entry<String, MsgId> e : msgIds.entrySet()) {
      w.string(e.getKey());
      w.ensure(16);
      w.b.putLong(e.getValue().seq()).putLong(e.getValue().timestamp());
    }
    w.ensure(4);
    w.b.putInt(consumers.size());
    consumers.values().forEach(c -> c.write(w));
    w.ensure(4 + 8 * erased.size());
    w.b.putInt(erased.size());
    erased.forEach(w.b::putLong);
    return StreamCommand.sealChecksum(w.bytes());
  }

  /** The range of sequences a snapshot's stream spans: {first, last} ({1, 0} for an empty initial one). */
  public static long[] span(byte[] snapshot) {
    if (snapshot.length == 0) {
      return new long[] {1, 0};
    }
    ByteBuffer b = ByteBuffer.wrap(snapshot);
    return new long[] {b.getLong(5), b.getLong(13)};
  }

  /**
   * Replaces the state by a snapshot; an empty one (a new group's initial snapshot) is the empty
   * stream. The store must hold the messages it covers. Messages erased since the store took
   * them are erased there now.
   */
  public void restore(byte[] snapshot) {
    consumers.clear();
    erasures.clear();
    subjects.clear();
    subjectsById.clear();
    msgIds.clear();
    deleted.clear();
    erased.clear();
    limits = StreamLimits.DEFAULT;
    lastMsgId = "";
    bytes = 0;
    messages = 0;
    lastSeq = 0;
    firstSeq = 1;
    nextSubjectId = 1;
    if (snapshot.length == 0) {
      return;
    }
    ByteBuffer b = StreamCommand.openChecksummed(snapshot, "stream snapshot of " + name);
    if (b.get() != SNAPSHOT_VERSION) {
      throw new IllegalArgumentException("stream snapshot of " + name + " has an unknown version");
    }
    firstSeq = b.getLong();
    lastSeq = b.getLong();
    limits = StreamLimits.read(b);
    messages = b.getLong();
    bytes = b.getLong();
    lastMsgId = StreamCommand.readString(b);
    nextSubjectId = b.getInt();
    for (int n = b.getInt(); n > 0; n--) {
      Subject s = new Subject(StreamCommand.readString(b), b.getInt());
      s.count = b.getLong();
      s.last = b.getLong();
      subjects.put(s.name, s);
      subjectsById.put(s.id, s);
    }
    for (int n = b.getInt(); n > 0; n--) {
      deleted.add(b.getLong(), b.getLong());
    }
    for (int n = b.getInt(); n > 0; n--) {
      msgIds.put(StreamCommand.readString(b), new MsgId(b.getLong(), b.getLong()));
    }
    for (int n = b.getInt(); n > 0; n--) {
      ConsumerState c = ConsumerState.read(b);
      consumers.put(c.config.name(), c);
    }
    for (int n = b.getInt(); n > 0; n--) {
      erased.add(b.getLong());
    }
    for (long seq : erased) {
      MessageStore.Entry e = store.entry(seq);
      if (e != null && !e.erased()) {
        store.erase(seq); // its log copies went with the entries this snapshot replaced
      }
    }
  }
}
