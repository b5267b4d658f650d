package io.holdfast.raft.quorum;

import java.util.Arrays;
import java.util.Map;
import java.util.Set;

/** Majority maths over a set of voters. */
public final class Quorum {
  private Quorum() {}

  /** Outcome of a vote count. */
  public enum VoteResult { PENDING, WON, LOST }

  /**
   * The highest index that a majority of {@code voters} have reached, given each voter's index.
   * Zero for an empty voter set.
   */
  public static long committedIndex(Set<Integer> voters, java.util.function.IntToLongFunction matchOf) {
    if (voters.isEmpty()) {
      return 0;
    }
    long[] matches = new long[voters.size()];
    int i = 0;
    for (int id : voters) {
      matches[i++] = matchOf.applyAsLong(id);
    }
    Arrays.sort(matches);
    return matches[matches.length - (matches.length / 2 + 1)];
  }

  public static VoteResult tally(Set<Integer> voters, Map<Integer, Boolean> votes) {
    int granted = 0;
    int rejected = 0;
    for (int id : voters) {
      Boolean v = votes.get(id);
      if (v == null) {
        continue;
      }
      if (v) {
        granted++;
      } else {
        rejected++;
      }
    }
    int quorum = voters.size() / 2 + 1;
    if (granted >= quorum) {
      return VoteResult.WON;
    }
    if (rejected > voters.size() - quorum) {
      return VoteResult.LOST;
    }
    return VoteResult.PENDING;
  }
}
