package io.holdfast.stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.holdfast.base.Prng;
import io.holdfast.raft.message.EntryType;
import io.holdfast.raft.message.LogEntry;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;

/**
 * Goal: JetStream's stream rules, decided inside the replicated state machine. Method: one test
 * per rule, named after it, applying log entries directly; and a property test that random
 * command sequences leave every replica (and every replica restored from a snapshot midway) byte
 * for byte equal.
 */
class StreamRulesTest {
  private static final long T0 = 1_700_000_000_000L;
  private final StreamState s = TestStores.stream("orders");
  private long index;

  private static StreamLimits limits(long maxMsgs, long maxBytes, long maxAge, long perSubject, boolean discardNew) {
    StreamLimits d = StreamLimits.DEFAULT;
    return d.withMaxMsgs(maxMsgs).withMaxBytes(maxBytes).withMaxAgeMillis(maxAge).withMaxMsgsPerSubject(perSubject)
        .withDiscardNew(discardNew)
        .withDuplicateWindowMillis(maxAge > 0 ? Math.min(maxAge, d.duplicateWindowMillis()) : d.duplicateWindowMillis());
  }

  /** No size limits; only the flags. */
  private static StreamLimits flags(boolean sealed, boolean denyDelete, boolean denyPurge, boolean allowRollup) {
    return StreamLimits.DEFAULT.withSealed(sealed).withDenyDelete(denyDelete).withDenyPurge(denyPurge)
        .withAllowRollup(allowRollup);
  }

  private List<StreamState.Result> apply(StreamCommand c) {
    return s.apply(new LogEntry(++index, 1, EntryType.COMMAND, StreamCommand.encode(c)));
  }

  private StreamState.Result configure(StreamLimits l) {
    return apply(new StreamCommand.UpdateConfig(l)).get(0);
  }

  private StreamState.Result pub(String subject, String payload, long time, String... headers) {
    TreeMap<String, List<String>> h = new TreeMap<>();
    for (int i = 0; i < headers.length; i += 2) {
      h.put(headers[i], List.of(headers[i + 1]));
    }
    return apply(new StreamCommand.PublishBatch(List.of(new Message(subject, h, payload.getBytes(StandardCharsets.UTF_8),
        time)))).get(0);
  }

  private List<String> payloads() {
    List<String> out = new ArrayList<>();
    for (StoredMessage m : s.range(1, 1000)) {
      out.add(new String(m.message().payload(), StandardCharsets.UTF_8));
    }
    return out;
  }

  @Test
  void everyConfigFieldSurvivesItsEncodingAndInvalidCombinationsAreRefused() {
    StreamLimits l = new StreamLimits(1, 2, 3000, 4, 5, true, true, 3000, Retention.WORKQUEUE, true, true, true, true,
        9);
    assertEquals(l, StreamLimits.decode(l.encode()));
    assertNull(l.invalid());
    StreamLimits d = StreamLimits.DEFAULT;
    assertEquals(l, d.withMaxMsgs(1).withMaxBytes(2).withMaxAgeMillis(3000).withMaxMsgsPerSubject(4).withMaxMsgSize(5)
        .withDiscardNew(true).withDiscardNewPerSubject(true).withDuplicateWindowMillis(3000)
        .withRetention(Retention.WORKQUEUE).withSealed(true).withDenyDelete(true).withDenyPurge(true).withAllowRollup(true)
        .withMaxConsumers(9), "each with-copy sets its own value");
    assertTrue(d.withMaxAgeMillis(1000).withDuplicateWindowMillis(2000).invalid().contains("duplicate_window"));
    assertTrue(d.withRetention(null).invalid().contains("retention"));
    assertTrue(d.withMaxMsgsPerSubject(3).withDiscardNewPerSubject(true).invalid().contains("discard_new_per_subject"));
    for (Retention r : Retention.values()) {
      assertEquals(r, Retention.ofName(r.wireName));
    }
    assertNull(Retention.ofName("fifo"));
  }

