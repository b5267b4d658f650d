package io.holdfast.api;

import java.time.Duration;
import java.util.List;
import java.util.SortedMap;
import java.util.concurrent.CompletionStage;
import org.apache.pekko.Done;

/**
 * A message as a consumer delivers it: where it is in the stream ({@code seq}) and in this
 * consumer's deliveries ({@code consumerSeq}, new on each delivery), how often it has been
 * delivered, how many messages the consumer has not reached yet, and the message itself.
 * {@link #ack()} and its siblings complete once the ack is replicated (acks that reach the
 * leader together share one log entry).
 */
public final class Message {
  private final Holdfast holdfast;
  private final String stream;
  private final String consumer;
  private final long seq;
  private final long consumerSeq;
  private final int delivered;
  private final long pending;
  private final io.holdfast.stream.Message message;

  Message(Holdfast holdfast, String stream, io.holdfast.stream.Delivery d) {
    this.holdfast = holdfast;
    this.stream = stream;
    this.consumer = d.consumer();
    this.seq = d.message().seq();
    this.consumerSeq = d.consumerSeq();
    this.delivered = d.deliveries();
    this.pending = d.pending();
    this.message = d.message().message();
  }

  public String stream() {
    return stream;
  }

  public String consumer() {
    return consumer;
  }

  /** Stream sequence. */
  public long seq() {
    return seq;
  }

  public long consumerSeq() {
    return consumerSeq;
  }

  /** Times delivered, this one included. */
  public int delivered() {
    return delivered;
  }

  /** Messages the consumer has not reached yet. */
  public long pending() {
    return pending;
  }

  public String subject() {
    return message.subject();
  }

  public SortedMap<String, List<String>> headers() {
    return message.headers();
  }

  public byte[] payload() {
    return message.payload();
  }

  /** When the stream's leader stored it. */
  public long timestampMillis() {
    return message.timestampMillis();
  }

  /** An opaque token that acks this delivery through the HTTP API ({@code POST /ack/TOKEN}). */
  public String ackToken() {
    return AckToken.of(stream, consumer, seq);
  }

  /** Done with it (with {@code ack_policy all}: with every earlier one too). */
  public CompletionStage<Done> ack() {
    return send("ack", 0);
  }

  /** Not done: deliver it again now. */
  public CompletionStage<Done> nak() {
    return send("nak", 0);
  }

  /** Not done: deliver it again after {@code delay}. */
  public CompletionStage<Done> nak(Duration delay) {
    return send("nak", delay.toMillis());
  }

  /** Still working on it: its ack deadline starts again. */
  public CompletionStage<Done> inProgress() {
    return send("progress", 0);
  }

  /** Never deliver it again. */
  public CompletionStage<Done> term() {
    return send("term", 0);
  }

  private CompletionStage<Done> send(String kind, long delayMillis) {
    return holdfast.consumer(stream, consumer).acknowledge(seq, kind, delayMillis);
  }

  @Override
  public String toString() {
    return "Message(" + stream + "/" + consumer + " seq " + seq + " consumer_seq " + consumerSeq + " delivered "
        + delivered + " " + subject() + ", " + payload().length + " bytes)";
  }
}
