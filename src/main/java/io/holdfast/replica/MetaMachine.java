package io.holdfast.replica;

import io.holdfast.meta.MetaCodec;
import io.holdfast.meta.MetaState;
import io.holdfast.raft.message.LogEntry;
import java.util.List;

/** The meta group's machine: one {@link MetaState.Command} per log entry. */
public final class MetaMachine implements ReplicatedMachine {
  private final MetaState state = new MetaState();

  @Override
  public String invalid(Wire.Proposal p) {
    if (!(p instanceof Wire.MetaChange m)) {
      return "the meta group takes meta commands only";
    }
    try {
      return MetaState.invalid(MetaCodec.decodeCommand(m.command()));
    } catch (RuntimeException e) {
      return "malformed meta command: " + e.getMessage();
    }
  }

  @Override
  public long sizeOf(Wire.Proposal p) {
    return ((Wire.MetaChange) p).command().length;
  }

  @Override
  public int batchMax() {
    return 1;
  }

  @Override
  public byte[] encode(List<Wire.Proposal> batch, long nowMillis) {
    return ((Wire.MetaChange) batch.get(0)).command();
  }

  @Override
  public List<Wire.Outcome> apply(LogEntry entry, boolean answered) {
    MetaState.Result r = state.apply(entry);
    return entry.type() == io.holdfast.raft.message.EntryType.COMMAND
        ? List.of(new Wire.MetaOutcome(r.code(), r.message())) : List.of();
  }

  @Override
  public Wire.ReadReply read(Wire.Query query) {
    if (query instanceof Wire.GetMeta g && g.knownIndex() < state.appliedIndex()) {
      return new Wire.MetaView(state.appliedIndex(), state.snapshot());
    }
    return new Wire.MetaView(state.appliedIndex(), new byte[0]);
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