  @Test
  void maxMsgsWithDiscardOldEvictsTheOldest() {
    configure(limits(2, -1, 0, -1, false));
    pub("a", "1", T0);
    pub("a", "2", T0);
    assertEquals(3, pub("a", "3", T0).seq());
    assertEquals(List.of("2", "3"), payloads());
    assertEquals(2, s.info().firstSeq());
  }

  @Test
  void maxMsgsWithDiscardNewRefusesThePublish() {
    configure(limits(2, -1, 0, -1, true));
    pub("a", "1", T0);
    pub("a", "2", T0);
    StreamState.Result r = pub("a", "3", T0);
    assertEquals("maximum_messages_exceeded", r.error());
    assertEquals(List.of("1", "2"), payloads());
    assertEquals(2, s.info().lastSeq(), "a refused publish takes no sequence");
  }

  @Test
  void maxBytesEvictsOrRefusesByTheDiscardPolicy() {
    configure(limits(-1, 10, 0, -1, false));
    pub("a", "12345", T0); // 1 + 5 bytes
    pub("b", "12345", T0);
    assertEquals(List.of("12345"), payloads(), "the oldest went to stay under 10 bytes");
    configure(limits(-1, 10, 0, -1, true));
    assertEquals("maximum_bytes_exceeded", pub("c", "12345", T0).error());
  }

  @Test
  void maxMsgsPerSubjectKeepsTheNewestOfEachSubject() {
    configure(limits(-1, -1, 0, 1, false));
    pub("a", "a1", T0);
    pub("b", "b1", T0);
    pub("a", "a2", T0);
    assertEquals(List.of("b1", "a2"), payloads());
    assertEquals("a2", new String(s.lastFor("a").message().payload(), StandardCharsets.UTF_8));
  }

  @Test
  void discardNewPerSubjectRefusesOnlyTheFullSubject() {
    configure(StreamLimits.DEFAULT.withMaxMsgsPerSubject(1).withDiscardNew(true).withDiscardNewPerSubject(true));
    pub("a", "a1", T0);
    assertEquals("maximum_messages_per_subject_exceeded", pub("a", "a2", T0).error());
    assertTrue(pub("b", "b1", T0).ok());
  }

  @Test
  void maxAgeUsesTheLeadersStampSoReplicasAgree() {
    configure(limits(-1, -1, 60_000, -1, false));
    pub("a", "old", T0);
    pub("a", "new", T0 + 30_000);
    assertTrue(s.expiresBefore(T0 + 61_000));
    apply(new StreamCommand.Expire(T0 + 61_000));
    assertEquals(List.of("new"), payloads());
    assertFalse(s.expiresBefore(T0 + 61_000));
  }

  @Test
  void maxMsgSizeRefusesLargerMessages() {
    configure(StreamLimits.DEFAULT.withMaxMsgSize(4));
    assertEquals("message_too_large", pub("a", "12345", T0).error());
  }

  @Test
  void aRepeatedMsgIdInsideTheWindowReturnsTheOriginalSequenceAsDuplicate() {
    assertEquals(1, pub("a", "x", T0, StreamState.MSG_ID, "id-1").seq());
    StreamState.Result again = pub("a", "x", T0 + 1000, StreamState.MSG_ID, "id-1");
    assertTrue(again.duplicate());
    assertEquals(1, again.seq());
    assertEquals(1, s.info().messages());
    StreamState.Result later = pub("a", "x", T0 + StreamLimits.DEFAULT.duplicateWindowMillis() + 1001,
        StreamState.MSG_ID, "id-1");
    assertFalse(later.duplicate(), "outside the window it is a new message");
    assertEquals(2, later.seq());
  }

  @Test
  void theDuplicateWindowSurvivesASnapshot() {
    pub("a", "x", T0, StreamState.MSG_ID, "id-1");
    StreamState restored = TestStores.restoredFrom(s);
    StreamState.Result r = restored.apply(new LogEntry(9, 1, EntryType.COMMAND, StreamCommand.encode(
        new StreamCommand.PublishBatch(List.of(new Message("a", new TreeMap<>(java.util.Map.of(StreamState.MSG_ID,
            List.of("id-1"))), new byte[0], T0 + 5)))))).get(0);
    assertTrue(r.duplicate());
  }

