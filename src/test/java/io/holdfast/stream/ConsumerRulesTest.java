package io.holdfast.stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.holdfast.raft.message.EntryType;
import io.holdfast.raft.message.LogEntry;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Goal: JetStream's consumer rules, decided inside the replicated stream state so that every
 * replica agrees on what was delivered and acked. Method: one test per rule, named after it,
 * applying log entries directly with explicit leader timestamps.
 */
class ConsumerRulesTest {
  private static final long T0 = 1_700_000_000_000L;
  private final StreamState s = TestStores.stream("orders");
  private long index;

  private List<StreamState.Result> apply(StreamCommand c) {
    return s.apply(new LogEntry(++index, 1, EntryType.COMMAND, StreamCommand.encode(c)));
  }

  private void retention(String retention) {
    apply(new StreamCommand.UpdateConfig(StreamLimits.DEFAULT.withRetention(Retention.ofName(retention))));
  }

  private void pub(String subject, String payload, long time) {
    apply(new StreamCommand.PublishBatch(List.of(Message.of(subject, payload.getBytes(StandardCharsets.UTF_8), time))));
  }

  /** A durable consumer; {@code deliver} and {@code ack} by their JetStream names. */
  private static ConsumerConfig consumer(String name, String deliver, String ack, long ackWait, long maxDeliver,
      List<Long> backoff, long maxAckPending, String... filters) {
    return ConsumerConfig.durable(name).withDeliverPolicy(ConsumerConfig.DeliverPolicy.ofName(deliver))
        .withFilterSubjects(List.of(filters)).withAckPolicy(ConsumerConfig.AckPolicy.ofName(ack))
        .withAckWaitMillis(ackWait).withMaxDeliver(maxDeliver).withBackoffMillis(backoff)
        .withMaxAckPending(maxAckPending);
  }

  private StreamState.Result add(ConsumerConfig c) {
    return apply(new StreamCommand.AddConsumer(c, T0)).get(0);
  }

  private List<Delivery> fetch(String consumer, int max, long now) {
    StreamState.Result r = apply(new StreamCommand.ConsumerBatch(now, List.of(new StreamCommand.Fetch(consumer, max))))
        .get(0);
    assertTrue(r.ok(), r.message());
    return s.deliver(r.deliveries());
  }

  /** Payloads of what a fetch delivered. */
  private List<String> fetched(String consumer, int max, long now) {
    List<String> out = new ArrayList<>();
    for (Delivery d : fetch(consumer, max, now)) {
      out.add(new String(d.message().message().payload(), StandardCharsets.UTF_8));
    }
    return out;
  }

  private void ack(String consumer, long seq, StreamCommand.AckKind kind, long delay, long now) {
    assertTrue(apply(new StreamCommand.ConsumerBatch(now, List.of(new StreamCommand.Ack(consumer, seq, kind, delay))))
        .get(0).ok());
  }

  private void fiveMessages() {
    pub("a.1", "m1", T0);
    pub("b.1", "m2", T0 + 10);
    pub("a.2", "m3", T0 + 20);
    pub("a.1", "m4", T0 + 30);
    pub("b.1", "m5", T0 + 40);
  }

  @Test
  void deliverPoliciesStartWhereTheySay() {
    fiveMessages();
    add(consumer("all", "all", "explicit", 1000, -1, List.of(), -1));
    add(consumer("last", "last", "explicit", 1000, -1, List.of(), -1));
    add(consumer("new", "new", "explicit", 1000, -1, List.of(), -1));
    add(consumer("lps", "last_per_subject", "explicit", 1000, -1, List.of(), -1));
    add(consumer("seq", "by_start_sequence", "explicit", 1000, -1, List.of(), -1).withOptStartSeq(4));
    add(consumer("time", "by_start_time", "explicit", 1000, -1, List.of(), -1).withOptStartTimeMillis(T0 + 15));
    add(consumer("lastA", "last", "explicit", 1000, -1, List.of(), -1, "a.*"));
    assertEquals(List.of("m1", "m2", "m3", "m4", "m5"), fetched("all", 10, T0));
    assertEquals(List.of("m5"), fetched("last", 10, T0));
    assertEquals(List.of(), fetched("new", 10, T0));
    assertEquals(List.of("m3", "m4", "m5"), fetched("lps", 10, T0), "the last of a.2, a.1 and b.1");
    assertEquals(List.of("m4", "m5"), fetched("seq", 10, T0));
    assertEquals(List.of("m3", "m4", "m5"), fetched("time", 10, T0));
    assertEquals(List.of("m4"), fetched("lastA", 10, T0), "last with a filter: the last message it takes");
    pub("a.3", "m6", T0 + 50);
    assertEquals(List.of("m6"), fetched("new", 10, T0));
  }

