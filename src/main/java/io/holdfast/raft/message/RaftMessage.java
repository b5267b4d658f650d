package io.holdfast.raft.message;

import java.util.List;

/**
 * Messages between the replicas of one Raft group. Every message carries the sender's term; a
 * replica that sees a higher term in anything but a pre-vote adopts it (and persists it, D2)
 * before it answers.
 */
public sealed interface RaftMessage {
  int from();

  int to();

  long term();

  /** The snapshot this message carries, if any (an InstallSnapshot's, or a RepairResult's): null otherwise. */
  default Snapshot snapshot() {
    return null;
  }

  /**
   * Vote request. With {@code preVote} the sender's term is not changed: it asks "would you vote for
   * me in {@code term}?" and only campaigns for real on a majority of yeses. {@code transfer} marks a
   * campaign started by {@link TimeoutNow}: voters then ignore their leader lease.
   */
  record RequestVote(int from, int to, long term, long lastLogIndex, long lastLogTerm, boolean preVote, boolean transfer)
      implements RaftMessage {}

  record RequestVoteResult(int from, int to, long term, boolean granted, boolean preVote) implements RaftMessage {}

  /** Entries after (prevLogIndex, prevLogTerm); empty lists are probes. */
  record AppendEntries(int from, int to, long term, long prevLogIndex, long prevLogTerm, List<LogEntry> entries,
      long leaderCommit) implements RaftMessage {
    public AppendEntries {
      entries = List.copyOf(entries);
    }

    public long lastIndex() {
      return prevLogIndex + entries.size();
    }
  }

  /**
   * Answer to {@link AppendEntries} and {@link InstallSnapshot}. On success {@code matchIndex} is the
   * highest index the follower has <em>persisted</em> and verified to match the leader (D1), which
   * may be lower than what the request carried; the follower sends another result when more is
   * persisted. On rejection, {@code rejectedPrevIndex} names the request's prevLogIndex (so stale
   * rejections can be ignored) and ({@code hintIndex}, {@code hintTerm}) let the leader skip back a
   * whole term at a time: the follower's term at the conflicting index and the first index it holds
   * of that term, or (lastIndex + 1, 0) if its log is too short. {@code damagedFrom} > 0 says the
   * follower's copy of that entry is damaged on disk (D6): whatever it acknowledged before, it must
   * be sent again from there. {@code snapshotNeeded} (with {@code damagedFrom} = its applied index
   * + 1) says its state machine cannot go on from its applied state and needs a snapshot past it,
   * not entries (see {@code RaftCore.needSnapshot}).
   */
  record AppendEntriesResult(int from, int to, long term, boolean success, long matchIndex, long rejectedPrevIndex,
      long hintIndex, long hintTerm, long damagedFrom, boolean snapshotNeeded) implements RaftMessage {
    public AppendEntriesResult(int from, int to, long term, boolean success, long matchIndex, long rejectedPrevIndex,
        long hintIndex, long hintTerm, long damagedFrom) {
      this(from, to, term, success, matchIndex, rejectedPrevIndex, hintIndex, hintTerm, damagedFrom, false);
    }
  }

  /** Leader liveness and commit propagation; {@code commit} is capped at what the follower matches. */
  record Heartbeat(int from, int to, long term, long commit) implements RaftMessage {}

  /** Answer to {@link Heartbeat}; carries the follower's persisted match so a lost append result costs nothing. */
  record HeartbeatResult(int from, int to, long term, long matchIndex) implements RaftMessage {}

  /** Sent instead of entries the leader has compacted away. Answered by {@link AppendEntriesResult}. */
  record InstallSnapshot(int from, int to, long term, Snapshot snapshot) implements RaftMessage {}

  /**
   * A leader whose own copy of entry ({@code index}, {@code entryTerm}) is damaged asks a member
   * for it (protocol-aware recovery, D6).
   */
  record RepairRequest(int from, int to, long term, long index, long entryTerm) implements RaftMessage {}

  /**
   * Answer to {@link RepairRequest}: {@code entry} if the member holds that exact (index, term)
   * intact; {@code snapshot} if the index is inside the member's snapshot (so it is committed, and
   * the snapshot can replace the damaged prefix); {@code absent} if its log affirmatively does not
   * contain it; none of these if it cannot tell (its own copy is damaged too).
   */
  record RepairResult(int from, int to, long term, long index, long entryTerm, LogEntry entry, Snapshot snapshot,
      boolean absent) implements RaftMessage {}

  /** Leader transfer: the receiver campaigns at once, skipping pre-vote. */
  record TimeoutNow(int from, int to, long term) implements RaftMessage {}

  /**
   * A replica its host retires asks ({@code granted} false) whether its removal is committed; a
   * leader whose committed membership does not hold the asker answers {@code granted} true. A
   * removed replica hears nothing more from the group (its leader stops writing to it at once), so
   * without this it cannot tell "removed" from "the group is down" — and a voter that leaves on a
   * mere silence can take with it the only intact copy of an entry (sim seed 998647310154). Neither
   * side adopts the other's term from it.
   *
   * <p>{@code membershipIndex} is, in the question, the index of the membership in force in the
   * asker's log, and in the answer, that of the leader's committed membership lacking the asker;
   * a leader answers only once it has committed an entry of its own term. The asker trusts an
   * answer if either (ids are never reused, so a membership that lost the asker never regains it):
   * <ul>
   *   <li>its index is at least the asker's: the committed history's membership as of that index
   *       lacks the asker, so the asker's membership entry is either in that history and since
   *       replaced, or not in it and dead; or
   *   <li>its term is newer than the asker's membership entry: that leader has committed an entry
   *       of its term, so an older entry it lacks past its commit index can never be committed,
   *       and one it holds is replaced by the membership it answers with.
   * </ul>
   * Not by the asker's own term: a removed replica's failed elections raise it past the group's,
   * whose leader it could then never believe (sim seed 910000103); nor can a leader of a higher
   * term vouch for an older entry adding the asker that it does not hold yet.
   *
   * <p>{@code asker} is the replica whose removal is in question. A follower relays a question to
   * the leader it follows: the asker only knows the members of the membership in its log, and the
   * group may since be led by a replica added after it fell behind (sim seed 89571861021 at five
   * replicas: the removed replica asked its old peers, all followers, and never retired). The
   * leader answers the asker directly.
   */
  record Leave(int from, int to, long term, boolean granted, int asker, long membershipIndex) implements RaftMessage {}
}