  @Test
  void expectationsRejectWithTheCurrentValue() {
    pub("a", "1", T0, StreamState.MSG_ID, "m1");
    pub("b", "2", T0);
    StreamState.Result wrongSeq = pub("a", "3", T0, StreamState.EXPECTED_LAST_SEQ, "1");
    assertEquals("wrong_last_sequence", wrongSeq.error());
    assertTrue(wrongSeq.message().contains("current is 2"), wrongSeq.message());
    assertTrue(pub("a", "3", T0, StreamState.EXPECTED_LAST_SEQ, "2").ok());
    assertTrue(pub("b", "4", T0, StreamState.EXPECTED_LAST_SUBJECT_SEQ, "2").ok());
    assertEquals("wrong_last_sequence", pub("b", "5", T0, StreamState.EXPECTED_LAST_SUBJECT_SEQ, "2").error());
    assertTrue(pub("new", "6", T0, StreamState.EXPECTED_LAST_SUBJECT_SEQ, "0").ok(), "0: no message on it yet");
    assertEquals("wrong_stream", pub("a", "7", T0, StreamState.EXPECTED_STREAM, "payments").error());
    assertTrue(pub("a", "7", T0, StreamState.EXPECTED_STREAM, "orders").ok());
    assertEquals("wrong_last_msg_id", pub("a", "8", T0, StreamState.EXPECTED_LAST_MSG_ID, "zzz").error());
    assertTrue(pub("a", "8", T0, StreamState.EXPECTED_LAST_MSG_ID, "m1").ok());
  }

  @Test
  void aSealedStreamTakesNothing() {
    configure(flags(true, false, false, false));
    assertEquals("stream_sealed", pub("a", "x", T0).error());
  }

  @Test
  void rollupPurgesTheSubjectOrTheStreamWhenAllowed() {
    assertEquals("rollup_denied", pub("a", "r", T0, StreamState.ROLLUP, "sub").error());
    configure(flags(false, false, false, true));
    pub("a", "a1", T0);
    pub("b", "b1", T0);
    pub("a", "a2", T0, StreamState.ROLLUP, "sub");
    assertEquals(List.of("b1", "a2"), payloads());
    pub("c", "all", T0, StreamState.ROLLUP, "all");
    assertEquals(List.of("all"), payloads());
  }

  @Test
  void purgeBySubjectKeepAndSequence() {
    for (int i = 1; i <= 6; i++) {
      pub(i % 2 == 0 ? "even" : "odd", "m" + i, T0);
    }
    assertEquals(1, apply(new StreamCommand.Purge("odd", 3, 0)).get(0).seq(), "odd below seq 3: m1");
    assertEquals(1, apply(new StreamCommand.Purge("even", 0, 2)).get(0).seq(), "even but the newest 2: m2");
    assertEquals(List.of("m3", "m4", "m5", "m6"), payloads());
    assertEquals(4, apply(new StreamCommand.Purge(null, 0, 0)).get(0).seq());
    assertEquals(0, s.info().messages());
    assertEquals(7, s.info().firstSeq(), "sequences go on after a purge");
  }

  @Test
  void deleteRemovesOneMessageAndLeavesAHoleCountedAsDeleted() {
    pub("a", "1", T0);
    pub("a", "2", T0);
    pub("a", "3", T0);
    assertTrue(apply(new StreamCommand.DeleteMessage(2)).get(0).ok());
    assertNull(s.get(2));
    assertEquals(1, s.info().deleted());
    assertEquals("no_message", apply(new StreamCommand.DeleteMessage(2)).get(0).error());
  }