  @Test
  void filterSubjectsSelectAndSeveralFiltersCombine() {
    fiveMessages();
    add(consumer("a", "all", "explicit", 1000, -1, List.of(), -1, "a.>"));
    add(consumer("mixed", "all", "explicit", 1000, -1, List.of(), -1, "a.2", "b.*"));
    assertEquals(List.of("m1", "m3", "m4"), fetched("a", 10, T0));
    assertEquals(List.of("m2", "m3", "m5"), fetched("mixed", 10, T0));
  }

  @Test
  void eachDeliveryCarriesItsSequencesCountAndPending() {
    fiveMessages();
    add(consumer("c", "all", "explicit", 1000, -1, List.of(), -1));
    List<Delivery> first = fetch("c", 2, T0);
    assertEquals(1, first.get(0).message().seq());
    assertEquals(1, first.get(0).consumerSeq());
    assertEquals(2, first.get(1).consumerSeq());
    assertEquals(1, first.get(0).deliveries());
    assertEquals(3, first.get(0).pending(), "three messages not reached yet");
    assertEquals("a.1", first.get(0).message().message().subject());
  }

  @Test
  void anUnackedMessageIsRedeliveredAfterAckWaitAndAnAckedOneNever() {
    fiveMessages();
    add(consumer("c", "all", "explicit", 1000, -1, List.of(), -1));
    assertEquals(List.of("m1", "m2"), fetched("c", 2, T0));
    ack("c", 1, StreamCommand.AckKind.ACK, 0, T0 + 10);
    assertEquals(List.of("m3"), fetched("c", 1, T0 + 999), "not due yet: the next new one");
    List<Delivery> again = fetch("c", 1, T0 + 1000);
    assertEquals(2, again.get(0).message().seq(), "m2 is due again; m1 was acked");
    assertEquals(2, again.get(0).deliveries());
    assertEquals(4, again.get(0).consumerSeq(), "a redelivery gets a new consumer sequence");
    ConsumerInfo info = s.consumerInfo("c");
    assertEquals(1, info.ackFloor());
    assertEquals(2, info.ackPending());
    assertEquals(1, info.redelivered());
  }

  @Test
  void aRunOfAcksIsWhatThatManyAcksAreWithOneOutcomeInItsBatch() {
    fiveMessages();
    add(consumer("c", "all", "explicit", 1000, -1, List.of(), -1));
    assertEquals(List.of("m1", "m2", "m3", "m4", "m5"), fetched("c", 5, T0));
    List<StreamState.Result> out = apply(new StreamCommand.ConsumerBatch(T0 + 10, List.of(
        new StreamCommand.AckRun("c", 2, 3), new StreamCommand.Fetch("c", 5))));
    assertEquals(2, out.size(), "one outcome per op: the fetch after the run gets its own");
    assertTrue(out.get(0).ok());
    assertTrue(out.get(1).ok());
    assertEquals(List.of(), s.deliver(out.get(1).deliveries()), "nothing new, nothing due");
    ConsumerInfo info = s.consumerInfo("c");
    assertEquals(2, info.ackPending(), "1 and 5 still pending; 2-4 acked");
    assertEquals(List.of(1L, 5L), fetch("c", 5, T0 + 1000).stream().map(d -> d.message().seq()).toList(),
        "only the unacked ones come again");
    assertEquals("no_consumer", apply(new StreamCommand.ConsumerBatch(T0, List.of(new StreamCommand.AckRun("zz", 1, 2))))
        .get(0).error());
  }

