package io.holdfast.replica;

import com.fasterxml.jackson.annotation.JsonSubTypes;
import com.fasterxml.jackson.annotation.JsonTypeInfo;
import io.holdfast.stream.StoredMessage;
import io.holdfast.stream.StreamState;
import io.holdfast.transport.CborMessage;
import java.util.List;
import java.util.SortedMap;

/**
 * What clients send a replica and what it answers: plain records any front door (Java API, HTTP,
 * later the NATS protocol) can build, serialized with Jackson CBOR when they cross nodes.
 */
public final class Wire {
  private Wire() {}

  /** Something to append to a group's log. */
  @JsonTypeInfo(use = JsonTypeInfo.Id.NAME, property = "t")
  @JsonSubTypes({@JsonSubTypes.Type(value = Publish.class, name = "pub"),
      @JsonSubTypes.Type(value = StreamOp.class, name = "op"),
      @JsonSubTypes.Type(value = MetaChange.class, name = "meta"),
      @JsonSubTypes.Type(value = Consume.class, name = "consume")})
  public sealed interface Proposal extends CborMessage {}

  /**
   * A subscriber's request to a stream's consumer: {@code kind} {@code fetch} (up to {@code max}
   * messages; the leader may hold it up to {@code delayMillis} while nothing is deliverable, and
   * answers it empty then), or {@code ack}, {@code nak} (redeliver after {@code delayMillis}), {@code progress},
   * {@code term} for the message at stream sequence {@code seq}. An {@code ack} with {@code max} of
   * 2 or more acks the run of {@code max} sequences from {@code seq} (at most {@link #ACK_RUN_MAX}),
   * as that many acks would. Batched like publishes: many acks share one log entry.
   */
  public record Consume(String consumer, String kind, long seq, int max, long delayMillis) implements Proposal {
    /** Sequences one ack proposal acks at most. */
    public static final int ACK_RUN_MAX = 4096;

    /** How many sequences this request acks: its run for an {@code ack}, else 1. */
    public int run() {
      return kind.equals("ack") ? Math.max(1, max) : 1;
    }
  }

  /** A message for a stream, NATS-style: subject, multi-valued headers, payload. */
  public record Publish(String subject, SortedMap<String, List<String>> headers, byte[] payload) implements Proposal {}

  /** An encoded {@code StreamCommand} other than a publish (config change, purge, delete, expire). */
  public record StreamOp(byte[] command) implements Proposal {}

  /** Several messages published as one: all stored, at consecutive sequences, or none ({@link io.holdfast.stream.StreamCommand.AtomicPublishes}). */
  public record PublishAtomic(List<Publish> messages) implements Proposal {
    public PublishAtomic {
      messages = List.copyOf(messages);
    }
  }

  /** An encoded {@code MetaState.Command} for the meta group. */
  public record MetaChange(byte[] command) implements Proposal {}

  /** What a committed proposal did. */
  @JsonTypeInfo(use = JsonTypeInfo.Id.NAME, property = "t")
  @JsonSubTypes({@JsonSubTypes.Type(value = Seq.class, name = "seq"),
      @JsonSubTypes.Type(value = Rejected.class, name = "rejected"),
      @JsonSubTypes.Type(value = MetaOutcome.class, name = "meta"),
      @JsonSubTypes.Type(value = Delivered.class, name = "delivered")})
  public sealed interface Outcome extends CborMessage {}

  /** What a fetch delivered (possibly nothing). */
  public record Delivered(List<io.holdfast.stream.Delivery> deliveries) implements Outcome {}

  /**
   * The publish is stored at {@code seq} of {@code stream} ({@code duplicate}: it had been, its
   * msg id is within the duplicate window); for other stream operations, {@code seq} is their count.
   */
  public record Seq(String stream, long seq, boolean duplicate) implements Outcome {
    public Seq(String stream, long seq) {
      this(stream, seq, false);
    }
  }

  /** The stream's rules refused it (limits, expectations, sealed...): nothing changed. */
  public record Rejected(String code, String message) implements Outcome {}

  /** A meta command's result: {@code code} null when it took effect. */
  public record MetaOutcome(String code, String message) implements Outcome {}

  @JsonTypeInfo(use = JsonTypeInfo.Id.NAME, property = "t")
  @JsonSubTypes({@JsonSubTypes.Type(value = GetMessages.class, name = "msgs"),
      @JsonSubTypes.Type(value = GetLastFor.class, name = "last"),
      @JsonSubTypes.Type(value = GetSubject.class, name = "subject"),
      @JsonSubTypes.Type(value = GetSubjects.class, name = "subjects"),
      @JsonSubTypes.Type(value = GetInfo.class, name = "info"),
      @JsonSubTypes.Type(value = GetMeta.class, name = "meta"),
      @JsonSubTypes.Type(value = GetConsumers.class, name = "consumers")})
  public sealed interface Query extends CborMessage {}

  /** The consumer {@code name}, or every consumer if null (as {@link Consumers}). */
  public record GetConsumers(String name) implements Query {}

  /** Up to {@code max} messages from {@code fromSeq} on. */
  public record GetMessages(long fromSeq, int max) implements Query {}

  /** The newest message on {@code subject} (as {@link Messages}, empty if none). */
  public record GetLastFor(String subject) implements Query {}

  /**
   * Up to {@code max} messages on exactly {@code subject} from stream sequence {@code fromSeq} on,
   * oldest first, about {@link StreamMachine#FETCH_BYTES_MAX} bytes at most (at least one).
   */
  public record GetSubject(String subject, long fromSeq, int max) implements Query {}

  /** Up to {@code max} subjects with messages that match {@code filter}, in name order after {@code after} ("" from the start). */
  public record GetSubjects(String filter, String after, int max) implements Query {}

  /** The stream's counts and this replica's Raft status. */
  public record GetInfo(boolean withStatus) implements Query {}

  /** The meta state, if this replica has applied more than {@code knownIndex}. */
  public record GetMeta(long knownIndex) implements Query {}

  @JsonTypeInfo(use = JsonTypeInfo.Id.NAME, property = "t")
  @JsonSubTypes({@JsonSubTypes.Type(value = Messages.class, name = "msgs"),
      @JsonSubTypes.Type(value = Info.class, name = "info"),
      @JsonSubTypes.Type(value = MetaView.class, name = "meta"),
      @JsonSubTypes.Type(value = NotLeader.class, name = "notleader"),
      @JsonSubTypes.Type(value = Consumers.class, name = "consumers"),
      @JsonSubTypes.Type(value = SubjectNames.class, name = "subjects")})
  public sealed interface ReadReply extends CborMessage {}

  public record Consumers(List<io.holdfast.stream.ConsumerInfo> consumers) implements ReadReply {}

  public record Messages(List<StoredMessage> messages) implements ReadReply {}

  public record SubjectNames(List<String> subjects) implements ReadReply {}

  public record Info(StreamState.Info state, byte[] limits, ReplicaDriver.Status status) implements ReadReply {}

  /** A committed meta state: {@code snapshot} is {@code MetaState.snapshot()}, empty if not newer than asked. */
  public record MetaView(long index, byte[] snapshot) implements ReadReply {}

  /**
   * A leader-only read reached a replica that is not the leader; try {@code leaderHint} (0:
   * unknown; -1: this replica leads but cannot answer yet — ask it again shortly).
   */
  public record NotLeader(int leaderHint) implements ReadReply {}
}