  @Test
  void eraseNamesWhereThePayloadIsInTheLogEvenAfterASnapshot() {
    TreeMap<String, List<String>> h = new TreeMap<>(java.util.Map.of("k", List.of("v")));
    byte[] batch = StreamCommand.encode(new StreamCommand.PublishBatch(List.of(
        new Message("a", h, "first".getBytes(StandardCharsets.UTF_8), T0),
        new Message("b.c", h, "SECRET".getBytes(StandardCharsets.UTF_8), T0))));
    s.apply(new LogEntry(++index, 7, EntryType.COMMAND, batch));
    long batchIndex = index;
    StreamState restored = TestStores.restoredFrom(s);
    for (StreamState replica : List.of(s, restored)) {
      List<StreamState.Result> r = replica.apply(new LogEntry(index + 1, 7, EntryType.COMMAND,
          StreamCommand.encode(new StreamCommand.DeleteMessage(2, true))));
      assertTrue(r.get(0).ok());
      assertNull(replica.get(2));
      List<MessageStore.Location> erased = replica.takeErasures();
      assertEquals(List.of(new MessageStore.Location(batchIndex, 7, 1)), erased);
      assertTrue(replica.takeErasures().isEmpty(), "taking the erasures clears them");
      int[] region = StreamCommand.payloadRegion(batch, erased.get(0).ordinal());
      assertEquals("SECRET", new String(batch, region[0], region[1], StandardCharsets.UTF_8));
    }
    assertArrayEquals(s.snapshot(), restored.snapshot());
    assertNull(StreamCommand.payloadRegion(batch, 2), "no third message");
    assertNull(StreamCommand.payloadRegion(StreamCommand.encode(new StreamCommand.Expire(T0)), 0), "not a publish");
  }

  @Test
  void aPlainDeleteAsksForNoErasure() {
    pub("a", "1", T0);
    assertTrue(apply(new StreamCommand.DeleteMessage(1)).get(0).ok());
    assertTrue(s.takeErasures().isEmpty());
  }

  @Test
  void denyDeleteAndDenyPurgeAreEnforced() {
    configure(flags(false, true, true, false));
    pub("a", "1", T0);
    assertEquals("delete_denied", apply(new StreamCommand.DeleteMessage(1)).get(0).error());
    assertEquals("purge_denied", apply(new StreamCommand.Purge(null, 0, 0)).get(0).error());
    assertEquals(1, s.info().messages());
  }

  @Test
  void loweringALimitEnforcesItAtOnce() {
    for (int i = 1; i <= 5; i++) {
      pub("a", "m" + i, T0);
    }
    configure(limits(2, -1, 0, -1, false));
    assertEquals(List.of("m4", "m5"), payloads());
  }

  private List<StreamState.Result> atomic(String... subjectPayloadPairs) {
    return atomicWith(new TreeMap<>(), subjectPayloadPairs);
  }

  private List<StreamState.Result> atomicWith(TreeMap<String, List<String>> firstHeaders, String... subjectPayloadPairs) {
    List<Message> batch = new ArrayList<>();
    for (int i = 0; i < subjectPayloadPairs.length; i += 2) {
      batch.add(new Message(subjectPayloadPairs[i], i == 0 ? firstHeaders : new TreeMap<>(),
          subjectPayloadPairs[i + 1].getBytes(StandardCharsets.UTF_8), T0));
    }
    return apply(new StreamCommand.AtomicPublishes(batch, List.of(batch.size())));
  }