  @Test
  void maxDeliverReachedStopsRedelivery() {
    pub("a", "m1", T0);
    add(consumer("c", "all", "explicit", 100, 2, List.of(), -1));
    assertEquals(List.of("m1"), fetched("c", 1, T0));
    assertEquals(List.of("m1"), fetched("c", 1, T0 + 100));
    assertEquals(List.of(), fetched("c", 1, T0 + 200), "delivered max_deliver times");
    assertEquals(0, s.consumerInfo("c").ackPending());
  }

  @Test
  void backoffSpacesTheRedeliveries() {
    pub("a", "m1", T0);
    add(consumer("c", "all", "explicit", 1000, -1, List.of(100L, 400L), -1));
    assertEquals(List.of("m1"), fetched("c", 1, T0));
    assertEquals(List.of(), fetched("c", 1, T0 + 99));
    assertEquals(List.of("m1"), fetched("c", 1, T0 + 100), "first delay 100");
    assertEquals(List.of(), fetched("c", 1, T0 + 499));
    assertEquals(List.of("m1"), fetched("c", 1, T0 + 500), "second delay 400");
    assertEquals(List.of("m1"), fetched("c", 1, T0 + 900), "the last delay repeats");
  }

  @Test
  void nakRedeliversAfterItsDelay() {
    pub("a", "m1", T0);
    add(consumer("c", "all", "explicit", 10_000, -1, List.of(), -1));
    fetched("c", 1, T0);
    ack("c", 1, StreamCommand.AckKind.NAK, 0, T0 + 5);
    assertEquals(List.of("m1"), fetched("c", 1, T0 + 5), "a nak without delay: at once");
    ack("c", 1, StreamCommand.AckKind.NAK, 300, T0 + 10);
    assertEquals(List.of(), fetched("c", 1, T0 + 309));
    assertEquals(List.of("m1"), fetched("c", 1, T0 + 310));
  }

  @Test
  void inProgressStartsTheAckDeadlineAgain() {
    pub("a", "m1", T0);
    add(consumer("c", "all", "explicit", 1000, -1, List.of(), -1));
    fetched("c", 1, T0);
    ack("c", 1, StreamCommand.AckKind.PROGRESS, 0, T0 + 900);
    assertEquals(List.of(), fetched("c", 1, T0 + 1500));
    assertEquals(List.of("m1"), fetched("c", 1, T0 + 1900));
  }

  @Test
  void termNeverRedelivers() {
    pub("a", "m1", T0);
    add(consumer("c", "all", "explicit", 100, -1, List.of(), -1));
    fetched("c", 1, T0);
    ack("c", 1, StreamCommand.AckKind.TERM, 0, T0 + 1);
    assertEquals(List.of(), fetched("c", 1, T0 + 10_000));
    assertEquals(1, s.consumerInfo("c").ackFloor());
  }

  @Test
  void ackAllCoversEveryEarlierMessage() {
    fiveMessages();
    add(consumer("c", "all", "all", 100, -1, List.of(), -1));
    fetched("c", 5, T0);
    ack("c", 3, StreamCommand.AckKind.ACK, 0, T0 + 1);
    assertEquals(List.of("m4", "m5"), fetched("c", 5, T0 + 1000), "only 4 and 5 were not covered");
    assertEquals(3, s.consumerInfo("c").ackFloor());
  }

  @Test
  void ackNoneNeedsNoAcksAndNeverRedelivers() {
    fiveMessages();
    add(consumer("c", "all", "none", 100, -1, List.of(), -1));
    assertEquals(5, fetched("c", 5, T0).size());
    assertEquals(List.of(), fetched("c", 5, T0 + 10_000));
    assertEquals(5, s.consumerInfo("c").ackFloor());
  }

