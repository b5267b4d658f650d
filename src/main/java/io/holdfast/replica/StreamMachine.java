package io.holdfast.replica;

import io.holdfast.raft.message.LogEntry;
import io.holdfast.stream.Message;
import io.holdfast.stream.StreamCommand;
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
    this.state = new StreamState(group);
  }

  @Override
  public String invalid(Wire.Proposal p) {
    if (!(p instanceof Wire.Publish pub)) {
      return "a stream takes publishes only";
    }
    if (pub.payload() != null && pub.payload().length > MESSAGE_BYTES_MAX) {
      return "message of " + pub.payload().length + " bytes is larger than the maximum of " + MESSAGE_BYTES_MAX;
    }
    return Subjects.invalidSubject(pub.subject());
  }

  @Override
  public long sizeOf(Wire.Proposal p) {
    Wire.Publish pub = (Wire.Publish) p;
    return (pub.payload() == null ? 0 : pub.payload().length) + pub.subject().length() + 64L;
  }

  @Override
  public int batchMax() {
    return BATCH_MESSAGES_MAX;
  }

  @Override
  public byte[] encode(List<Wire.Proposal> batch, long nowMillis) {
    List<Message> messages = new ArrayList<>(batch.size());
    for (Wire.Proposal p : batch) {
      Wire.Publish pub = (Wire.Publish) p;
      messages.add(new Message(pub.subject(), pub.headers(), pub.payload(), nowMillis));
    }
    return StreamCommand.encode(new StreamCommand.PublishBatch(messages));
  }

  @Override
  public List<Wire.Outcome> apply(LogEntry entry) {
    List<Long> seqs = state.apply(entry);
    List<Wire.Outcome> out = new ArrayList<>(seqs.size());
    for (long seq : seqs) {
      out.add(new Wire.Seq(stream, seq));
    }
    return out;
  }

  @Override
  public Wire.ReadReply read(Wire.Query query) {
    if (query instanceof Wire.GetMessages g) {
      return new Wire.Messages(state.range(g.fromSeq(), g.max()));
    }
    return new Wire.Info(state.info(), null);
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