  @Test
  void anAtomicPublishStoresEveryMessageAtConsecutiveSequencesOrNone() {
    configure(limits(4, -1, 0, -1, true));
    pub("a", "m1", T0);
    pub("b", "m2", T0);
    List<StreamState.Result> r = atomic("a", "x1", "b", "x2", "a", "x3");
    assertEquals(1, r.size(), "one result for the whole publish");
    assertEquals("maximum_messages_exceeded", r.get(0).error(), "3 more would pass max_msgs 4: none is stored");
    assertEquals(List.of("m1", "m2"), payloads());
    r = atomic("a", "x1", "b", "x2");
    assertTrue(r.get(0).ok());
    assertEquals(4, r.get(0).seq(), "the last message's sequence");
    assertEquals(List.of("m1", "m2", "x1", "x2"), payloads());

    configure(limits(-1, 40, 0, -1, true));
    assertEquals("maximum_bytes_exceeded", atomic("c", "y".repeat(20), "c", "z".repeat(20)).get(0).error(),
        "each would fit alone; the batch's bytes count together");
    configure(limits(-1, -1, 0, 2, true).withDiscardNewPerSubject(true));
    assertEquals("maximum_messages_per_subject_exceeded", atomic("c", "1", "a", "2").get(0).error(),
        "subject a holds 2 already");
    assertEquals("maximum_messages_per_subject_exceeded", atomic("c", "1", "c", "2", "c", "3").get(0).error(),
        "three on c in one batch");
    assertEquals(List.of("m1", "m2", "x1", "x2"), payloads());
  }

  @Test
  void anAtomicPublishChecksExpectationsOnceAgainstTheStreamBeforeIt() {
    pub("e.1", "m1", T0);
    TreeMap<String, List<String>> stale = new TreeMap<>();
    stale.put(StreamState.EXPECTED_LAST_SUBJECT_SEQ, List.of("0"));
    assertEquals("wrong_last_sequence", atomicWith(stale, "e.1", "x1", "e.1", "x2").get(0).error());
    TreeMap<String, List<String>> current = new TreeMap<>();
    current.put(StreamState.EXPECTED_LAST_SUBJECT_SEQ, List.of("1"));
    assertEquals(3, atomicWith(current, "e.1", "x1", "e.1", "x2").get(0).seq(),
        "the second message needs no expectation of its own: the first's covers the batch");
    assertEquals("wrong_last_sequence", atomicWith(current, "e.1", "y").get(0).error(),
        "a second writer that read the same last sequence loses");
    assertEquals(List.of("m1", "x1", "x2"), payloads());

    List<Message> later = List.of(new Message("e.1", new TreeMap<>(), new byte[1], T0),
        new Message("e.1", current, new byte[1], T0));
    assertEquals("bad_batch", apply(new StreamCommand.AtomicPublishes(later, List.of(2))).get(0).error(),
        "expectations on a later message are refused");
    TreeMap<String, List<String>> id = new TreeMap<>();
    id.put(StreamState.MSG_ID, List.of("once"));
    assertEquals("bad_batch", atomicWith(id, "e.1", "z").get(0).error());
    TreeMap<String, List<String>> rollup = new TreeMap<>();
    rollup.put(StreamState.ROLLUP, List.of("sub"));
    assertEquals("bad_batch", atomicWith(rollup, "e.1", "z").get(0).error());
    assertEquals("bad_batch", apply(new StreamCommand.AtomicPublishes(List.of(), List.of(0))).get(0).error());
    configure(StreamLimits.DEFAULT.withSealed(true));
    assertEquals("stream_sealed", atomic("e.1", "z").get(0).error());
    assertEquals(List.of("m1", "x1", "x2"), payloads());
  }

  @Test
  void atomicPublishesSharingAnEntryEachStandOrFallAlone() {
    pub("e.1", "m1", T0);
    TreeMap<String, List<String>> stale = new TreeMap<>();
    stale.put(StreamState.EXPECTED_LAST_SUBJECT_SEQ, List.of("0"));
    List<Message> messages = List.of(
        new Message("e.1", stale, "x1".getBytes(StandardCharsets.UTF_8), T0),
        new Message("e.1", new TreeMap<>(), "x2".getBytes(StandardCharsets.UTF_8), T0),
        new Message("e.2", new TreeMap<>(), "y1".getBytes(StandardCharsets.UTF_8), T0),
        new Message("e.2", new TreeMap<>(), "y2".getBytes(StandardCharsets.UTF_8), T0));
    List<StreamState.Result> r = apply(new StreamCommand.AtomicPublishes(messages, List.of(2, 2)));
    assertEquals(2, r.size(), "one result per atomic publish");
    assertEquals("wrong_last_sequence", r.get(0).error());
    assertEquals(3, r.get(1).seq());
    assertEquals(List.of("m1", "y1", "y2"), payloads());
  }

