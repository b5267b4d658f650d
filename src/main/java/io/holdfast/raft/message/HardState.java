package io.holdfast.raft.message;

/**
 * What a replica must have on disk before it votes or speaks in a term (D2): the current term and
 * the candidate it voted for in that term ({@link #NO_VOTE} if none).
 */
public record HardState(long term, int votedFor) {
  public static final int NO_VOTE = 0;
  /**
   * The vote in this term was recorded but its record is damaged: the replica must assume it
   * voted, for someone it cannot name, and so grants no vote in this term (D7).
   */
  public static final int VOTE_UNKNOWN = -1;
  public static final HardState INITIAL = new HardState(0, NO_VOTE);

  public HardState {
    if (term < 0) {
      throw new IllegalArgumentException("term < 0: " + term);
    }
  }
}
