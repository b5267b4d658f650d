package io.holdfast.replica;

import java.util.HashMap;
import java.util.Map;

/**
 * Where a leader's proposals come in, for "the leader follows its publishers". A publish that
 * reaches the leader through another node crosses the network twice more (there and back): with
 * every publisher on one node and the leader elsewhere, bench nats consumed 11% less (acked
 * rates were within the noise; 2026-12-07). When, round after round, nearly all proposals come
 * in through one other member's node, the leader hands its leadership to that member.
 *
 * <p>A round is one housekeeping interval of the leader. The rule is deliberately slow to move:
 * {@link #ROUNDS} rounds in a row with {@link #SHARE_PERCENT}% from the same node, at least the
 * configured number per round (a trickle is not worth a leader change), and after a hand-over
 * this replica does not hand over again for {@link #COOLDOWN_ROUNDS} rounds. Publishers spread
 * over several nodes never reach the share, so the leader stays where it is.
 */
final class PublisherTally {
  static final int SHARE_PERCENT = 90;
  static final int ROUNDS = 3;
  static final int COOLDOWN_ROUNDS = 30;

  /** Proposals per origin (the member on whose node they came in) this round. */
  private final Map<Integer, int[]> counts = new HashMap<>();
  private int total;
  private int minPerRound;
  private int candidate;
  private int streak;
  private int cooldown;

  /** Proposals a round needs before its origins count at all; 0 turns the rule off. */
  void minPerRound(int min) {
    minPerRound = Math.max(0, min);
    reset();
  }

  /** Whether the rule is on: only then is a proposal's origin worth finding out. */
  boolean on() {
    return minPerRound > 0;
  }

  /** A proposal came in through member {@code origin}'s node (0: not known; not counted). */
  void count(int origin) {
    if (!on() || origin == 0) {
      return;
    }
    total++;
    counts.computeIfAbsent(origin, k -> new int[1])[0]++;
  }

  /**
   * Ends a round of a leader with id {@code self}: the member to hand leadership to now, or 0.
   */
  int endRound(int self) {
    int top = 0;
    int topCount = 0;
    for (Map.Entry<Integer, int[]> e : counts.entrySet()) {
      if (e.getValue()[0] > topCount) {
        top = e.getKey();
        topCount = e.getValue()[0];
      }
    }
    boolean dominant = on() && total >= minPerRound && top != self
        && (long) topCount * 100 >= (long) total * SHARE_PERCENT;
    counts.clear();
    total = 0;
    if (cooldown > 0) {
      cooldown--;
    }
    if (!dominant) {
      streak = 0;
      candidate = 0;
      return 0;
    }
    streak = top == candidate ? streak + 1 : 1;
    candidate = top;
    if (streak < ROUNDS || cooldown > 0) {
      return 0;
    }
    streak = 0;
    cooldown = COOLDOWN_ROUNDS;
    return top;
  }

  /** Not leading: what was counted no longer says anything (the cooldown stays). */
  void reset() {
    if (total > 0 || streak > 0) {
      counts.clear();
      total = 0;
      streak = 0;
      candidate = 0;
    }
  }
}