  /**
   * Reading one subject from a sequence (what the persistence plugin replays an entity with) gives
   * what filtering the whole stream would, on random histories with purges, deletes and limits.
   */
  @Test
  void aSubjectsMessagesReadFromASequenceAreTheStreamFilteredBySubject() {
    for (long seed = 1; seed <= 20; seed++) {
      Prng prng = Prng.of(seed);
      StreamState st = TestStores.stream("orders");
      long time = T0;
      List<StreamCommand> commands = new ArrayList<>();
      for (int i = 1; i <= 300; i++) {
        time += prng.between(0, 5000);
        commands.add(randomCommand(prng, time));
      }
      entries(commands).forEach(st::apply);
      for (int probe = 0; probe < 40; probe++) {
        String subject = "s." + prng.nextInt(5);
        long from = prng.between(0, (int) st.lastSeq() + 2);
        int max = prng.between(1, 12);
        long bytesMax = prng.nextInt(2) == 0 ? Long.MAX_VALUE : prng.between(1, 200);
        List<StoredMessage> expected = new ArrayList<>();
        long taken = 0;
        for (StoredMessage m : st.range(Math.max(1, from), Integer.MAX_VALUE)) {
          if (!m.message().subject().equals(subject) || expected.size() == max) {
            continue;
          }
          if (!expected.isEmpty() && taken + m.message().sizeBytes() > bytesMax) {
            break;
          }
          taken += m.message().sizeBytes();
          expected.add(m);
        }
        assertEquals(expected, st.subjectRange(subject, from, max, bytesMax),
            "seed " + seed + ": " + subject + " from " + from + " max " + max + " bytes " + bytesMax);
      }
    }
  }

  /**
   * Replicas agree byte for byte on random histories of every command kind, whatever must not
   * matter: another instance given the same entries; one restored from a snapshot midway; one
   * whose publishes were batched into log entries differently (a leader batches whatever reached
   * it since its last proposal: split into one entry per message, or merged with the next
   * publishes); one that restarted from its own snapshot and store at random points.
   */
  @Test
  void randomCommandSequencesLeaveEveryReplicaIdentical() {
    for (long seed = 1; seed <= 30; seed++) {
      Prng prng = Prng.of(seed);
      List<StreamCommand> commands = new ArrayList<>();
      long time = T0;
      for (int i = 1; i <= 300; i++) {
        time += prng.between(0, 5000);
        commands.add(randomCommand(prng, time));
      }
      List<LogEntry> log = entries(commands);
      StreamState a = TestStores.stream("orders");
      StreamState b = TestStores.stream("orders");
      StreamState c = null;
      for (int i = 0; i < log.size(); i++) {
        assertEquals(a.apply(log.get(i)), b.apply(log.get(i)), "seed " + seed + " entry " + (i + 1));
        if (i == log.size() / 2) {
          c = TestStores.restoredFrom(a); // a replica that joins from a snapshot midway
        } else if (i > log.size() / 2) {
          c.apply(log.get(i));
        }
      }
      assertArrayEquals(a.snapshot(), b.snapshot(), "seed " + seed);
      assertArrayEquals(a.snapshot(), c.snapshot(), "seed " + seed + ": restored midway");
      assertEquals(a.info(), c.info());

      StreamState rebatched = TestStores.stream("orders");
      entries(rebatch(commands, prng)).forEach(rebatched::apply);
      assertArrayEquals(a.snapshot(), rebatched.snapshot(), "seed " + seed + ": publishes batched otherwise");
      assertEquals(a.info(), rebatched.info());

      StreamState restarted = TestStores.stream("orders");
      int restartAt = prng.between(10, 60);
      for (int i = 0; i < log.size(); i++) {
        restarted.apply(log.get(i));
        if (i == restartAt) {
          restarted = TestStores.restartedFrom(restarted);
          restartAt += prng.between(10, 60);
        }
      }
      assertArrayEquals(a.snapshot(), restarted.snapshot(), "seed " + seed + ": restarted at random points");
      assertEquals(a.info(), restarted.info());
      for (long seq = 1; seq <= a.info().lastSeq(); seq++) {
        assertEquals(a.get(seq), restarted.get(seq), "seed " + seed + " message " + seq);
        assertEquals(a.get(seq), rebatched.get(seq), "seed " + seed + " message " + seq);
      }
    }
  }

