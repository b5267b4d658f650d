package io.holdfast.api;

import io.holdfast.replica.Wire;
import io.holdfast.stream.ConsumerInfo;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import org.apache.pekko.NotUsed;
import org.apache.pekko.stream.KillSwitches;
import org.apache.pekko.stream.javadsl.Keep;
import org.apache.pekko.stream.javadsl.Sink;
import org.apache.pekko.stream.javadsl.Source;
import org.reactivestreams.FlowAdapters;
import org.reactivestreams.Publisher;

/**
 * One consumer of a stream, as a subscriber uses it ({@code Holdfast.get(system).consumer(stream,
 * name)}). {@link #source()} is a Pekko Streams {@code Source} whose demand drives delivery: it
 * fetches at most {@link #withBatch batch} messages at a time, and only when downstream has taken
 * the previous ones, so a slow subscriber makes the consumer fetch less and nothing buffers
 * without bound. Several sources (or subscribers of {@link #asPublisher()}) on one consumer share
 * its messages, like a NATS queue group. Cancelling leaves unacked messages for redelivery.
 *
 * <p>When nothing is due, a pull request waits at the stream's leader, up to
 * {@link #WAIT_AT_LEADER_MAX} at a time, and is answered as soon as a message is deliverable
 * (issue 18: an idle subscriber costs no log entry, and one request every two seconds instead of
 * ten polls a second). A request answered empty is asked anew after a pause that grows from 5 ms
 * to {@value #IDLE_MAX_MILLIS} ms (when the leader could not hold it: too many waiting, or a
 * leader change). A leader change or a timeout only delays the source; a deleted consumer or
 * stream fails it.
 */
public final class Consumer {
  private static final long IDLE_MAX_MILLIS = 100;
  private static final int BATCH_DEFAULT = 256;
  /** Marks the end of a source with a message limit (compared by identity; streams carry no nulls). */
  private static final List<Message> END = new ArrayList<>();

  private final Holdfast holdfast;
  private final String stream;
  private final String name;
  private final int batch;
  private final long maxMessages;

  Consumer(Holdfast holdfast, String stream, String name) {
    this(holdfast, stream, name, BATCH_DEFAULT, Long.MAX_VALUE);
  }

  private Consumer(Holdfast holdfast, String stream, String name, int batch, long maxMessages) {
    this.holdfast = holdfast;
    this.stream = stream;
    this.name = name;
    this.batch = batch;
    this.maxMessages = maxMessages;
  }

  /** At most {@code batch} messages per fetch (default 256): the most a source holds for its subscriber. */
  public Consumer withBatch(int batch) {
    if (batch < 1) {
      throw new IllegalArgumentException("batch must be at least 1, got " + batch);
    }
    return new Consumer(holdfast, stream, name, batch, maxMessages);
  }

  /** The source completes after {@code maxMessages} messages (and fetches no more than that). */
  public Consumer withMaxMessages(long maxMessages) {
    if (maxMessages < 0) {
      throw new IllegalArgumentException("maxMessages must not be negative, got " + maxMessages);
    }
    return new Consumer(holdfast, stream, name, batch, maxMessages);
  }

  public String stream() {
    return stream;
  }

  public String name() {
    return name;
  }

  /** One pull: up to {@code max} messages due now (due redeliveries first), possibly none. */
  public CompletionStage<List<Message>> fetch(int max) {
    return fetchWaiting(max, Duration.ZERO);
  }

  /**
   * A long poll: up to {@code max} messages, waiting up to {@code wait} for the first. The wait
   * happens at the stream's leader ({@link #WAIT_AT_LEADER_MAX} at a time, within the request
   * timeout): an idle consumer costs no log entry and no polling.
   */
  public CompletionStage<List<Message>> fetch(int max, Duration wait) {
    long deadline = System.nanoTime() + wait.toNanos();
    CompletableFuture<List<Message>> result = new CompletableFuture<>();
    Runnable[] attempt = new Runnable[1];
    long[] pause = {5};
    attempt[0] = () -> {
      long left = Math.max(0, (deadline - System.nanoTime()) / 1_000_000);
      fetchWaiting(max, Duration.ofMillis(Math.min(left, holdMillis()))).whenComplete((got, e) -> {
        if (e != null) {
          result.completeExceptionally(e);
        } else if (!got.isEmpty() || System.nanoTime() + pause[0] * 1_000_000 > deadline) {
          result.complete(got);
        } else {
          holdfast.after(pause[0], attempt[0]); // short: the leader held the request (unless it could not)
          pause[0] = Math.min(IDLE_MAX_MILLIS, pause[0] * 2);
        }
      });
    };
    attempt[0].run();
    return result;
  }

  /** The longest one pull request waits at the leader before it is answered (empty) and asked anew. */
  static final Duration WAIT_AT_LEADER_MAX = Duration.ofSeconds(2);

  /** How long one pull request may wait at the leader: within half the request timeout. */
  public long holdMillis() {
    return Math.min(WAIT_AT_LEADER_MAX.toMillis(), holdfast.settings().requestTimeout().toMillis() / 2);
  }

  /**
   * One pull request: up to {@code max} messages; while none is deliverable the leader holds it up
   * to {@code hold} (keep it under half the request timeout) and answers it empty then.
   */
  public CompletionStage<List<Message>> fetchWaiting(int max, Duration hold) {
    return holdfast.consume(stream, new Wire.Consume(name, "fetch", 0, max, hold.toMillis())).thenApply(o -> {
      List<Message> out = new ArrayList<>();
      for (io.holdfast.stream.Delivery d : ((Wire.Delivered) o).deliveries()) {
        out.add(new Message(holdfast, stream, d));
      }
      return out;
    });
  }

