package io.holdfast.raft;

/** Answer to a proposal: either the log position it was given, or why it was refused. */
public sealed interface ProposeResult {
  /** Appended at (index, term); acknowledged to the client only once that entry is applied. */
  record Accepted(long index, long term) implements ProposeResult {}

  /** Not appended. {@code leaderHint} is the leader this replica knows of, or 0. */
  record Rejected(Reason reason, int leaderHint) implements ProposeResult {}

  enum Reason {
    NOT_LEADER,
    LEADER_TRANSFER_IN_PROGRESS,
    TOO_MANY_UNCOMMITTED,
    MEMBERSHIP_CHANGE_PENDING,
    INVALID_MEMBERSHIP_CHANGE
  }
}