  private static List<LogEntry> entries(List<StreamCommand> commands) {
    List<LogEntry> log = new ArrayList<>();
    for (StreamCommand c : commands) {
      log.add(new LogEntry(log.size() + 1, 1, EntryType.COMMAND, StreamCommand.encode(c)));
    }
    return log;
  }

  /** The same commands, each run of publishes cut into entries another way: one per message, or merged. */
  private static List<StreamCommand> rebatch(List<StreamCommand> commands, Prng prng) {
    List<StreamCommand> out = new ArrayList<>();
    List<Message> merging = new ArrayList<>();
    for (StreamCommand c : commands) {
      if (c instanceof StreamCommand.AtomicPublishes a && a.groups().size() > 1 && prng.nextInt(2) == 0) {
        if (!merging.isEmpty()) {
          out.add(new StreamCommand.PublishBatch(merging));
          merging = new ArrayList<>();
        }
        int first = 0; // each atomic publish in an entry of its own
        for (int size : a.groups()) {
          out.add(new StreamCommand.AtomicPublishes(a.messages().subList(first, first + size), List.of(size)));
          first += size;
        }
        continue;
      }
      if (c instanceof StreamCommand.PublishBatch p) {
        if (prng.nextInt(2) == 0) {
          merging.addAll(p.messages()); // goes with the next publishes, in one entry
          continue;
        }
        merging.addAll(p.messages());
        if (merging.size() > 1 && prng.nextInt(2) == 0) {
          merging.forEach(m -> out.add(new StreamCommand.PublishBatch(List.of(m))));
        } else {
          out.add(new StreamCommand.PublishBatch(merging));
        }
        merging = new ArrayList<>();
        continue;
      }
      if (!merging.isEmpty()) {
        out.add(new StreamCommand.PublishBatch(merging));
        merging = new ArrayList<>();
      }
      out.add(c);
    }
    if (!merging.isEmpty()) {
      out.add(new StreamCommand.PublishBatch(merging));
    }
    return out;
  }