  /** Demand-driven delivery; the materialized {@link ConsumerControl} stops it. */
  public Source<Message, ConsumerControl> source() {
    // The consumer is looked up at once, demand or not: a missing one fails the stream right away.
    Source<Message, NotUsed> messages = Source.completionStage(info()).flatMapConcat(info -> {
      Puller puller = new Puller(info.config().replayPolicy() == io.holdfast.stream.ConsumerConfig.ReplayPolicy.ORIGINAL);
      return Source.repeat(NotUsed.getInstance())
          .mapAsync(1, x -> puller.next())
          .takeWhile(list -> list != END)
          .mapConcat(list -> list)
          .mapAsync(1, puller::pace);
    });
    return messages
        .viaMat(KillSwitches.single(), Keep.right())
        .watchTermination(ConsumerControl::new);
  }

  /** Each subscriber gets its own demand-driven delivery from this consumer (subscribers share its messages). */
  public Publisher<Message> asPublisher() {
    return subscriber -> {
      Objects.requireNonNull(subscriber, "subscriber"); // Reactive Streams rule 1.9
      @SuppressWarnings("unchecked")
      org.reactivestreams.Subscriber<Message> typed = (org.reactivestreams.Subscriber<Message>) subscriber;
      source().runWith(Sink.fromSubscriber(typed), holdfast.system());
    };
  }

  public java.util.concurrent.Flow.Publisher<Message> asFlowPublisher() {
    return FlowAdapters.toFlowPublisher(asPublisher());
  }

  /** The state behind one source: what was fetched so far, idle pauses, and replay pacing. */
  private final class Puller {
    private long fetched;
    private long idlePause = 5;
    private final boolean replayOriginal;
    private long firstTimestamp;
    private long firstNanos;

    Puller(boolean replayOriginal) {
      this.replayOriginal = replayOriginal;
    }

    /** The next batch (possibly empty after a pause); {@link #END} once maxMessages were fetched. */
    CompletionStage<List<Message>> next() {
      if (fetched >= maxMessages) {
        return CompletableFuture.completedFuture(END);
      }
      int max = (int) Math.min(batch, maxMessages - fetched);
      CompletableFuture<List<Message>> out = new CompletableFuture<>();
      fetchWaiting(max, Duration.ofMillis(holdMillis())).whenComplete((got, e) -> {
        if (e != null) {
          Throwable cause = e instanceof java.util.concurrent.CompletionException && e.getCause() != null
              ? e.getCause() : e;
          if (cause instanceof HoldfastException.Unavailable || cause instanceof HoldfastException.OutcomeUnknown) {
            pauseThen(out, List.of()); // a leader change: ask again shortly
          } else {
            out.completeExceptionally(cause);
          }
        } else if (got.isEmpty()) {
          pauseThen(out, got);
        } else {
          idlePause = 5;
          fetched += got.size();
          out.complete(got);
        }
      });
      return out;
    }

    private void pauseThen(CompletableFuture<List<Message>> out, List<Message> value) {
      long pause = idlePause;
      idlePause = Math.min(IDLE_MAX_MILLIS, idlePause * 2);
      holdfast.after(pause, () -> out.complete(value));
    }

    /** With replay {@code original}, holds each message until as long after the first as it was published. */
    CompletionStage<Message> pace(Message m) {
      if (!replayOriginal) {
        return CompletableFuture.completedFuture(m);
      }
      if (firstNanos == 0) {
        firstNanos = System.nanoTime();
        firstTimestamp = m.timestampMillis();
      }
      long waitMillis = (m.timestampMillis() - firstTimestamp) - (System.nanoTime() - firstNanos) / 1_000_000;
      if (waitMillis <= 0) {
        return CompletableFuture.completedFuture(m);
      }
      CompletableFuture<Message> out = new CompletableFuture<>();
      holdfast.after(waitMillis, () -> out.complete(m));
      return out;
    }
  }

  /** The ways a delivery can be acknowledged; their names are the HTTP API's ({@code POST /ack/TOKEN?kind=}). */
  public static final java.util.List<String> ACK_KINDS = List.of("ack", "nak", "progress", "term");

  /**
   * Acknowledges the delivery of stream sequence {@code seq} by its kind ({@link #ACK_KINDS});
   * {@code delayMillis}: with nak, redeliver after this long. Completes once the ack is replicated.
   */
  public CompletionStage<org.apache.pekko.Done> acknowledge(long seq, String kind, long delayMillis) {
    if (!ACK_KINDS.contains(kind)) {
      return CompletableFuture.failedFuture(new HoldfastException.BadRequest("bad_request",
          "kind must be ack, nak, progress or term, got '" + kind + "'"));
    }
    return holdfast.consume(stream, new Wire.Consume(name, kind, seq, 0, delayMillis))
        .thenApply(o -> org.apache.pekko.Done.getInstance());
  }

  /**
   * As {@link #acknowledge}, without waiting for (or learning) the outcome: cheaper, and if it is
   * lost — a leader change — the message is simply delivered again after its ack wait. What a
   * NATS client's plain {@code ack()} is.
   */
  public void acknowledgeUnconfirmed(long seq, String kind, long delayMillis) {
    if (ACK_KINDS.contains(kind)) {
      holdfast.consumeUnconfirmed(stream, new Wire.Consume(name, kind, seq, 0, delayMillis));
    }
  }

  /** This consumer's state as the stream's leader has applied it. */
  public CompletionStage<ConsumerInfo> info() {
    return holdfast.consumers().info(stream, name);
  }
}