  @Test
  void maxAckPendingCapsWhatIsOutstanding() {
    fiveMessages();
    add(consumer("c", "all", "explicit", 10_000, -1, List.of(), 2));
    assertEquals(List.of("m1", "m2"), fetched("c", 5, T0));
    assertEquals(List.of(), fetched("c", 5, T0 + 1), "two unacked: no more");
    ack("c", 1, StreamCommand.AckKind.ACK, 0, T0 + 2);
    assertEquals(List.of("m3"), fetched("c", 5, T0 + 3));
  }

  @Test
  void aFetchStaysWithinItsByteBudgetButAlwaysTakesOneMessage() {
    fiveMessages(); // subjects of 3 bytes, payloads of 2: 5 bytes each
    add(consumer("c", "all", "explicit", 10_000, -1, List.of(), -1));
    StreamState.Result r = apply(new StreamCommand.ConsumerBatch(T0, List.of(new StreamCommand.Fetch("c", 10, 12))))
        .get(0);
    assertEquals(2, r.deliveries().size(), "two fit in 12 bytes");
    r = apply(new StreamCommand.ConsumerBatch(T0, List.of(new StreamCommand.Fetch("c", 10, 1)))).get(0);
    assertEquals(1, r.deliveries().size(), "one always goes");
    assertEquals(3, r.deliveries().get(0).seq(), "and none was skipped");
  }

  @Test
  void consumersOfOneDurableShareItsMessages() {
    fiveMessages();
    add(consumer("q", "all", "explicit", 10_000, -1, List.of(), -1));
    List<String> first = fetched("q", 2, T0);
    List<String> second = fetched("q", 2, T0);
    assertEquals(List.of("m1", "m2"), first);
    assertEquals(List.of("m3", "m4"), second, "a second subscriber gets the next ones, not the same");
  }

  @Test
  void interestRetentionRemovesAMessageOnceEveryConsumerAckedIt() {
    retention("interest");
    pub("a.1", "before", T0);
    assertNull(s.get(1), "no consumer: nothing is kept");
    add(consumer("x", "all", "explicit", 1000, -1, List.of(), -1));
    add(consumer("y", "all", "explicit", 1000, -1, List.of(), -1, "a.>"));
    pub("a.1", "m2", T0);
    pub("b.1", "m3", T0);
    fetched("x", 5, T0);
    fetched("y", 5, T0);
    ack("x", 2, StreamCommand.AckKind.ACK, 0, T0);
    assertTrue(s.get(2) != null, "y has not acked it");
    ack("y", 2, StreamCommand.AckKind.ACK, 0, T0);
    assertNull(s.get(2));
    ack("x", 3, StreamCommand.AckKind.ACK, 0, T0);
    assertNull(s.get(3), "y does not take b.1");
    pub("a.1", "m4", T0);
    fetched("x", 5, T0);
    ack("x", 4, StreamCommand.AckKind.ACK, 0, T0);
    apply(new StreamCommand.DeleteConsumer("y"));
    assertNull(s.get(4), "the last consumer still waiting went away");
  }

  @Test
  void workqueueRemovesOnAckAndRefusesOverlappingConsumers() {
    retention("workqueue");
    fiveMessages();
    assertTrue(add(consumer("w", "all", "explicit", 1000, -1, List.of(), -1, "a.>")).ok());
    assertEquals("workqueue_overlap", add(consumer("v", "all", "explicit", 1000, -1, List.of(), -1, "a.1")).error());
    assertTrue(add(consumer("v", "all", "explicit", 1000, -1, List.of(), -1, "b.*")).ok());
    assertEquals(List.of("m1", "m3", "m4"), fetched("w", 5, T0));
    ack("w", 3, StreamCommand.AckKind.ACK, 0, T0);
    assertNull(s.get(3));
    assertEquals(4, s.info().messages(), "unacked work stays, with or without a consumer");
  }

