package io.holdfast.raft.message;

/**
 * What a replica must have on disk before it votes or speaks in a term (D2): the current term and
 * the candidate it voted for in that term ({@link #NO_VOTE} if none).
 */
public record HardState(long term, int votedFor) {
  public static final int NO_VOTE = 0;
  public static final HardState INITIAL = new HardState(0, NO_VOTE);

  public HardState {
    if (term < 0) {
      throw new IllegalArgumentException("term < 0: " + term);
    }
  }
}
