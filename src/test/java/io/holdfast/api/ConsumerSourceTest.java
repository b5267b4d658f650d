package io.holdfast.api;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import io.holdfast.api.Records.StreamConfig;
import io.holdfast.stream.ConsumerConfig;
import io.holdfast.stream.ConsumerInfo;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Flow;
import java.util.concurrent.TimeUnit;
import org.apache.pekko.japi.Pair;
import org.apache.pekko.stream.javadsl.Keep;
import org.apache.pekko.stream.javadsl.Sink;
import org.apache.pekko.stream.javadsl.SinkQueueWithCancel;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;

/**
 * Goal: a consumer is a demand-driven Source (and Reactive Streams / Flow publisher) that
 * delivers every message, shares a consumer's messages between subscribers, and leaves what it
 * did not ack for redelivery. Method: one in-JVM node, an R1 stream of 50 messages, a fresh
 * consumer per test.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class ConsumerSourceTest {
  private static final long WAIT_SECONDS = 30;
  @TempDir
  static Path tmp;
  private OneNode node;
  private Holdfast h;

  @BeforeAll
  void start() throws Exception {
    node = new OneNode(tmp.resolve("node1"));
    h = node.holdfast;
    h.createStream(new StreamConfig("jobs", List.of("jobs.>"), 1)).toCompletableFuture().get();
    for (int i = 1; i <= 50; i++) {
      h.publish("jobs." + (i % 2 == 0 ? "even" : "odd"), null, ("j" + i).getBytes(StandardCharsets.UTF_8))
          .toCompletableFuture().get();
    }
  }

  @AfterAll
  void stop() throws Exception {
    node.close();
  }

  private Consumer create(ConsumerConfig config) throws Exception {
    h.consumers().create("jobs", config).toCompletableFuture().get();
    return h.consumer("jobs", config.name());
  }

  private static ConsumerConfig config(String name, long ackWaitMillis, String... filters) {
    return ConsumerConfig.durable(name).withFilterSubjects(List.of(filters)).withAckWaitMillis(ackWaitMillis)
        .withMaxAckPending(-1);
  }

  private List<Message> collect(Consumer c) throws Exception {
    return c.source().runWith(Sink.seq(), node.system).toCompletableFuture().get(WAIT_SECONDS, TimeUnit.SECONDS);
  }

  private static List<Long> seqs(List<Message> messages) {
    return messages.stream().map(Message::seq).toList();
  }

  @Test
  void theSourceDeliversEveryMessageInOrderAndAcksMoveTheFloor() throws Exception {
    Consumer c = create(config("all-in-order", 30_000)).withBatch(7).withMaxMessages(50);
    List<Message> got = collect(c);
    List<Long> expected = new ArrayList<>();
    for (long i = 1; i <= 50; i++) {
      expected.add(i);
    }
    assertEquals(expected, seqs(got));
    Message first = got.get(0);
    assertEquals("jobs.odd", first.subject());
    assertEquals("j1", new String(first.payload(), StandardCharsets.UTF_8));
    assertEquals(1, first.delivered());
    assertEquals(1, first.consumerSeq());
    for (Message m : got) {
      m.ack().toCompletableFuture().get();
    }
    ConsumerInfo info = c.info().toCompletableFuture().get();
    assertEquals(50, info.ackFloor());
    assertEquals(0, info.ackPending());
  }

  @Test
  void filtersSelectWhatTheSourceDelivers() throws Exception {
    List<Message> got = collect(create(config("evens", 30_000, "jobs.even")).withMaxMessages(25));
    assertEquals(25, got.size(), "the 25 even messages of 50: " + seqs(got));
    assertTrue(got.stream().allMatch(m -> m.subject().equals("jobs.even") && m.seq() % 2 == 0), seqs(got).toString());
  }

  @Test
  void withoutDemandTheSourceFetchesNoMoreThanItsBuffers() throws Exception {
    int batch = 5;
    Consumer c = create(config("slow", 30_000)).withBatch(batch);
    Pair<ConsumerControl, SinkQueueWithCancel<Message>> run = c.source().toMat(Sink.queue(), Keep.both())
        .run(node.system);
    for (int i = 0; i < 3; i++) {
      assertTrue(run.second().pull().toCompletableFuture().get(WAIT_SECONDS, TimeUnit.SECONDS).isPresent());
    }
    // What may be fetched ahead: the queue sink's input buffer, the batch being emitted, the batch
    // fetched next, the message being paced — whole fetches of `batch`. Whatever the source has not
    // fetched, a direct fetch on the same consumer gets.
    int buffer = node.system.settings().config().getInt("pekko.stream.materializer.max-input-buffer-size");
    int bound = (buffer + 2 * batch + 1 + batch - 1) / batch * batch;
    List<Message> rest = c.fetch(50).toCompletableFuture().get();
    run.first().stop();
    assertTrue(50 - rest.size() <= bound, "the source fetched " + (50 - rest.size()) + " for a subscriber that took"
        + " 3; its buffers hold " + bound);
  }

  @Test
  void subscribersOfOneConsumerShareItsMessages() throws Exception {
    Consumer c = create(config("shared", 30_000)).withBatch(5).withMaxMessages(25);
    CompletableFuture<List<Message>> a = c.source().runWith(Sink.seq(), node.system).toCompletableFuture();
    CompletableFuture<List<Message>> b = c.source().runWith(Sink.seq(), node.system).toCompletableFuture();
    Set<Long> all = new HashSet<>(seqs(a.get(WAIT_SECONDS, TimeUnit.SECONDS)));
    List<Long> fromB = seqs(b.get(WAIT_SECONDS, TimeUnit.SECONDS));
    for (long s : fromB) {
      assertTrue(all.add(s), "seq " + s + " went to both subscribers");
    }
    assertEquals(50, all.size());
  }

  @Test
  void cancellingLeavesUnackedMessagesForRedelivery() throws Exception {
    // max_ack_pending 5: while five are unacked nothing new is delivered, so what comes next is a redelivery.
    ConsumerConfig fivePending = ConsumerConfig.durable("cancelled").withAckWaitMillis(300).withMaxAckPending(5);
    Consumer c = create(fivePending).withBatch(5);
    List<Message> firstFive = collect(c.withMaxMessages(5)); // never acked
    assertEquals(List.of(1L, 2L, 3L, 4L, 5L), seqs(firstFive));
    List<Message> again = collect(c.withMaxMessages(5));
    assertEquals(List.of(1L, 2L, 3L, 4L, 5L), seqs(again), "redelivered after ack_wait");
    assertTrue(again.stream().allMatch(m -> m.delivered() == 2));
  }

  @Test
  void nakAndTermThroughTheMessage() throws Exception {
    Consumer c = create(config("naks", 60_000));
    List<Message> two = c.fetch(2).toCompletableFuture().get();
    two.get(0).nak().toCompletableFuture().get();
    two.get(1).term().toCompletableFuture().get();
    List<Message> next = c.fetch(1).toCompletableFuture().get();
    assertEquals(1, next.get(0).seq(), "the nak'd message comes back at once");
    assertEquals(2, next.get(0).delivered());
  }

  @Test
  void theFlowPublisherDeliversWhatIsRequested() throws Exception {
    Consumer c = create(config("flow", 30_000)).withMaxMessages(4);
    CompletableFuture<List<Long>> done = new CompletableFuture<>();
    c.asFlowPublisher().subscribe(new Flow.Subscriber<Message>() {
      final List<Long> seen = new ArrayList<>();

      @Override
      public void onSubscribe(Flow.Subscription s) {
        s.request(Long.MAX_VALUE);
      }

      @Override
      public void onNext(Message m) {
        seen.add(m.seq());
      }

      @Override
      public void onError(Throwable t) {
        done.completeExceptionally(t);
      }

      @Override
      public void onComplete() {
        done.complete(seen);
      }
    });
    assertEquals(List.of(1L, 2L, 3L, 4L), done.get(WAIT_SECONDS, TimeUnit.SECONDS));
  }

  @Test
  void replayOriginalSpacesMessagesAsTheyWerePublished() throws Exception {
    h.createStream(new StreamConfig("paced", List.of("paced.>"), 1)).toCompletableFuture().get();
    h.publish("paced.a", null, new byte[] {1}).toCompletableFuture().get();
    Thread.sleep(400); // not a wait for a condition: it puts 400 ms between the two publish timestamps
    h.publish("paced.a", null, new byte[] {2}).toCompletableFuture().get();
    h.consumers().create("paced", ConsumerConfig.durable("replay").withMaxAckPending(-1)
        .withReplayPolicy(ConsumerConfig.ReplayPolicy.ORIGINAL)).toCompletableFuture().get();
    List<Long> arrivals = h.consumer("paced", "replay").withMaxMessages(2).source()
        .map(m -> System.nanoTime()).runWith(Sink.seq(), node.system).toCompletableFuture()
        .get(WAIT_SECONDS, TimeUnit.SECONDS);
    long gapMillis = (arrivals.get(1) - arrivals.get(0)) / 1_000_000;
    assertTrue(gapMillis >= 350, "replayed " + gapMillis + " ms apart, published 400 ms apart");
  }

  @Test
  void aSourceOnAMissingConsumerFailsClearly() throws Exception {
    try {
      collect(h.consumer("jobs", "nobody"));
      fail("no such consumer");
    } catch (ExecutionException e) {
      assertEquals("no_consumer", assertInstanceOf(HoldfastException.NotFound.class, e.getCause()).code());
    }
  }

  @Test
  void anInvalidConsumerIsRefusedWithItsReason() throws Exception {
    try {
      h.consumers().create("jobs", config("ok", 30_000, "jobs..x")).toCompletableFuture().get();
      fail("bad filter");
    } catch (ExecutionException e) {
      assertInstanceOf(HoldfastException.BadRequest.class, e.getCause());
    }
    assertTrue(h.consumers().list("jobs").toCompletableFuture().get().stream()
        .noneMatch(i -> i.config().name().equals("ok")));
  }

  /** Stream quiet's commit index on this node's replica. */
  private long commitIndex() throws Exception {
    return h.localReplicas().toCompletableFuture().get().entrySet().stream()
        .filter(e -> e.getKey().startsWith("quiet")).findFirst().orElseThrow().getValue().orElseThrow().commitIndex();
  }

  /**
   * Issue 18: an idle subscriber costs no log entry. Fetches that find nothing are answered by the
   * leader from its state (the commit index stays where it was), and a fetch that may wait is held
   * at the leader and answered with the message published while it waited.
   */
  @Test
  void anIdleFetchAppendsNoLogEntryAndAWaitingOneGetsWhatArrives() throws Exception {
    h.createStream(new StreamConfig("quiet", List.of("quiet.>"), 1)).toCompletableFuture().get(); // its own log
    h.consumers().create("quiet", ConsumerConfig.durable("idle")).toCompletableFuture().get();
    Consumer c = h.consumer("quiet", "idle");
    long before = commitIndex();
    for (int i = 0; i < 20; i++) {
      assertEquals(List.of(), c.fetch(10).toCompletableFuture().get(WAIT_SECONDS, TimeUnit.SECONDS));
    }
    assertEquals(before, commitIndex(), "twenty empty fetches, no entry");
    CompletableFuture<List<Message>> waiting = c.fetch(10, Duration.ofSeconds(20)).toCompletableFuture();
    long seq = h.publish("quiet.late", null, "late".getBytes(StandardCharsets.UTF_8)).toCompletableFuture().get()
        .seq();
    assertEquals(List.of(seq), seqs(waiting.get(WAIT_SECONDS, TimeUnit.SECONDS)));
  }
}