  @Test
  void anEphemeralConsumerGoesAfterItsInactiveThreshold() {
    pub("a", "m1", T0);
    apply(new StreamCommand.AddConsumer(consumer("eph", "all", "explicit", 1000, -1, List.of(), -1).withDurable(false)
        .withInactiveThresholdMillis(5000), T0));
    assertTrue(!s.expiresBefore(T0 + 5000));
    fetched("eph", 1, T0 + 4000); // activity
    assertTrue(!s.expiresBefore(T0 + 9000));
    assertTrue(s.expiresBefore(T0 + 9001));
    apply(new StreamCommand.Expire(T0 + 9001));
    assertNull(s.consumerInfo("eph"));
  }

  @Test
  void badConsumersAreRefusedWithAReason() {
    assertEquals("bad_consumer", add(consumer("bad name", "all", "explicit", 1000, -1, List.of(), -1)).error());
    assertNull(ConsumerConfig.DeliverPolicy.ofName("sometimes"), "an unknown policy has no value to send");
    assertTrue(consumer("c", "all", "explicit", 1000, -1, List.of(), -1).withDeliverPolicy(null).invalid()
        .contains("deliver_policy"));
    assertEquals("bad_consumer", add(consumer("c", "by_start_sequence", "explicit", 1000, -1, List.of(), -1)).error(),
        "by_start_sequence without opt_start_seq");
    assertEquals("bad_consumer", add(consumer("c", "all", "explicit", 1000, -1, List.of(), -1, "a..b")).error());
    assertTrue(add(consumer("c", "all", "explicit", 1000, -1, List.of(), -1)).ok());
    assertTrue(add(consumer("c", "all", "explicit", 1000, -1, List.of(), -1)).ok(), "the same again is a no-op");
    assertEquals("consumer_exists", add(consumer("c", "new", "explicit", 1000, -1, List.of(), -1)).error());
    apply(new StreamCommand.UpdateConfig(StreamLimits.DEFAULT.withMaxConsumers(1)));
    assertEquals("maximum_consumers_exceeded", add(consumer("d", "all", "explicit", 1000, -1, List.of(), -1)).error());
    assertEquals("no_consumer", apply(new StreamCommand.ConsumerBatch(T0, List.of(new StreamCommand.Fetch("zz", 1))))
        .get(0).error());
  }

  @Test
  void consumerStateSurvivesASnapshot() {
    fiveMessages();
    add(consumer("c", "all", "explicit", 1000, 3, List.of(200L), 10, "a.>"));
    fetched("c", 2, T0);
    ack("c", 1, StreamCommand.AckKind.ACK, 0, T0 + 1);
    StreamState restored = TestStores.restoredFrom(s);
    assertArrayEquals(s.snapshot(), restored.snapshot());
    assertEquals(s.consumerInfo("c"), restored.consumerInfo("c"));
  }

  /**
   * A fetch the leader may answer without a log entry (issue 18) is one that would deliver nothing:
   * not with a message past the consumer's position, nor with a delivery due again, nor for an
   * ephemeral consumer whose replicated activity is half its inactivity threshold old.
   */
  @Test
  void anIdleFetchIsOneThatWouldDeliverNothingAndKeepsNoConsumerAlive() {
    add(consumer("c", "all", "explicit", 1000, -1, List.of(), -1));
    assertTrue(s.idleFetch("c", T0), "nothing published: nothing to deliver");
    assertFalse(s.idleFetch("nobody", T0), "a missing consumer is refused through the log");
    pub("orders.a", "a", T0);
    assertFalse(s.idleFetch("c", T0), "a message past the position");
    assertEquals(List.of("a"), fetched("c", 10, T0));
    assertTrue(s.idleFetch("c", T0 + 500), "delivered, not yet due again");
    assertFalse(s.idleFetch("c", T0 + 1000), "its ack wait is over: due again");
    apply(new StreamCommand.AddConsumer(consumer("e", "new", "explicit", 1000, -1, List.of(), -1).withDurable(false)
        .withInactiveThresholdMillis(4000), T0));
    assertTrue(s.idleFetch("e", T0 + 1000));
    assertFalse(s.idleFetch("e", T0 + 2000), "half its threshold without replicated activity: the fetch keeps it");
  }
}
