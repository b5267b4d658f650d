package io.holdfast.stream;

import io.holdfast.raft.message.EntryType;
import io.holdfast.raft.message.LogEntry;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * One stream's replicated state: its messages by stream sequence, its limits, and the publish
 * rules of JetStream — limits with discard old/new, de-duplication by {@code Nats-Msg-Id} within
 * the duplicate window, expectations, rollups, purge and delete. Pure and deterministic: every
 * replica applies the same committed entries in the same order and ends byte for byte equal.
 * Time comes only from the leader's stamp on each message (and {@link StreamCommand.Expire}), so
 * age limits agree too. Sequences are assigned here, contiguous from 1 whatever else the log holds.
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
  public record Result(long seq, boolean duplicate, String error, String message, List<Delivery> deliveries) {
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

  private record MsgId(long seq, long timestamp) {}

  /** Where a message's bytes are in the log: message {@code ordinal} of the publish batch at (index, term). */
  public record Location(long index, long term, int ordinal) {}

  private final String name;
  private StreamLimits limits = StreamLimits.DEFAULT;
  private final TreeMap<Long, Message> messages = new TreeMap<>();
  /** Derived from the log, same keys as {@link #messages}: where each message was written. */
  private final HashMap<Long, Location> locations = new HashMap<>();
  /** Erased messages' locations not yet taken by the shell ({@link #takeErasures()}); not replicated state. */
  private final ArrayList<Location> erasures = new ArrayList<>();
  /** Derived from {@link #messages}: subject → its sequences. */
  private final HashMap<String, TreeSet<Long>> bySubject = new HashMap<>();
  /** Msg ids inside the duplicate window, oldest first. */
  private final LinkedHashMap<String, MsgId> msgIds = new LinkedHashMap<>();
  private final TreeMap<String, ConsumerState> consumers = new TreeMap<>();
  private String lastMsgId = "";
  private long lastSeq;
  private long bytes;

  /** @param name the stream's name (what {@value #EXPECTED_STREAM} is compared with) */
  public StreamState(String name) {
    this.name = name;
  }

  public String name() {
    return name;
  }

  public StreamLimits limits() {
    return limits;
  }

  /** Applies a committed entry: one result per message of a publish batch, one for other commands, none for no-ops. */
  public List<Result> apply(LogEntry entry) {
    if (entry.type() != EntryType.COMMAND) {
      return List.of();
    }
    StreamCommand c = StreamCommand.decode(entry.data());
    if (c instanceof StreamCommand.PublishBatch batch) {
      List<Result> out = new ArrayList<>(batch.messages().size());
      for (int i = 0; i < batch.messages().size(); i++) {
        out.add(publish(batch.messages().get(i), new Location(entry.index(), entry.term(), i)));
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
      if (limits.denyDelete()) {
        return List.of(Result.rejected("delete_denied", "stream " + name + " denies deleting messages"));
      }
      Location at = locations.get(d.seq());
      if (!remove(d.seq())) {
        return List.of(Result.rejected("no_message", "stream " + name + " has no message at sequence " + d.seq()));
      }
      if (d.erase()) {
        erasures.add(at);
      }
      return List.of(Result.stored(d.seq()));
    }
    if (c instanceof StreamCommand.AddConsumer a) {
      return List.of(addConsumer(a.config(), a.nowMillis()));
    }
    if (c instanceof StreamCommand.DeleteConsumer d) {
      if (consumers.remove(d.name()) == null) {
        return List.of(Result.rejected("no_consumer", "stream " + name + " has no consumer " + d.name()));
      }
      sweepInterest();
      return List.of(Result.stored(0));
    }
    if (c instanceof StreamCommand.ConsumerBatch batch) {
      List<Result> out = new ArrayList<>(batch.ops().size());
      for (StreamCommand.ConsumerOp op : batch.ops()) {
        out.add(op instanceof StreamCommand.Fetch f ? fetch(f, batch.nowMillis())
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

  // =========================================================================================
  // Consumers
  // =========================================================================================

  private static boolean inactive(ConsumerState c, long now) {
    return !c.config.durable() && c.lastActiveMillis + c.config.inactiveThresholdMillis() < now;
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
    if (limits.retention().equals("workqueue")) {
      if (!config.deliverPolicy().equals("all")) {
        return Result.rejected("bad_consumer", "a workqueue stream's consumers must deliver all");
      }
      for (ConsumerState other : consumers.values()) {
        if (other.config.overlaps(config)) {
          return Result.rejected("workqueue_overlap", "on a workqueue stream consumers may not overlap: "
              + config.name() + " and " + other.config.name() + " share subjects");
        }
      }
    }
    long first = messages.isEmpty() ? lastSeq + 1 : messages.firstKey();
    long start = switch (config.deliverPolicy()) {
      case "new", "last_per_subject" -> lastSeq + 1;
      case "by_start_sequence" -> Math.max(first, config.optStartSeq());
      case "by_start_time" -> {
        long at = lastSeq + 1;
        for (var e : messages.entrySet()) {
          if (e.getValue().timestampMillis() >= config.optStartTimeMillis()) {
            at = e.getKey();
            break;
          }
        }
        yield at;
      }
      case "last" -> {
        long at = lastSeq + 1;
        for (var e : messages.descendingMap().entrySet()) {
          if (config.takes(e.getValue().subject())) {
            at = e.getKey();
            break;
          }
        }
        yield at;
      }
      default -> first;
    };
    ConsumerState cs = new ConsumerState(config, lastSeq, start, now);
    if (config.deliverPolicy().equals("last_per_subject")) {
      bySubject.forEach((subject, seqs) -> {
        if (config.takes(subject)) {
          cs.backlog.add(seqs.last());
        }
      });
    }
    consumers.put(config.name(), cs);
    return Result.stored(0);
  }

  /** How far one fetch scans past messages its filter does not take (it continues on the next fetch). */
  private static final int FETCH_SCAN_MAX = 100_000;

  private Result fetch(StreamCommand.Fetch f, long now) {
    ConsumerState c = consumers.get(f.consumer());
    if (c == null) {
      return Result.rejected("no_consumer", "stream " + name + " has no consumer " + f.consumer());
    }
    c.lastActiveMillis = now;
    ConsumerConfig cfg = c.config;
    List<Delivery> out = new ArrayList<>();
    List<Long> finished = new ArrayList<>();
    long[] bytes = {0};
    for (var it = c.pending.entrySet().iterator(); it.hasNext() && out.size() < f.max(); ) {
      var e = it.next();
      ConsumerState.Pending p = e.getValue();
      if (p.deadlineMillis() > now) {
        continue;
      }
      Message m = messages.get(e.getKey());
      if (m == null || (cfg.maxDeliver() > 0 && p.deliveries() >= cfg.maxDeliver())) {
        it.remove(); // gone from the stream, or delivered max_deliver times: never again
        finished.add(e.getKey());
        continue;
      }
      if (!fits(out, bytes, m, f.maxBytes())) {
        break;
      }
      int deliveries = p.deliveries() + 1;
      e.setValue(new ConsumerState.Pending(++c.consumerSeq, deliveries, now + cfg.ackWaitFor(deliveries)));
      out.add(new Delivery(cfg.name(), new StoredMessage(e.getKey(), m), c.consumerSeq, deliveries, 0));
    }
    int scanned = 0;
    while (out.size() < f.max() && (cfg.maxAckPending() < 0 || c.pending.size() < cfg.maxAckPending())
        && scanned < FETCH_SCAN_MAX) {
      long seq;
      boolean fromBacklog = !c.backlog.isEmpty();
      if (fromBacklog) {
        seq = c.backlog.first();
        if (!messages.containsKey(seq)) {
          c.backlog.pollFirst();
          continue;
        }
      } else {
        Long next = messages.ceilingKey(c.nextSeq);
        if (next == null) {
          c.nextSeq = lastSeq + 1;
          break;
        }
        scanned++;
        if (!cfg.takes(messages.get(next).subject())) {
          c.nextSeq = next + 1;
          continue;
        }
        seq = next;
      }
      if (!fits(out, bytes, messages.get(seq), f.maxBytes())) {
        break; // taken by the next fetch
      }
      if (fromBacklog) {
        c.backlog.pollFirst();
      } else {
        c.nextSeq = seq + 1;
      }
      c.consumerSeq++;
      if (cfg.ackPolicy().equals("none")) {
        finished.add(seq);
      } else {
        c.pending.put(seq, new ConsumerState.Pending(c.consumerSeq, 1, now + cfg.ackWaitFor(1)));
      }
      out.add(new Delivery(cfg.name(), new StoredMessage(seq, messages.get(seq)), c.consumerSeq, 1, 0));
    }
    long notReached = Math.max(0, lastSeq + 1 - c.nextSeq) + c.backlog.size();
    List<Delivery> stamped = new ArrayList<>(out.size());
    for (Delivery d : out) {
      stamped.add(new Delivery(d.consumer(), d.message(), d.consumerSeq(), d.deliveries(), notReached));
    }
    finished.forEach(this::retain);
    return new Result(0, false, null, null, stamped);
  }

  /** Whether {@code m} joins a fetch within its byte budget (the first message always does); counts it if so. */
  private static boolean fits(List<Delivery> out, long[] bytes, Message m, long maxBytes) {
    if (!out.isEmpty() && bytes[0] + m.sizeBytes() > maxBytes) {
      return false;
    }
    bytes[0] += m.sizeBytes();
    return true;
  }

  private Result ack(StreamCommand.Ack a, long now) {
    ConsumerState c = consumers.get(a.consumer());
    if (c == null) {
      return Result.rejected("no_consumer", "stream " + name + " has no consumer " + a.consumer());
    }
    c.lastActiveMillis = now;
    ConsumerState.Pending p = c.pending.get(a.seq());
    switch (a.kind()) {
      case ACK -> {
        List<Long> done = new ArrayList<>(c.config.ackPolicy().equals("all")
            ? c.pending.headMap(a.seq(), true).keySet() : p == null ? List.of() : List.of(a.seq()));
        done.forEach(c.pending::remove);
        done.forEach(this::retain);
      }
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
    Message m = messages.get(seq);
    if (m == null || limits.retention().equals("limits")) {
      return;
    }
    if (limits.retention().equals("workqueue") || !interested(seq, m)) {
      remove(seq);
    }
  }

  private boolean interested(long seq, Message m) {
    for (ConsumerState c : consumers.values()) {
      if (c.createdAtSeq < seq && c.config.takes(m.subject()) && !c.done(seq)) {
        return true;
      }
    }
    return false;
  }

  /** Interest retention after a consumer went: every message nobody still waits for goes. */
  private void sweepInterest() {
    if (!limits.retention().equals("interest")) {
      return;
    }
    List<Long> gone = new ArrayList<>();
    messages.forEach((seq, m) -> {
      if (!interested(seq, m)) {
        gone.add(seq);
      }
    });
    gone.forEach(this::remove);
  }

  /** The consumer's state, or null if there is no such consumer. */
  public ConsumerInfo consumerInfo(String consumer) {
    ConsumerState c = consumers.get(consumer);
    return c == null ? null : new ConsumerInfo(name, c.config, c.nextSeq - 1, c.consumerSeq, c.ackFloor(),
        c.pending.size(), c.redelivered(), Math.max(0, lastSeq + 1 - c.nextSeq) + c.backlog.size());
  }

  public List<ConsumerInfo> consumerInfos() {
    List<ConsumerInfo> out = new ArrayList<>();
    consumers.keySet().forEach(n -> out.add(consumerInfo(n)));
    return out;
  }

  private Result publish(Message m, Location at) {
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
    String bad = expectation(m, EXPECTED_LAST_SEQ, lastSeq, "last sequence");
    if (bad == null) {
      TreeSet<Long> seqs = bySubject.get(m.subject());
      bad = expectation(m, EXPECTED_LAST_SUBJECT_SEQ, seqs == null ? 0 : seqs.last(), "last sequence of " + m.subject());
    }
    if (bad != null) {
      return Result.rejected("wrong_last_sequence", bad);
    }
    String expectedMsgId = header(m, EXPECTED_LAST_MSG_ID);
    if (expectedMsgId != null && !expectedMsgId.equals(lastMsgId)) {
      return Result.rejected("wrong_last_msg_id", "expected last msg id '" + expectedMsgId + "', current is '"
          + lastMsgId + "'");
    }
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
      long count = rollup == null ? messages.size() : 0;
      if (limits.maxMsgs() >= 0 && count >= limits.maxMsgs()) {
        return Result.rejected("maximum_messages_exceeded", "stream " + name + " holds max_msgs " + limits.maxMsgs());
      }
      if (limits.maxBytes() >= 0 && (rollup == null ? bytes : 0) + size > limits.maxBytes()) {
        return Result.rejected("maximum_bytes_exceeded", "stream " + name + " would exceed max_bytes "
            + limits.maxBytes());
      }
      TreeSet<Long> seqs = bySubject.get(m.subject());
      if (limits.discardNewPerSubject() && rollup == null && seqs != null
          && seqs.size() >= limits.maxMsgsPerSubject()) {
        return Result.rejected("maximum_messages_per_subject_exceeded", "subject " + m.subject() + " holds "
            + "max_msgs_per_subject " + limits.maxMsgsPerSubject());
      }
    }
    if (rollup != null) {
      purge(rollup.equals("all") ? null : m.subject(), 0, 0);
    }
    long seq = ++lastSeq;
    messages.put(seq, m);
    locations.put(seq, at);
    bySubject.computeIfAbsent(m.subject(), k -> new TreeSet<>()).add(seq);
    bytes += size;
    if (id != null) {
      msgIds.put(id, new MsgId(seq, m.timestampMillis()));
      lastMsgId = id;
    }
    enforceLimits(m.subject());
    expire(m.timestampMillis());
    if (limits.retention().equals("interest") && !interested(seq, m)) {
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
        for (String s : new ArrayList<>(bySubject.keySet())) {
          trimSubject(s);
        }
      }
    }
    while (limits.maxMsgs() >= 0 && messages.size() > limits.maxMsgs()) {
      remove(messages.firstKey());
    }
    while (limits.maxBytes() >= 0 && bytes > limits.maxBytes() && !messages.isEmpty()) {
      remove(messages.firstKey());
    }
  }

  private void trimSubject(String subject) {
    TreeSet<Long> seqs = bySubject.get(subject);
    while (seqs != null && seqs.size() > limits.maxMsgsPerSubject()) {
      remove(seqs.first());
      seqs = bySubject.get(subject);
    }
  }

  private void expire(long nowMillis) {
    if (limits.maxAgeMillis() <= 0) {
      return;
    }
    long cutoff = nowMillis - limits.maxAgeMillis();
    while (!messages.isEmpty() && messages.firstEntry().getValue().timestampMillis() < cutoff) {
      remove(messages.firstKey());
    }
  }

  /** Whether an {@link StreamCommand.Expire} at {@code nowMillis} would remove something. */
  public boolean expiresBefore(long nowMillis) {
    for (ConsumerState c : consumers.values()) {
      if (inactive(c, nowMillis)) {
        return true;
      }
    }
    return limits.maxAgeMillis() > 0 && !messages.isEmpty()
        && messages.firstEntry().getValue().timestampMillis() < nowMillis - limits.maxAgeMillis();
  }

  private void pruneMsgIds(long nowMillis) {
    long cutoff = nowMillis - limits.duplicateWindowMillis();
    Iterator<MsgId> it = msgIds.values().iterator();
    while (it.hasNext() && it.next().timestamp() < cutoff) {
      it.remove();
    }
  }

  private boolean remove(long seq) {
    Message m = messages.remove(seq);
    if (m == null) {
      return false;
    }
    locations.remove(seq);
    for (ConsumerState c : consumers.values()) {
      c.pending.remove(seq);
      c.backlog.remove(seq);
    }
    bytes -= m.sizeBytes();
    TreeSet<Long> seqs = bySubject.get(m.subject());
    seqs.remove(seq);
    if (seqs.isEmpty()) {
      bySubject.remove(m.subject());
    }
    return true;
  }

  private long purge(String filter, long upToSeq, long keep) {
    List<Long> selected = new ArrayList<>();
    for (var e : messages.entrySet()) {
      if ((upToSeq <= 0 || e.getKey() < upToSeq) && (filter == null || Subjects.matches(filter, e.getValue().subject()))) {
        selected.add(e.getKey());
      }
    }
    int drop = (int) Math.max(0, selected.size() - Math.max(0, keep));
    for (int i = 0; i < drop; i++) {
      remove(selected.get(i));
    }
    return drop;
  }

  /**
   * Where the messages erased since the last call were in the log (every replica applies the same
   * erase, so each overwrites its own copy). Taking them clears the list.
   */
  public List<Location> takeErasures() {
    List<Location> out = List.copyOf(erasures);
    erasures.clear();
    return out;
  }

  /** The message at {@code seq}, or null if there is none (never was, or no longer). */
  public StoredMessage get(long seq) {
    Message m = messages.get(seq);
    return m == null ? null : new StoredMessage(seq, m);
  }

  /** The newest message whose subject is {@code subject}, or null. */
  public StoredMessage lastFor(String subject) {
    TreeSet<Long> seqs = bySubject.get(subject);
    return seqs == null ? null : get(seqs.last());
  }

  /** Counts of the stream as applied so far; {@code deleted} counts the holes between first and last. */
  public record Info(String name, long messages, long bytes, long firstSeq, long lastSeq, long firstTimestamp,
      long lastTimestamp, long subjects, long deleted) {}

  public Info info() {
    long first = messages.isEmpty() ? lastSeq + 1 : messages.firstKey();
    long deleted = messages.isEmpty() ? 0 : lastSeq - first + 1 - messages.size();
    return new Info(name, messages.size(), bytes, first, lastSeq,
        messages.isEmpty() ? 0 : messages.firstEntry().getValue().timestampMillis(),
        messages.isEmpty() ? 0 : messages.lastEntry().getValue().timestampMillis(), bySubject.size(), deleted);
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

  /**
   * The whole state, checksummed (D5): u32 crc32c of the rest, limits, i64 lastSeq, last msg id,
   * u32 count, messages (seq, message, location: i64 index, i64 term, i32 ordinal), u32 msg ids,
   * (id, seq, time) oldest first, u32 consumers, each {@link ConsumerState#write}.
   */
  public byte[] snapshot() {
    StreamCommand.Writer w = new StreamCommand.Writer();
    w.b.putInt(0);
    byte[] l = limits.encode();
    w.ensure(l.length + 8);
    w.b.put(l).putLong(lastSeq);
    w.string(lastMsgId);
    w.ensure(4);
    w.b.putInt(messages.size());
    for (var e : messages.entrySet()) {
      w.ensure(8);
      w.b.putLong(e.getKey());
      StreamCommand.writeMessage(w, e.getValue());
      Location at = locations.get(e.getKey());
      w.ensure(20);
      w.b.putLong(at.index()).putLong(at.term()).putInt(at.ordinal());
    }
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
    return StreamCommand.sealChecksum(w.bytes());
  }

  /** Replaces the state by a snapshot; an empty one (a new group's initial snapshot) is the empty stream. */
  public void restore(byte[] snapshot) {
    messages.clear();
    consumers.clear();
    locations.clear();
    erasures.clear();
    bySubject.clear();
    msgIds.clear();
    limits = StreamLimits.DEFAULT;
    lastMsgId = "";
    bytes = 0;
    lastSeq = 0;
    if (snapshot.length == 0) {
      return;
    }
    ByteBuffer b = StreamCommand.openChecksummed(snapshot, "stream snapshot of " + name);
    limits = StreamLimits.read(b);
    lastSeq = b.getLong();
    lastMsgId = StreamCommand.readString(b);
    int count = b.getInt();
    for (int i = 0; i < count; i++) {
      long seq = b.getLong();
      Message m = StreamCommand.readMessage(b);
      messages.put(seq, m);
      locations.put(seq, new Location(b.getLong(), b.getLong(), b.getInt()));
      bySubject.computeIfAbsent(m.subject(), k -> new TreeSet<>()).add(seq);
      bytes += m.sizeBytes();
    }
    for (int n = b.getInt(); n > 0; n--) {
      msgIds.put(StreamCommand.readString(b), new MsgId(b.getLong(), b.getLong()));
    }
    for (int n = b.getInt(); n > 0; n--) {
      ConsumerState c = ConsumerState.read(b);
      consumers.put(c.config.name(), c);
    }
  }
}
