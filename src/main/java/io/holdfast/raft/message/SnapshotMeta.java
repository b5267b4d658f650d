package io.holdfast.raft.message;

import java.util.Objects;

/**
 * Identity of a snapshot: the state machine after applying every entry up to {@code index}
 * (whose term is {@code term}), and the membership in force at that index.
 * A fresh group starts from the empty snapshot at index 0, term 0 with its initial membership.
 */
public record SnapshotMeta(long index, long term, Membership membership) {
  public SnapshotMeta {
    Objects.requireNonNull(membership, "membership");
    if (index < 0 || term < 0) {
      throw new IllegalArgumentException("negative snapshot index/term: " + index + "/" + term);
    }
  }

  public static SnapshotMeta initial(Membership membership) {
    return new SnapshotMeta(0, 0, membership);
  }
}
