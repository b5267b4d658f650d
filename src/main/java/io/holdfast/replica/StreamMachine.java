package io.holdfast.replica;

import io.holdfast.raft.message.LogEntry;
import io.holdfast.stream.Message;
import io.holdfast.stream.StoredMessage;
import io.holdfast.stream.StreamCommand;
import io.holdfast.stream.StreamLimits;
import io.holdfast.stream.StreamState;
import io.holdfast.stream.Subjects;
import java.util.ArrayList;
import java.util.List;

/** A stream replica's machine: publishes become {@link StreamCommand.PublishBatch} entries. */
public final class StreamMachine implements ReplicatedMachine {
  public static final int BATCH_MESSAGES_MAX = 1024;
  public static final int MESSAGE_BYTES_MAX = 128 << 10;

  private final String stream;
  private final StreamState state;

  /** @param stream the stream's name (what acks carry); @param group its replica group's name */
  public StreamMachine(String stream, String group) {
    this.stream = stream;
    this.state = new StreamState(stream);
  }

  @Override
  public String invalid(Wire.Proposal p) {
    if (p instanceof Wire.StreamOp op) {
      try {
        return StreamCommand.decode(op.command()) instanceof StreamCommand.PublishBatch ? "publish with Publish" : null;
      } catch (RuntimeException e) {
        return "malformed stream operation: " + e.getMessage();
      }
    }
    if (!(p instanceof Wire.Publish pub)) {
      return "a stream takes publishes and stream operations only";
    }
    if (pub.payload() != null && pub.payload().length > MESSAGE_BYTES_MAX) {
      return "message of " + pub.payload().length + " bytes is larger than the maximum of " + MESSAGE_BYTES_MAX;
    }
    return Subjects.invalidSubject(pub.subject());
  }

  @Override
  public long sizeOf(Wire.Proposal p) {
    if (p instanceof Wire.StreamOp op) {
      return op.command().length;
    }
    Wire.Publish pub = (Wire.Publish) p;
    return (pub.payload() == null ? 0 : pub.payload().length) + pub.subject().length() + 64L;
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
  public byte[] encode(List<Wire.Proposal> batch, long nowMillis) {
    if (batch.get(0) instanceof Wire.StreamOp op) {
      return op.command();
    }
    List<Message> messages = new ArrayList<>(batch.size());
    for (Wire.Proposal p : batch) {
      Wire.Publish pub = (Wire.Publish) p;
      messages.add(new Message(pub.subject(), pub.headers(), pub.payload(), nowMillis));
    }
    return StreamCommand.encode(new StreamCommand.PublishBatch(messages));
  }

  @Override
  public List<Wire.Outcome> apply(LogEntry entry) {
    List<StreamState.Result> results = state.apply(entry);
    List<Wire.Outcome> out = new ArrayList<>(results.size());
    for (StreamState.Result r : results) {
      out.add(r.ok() ? new Wire.Seq(stream, r.seq(), r.duplicate()) : new Wire.Rejected(r.error(), r.message()));
    }
    return out;
  }

  @Override
  public List<Erasure> takeErasures() {
    List<StreamState.Location> erased = state.takeErasures();
    List<Erasure> out = new ArrayList<>(erased.size());
    for (StreamState.Location at : erased) {
      out.add(new Erasure(at.index(), at.term(), data -> StreamCommand.payloadRegion(data, at.ordinal())));
    }
    return out;
  }

  @Override
  public Wire.ReadReply read(Wire.Query query) {
    if (query instanceof Wire.GetMessages g) {
      return new Wire.Messages(state.range(g.fromSeq(), g.max()));
    }
    if (query instanceof Wire.GetLastFor l) {
      StoredMessage m = state.lastFor(l.subject());
      return new Wire.Messages(m == null ? List.of() : List.of(m));
    }
    return new Wire.Info(state.info(), state.limits().encode(), null);
  }

  /** Expiry by age when the oldest message is past max_age by the leader's clock. */
  @Override
  public Wire.Proposal housekeeping(long nowMillis) {
    return state.expiresBefore(nowMillis)
        ? new Wire.StreamOp(StreamCommand.encode(new StreamCommand.Expire(nowMillis))) : null;
  }

  /** The config change that would bring the stream to {@code desired}, or null if it is there. */
  @Override
  public Wire.Proposal toward(Object desired) {
    StreamLimits want = (StreamLimits) desired;
    return want.equals(state.limits()) ? null
        : new Wire.StreamOp(StreamCommand.encode(new StreamCommand.UpdateConfig(want)));
  }

  @Override
  public byte[] snapshot() {
    return state.snapshot();
  }

  @Override
  public void restore(byte[] snapshot) {
    state.restore(snapshot);
  }
}
