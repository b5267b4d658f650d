package io.holdfast.raft;

import java.util.ArrayDeque;

/**
 * The leader's view of one follower (etcd's shape). PROBE: send one append per heartbeat until
 * the follower's position is found. REPLICATE: stream appends optimistically, at most
 * {@code inflightAppendsMax} unanswered. SNAPSHOT: an InstallSnapshot is outstanding.
 */
final class Progress {
  enum State { PROBE, REPLICATE, SNAPSHOT }

  State state = State.PROBE;
  /** Highest index the follower persisted and that matches our log (D1: only persisted counts). */
  long match;
  /** Highest index the follower accepted into its log (maybe not persisted yet). */
  long accepted;
  /** Next index to send. */
  long next;
  boolean probeSent;
  /** Heard from since the last check-quorum round. */
  boolean recentActive = true;
  long pendingSnapshotIndex;
  int ticksSinceSnapshotSent;
  /** Commit index last told to this follower. */
  long commitSent;
  /** Match and accepted at the previous heartbeat: neither moving across one while behind means stalled. */
  long matchAtLastHeartbeat = -1;
  long acceptedAtLastHeartbeat = -1;
  /** Last index of each unanswered append, oldest first. */
  final ArrayDeque<Long> inflights = new ArrayDeque<>();

  Progress(long next) {
    this.next = next;
  }

  void becomeProbe(long nextIndex) {
    state = State.PROBE;
    next = Math.max(match + 1, nextIndex);
    accepted = Math.min(accepted, next - 1); // whatever it accepted beyond that, it no longer has
    probeSent = false;
    inflights.clear();
  }

  void becomeReplicate() {
    state = State.REPLICATE;
    next = Math.max(next, Math.max(match, accepted) + 1);
    inflights.clear();
  }

  void becomeSnapshot(long snapshotIndex) {
    state = State.SNAPSHOT;
    pendingSnapshotIndex = snapshotIndex;
    ticksSinceSnapshotSent = 0;
    inflights.clear();
  }

  void freeInflightsTo(long index) {
    while (!inflights.isEmpty() && inflights.peekFirst() <= index) {
      inflights.pollFirst();
    }
  }

  boolean inflightsFull(int max) {
    return inflights.size() >= max;
  }
}
