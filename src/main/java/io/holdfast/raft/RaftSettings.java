package io.holdfast.raft;

/**
 * Limits and timings of one Raft group, in ticks (the host decides how long a tick is), entries
 * and bytes. Validated at construction: a bad combination fails at start-up, not under load.
 *
 * @param electionTimeoutTicks followers wait a random time in [this, 2 × this) without hearing a
 *     leader before they campaign; a leader steps down if it has not heard a majority within this
 * @param heartbeatIntervalTicks leader heartbeat period; must be well below the election timeout
 * @param inflightAppendsMax append messages a leader keeps unanswered per follower (pipelining)
 * @param appendEntriesMax entries in one append message
 * @param appendBytesMax approximate bytes in one append message (at least one entry is sent)
 * @param uncommittedEntriesMax proposals are refused while this many entries are uncommitted
 * @param applyEntriesMax committed entries handed to the host per {@link Ready}
 * @param preVote campaign only after a majority says it would vote (no disruption by partitioned nodes)
 * @param checkQuorum a leader that cannot hear a majority steps down; followers with a live
 *     leader ignore vote requests (leader lease)
 */
public record RaftSettings(
    int electionTimeoutTicks,
    int heartbeatIntervalTicks,
    int inflightAppendsMax,
    int appendEntriesMax,
    long appendBytesMax,
    int uncommittedEntriesMax,
    int applyEntriesMax,
    boolean preVote,
    boolean checkQuorum) {

  public RaftSettings {
    require(electionTimeoutTicks >= 2, "electionTimeoutTicks must be >= 2");
    require(heartbeatIntervalTicks >= 1, "heartbeatIntervalTicks must be >= 1");
    require(heartbeatIntervalTicks < electionTimeoutTicks, "heartbeatIntervalTicks must be below electionTimeoutTicks");
    require(inflightAppendsMax >= 1, "inflightAppendsMax must be >= 1");
    require(appendEntriesMax >= 1, "appendEntriesMax must be >= 1");
    require(appendBytesMax >= 1, "appendBytesMax must be >= 1");
    require(uncommittedEntriesMax >= 1, "uncommittedEntriesMax must be >= 1");
    require(applyEntriesMax >= 1, "applyEntriesMax must be >= 1");
  }

  /** Defaults; appends stay under 192 KiB, or carry one entry, so that they fit an Artery frame. */
  public static RaftSettings defaults() {
    return new RaftSettings(10, 2, 64, 512, 192 << 10, 16_384, 4096, true, true);
  }

  // Copies with one value changed (each checked like a new one), so that no two of the nine
  // values can be swapped unseen: RaftSettings.defaults().withInflightAppendsMax(4).

  public RaftSettings withElectionTimeoutTicks(int value) {
    return new RaftSettings(value, heartbeatIntervalTicks, inflightAppendsMax, appendEntriesMax, appendBytesMax,
        uncommittedEntriesMax, applyEntriesMax, preVote, checkQuorum);
  }

  public RaftSettings withHeartbeatIntervalTicks(int value) {
    return new RaftSettings(electionTimeoutTicks, value, inflightAppendsMax, appendEntriesMax, appendBytesMax,
        uncommittedEntriesMax, applyEntriesMax, preVote, checkQuorum);
  }

  public RaftSettings withInflightAppendsMax(int value) {
    return new RaftSettings(electionTimeoutTicks, heartbeatIntervalTicks, value, appendEntriesMax, appendBytesMax,
        uncommittedEntriesMax, applyEntriesMax, preVote, checkQuorum);
  }

  public RaftSettings withAppendEntriesMax(int value) {
    return new RaftSettings(electionTimeoutTicks, heartbeatIntervalTicks, inflightAppendsMax, value,
        appendBytesMax, uncommittedEntriesMax, applyEntriesMax, preVote, checkQuorum);
  }

  public RaftSettings withAppendBytesMax(long value) {
    return new RaftSettings(electionTimeoutTicks, heartbeatIntervalTicks, inflightAppendsMax, appendEntriesMax,
        value, uncommittedEntriesMax, applyEntriesMax, preVote, checkQuorum);
  }

  public RaftSettings withUncommittedEntriesMax(int value) {
    return new RaftSettings(electionTimeoutTicks, heartbeatIntervalTicks, inflightAppendsMax, appendEntriesMax,
        appendBytesMax, value, applyEntriesMax, preVote, checkQuorum);
  }

  public RaftSettings withApplyEntriesMax(int value) {
    return new RaftSettings(electionTimeoutTicks, heartbeatIntervalTicks, inflightAppendsMax, appendEntriesMax,
        appendBytesMax, uncommittedEntriesMax, value, preVote, checkQuorum);
  }

  public RaftSettings withPreVote(boolean value) {
    return new RaftSettings(electionTimeoutTicks, heartbeatIntervalTicks, inflightAppendsMax, appendEntriesMax,
        appendBytesMax, uncommittedEntriesMax, applyEntriesMax, value, checkQuorum);
  }

  public RaftSettings withCheckQuorum(boolean value) {
    return new RaftSettings(electionTimeoutTicks, heartbeatIntervalTicks, inflightAppendsMax, appendEntriesMax,
        appendBytesMax, uncommittedEntriesMax, applyEntriesMax, preVote, value);
  }

  private static void require(boolean ok, String message) {
    if (!ok) {
      throw new IllegalArgumentException(message);
    }
  }
}
