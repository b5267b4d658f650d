package io.holdfast.raft.message;

import java.util.Arrays;
import java.util.Objects;

/** A state-machine snapshot: {@link SnapshotMeta} plus the opaque encoded state. */
public record Snapshot(SnapshotMeta meta, byte[] data) {
  public Snapshot {
    Objects.requireNonNull(meta, "meta");
    data = data == null ? new byte[0] : data;
  }

  public static Snapshot initial(Membership membership) {
    return new Snapshot(SnapshotMeta.initial(membership), new byte[0]);
  }

  public long index() {
    return meta.index();
  }

  public long term() {
    return meta.term();
  }

  @Override
  public boolean equals(Object other) {
    return other instanceof Snapshot s && meta.equals(s.meta) && Arrays.equals(data, s.data);
  }

  @Override
  public int hashCode() {
    return Objects.hash(meta, Arrays.hashCode(data));
  }

  @Override
  public String toString() {
    return "Snapshot[" + meta.index() + "@" + meta.term() + " " + meta.membership() + " " + data.length + "B]";
  }
}