  private static StreamCommand randomCommand(Prng prng, long time) {
    int kind = prng.nextInt(100);
    if (kind < 5) {
      boolean discardNew = prng.nextInt(2) == 0;
      long perSubject = prng.nextInt(3) == 0 ? prng.between(1, 4) : -1;
      long maxMsgs = prng.nextInt(2) == 0 ? prng.between(3, 30) : -1;
      long maxBytes = prng.nextInt(3) == 0 ? prng.between(50, 500) : -1;
      long maxAge = prng.nextInt(3) == 0 ? prng.between(10_000, 100_000) : 0;
      boolean discardNewPerSubject = discardNew && perSubject > 0 && prng.nextInt(2) == 0;
      long window = prng.between(1000, 10_000);
      Retention retention = Retention.values()[prng.nextInt(3)];
      boolean allowRollup = prng.nextInt(2) == 0;
      return new StreamCommand.UpdateConfig(StreamLimits.DEFAULT.withMaxMsgs(maxMsgs).withMaxBytes(maxBytes)
          .withMaxAgeMillis(maxAge).withMaxMsgsPerSubject(perSubject).withDiscardNew(discardNew)
          .withDiscardNewPerSubject(discardNewPerSubject).withDuplicateWindowMillis(window).withRetention(retention)
          .withAllowRollup(allowRollup));
    }
    if (kind < 16) {
      String consumer = "c" + prng.nextInt(3);
      if (kind == 13) {
        return new StreamCommand.DeleteConsumer(consumer);
      }
      List<String> filter = prng.nextInt(2) == 0 ? List.of() : List.of("s." + prng.nextInt(4));
      ConsumerConfig.DeliverPolicy deliver = ConsumerConfig.DeliverPolicy.values()[prng.nextInt(5)];
      boolean durable = prng.nextInt(3) > 0;
      ConsumerConfig.AckPolicy ack = ConsumerConfig.AckPolicy.values()[prng.nextInt(3)];
      long ackWait = prng.between(100, 5000);
      long maxDeliver = prng.nextInt(2) == 0 ? -1 : prng.between(1, 4);
      List<Long> backoff = prng.nextInt(2) == 0 ? List.of() : List.of(50L, 500L);
      long maxAckPending = prng.nextInt(2) == 0 ? -1 : prng.between(1, 10);
      return new StreamCommand.AddConsumer(ConsumerConfig.durable(consumer).withDurable(durable).withDeliverPolicy(deliver)
          .withOptStartSeq(3).withFilterSubjects(filter).withAckPolicy(ack).withAckWaitMillis(ackWait)
          .withMaxDeliver(maxDeliver).withBackoffMillis(backoff).withMaxAckPending(maxAckPending)
          .withInactiveThresholdMillis(20_000), time);
    }
    if (kind < 30) {
      List<StreamCommand.ConsumerOp> ops = new ArrayList<>();
      for (int j = prng.between(1, 6); j > 0; j--) {
        String consumer = "c" + prng.nextInt(3);
        ops.add(prng.nextInt(3) == 0 ? new StreamCommand.Fetch(consumer, prng.between(1, 10))
            : new StreamCommand.Ack(consumer, prng.between(1, 200),
                StreamCommand.AckKind.values()[prng.nextInt(4)], prng.nextInt(1000)));
      }
      return new StreamCommand.ConsumerBatch(time, ops);
    }
    if (kind < 34) {
      return new StreamCommand.Purge(prng.nextInt(2) == 0 ? null : "s." + prng.nextInt(4), prng.nextInt(2) == 0 ? 0
          : prng.between(1, 200), prng.nextInt(3));
    }
    if (kind < 40) {
      return new StreamCommand.DeleteMessage(prng.between(1, 200));
    }
    if (kind < 44) {
      return new StreamCommand.Expire(time);
    }
    if (kind < 50) {
      List<Message> batch = new ArrayList<>();
      List<Integer> groups = new ArrayList<>();
      for (int g = prng.between(1, 3); g > 0; g--) {
        int size = prng.between(1, 4);
        groups.add(size);
        for (int j = 0; j < size; j++) {
          TreeMap<String, List<String>> h = new TreeMap<>();
          if (j == 0 && prng.nextInt(3) == 0) {
            h.put(StreamState.EXPECTED_LAST_SUBJECT_SEQ, List.of(Long.toString(prng.nextInt(60))));
          }
          if (prng.nextInt(30) == 0) {
            h.put(StreamState.MSG_ID, List.of("id-" + prng.nextInt(20))); // refused in an atomic publish
          }
          batch.add(new Message("s." + prng.nextInt(4), h, new byte[prng.nextInt(40)], time));
        }
      }
      return new StreamCommand.AtomicPublishes(batch, groups);
    }
    List<Message> batch = new ArrayList<>();
    for (int j = prng.between(1, 4); j > 0; j--) {
      TreeMap<String, List<String>> h = new TreeMap<>();
      if (prng.nextInt(3) == 0) {
        h.put(StreamState.MSG_ID, List.of("id-" + prng.nextInt(20)));
      }
      if (prng.nextInt(10) == 0) {
        h.put(StreamState.EXPECTED_LAST_SEQ, List.of(Long.toString(prng.nextInt(100))));
      }
      if (prng.nextInt(20) == 0) {
        h.put(StreamState.ROLLUP, List.of(prng.nextInt(2) == 0 ? "sub" : "all"));
      }
      batch.add(new Message("s." + prng.nextInt(4), h, new byte[prng.nextInt(40)], time));
    }
    return new StreamCommand.PublishBatch(batch);
  }
}
