package io.holdfast.raft;

import io.holdfast.base.Check;
import io.holdfast.base.Prng;
import io.holdfast.raft.log.RaftLog;
import io.holdfast.raft.message.EntryType;
import io.holdfast.raft.message.HardState;
import io.holdfast.raft.message.LogEntry;
import io.holdfast.raft.message.Membership;
import io.holdfast.raft.message.RaftMessage;
import io.holdfast.raft.message.RaftMessage.AppendEntries;
import io.holdfast.raft.message.RaftMessage.AppendEntriesResult;
import io.holdfast.raft.message.RaftMessage.Heartbeat;
import io.holdfast.raft.message.RaftMessage.HeartbeatResult;
import io.holdfast.raft.message.RaftMessage.InstallSnapshot;
import io.holdfast.raft.message.RaftMessage.RequestVote;
import io.holdfast.raft.message.RaftMessage.RequestVoteResult;
import io.holdfast.raft.message.RaftMessage.TimeoutNow;
import io.holdfast.raft.message.Snapshot;
import io.holdfast.raft.message.SnapshotMeta;
import io.holdfast.raft.quorum.Quorum;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * Raft for one replica of one group. Single-threaded and deterministic: the same calls in the
 * same order give the same outputs. No clocks (time is {@link #tick()}), no I/O, no threads;
 * randomness only from the injected {@link Prng}. Effects come out of {@link #ready()}.
 *
 * <p>Durability rules it keeps (DESIGN.md D1–D3), with storage asynchronous as in etcd's
 * async-storage mode:
 * <ul>
 *   <li>A follower reports as matched only entries it has persisted ({@link #persistedIndex()});
 *       when more become durable it tells the leader again.</li>
 *   <li>Any message sent while the current (term, vote) is not yet durable waits for the persist
 *       request that makes it durable ({@link PersistRequest#messagesAfterPersist()}). That covers
 *       vote grants, vote requests, and every answer in a newly adopted term.</li>
 *   <li>A candidate counts its own vote only once that vote is durable.</li>
 *   <li>The leader counts itself toward a quorum only up to its own persisted index, and commits
 *       by counting only entries of its current term.</li>
 * </ul>
 *
 * <p>Damaged entries (D6, D7): storage may recover entries whose payload failed its checksum but
 * whose (index, term) is verified. The log holds them as placeholders ({@link #restart} gets them
 * as {@code faulty}). Such a replica never applies or sends them, never claims them as matched
 * (nor, as leader, counts itself past them), and votes only on verified identities. As a
 * follower it rejects appends beyond its first faulty entry so the leader resends from there, and
 * repairs each payload from the leader's copy (written back with {@link PersistRequest#repaired()},
 * which truncates nothing). A replica whose snapshot's data is damaged (D8) applies nothing and
 * never sends that snapshot until a peer's covering one replaces it. As a leader it asks the
 * members for its first faulty entry
 * ({@link RepairRequest}); once enough voters affirmatively answer that they do not hold it that
 * it cannot have been committed ({@link #cannotHaveBeenCommitted}), and the leader discards it
 * and everything after it, and steps down (CTRL, FAST'18). A damaged replica may therefore lead without ever imposing its damage (D7).
 *
 * <p>A lost tail (D6, D7): when storage finds that a synced tail of the node's log was cut off and
 * cannot say whose records it held, every replica on the node may have lost entries it
 * acknowledged and votes it granted, in terms up to the highest term the node ever synced
 * ({@code lostTailTerm}, kept outside the log). Such a replica moves to the term after it (so a
 * leader of that term steps down, and acknowledgements sent before the loss can no longer count),
 * and until it has persisted an entry of a later term — which only a leader elected without it can
 * send, and which comes after every entry committed before the loss (Log Matching) — it does not
 * vote, campaign, take a leadership transfer, or tell a repairing leader that it lacks an entry.
 * It does follow and acknowledge: what it persists now, it holds. A sole voter has nobody to
 * recover from and carries on.
 */
public final class RaftCore {
  public enum Role { FOLLOWER, PRE_CANDIDATE, CANDIDATE, LEADER }

  private final RaftSettings settings;
  private final int self;
  private final Prng prng;
  private final RaftLog log;

  private Role role = Role.FOLLOWER;
  private long term;
  private int votedFor;
  private int leaderId;
  private Membership membership;
  /** See {@link #leaveGranted()}. */
  private boolean leaveGranted;
  private long commitIndex;
  private long appliedIndex;

  private int electionElapsed;
  private int heartbeatElapsed;
  private int randomizedElectionTimeout;

  /** Candidate and pre-candidate: votes received in this campaign. */
  private final TreeMap<Integer, Boolean> votes = new TreeMap<>();
  /** Leader: one progress per other member, ordered by id for determinism. */
  private final TreeMap<Integer, Progress> progress = new TreeMap<>();
  private long leaderFirstIndex;
  private long pendingMembershipIndex;
  private int leadTransferee;

  /** Follower: highest index verified to match the current leader's log (reset every term). */
  private long matchedLeaderIndex;
  /** Follower: last match reported to the leader in this term. */
  private long lastReportedMatch;
  /** Follower: the highest commit index the leader of this term has sent (reset every term). */
  private long leaderCommitHeard;

  /** Entries whose payload is unknown (failed its checksum): index → term. */
  private final TreeMap<Long, Long> faulty = new TreeMap<>();
  /** Set by the host: see {@link #setStoreDamaged}. */
  private boolean storeDamaged;
  /** Set by the host: see {@link #needSnapshot}; cleared once a snapshot past the applied index is taken. */
  private boolean snapshotNeeded;
  /** Set by the host: see {@link #holdApply}. */
  private boolean applyHeld;
  /** Non-zero while recovering from a lost tail: see the class comment. */
  private long lostTailTerm;
  /** Repaired entries not yet durable: index → id of the persist request carrying them (0: not issued). */
  private final TreeMap<Long, Long> repairing = new TreeMap<>();
  private final ArrayList<LogEntry> repairsToPersist = new ArrayList<>();
  /**
   * Our snapshot's data is damaged (D8): its identity is known, our state machine has no base.
   * We apply nothing and never send it until a peer's snapshot covering it replaces it.
   */
  private boolean snapshotDamaged;
  /** A peer needs a snapshot covering what we applied: ask the host for one (Ready.snapshotRequested). */
  private boolean snapshotRequested;
  /** Leader: voters that affirmatively lack our first faulty entry. */
  private final java.util.TreeSet<Integer> absentVotes = new java.util.TreeSet<>();

  // --- persistence bookkeeping -------------------------------------------------------------
  private HardState durableHardState;
  private HardState requestedHardState;
  /** Lowest index changed in memory and not yet put into a persist request (MAX_VALUE: none). */
  private long unstableFrom = Long.MAX_VALUE;
  private Snapshot snapshotToPersist;
  private Snapshot latestSnapshot;
  private final ArrayDeque<Pending> outstanding = new ArrayDeque<>();
  private long diskLastIndex;
  private long nextRequestId = 1;

  // --- outputs -------------------------------------------------------------------------------
  private final ArrayList<RaftMessage> messages = new ArrayList<>();
  private final ArrayList<RaftMessage> messagesAfterPersist = new ArrayList<>();
  private Snapshot snapshotToApply;
  private boolean appendsPending;

  /** A persist request issued and not yet reported durable. */
  private record Pending(long id, HardState hardState, long snapshotIndex, long truncatesFrom, long diskLastAfter) {}

  private RaftCore(RaftSettings settings, int self, Snapshot snapshot, Prng prng) {
    Check.that(self > 0, "replica ids are positive");
    this.settings = settings;
    this.self = self;
    this.prng = prng;
    this.log = new RaftLog(snapshot.meta());
    this.latestSnapshot = snapshot;
  }

  /**
   * A replica starting from what its storage recovered: hard state, the latest snapshot (a new
   * group's replicas start from {@link Snapshot#initial} with the initial membership; a replica
   * joining later starts from an initial snapshot with {@link Membership#EMPTY}) and the entries
   * after it. The host restores its state machine from the same snapshot.
   */
  public static RaftCore restart(
      RaftSettings settings, int self, HardState hardState, Snapshot snapshot, List<LogEntry> entries, Prng prng) {
    return restart(settings, self, hardState, snapshot, entries, new TreeMap<>(), prng);
  }

  /**
   * As above, with the entries storage found damaged: index → term of entries in {@code entries}
   * whose payload failed its checksum (present as placeholders with their verified identity).
   */
  public static RaftCore restart(RaftSettings settings, int self, HardState hardState, Snapshot snapshot,
      List<LogEntry> entries, java.util.SortedMap<Long, Long> faulty, Prng prng) {
    return restart(settings, self, hardState, snapshot, entries, faulty, false, prng);
  }

  /**
   * As above; {@code snapshotDamaged} says the snapshot's data failed its checksum (its identity
   * is verified): the replica fetches a covering snapshot from a peer before it applies anything.
   */
  public static RaftCore restart(RaftSettings settings, int self, HardState hardState, Snapshot snapshot,
      List<LogEntry> entries, java.util.SortedMap<Long, Long> faulty, boolean snapshotDamaged, Prng prng) {
    return restart(settings, self, hardState, snapshot, entries, faulty, snapshotDamaged, 0, prng);
  }

  /**
   * As above; {@code lostTailTerm} &gt; 0: storage lost a synced tail it could not attribute, and
   * this replica's terms and votes up to that term may be gone with it (see the class comment).
   */
  public static RaftCore restart(RaftSettings settings, int self, HardState hardState, Snapshot snapshot,
      List<LogEntry> entries, java.util.SortedMap<Long, Long> faulty, boolean snapshotDamaged, long lostTailTerm,
      Prng prng) {
    RaftCore core = new RaftCore(settings, self, snapshot, prng);
    core.faulty.putAll(faulty);
    core.snapshotDamaged = snapshotDamaged && snapshot.index() > 0; // an empty initial state cannot be damaged
    for (LogEntry e : entries) {
      if (e.index() > snapshot.index()) {
        core.log.append(e);
      }
    }
    core.membership = core.log.latestMembership();
    core.commitIndex = snapshot.index();
    core.appliedIndex = snapshot.index();
    core.diskLastIndex = core.log.lastIndex();
    core.durableHardState = hardState;
    core.requestedHardState = hardState;
    // The log cannot hold a term above the current one. If the stored hard state is behind the log
    // (a torn write kept entries but not the term and vote written with them), take the log's term
    // and assume we voted in it for someone we cannot name: abstain rather than risk voting twice (D7).
    // A lost tail may have held any term up to lostTailTerm, and a vote in it: go past it, so
    // that a leader of that term steps down and the one elected next (without us) has a later
    // term, whose entries end the recovery; results we sent before the loss are then stale.
    core.term = Math.max(Math.max(hardState.term(), core.log.lastTerm()), lostTailTerm > 0 ? lostTailTerm + 1 : 0);
    core.votedFor = core.term == hardState.term() ? hardState.votedFor() : HardState.VOTE_UNKNOWN;
    core.lostTailTerm = core.log.lastTerm() > lostTailTerm ? 0 : lostTailTerm;
    core.becomeFollower(core.term, 0);
    // The first wait after a start is [T/2, T), not [T, 2T). After a whole-cluster restart nobody
    // leads, and every group (the meta group first, then each stream, once its node registered)
    // waited out a full timeout before electing: seconds of a power cut's unavailability. A
    // replica started into a live group hears its leader's heartbeat long before T/2, and pre-vote
    // with check-quorum keeps an early campaign from disturbing anyone.
    int half = Math.max(1, settings.electionTimeoutTicks() / 2);
    core.randomizedElectionTimeout = half + prng.nextInt(half);
    return core;
  }

  // =========================================================================================
  // Inputs
  // =========================================================================================

  /** One logical tick. */
  public void tick() {
    if (role == Role.LEADER) {
      tickLeader();
    } else {
      tickElection();
    }
  }

  /** A message from a peer. */
  public void step(RaftMessage m) {
    if (m.to() != self) {
      return;
    }
    if (m instanceof RaftMessage.Leave l) {
      onLeave(l); // outside the term rules: a removed replica's term must not depose anyone
      return;
    }
    if (m.term() > term) {
      if (!adoptHigherTerm(m)) {
        return;
      }
    } else if (m.term() < term) {
      answerStale(m);
      return;
    }
    if (m instanceof RequestVote rv) {
      onRequestVote(rv);
    } else if (m instanceof RequestVoteResult r) {
      onRequestVoteResult(r);
    } else if (m instanceof AppendEntries ae) {
      onAppendEntries(ae);
    } else if (m instanceof Heartbeat hb) {
      onHeartbeat(hb);
    } else if (m instanceof InstallSnapshot is) {
      onInstallSnapshot(is);
    } else if (m instanceof AppendEntriesResult r) {
      onAppendEntriesResult(r);
    } else if (m instanceof HeartbeatResult r) {
      onHeartbeatResult(r);
    } else if (m instanceof TimeoutNow t) {
      onTimeoutNow(t);
    } else if (m instanceof RaftMessage.RepairRequest r) {
      onRepairRequest(r);
    } else if (m instanceof RaftMessage.RepairResult r) {
      onRepairResult(r);
    }
  }

  /** Appends a command if this replica leads. Acknowledge it to the client only once applied. */
  public ProposeResult propose(byte[] command) {
    ProposeResult.Rejected refused = refuseProposal();
    if (refused != null) {
      return refused;
    }
    return appendAsLeader(EntryType.COMMAND, command);
  }

  /** Adds a non-voting member that will receive the log. */
  public ProposeResult addLearner(int id) {
    if (membership.contains(id)) {
      return new ProposeResult.Rejected(ProposeResult.Reason.INVALID_MEMBERSHIP_CHANGE, leaderId);
    }
    return proposeMembership(membership.withLearner(id));
  }

  /** Makes a learner a voter. */
  public ProposeResult promote(int id) {
    if (!membership.learners().contains(id)) {
      return new ProposeResult.Rejected(ProposeResult.Reason.INVALID_MEMBERSHIP_CHANGE, leaderId);
    }
    return proposeMembership(membership.promoted(id));
  }

  /** Removes a voter or learner (possibly this leader itself: it steps down once that commits). */
  public ProposeResult remove(int id) {
    if (!membership.contains(id) || (membership.isVoter(id) && membership.voters().size() == 1)) {
      return new ProposeResult.Rejected(ProposeResult.Reason.INVALID_MEMBERSHIP_CHANGE, leaderId);
    }
    return proposeMembership(membership.without(id));
  }

  /**
   * A replica its host retires, hearing no leader, asks the other members of the membership in its
   * log whether its removal is committed (see {@link RaftMessage.Leave}). The answer sets
   * {@link #leaveGranted}; no answer means it stays, for it may still be needed.
   */
  public void askToLeave() {
    for (int member : membership.members()) {
      if (member != self) {
        send(new RaftMessage.Leave(self, member, term, false, self, log.lastMembershipIndex()));
      }
    }
  }

  /** Hands leadership to {@code target}: it is brought up to date, then told to campaign at once. */
  public boolean transferLeadership(int target) {
    if (role != Role.LEADER || target == self || !membership.isVoter(target) || !progress.containsKey(target)) {
      return false;
    }
    leadTransferee = target; // abandoned if not done by the next check-quorum round
    Progress pr = progress.get(target);
    if (pr.match == log.lastIndex()) {
      send(new TimeoutNow(self, target, term));
    } else {
      sendAppend(target, pr);
    }
    return true;
  }

  /**
   * The host's state machine up to {@code index} (already applied) is captured in {@code data}:
   * drop the log up to there. The snapshot is persisted and sent to followers that need it.
   */
  public void compact(long index, byte[] data) {
    Check.that(index <= appliedIndex, "compact beyond applied: %d > %d", index, appliedIndex);
    if (index <= log.snapshotIndex()) {
      return;
    }
    SnapshotMeta meta = new SnapshotMeta(index, log.term(index), log.membershipAt(index));
    log.compact(meta);
    latestSnapshot = new Snapshot(meta, data);
    snapshotToPersist = latestSnapshot;
  }

  /** Storage made {@code request} durable. Requests must be reported in the order issued. */
  public void onPersisted(PersistRequest request) {
    Pending head = outstanding.pollFirst();
    Check.that(head != null && head.id() == request.id(), "persist completions out of order: got %d, expected %d"
        + " (-1: none outstanding)", request.id(), head == null ? -1 : head.id());
    if (head.hardState() != null) {
      durableHardState = head.hardState();
    }
    if (head.snapshotIndex() > 0) {
      diskLastIndex = Math.max(diskLastIndex, head.snapshotIndex());
    }
    if (head.truncatesFrom() != Long.MAX_VALUE) {
      diskLastIndex = head.diskLastAfter();
    }
    repairing.values().removeIf(id -> id != 0 && id <= head.id());
    if (lostTailTerm > 0 && log.term(persistedIndex()) > lostTailTerm) {
      lostTailTerm = 0; // holds what a leader elected without us holds: everything committed before the loss
    }
    if (role == Role.CANDIDATE && durableHardState.term() == term && durableHardState.votedFor() == self
        && !votes.containsKey(self)) {
      votes.put(self, true);
      checkElection(false);
    }
    if (role == Role.LEADER) {
      if (maybeCommit()) {
        appendsPending = true;
      }
    } else if (leaderId != 0) {
      reportMatchIfAdvanced();
    }
  }

  // =========================================================================================
  // Output
  // =========================================================================================

  public boolean hasReady() {
    return !messages.isEmpty()
        || !messagesAfterPersist.isEmpty()
        || appendsPending
        || snapshotToApply != null
        || snapshotToPersist != null
        || unstableFrom != Long.MAX_VALUE
        || !repairsToPersist.isEmpty()
        || !isCurrent(requestedHardState)
        || appliedIndex < applicableIndex()
        || snapshotRequested;
  }

  /** Drains everything the core wants done; see {@link Ready} for the order. */
  public Ready ready() {
    if (role == Role.LEADER && appendsPending) {
      flushAppends();
    }
    appendsPending = false;
    PersistRequest persist = buildPersistRequest();
    List<RaftMessage> now = new ArrayList<>(messages);
    messages.clear();
    Snapshot restored = snapshotToApply;
    snapshotToApply = null;
    List<LogEntry> committed = List.of();
    long applicable = applicableIndex();
    if (appliedIndex < applicable) {
      long from = Math.max(appliedIndex + 1, log.firstIndex());
      committed = log.slice(from, applicable, settings.applyEntriesMax(), Long.MAX_VALUE);
      appliedIndex = committed.get(committed.size() - 1).index();
      Check.that(appliedIndex <= commitIndex, "applied %d beyond commit %d", appliedIndex, commitIndex);
    }
    boolean wantSnapshot = snapshotRequested;
    snapshotRequested = false;
    return new Ready(persist, now, restored, committed, wantSnapshot);
  }

  /** Committed, and applicable: never past a damaged entry, and nothing without an intact base. */
  private long applicableIndex() {
    if (snapshotDamaged || applyHeld) {
      return appliedIndex;
    }
    return faulty.isEmpty() ? commitIndex : Math.min(commitIndex, faulty.firstKey() - 1);
  }

  private PersistRequest buildPersistRequest() {
    HardState hs = isCurrent(requestedHardState) ? null : currentHardState();
    long entriesFrom = 0;
    List<LogEntry> entries = List.of();
    if (unstableFrom != Long.MAX_VALUE) {
      entriesFrom = Math.max(unstableFrom, log.firstIndex());
      entries = entriesFrom <= log.lastIndex()
          ? log.slice(entriesFrom, log.lastIndex(), Integer.MAX_VALUE, Long.MAX_VALUE)
          : List.of();
    }
    Snapshot snapshot = snapshotToPersist;
    if (hs == null && entriesFrom == 0 && snapshot == null && repairsToPersist.isEmpty() && messagesAfterPersist.isEmpty()) {
      return null;
    }
    long id = nextRequestId++;
    for (LogEntry e : repairsToPersist) {
      repairing.replace(e.index(), 0L, id);
    }
    long diskLastAfter = entries.isEmpty() ? entriesFrom - 1 : entries.get(entries.size() - 1).index();
    outstanding.addLast(new Pending(id, hs, snapshot == null ? 0 : snapshot.index(), unstableFrom, diskLastAfter));
    PersistRequest request = new PersistRequest(id, hs, snapshot, entriesFrom, entries, repairsToPersist,
        messagesAfterPersist);
    repairsToPersist.clear();
    if (hs != null) {
      requestedHardState = hs;
    }
    unstableFrom = Long.MAX_VALUE;
    snapshotToPersist = null;
    messagesAfterPersist.clear();
    return request;
  }

  // =========================================================================================
  // Queries
  // =========================================================================================

  public int id() {
    return self;
  }

  public Role role() {
    return role;
  }

  public long term() {
    return term;
  }

  public int leaderId() {
    return leaderId;
  }

  /**
   * Whether this replica leads, or has heard from its leader within an election timeout. A
   * follower that may not campaign (it is not a voter in its own log, e.g. a removed one) keeps
   * the id of the last leader it heard forever; this says whether that leader still talks to it.
   */
  public boolean hearsLeader() {
    return role == Role.LEADER || leaderId != 0 && electionElapsed < settings.electionTimeoutTicks();
  }

  public long commitIndex() {
    return commitIndex;
  }

  public long appliedIndex() {
    return appliedIndex;
  }

  public long lastIndex() {
    return log.lastIndex();
  }

  /**
   * How far one member is behind this leader: {@code entries} after its match index; {@code bytes}
   * of those this leader's log still holds (what it can send as appends); {@code snapshot} when it
   * needs, or is being sent, a snapshot instead (its match is below this log's start).
   */
  public record FollowerLag(int id, long match, long entries, long bytes, boolean snapshot) {}

  /** Leader: each other member's lag; empty on a replica that does not lead. */
  public List<FollowerLag> followerLags() {
    if (role != Role.LEADER) {
      return List.of();
    }
    List<FollowerLag> out = new ArrayList<>();
    for (var e : progress.entrySet()) {
      if (e.getKey() == self) {
        continue;
      }
      Progress pr = e.getValue();
      boolean snapshot = pr.state == Progress.State.SNAPSHOT || pr.match < log.snapshotIndex();
      out.add(new FollowerLag(e.getKey(), pr.match, Math.max(0, log.lastIndex() - pr.match),
          log.bytesAfter(Math.max(pr.match, log.snapshotIndex())), snapshot));
    }
    return out;
  }

  /** The index the log starts after: its latest snapshot's. */
  public long snapshotIndex() {
    return log.snapshotIndex();
  }

  /** Leader: the highest index member {@code id} persisted that matches this log; -1 if not known here. */
  public long matchIndex(int id) {
    Progress pr = role == Role.LEADER ? progress.get(id) : null;
    return pr == null ? -1 : pr.match;
  }

  /**
   * Whether every other member's log matches this leader's up to {@code index} (true on a replica
   * that does not lead): compacting up to it then sends nobody a snapshot.
   */
  public boolean othersMatch(long index) {
    if (role != Role.LEADER) {
      return true;
    }
    for (var e : progress.entrySet()) {
      if (e.getKey() != self && e.getValue().match < index) {
        return false;
      }
    }
    return true;
  }

  public long firstIndex() {
    return log.firstIndex();
  }

  public Membership membership() {
    return membership;
  }

  /**
   * Whether reads from the applied state are current: this replica leads and has committed and
   * applied an entry of its own term. A new leader does not know how far the log is committed
   * until then (Raft §8); its applied state can be far behind — after a whole-cluster restart,
   * empty.
   */
  public boolean leaderReadable() {
    return role == Role.LEADER && termAt(commitIndex) == term && appliedIndex >= commitIndex;
  }

  /**
   * Whether this replica's applied state is as current as its leader's was a heartbeat ago: it is
   * {@link #leaderReadable}, or it follows a leader it hears, has committed and applied everything
   * that leader said is committed, and that is an entry of the leader's own term (so the leader
   * knew how far the log is committed). A replica just restarted fails this until its leader has
   * caught it up: its applied state can be far behind what the group committed (found by the fault
   * campaign: a node started after a power cut took its own meta replica's recovered state for the
   * cluster's, and answered publishes to an existing stream with "no stream"). A follower cut off
   * for a while may pass for one round trip after it hears its leader again (a heartbeat carries
   * only the commit index the follower matches; the append that follows carries the leader's).
   */
  public boolean readable() {
    if (role == Role.LEADER) {
      return leaderReadable();
    }
    return role == Role.FOLLOWER && hearsLeader() && commitIndex >= leaderCommitHeard && termAt(commitIndex) == term
        && appliedIndex >= commitIndex;
  }

  /**
   * Whether a leader answered {@link #askToLeave} with a committed membership, at least as new as
   * the one in this replica's log, that lacks it: the group no longer holds this replica, and never
   * will again (ids are not reused).
   */
  public boolean leaveGranted() {
    return leaveGranted;
  }

  /** The index of the membership in force (its entry's, or the snapshot's if it came with one). */
  public long membershipIndex() {
    return log.lastMembershipIndex();
  }

  /** Whether the membership in force is committed (no change is pending). */
  public boolean membershipCommitted() {
    return log.lastMembershipIndex() <= commitIndex;
  }

  public HardState hardState() {
    return currentHardState();
  }

  /** Entries still held in memory in [from, to], for checkers and diagnostics. */
  public List<LogEntry> entries(long from, long to) {
    long start = Math.max(from, log.firstIndex());
    if (start > Math.min(to, log.lastIndex())) {
      return List.of();
    }
    return log.slice(start, to, Integer.MAX_VALUE, Long.MAX_VALUE);
  }

  /** Whether our snapshot's data is damaged and not yet replaced by a peer's. */
  public boolean snapshotDamaged() {
    return snapshotDamaged;
  }

  /** Entries whose payload is still unknown (index → term); empty for a healthy replica. */
  public java.util.SortedMap<Long, Long> faulty() {
    return java.util.Collections.unmodifiableSortedMap(faulty);
  }

  public long termAt(long index) {
    return log.term(index);
  }

  /**
   * The highest index whose entry is durable on this replica and equal to the one in memory:
   * everything written by completed requests, minus what a later request (issued or not yet
   * issued) will rewrite.
   */
  public long persistedIndex() {
    long p = Math.min(diskLastIndex, log.lastIndex());
    if (unstableFrom != Long.MAX_VALUE) {
      p = Math.min(p, unstableFrom - 1);
    }
    for (Pending pending : outstanding) {
      if (pending.truncatesFrom() != Long.MAX_VALUE) {
        p = Math.min(p, pending.truncatesFrom() - 1);
      }
    }
    return p;
  }

  // =========================================================================================
  // Roles
  // =========================================================================================

  private void becomeFollower(long newTerm, int leader) {
    if (newTerm != term) {
      term = newTerm;
      votedFor = HardState.NO_VOTE;
      matchedLeaderIndex = 0;
      lastReportedMatch = 0;
      leaderCommitHeard = 0;
    }
    role = Role.FOLLOWER;
    leaderId = leader;
    votes.clear();
    progress.clear();
    absentVotes.clear();
    leadTransferee = 0;
    resetTimers();
  }

  private void becomePreCandidate() {
    role = Role.PRE_CANDIDATE;
    leaderId = 0;
    votes.clear();
    votes.put(self, true); // a pre-vote promises nothing, so nothing needs persisting first
    resetTimers();
    if (!checkElection(true)) {
      for (int voter : membership.voters()) {
        if (voter != self) {
          send(new RequestVote(self, voter, term + 1, log.lastIndex(), log.lastTerm(), true, false));
        }
      }
    }
  }

  private void becomeCandidate(boolean transfer) {
    role = Role.CANDIDATE;
    term++;
    votedFor = self;
    leaderId = 0;
    matchedLeaderIndex = 0;
    lastReportedMatch = 0;
    leaderCommitHeard = 0;
    votes.clear(); // our own vote counts once it is durable (onPersisted)
    resetTimers();
    for (int voter : membership.voters()) {
      if (voter != self) {
        send(new RequestVote(self, voter, term, log.lastIndex(), log.lastTerm(), false, transfer));
      }
    }
  }

  private void becomeLeader() {
    role = Role.LEADER;
    leaderId = self;
    leadTransferee = 0;
    votes.clear();
    progress.clear();
    for (int member : membership.members()) {
      if (member != self) {
        progress.put(member, new Progress(log.lastIndex() + 1));
      }
    }
    // Any membership entry still uncommitted in our log counts as pending (etcd does the same).
    pendingMembershipIndex = log.lastIndex();
    appendEntry(EntryType.NOOP, new byte[0]);
    leaderFirstIndex = log.lastIndex();
    resetTimers();
    absentVotes.clear();
    requestRepair();
  }

  private void resetTimers() {
    electionElapsed = 0;
    heartbeatElapsed = 0;
    randomizedElectionTimeout = settings.electionTimeoutTicks() + prng.nextInt(settings.electionTimeoutTicks());
  }

  /**
   * Election timeouts a store-damaged voter waits without hearing a leader before it campaigns
   * after all. The replicas that could repair its store may be unable to lead either (sim seed
   * 123000000370: two replicas lacked a message in their stores, the third held it only in log
   * entries it had not applied and was too far behind to be elected, so nobody led and nobody
   * repaired). Such a leader applies nothing until repaired ({@code holdApply}), so it acks
   * nothing, and it sends no snapshot ({@link #sendAppend}); it does replicate and commit its log,
   * which lets the replica holding the message apply it and serve the repair.
   */
  static final int STORE_DAMAGED_PATIENCE = 4;

  private boolean promotable() {
    return promotable(false);
  }

  /** {@code patienceOver}: a store-damaged voter may campaign after all ({@link #STORE_DAMAGED_PATIENCE}). */
  private boolean promotable(boolean patienceOver) {
    return membership.isVoter(self) && !recoveringLostTail()
        && !(storeDamaged && membership.voters().size() > 1 && !patienceOver);
  }

  /**
   * The host's state machine store lacks messages this replica has applied (damaged, or not yet
   * caught up): until it says otherwise, the replica takes no leadership transfer and campaigns
   * only once no leader has come for {@link #STORE_DAMAGED_PATIENCE} election timeouts, so a
   * replica that cannot serve committed data leads only when nobody else can (D7). It still votes
   * and follows. A sole voter has nobody else to lead and carries on.
   */
  public void setStoreDamaged(boolean damaged) {
    storeDamaged = damaged;
  }

  public boolean storeDamaged() {
    return storeDamaged;
  }

  /**
   * The host cannot apply more for now (its state machine's store lacks what applying may need):
   * committed entries wait, and are handed out once it says otherwise. Nothing else changes.
   */
  public void holdApply(boolean held) {
    applyHeld = held;
  }

  /**
   * The host's state machine cannot go on from its applied state: applying needs facts its store
   * lost and no peer holds any more (the stream deleted those messages everywhere since). A
   * follower then tells its leader, with every heartbeat and append answer, that it needs a
   * snapshot past its applied index; the leader sends one (taking it first if its own is older),
   * and this core takes it in place of its applied state, keeping the log entries after it.
   */
  public void needSnapshot() {
    snapshotNeeded = true;
  }

  public boolean snapshotNeeded() {
    return snapshotNeeded;
  }

  /** Recovering from a lost tail (see the class comment): no votes, no campaigns, no "absent" answers. */
  public boolean recoveringLostTail() {
    return lostTailTerm > 0 && !(membership.voters().size() == 1 && membership.isVoter(self));
  }

  private void tickElection() {
    electionElapsed++;
    if (promotable(electionElapsed >= STORE_DAMAGED_PATIENCE * randomizedElectionTimeout)
        && electionElapsed >= randomizedElectionTimeout) {
      electionElapsed = 0;
      if (settings.preVote()) {
        becomePreCandidate();
      } else {
        becomeCandidate(false);
      }
    }
  }

  private void tickLeader() {
    heartbeatElapsed++;
    electionElapsed++;
    if (electionElapsed >= settings.electionTimeoutTicks()) {
      electionElapsed = 0;
      if (settings.checkQuorum() && !quorumActive()) {
        becomeFollower(term, 0);
        return;
      }
      leadTransferee = 0; // a transfer that did not finish within an election timeout is abandoned
    }
    if (heartbeatElapsed >= settings.heartbeatIntervalTicks()) {
      heartbeatElapsed = 0;
      broadcastHeartbeat();
      requestRepair();
    }
  }

  /** Check-quorum: have we heard from a majority of voters since the last round? Resets the round. */
  private boolean quorumActive() {
    int active = 0;
    for (int voter : membership.voters()) {
      if (voter == self) {
        active++;
        continue;
      }
      Progress pr = progress.get(voter);
      if (pr != null && pr.recentActive) {
        active++;
      }
    }
    for (Progress pr : progress.values()) {
      pr.recentActive = false;
    }
    return active >= membership.quorum();
  }

  // =========================================================================================
  // Term rules
  // =========================================================================================

  /** A message from a higher term. Returns whether to go on handling it. */
  private boolean adoptHigherTerm(RaftMessage m) {
    if (m instanceof RequestVote rv) {
      boolean inLease = settings.checkQuorum() && leaderId != 0
          && electionElapsed < settings.electionTimeoutTicks() && !rv.transfer();
      if (inLease) {
        return false; // we hear a leader: a partitioned replica must not disrupt it
      }
      if (!rv.preVote()) {
        becomeFollower(m.term(), 0);
      }
      return true;
    }
    if (m instanceof RequestVoteResult r && r.preVote() && r.granted()) {
      return true; // a pre-vote grant carries the term we would campaign in
    }
    boolean fromLeader = m instanceof AppendEntries || m instanceof Heartbeat || m instanceof InstallSnapshot;
    becomeFollower(m.term(), fromLeader ? m.from() : 0);
    return true;
  }

  /** A message from a lower term: tell a stale leader or candidate our term so it steps down. */
  private void answerStale(RaftMessage m) {
    if (m instanceof AppendEntries || m instanceof Heartbeat || m instanceof InstallSnapshot) {
      send(new HeartbeatResult(self, m.from(), term, 0));
    } else if (m instanceof RequestVote rv) {
      send(new RequestVoteResult(self, m.from(), term, false, rv.preVote()));
    }
  }

  // =========================================================================================
  // Elections
  // =========================================================================================

  private void onLeave(RaftMessage.Leave l) {
    if (!l.granted()) {
      // Only a leader knows that nothing newer re-adds the asker, and only a committed removal is final.
      // Committed in our term: no entry of an older term past our commit index can be committed
      // any more, which the asker relies on (see RaftMessage.Leave).
      if (role == Role.LEADER && membershipCommitted() && termAt(commitIndex) == term
          && !membership.contains(l.asker())) {
        send(new RaftMessage.Leave(self, l.asker(), term, true, l.asker(), log.lastMembershipIndex()));
      } else if (role != Role.LEADER && l.from() == l.asker() && leaderId != 0 && leaderId != self
          && !membership.contains(l.asker())) {
        send(new RaftMessage.Leave(self, leaderId, term, false, l.asker(), l.membershipIndex())); // relayed once
      }
    } else if (l.asker() == self && (l.membershipIndex() >= log.lastMembershipIndex()
        || l.term() > log.term(log.lastMembershipIndex()))) {
      leaveGranted = true; // see RaftMessage.Leave for why these two, and why not our own term
    }
  }

  private void onRequestVote(RequestVote rv) {
    boolean canVote = rv.preVote()
        ? rv.term() > term
        : votedFor == rv.from() || (votedFor == HardState.NO_VOTE && leaderId == 0);
    canVote &= !recoveringLostTail();
    boolean upToDate = rv.lastLogTerm() > log.lastTerm()
        || (rv.lastLogTerm() == log.lastTerm() && rv.lastLogIndex() >= log.lastIndex());
    // Whether we are a voter in our own view does not matter: we may have been promoted by an
    // entry we have not received yet, and refusing would deadlock the group. The candidate counts
    // only the votes of the voters it knows.
    if (canVote && upToDate) {
      if (!rv.preVote()) {
        votedFor = rv.from();
        electionElapsed = 0;
      }
      send(new RequestVoteResult(self, rv.from(), rv.preVote() ? rv.term() : term, true, rv.preVote()));
    } else {
      send(new RequestVoteResult(self, rv.from(), term, false, rv.preVote()));
    }
  }

  private void onRequestVoteResult(RequestVoteResult r) {
    if (r.preVote()) {
      if (role != Role.PRE_CANDIDATE || (r.granted() && r.term() != term + 1)) {
        return;
      }
    } else if (role != Role.CANDIDATE) {
      return;
    }
    if (!membership.isVoter(r.from())) {
      return;
    }
    votes.put(r.from(), r.granted());
    checkElection(r.preVote());
  }

  /** Returns true if the campaign was decided. */
  private boolean checkElection(boolean preVote) {
    Quorum.VoteResult result = Quorum.tally(membership.voters(), votes);
    if (result == Quorum.VoteResult.WON) {
      if (preVote) {
        becomeCandidate(false);
      } else {
        becomeLeader();
      }
      return true;
    }
    if (result == Quorum.VoteResult.LOST) {
      becomeFollower(term, 0);
      return true;
    }
    return false;
  }

  private void onTimeoutNow(TimeoutNow t) {
    if (role == Role.FOLLOWER && promotable()) {
      becomeCandidate(true);
    }
  }

  // =========================================================================================
  // Follower side of replication
  // =========================================================================================

  private void followLeader(int from) {
    if (role != Role.FOLLOWER) {
      Check.that(role != Role.LEADER, "two leaders in term %d: %d and %d", term, self, from);
      becomeFollower(term, from);
    }
    leaderId = from;
    electionElapsed = 0;
  }

  private void onAppendEntries(AppendEntries ae) {
    followLeader(ae.from());
    leaderCommitHeard = Math.max(leaderCommitHeard, ae.leaderCommit());
    long prev = ae.prevLogIndex();
    long prevTerm = ae.prevLogTerm();
    List<LogEntry> entries = ae.entries();
    if (prev < log.snapshotIndex()) {
      // Our snapshot covers committed entries, which every leader's log holds: skip them.
      int skip = (int) Math.min(entries.size(), log.snapshotIndex() - prev);
      entries = entries.subList(skip, entries.size());
      prev = log.snapshotIndex();
      prevTerm = log.term(prev);
      if (ae.lastIndex() < prev) {
        reportMatch(Math.min(ae.leaderCommit(), commitIndex));
        return;
      }
    }
    if (!faulty.isEmpty() && faulty.firstKey() <= prev) {
      // We cannot vouch for what we hold up to prev: make the leader resend from our first damaged entry.
      reportDamage(ae.from(), ae.prevLogIndex());
      return;
    }
    long ourTerm = log.term(prev);
    if (ourTerm != prevTerm) {
      long hintIndex = log.lastIndexWithTermAtMost(prev, prevTerm);
      long hintTerm = log.term(hintIndex);
      // Recovering a lost tail: the leader may count us as matching entries we no longer hold, and
      // would take this rejection for a stale one. Say what we lost, as for damaged entries.
      long lostFrom = recoveringLostTail() ? Math.min(prev, log.lastIndex() + 1) : 0;
      send(new AppendEntriesResult(self, ae.from(), term, false, 0, ae.prevLogIndex(), hintIndex, Math.max(hintTerm, 0),
          lostFrom));
      return;
    }
    for (LogEntry e : entries) {
      if (e.index() <= log.lastIndex()) {
        if (log.term(e.index()) == e.term()) {
          if (faulty.remove(e.index()) != null) {
            repair(e);
          }
          continue;
        }
        Check.that(e.index() > commitIndex, "leader %d overwrites committed entry %d", ae.from(), e.index());
        truncateFrom(e.index());
      }
      appendReceived(e);
    }
    long lastNew = prev + entries.size();
    matchedLeaderIndex = Math.max(matchedLeaderIndex, lastNew);
    commitTo(Math.min(ae.leaderCommit(), lastNew));
    reportMatch(lastNew);
    if (snapshotNeeded) {
      reportDamage(ae.from(), 0);
    }
  }

  /**
   * Our damaged entries up to {@code snap}'s index are committed (a peer compacted them into this
   * snapshot, and our log matches it there): take the snapshot in their place, keeping the entries
   * after it (D6: repaired from a peer).
   */
  private void takeSnapshotOverDamage(Snapshot snap) {
    boolean replacesDamagedBase = snapshotDamaged && snap.index() >= log.snapshotIndex();
    if (snap.index() <= log.snapshotIndex() && !replacesDamagedBase) {
      return;
    }
    if (snap.index() > log.snapshotIndex()) {
      log.compact(snap.meta());
    }
    snapshotDamaged = false;
    snapshotNeeded = false;
    faulty.headMap(snap.index(), true).clear();
    repairing.headMap(snap.index(), true).clear();
    repairsToPersist.removeIf(r -> r.index() <= snap.index());
    latestSnapshot = snap;
    snapshotToPersist = snap;
    commitTo(snap.index());
    if (appliedIndex < snap.index() || replacesDamagedBase) {
      snapshotToApply = snap;
      appliedIndex = snap.index();
    }
  }

  private void repair(LogEntry e) {
    log.replace(e);
    repairing.put(e.index(), 0L);
    repairsToPersist.add(e);
  }

  private void truncateFrom(long index) {
    log.truncateFrom(index);
    membership = log.latestMembership();
    faulty.tailMap(index, true).clear();
    repairing.tailMap(index, true).clear();
    repairsToPersist.removeIf(r -> r.index() >= index);
  }

  private void appendReceived(LogEntry e) {
    log.append(e);
    unstableFrom = Math.min(unstableFrom, e.index());
    if (e.type() == EntryType.MEMBERSHIP) {
      membership = log.latestMembership();
    }
  }

  private void onHeartbeat(Heartbeat hb) {
    followLeader(hb.from());
    commitTo(Math.min(hb.commit(), log.lastIndex()));
    send(new HeartbeatResult(self, hb.from(), term, followerMatch()));
    if (!faulty.isEmpty() || snapshotDamaged || snapshotNeeded) {
      reportDamage(hb.from(), 0); // a caught-up follower gets only heartbeats: say where its damage is
    }
  }

  /**
   * Tells the leader where our damage starts, so it sends from there: our snapshot's index if its
   * data is damaged (the leader then sends a snapshot once its own reaches that far), else our
   * first faulty entry; and, if the host needs a snapshot past our applied state, that too.
   */
  private void reportDamage(int leader, long rejectedPrevIndex) {
    if (!faulty.isEmpty() || snapshotDamaged) {
      long from = snapshotDamaged ? log.snapshotIndex() : faulty.firstKey();
      long before = from - 1;
      send(new AppendEntriesResult(self, leader, term, false, 0, rejectedPrevIndex, before,
          Math.max(log.term(before), 0), from));
    }
    if (snapshotNeeded) {
      send(new AppendEntriesResult(self, leader, term, false, 0, rejectedPrevIndex, appliedIndex,
          Math.max(log.term(appliedIndex), 0), appliedIndex + 1, true));
    }
  }

  private void onInstallSnapshot(InstallSnapshot is) {
    followLeader(is.from());
    Snapshot snap = is.snapshot();
    boolean coversDamage = (!faulty.isEmpty() && faulty.firstKey() <= snap.index())
        || (snapshotDamaged && snap.index() >= log.snapshotIndex())
        || (snapshotNeeded && snap.index() > appliedIndex);
    if (snap.index() <= commitIndex && !coversDamage) {
      matchedLeaderIndex = Math.max(matchedLeaderIndex, commitIndex);
    } else if (log.term(snap.index()) == snap.term()) {
      matchedLeaderIndex = Math.max(matchedLeaderIndex, snap.index());
      commitTo(snap.index());
      if (coversDamage) {
        takeSnapshotOverDamage(snap);
      }
    } else {
      // Entries after our commit index may differ from the snapshot's history: treat them as
      // rewritten until the snapshot is durable.
      unstableFrom = Math.min(unstableFrom, commitIndex + 1);
      log.restore(snap.meta());
      faulty.clear();
      repairing.clear();
      repairsToPersist.clear();
      snapshotDamaged = false;
      snapshotNeeded = false;
      membership = log.latestMembership();
      commitIndex = snap.index();
      appliedIndex = snap.index();
      matchedLeaderIndex = snap.index();
      latestSnapshot = snap;
      snapshotToPersist = snap;
      snapshotToApply = snap;
    }
    reportMatch(Math.max(commitIndex, snap.index()));
  }

  /** What a follower may claim to match: persisted and verified against this term's leader (D1). */
  private long followerMatch() {
    return Math.min(durableIndex(), matchedLeaderIndex);
  }

  /** The highest index up to which this replica durably holds every payload (D1 with D6). */
  private long durableIndex() {
    long durable = persistedIndex();
    if (!faulty.isEmpty()) {
      durable = Math.min(durable, faulty.firstKey() - 1);
    }
    if (!repairing.isEmpty()) {
      durable = Math.min(durable, repairing.firstKey() - 1);
    }
    return durable;
  }

  private void reportMatch(long acceptedIndex) {
    long match = followerMatch();
    lastReportedMatch = Math.max(lastReportedMatch, match);
    long accepted = faulty.isEmpty() ? acceptedIndex : Math.min(acceptedIndex, faulty.firstKey() - 1);
    send(new AppendEntriesResult(self, leaderId, term, true, match, 0, accepted, 0, 0));
  }

  private void reportMatchIfAdvanced() {
    long match = followerMatch();
    if (match > lastReportedMatch) {
      reportMatch(matchedLeaderIndex);
    }
  }

  private void commitTo(long index) {
    if (index > commitIndex) {
      commitIndex = index;
    }
  }

  // =========================================================================================
  // Leader side of replication
  // =========================================================================================

  private ProposeResult.Rejected refuseProposal() {
    if (role != Role.LEADER) {
      return new ProposeResult.Rejected(ProposeResult.Reason.NOT_LEADER, leaderId);
    }
    if (leadTransferee != 0) {
      return new ProposeResult.Rejected(ProposeResult.Reason.LEADER_TRANSFER_IN_PROGRESS, leaderId);
    }
    if (log.lastIndex() - commitIndex >= settings.uncommittedEntriesMax()) {
      return new ProposeResult.Rejected(ProposeResult.Reason.TOO_MANY_UNCOMMITTED, leaderId);
    }
    return null;
  }

  /**
   * One server at a time (Raft dissertation §4.1): a change is proposed only after the leader has
   * committed an entry of its own term and when no other change is uncommitted, and it takes
   * effect as soon as it is appended.
   */
  private ProposeResult proposeMembership(Membership target) {
    ProposeResult.Rejected refused = refuseProposal();
    if (refused != null) {
      return refused;
    }
    if (commitIndex < leaderFirstIndex || pendingMembershipIndex > commitIndex) {
      return new ProposeResult.Rejected(ProposeResult.Reason.MEMBERSHIP_CHANGE_PENDING, leaderId);
    }
    if (target.voters().isEmpty()) {
      return new ProposeResult.Rejected(ProposeResult.Reason.INVALID_MEMBERSHIP_CHANGE, leaderId);
    }
    ProposeResult result = appendAsLeader(EntryType.MEMBERSHIP, target.encode());
    pendingMembershipIndex = log.lastIndex();
    return result;
  }

  private ProposeResult appendAsLeader(EntryType type, byte[] data) {
    appendEntry(type, data);
    return new ProposeResult.Accepted(log.lastIndex(), term);
  }

  private void appendEntry(EntryType type, byte[] data) {
    LogEntry e = new LogEntry(log.lastIndex() + 1, term, type, data);
    log.append(e);
    unstableFrom = Math.min(unstableFrom, e.index());
    if (type == EntryType.MEMBERSHIP) {
      applyMembershipAsLeader(log.latestMembership());
    }
    appendsPending = true;
  }

  private void applyMembershipAsLeader(Membership next) {
    membership = next;
    for (int member : next.members()) {
      if (member != self && !progress.containsKey(member)) {
        progress.put(member, new Progress(log.lastIndex()));
      }
    }
    progress.keySet().removeIf(id -> !next.contains(id));
  }

  /** Sends every follower what it is missing, within its window. Called once per {@link #ready()}. */
  private void flushAppends() {
    for (Map.Entry<Integer, Progress> e : progress.entrySet()) {
      Progress pr = e.getValue();
      boolean sent = false;
      while (sendAppend(e.getKey(), pr)) {
        sent = true; // pipelining: keep going until the window is full or the follower has everything
        if (pr.state != Progress.State.REPLICATE || pr.next > log.lastIndex() || !faulty.isEmpty()) {
          break;
        }
      }
      if (!sent) {
        long commit = Math.min(pr.match, commitIndex);
        if (commit > pr.commitSent) {
          send(new Heartbeat(self, e.getKey(), term, commit));
          pr.commitSent = commit;
        }
      }
    }
  }

  /** Returns whether a message went out. */
  private boolean sendAppend(int to, Progress pr) {
    if (pr.state == Progress.State.SNAPSHOT) {
      return false;
    }
    long prev = pr.next - 1;
    long prevTerm = log.term(prev);
    if (prevTerm < 0 && prev < log.snapshotIndex()) {
      if (snapshotDamaged) {
        return false; // our snapshot's data is gone: wait until a peer's replaces it
      }
      if (storeDamaged) {
        // The follower would fetch the snapshot's messages from our store, skip what it lacks,
        // and drop the log entries that may hold the only other copy (sim seed 777000000573).
        return false;
      }
      pr.becomeSnapshot(latestSnapshot.index());
      send(new InstallSnapshot(self, to, term, latestSnapshot));
      return true;
    }
    Check.that(prevTerm >= 0, "next index %d beyond log end %d", pr.next, log.lastIndex());
    long sendable = faulty.isEmpty() ? log.lastIndex() : faulty.firstKey() - 1; // damaged entries are never served
    List<LogEntry> entries = pr.next <= sendable
        ? log.slice(pr.next, sendable, settings.appendEntriesMax(), settings.appendBytesMax())
        : List.of();
    if (pr.state == Progress.State.PROBE) {
      if (pr.probeSent) {
        return false;
      }
      pr.probeSent = true;
    } else {
      if (entries.isEmpty() || pr.inflightsFull(settings.inflightAppendsMax())) {
        return false;
      }
      long last = entries.get(entries.size() - 1).index();
      pr.next = last + 1;
      pr.inflights.addLast(last);
    }
    send(new AppendEntries(self, to, term, prev, prevTerm, entries, commitIndex));
    pr.commitSent = Math.max(pr.commitSent, Math.min(commitIndex, prev + entries.size()));
    return true;
  }

  private void broadcastHeartbeat() {
    for (Map.Entry<Integer, Progress> e : progress.entrySet()) {
      Progress pr = e.getValue();
      long commit = Math.min(pr.match, commitIndex);
      send(new Heartbeat(self, e.getKey(), term, commit));
      pr.commitSent = Math.max(pr.commitSent, commit);
      if (pr.state == Progress.State.SNAPSHOT) {
        pr.ticksSinceSnapshotSent += settings.heartbeatIntervalTicks();
        if (pr.ticksSinceSnapshotSent >= settings.electionTimeoutTicks()) {
          pr.becomeProbe(pr.match + 1); // the snapshot or its answer was lost: offer it again
        }
      }
    }
  }

  private void onAppendEntriesResult(AppendEntriesResult r) {
    if (role != Role.LEADER) {
      return;
    }
    Progress pr = progress.get(r.from());
    if (pr == null) {
      return;
    }
    pr.recentActive = true;
    if (r.success()) {
      onAppendAccepted(r.from(), pr, r.matchIndex(), r.hintIndex());
    } else {
      onAppendRejected(r.from(), pr, r);
    }
  }

  private void onAppendAccepted(int from, Progress pr, long match, long acceptedIndex) {
    Check.that(match <= log.lastIndex(), "follower %d matches %d beyond our log %d", from, match, log.lastIndex());
    boolean advanced = match > pr.match;
    pr.match = Math.max(pr.match, match);
    pr.accepted = Math.min(Math.max(pr.accepted, acceptedIndex), log.lastIndex());
    pr.freeInflightsTo(pr.accepted);
    if (pr.state == Progress.State.PROBE
        || (pr.state == Progress.State.SNAPSHOT && pr.match >= pr.pendingSnapshotIndex)) {
      pr.becomeReplicate();
    }
    pr.next = Math.max(pr.next, Math.max(pr.match, pr.accepted) + 1);
    if (advanced) {
      maybeCommit();
      if (role != Role.LEADER) {
        return;
      }
    }
    if (from == leadTransferee && pr.match == log.lastIndex()) {
      send(new TimeoutNow(self, from, term));
    }
    appendsPending = true; // more to send, or a new commit index to carry
  }

  private void onAppendRejected(int from, Progress pr, AppendEntriesResult r) {
    if (r.snapshotNeeded()) {
      // Entries would not help it: a snapshot past its applied index would. Ours, once it is that far.
      if (log.snapshotIndex() < r.damagedFrom()) {
        snapshotRequested = r.damagedFrom() <= appliedIndex || snapshotRequested;
      } else if (pr.state != Progress.State.SNAPSHOT) {
        pr.match = Math.min(pr.match, r.damagedFrom() - 1);
        pr.accepted = Math.min(pr.accepted, r.damagedFrom() - 1);
        pr.becomeProbe(r.damagedFrom());
        sendAppend(from, pr); // below our first entry: a snapshot
      }
      return;
    }
    if (r.damagedFrom() > 0) {
      if (r.damagedFrom() > log.snapshotIndex() && r.damagedFrom() <= appliedIndex) {
        snapshotRequested = true; // if it is its snapshot that rotted, it needs one of ours this far
      }
      // What it acknowledged rotted on its disk: forget that and send again from the damage.
      pr.match = Math.min(pr.match, r.damagedFrom() - 1);
      pr.accepted = Math.min(pr.accepted, r.damagedFrom() - 1);
      if (pr.state != Progress.State.SNAPSHOT) {
        // Its damage may lie in extra, uncommitted entries beyond our log: those we overwrite anyway.
        pr.becomeProbe(Math.min(r.damagedFrom(), log.lastIndex() + 1));
        sendAppend(from, pr);
      }
      return;
    }
    boolean stale = pr.state == Progress.State.REPLICATE
        ? r.rejectedPrevIndex() <= pr.match
        : r.rejectedPrevIndex() != pr.next - 1;
    if (stale || pr.state == Progress.State.SNAPSHOT) {
      return;
    }
    long probe = r.hintTerm() > 0 ? log.lastIndexWithTermAtMost(r.hintIndex(), r.hintTerm()) : r.hintIndex();
    pr.becomeProbe(Math.min(r.rejectedPrevIndex(), probe + 1));
    sendAppend(from, pr);
  }

  private void onHeartbeatResult(HeartbeatResult r) {
    if (role != Role.LEADER) {
      return;
    }
    Progress pr = progress.get(r.from());
    if (pr == null) {
      return;
    }
    pr.recentActive = true;
    pr.probeSent = false;
    if (r.matchIndex() > pr.match && r.matchIndex() <= log.lastIndex()) {
      pr.match = r.matchIndex();
      if (maybeCommit()) {
        appendsPending = true;
      }
      if (role != Role.LEADER) {
        return;
      }
    }
    if (pr.state == Progress.State.REPLICATE && pr.match < log.lastIndex() && pr.match == pr.matchAtLastHeartbeat
        && pr.accepted == pr.acceptedAtLastHeartbeat) {
      // Nothing persisted and nothing even received across a whole heartbeat while behind: appends
      // or their answers were lost, or the follower restarted. Find its position again. (A follower
      // that still accepts appends is only slow to fsync: resending would just add load.)
      pr.becomeProbe(pr.match + 1);
    }
    pr.matchAtLastHeartbeat = pr.match;
    pr.acceptedAtLastHeartbeat = pr.accepted;
    if (pr.match < log.lastIndex()) {
      sendAppend(r.from(), pr);
    }
    if (r.from() == leadTransferee && pr.match == log.lastIndex()) {
      send(new TimeoutNow(self, r.from(), term));
    }
  }

  // =========================================================================================
  // Protocol-aware repair of damaged entries (D6)
  // =========================================================================================

  /**
   * Leader: ask for our first damaged entry every other member, and every voter of any membership
   * under which it could have been committed (a voter since removed may be the one holding it).
   */
  private void requestRepair() {
    if (role != Role.LEADER || (faulty.isEmpty() && !snapshotDamaged)) {
      return;
    }
    // A damaged snapshot is asked for by its own index: members whose snapshot covers it send theirs.
    if (snapshotDamaged) {
      askMembers(log.snapshotIndex(), log.term(log.snapshotIndex()));
    }
    if (!faulty.isEmpty()) {
      askMembers(faulty.firstKey(), faulty.firstEntry().getValue());
    }
  }

  private void askMembers(long index, long entryTerm) {
    java.util.TreeSet<Integer> ask = new java.util.TreeSet<>(progress.keySet());
    for (Membership m : log.membershipsFrom(index)) {
      ask.addAll(m.members());
    }
    ask.remove(self);
    for (int member : ask) {
      send(new RaftMessage.RepairRequest(self, member, term, index, entryTerm));
    }
  }

  private void onRepairRequest(RaftMessage.RepairRequest r) {
    long index = r.index();
    LogEntry entry = null;
    Snapshot snapshot = null;
    boolean absent = false;
    if (index > log.lastIndex() || (index > log.snapshotIndex() && log.term(index) != r.entryTerm())) {
      // Not in our log: a committed entry never leaves a log that held it durably — unless a lost
      // tail took it, so while recovering we do not say so.
      absent = !recoveringLostTail();
    } else if (index <= log.snapshotIndex()) {
      snapshot = snapshotDamaged ? null : latestSnapshot; // committed, and compacted here: our snapshot covers it
    } else if (!faulty.containsKey(index)) {
      entry = log.entry(index);
    }
    if (index > log.snapshotIndex() && index <= appliedIndex && !snapshotDamaged) {
      snapshotRequested = true; // the asker may need a snapshot covering it: have one ready next time
    }
    send(new RaftMessage.RepairResult(self, r.from(), term, index, r.entryTerm(), entry, snapshot, absent));
  }

  /**
   * Whether this replica, as leader, would take the snapshot {@code r} offers over its damage: over
   * a damaged snapshot, or over the first damaged entry {@code r} answers for. The shell asks first,
   * to fetch the messages the snapshot covers that its store lacks before the log entries that
   * carried them go.
   */
  public boolean takesRepairSnapshot(RaftMessage.RepairResult r) {
    Snapshot offered = r.snapshot();
    if (role != Role.LEADER || offered == null || offered.index() > log.lastIndex()) {
      return false;
    }
    if (snapshotDamaged && offered.index() >= log.snapshotIndex()) {
      return log.term(offered.index()) == offered.term();
    }
    return answersFirstFaulty(r) && r.entry() == null && offered.index() >= r.index()
        && log.term(offered.index()) == offered.term();
  }

  private boolean answersFirstFaulty(RaftMessage.RepairResult r) {
    return !faulty.isEmpty() && faulty.firstKey() == r.index() && faulty.firstEntry().getValue() == r.entryTerm();
  }

  private void onRepairResult(RaftMessage.RepairResult r) {
    boolean current = role == Role.LEADER && answersFirstFaulty(r);
    if (current && r.entry() != null) {
      faulty.remove(r.index());
      repair(r.entry());
      absentVotes.clear();
      appendsPending = true;
      requestRepair();
      return;
    }
    if (takesRepairSnapshot(r)) {
      takeSnapshotOverDamage(r.snapshot());
      if (current) {
        absentVotes.clear();
      }
      appendsPending = true;
      requestRepair();
      return;
    }
    if (!current) {
      return; // stale: that entry is no longer the one we are missing
    }
    if (r.absent()) {
      absentVotes.add(r.from());
      if (cannotHaveBeenCommitted(r.index())) {
        discardFrom(r.index());
      }
    }
  }

  /**
   * Whether our damaged entry at {@code index} cannot have been committed. Committed means durable
   * on a quorum, and a committed entry never leaves a log that held it durably, so only "possible
   * holders" count: us (our copy is damaged, but may have counted) and every voter that has not
   * affirmatively answered that it lacks the entry. The entry was first committed, if at all, under
   * a membership in our log from {@code index} on, or under one a single change away from those,
   * appended after it by a possible holder other than us (one appended by us is in our log). So
   * for each membership in our log from {@code index} on, the possible holders must be fewer than
   * its quorum — and, if another possible holder could have appended a neighbour, fewer than the
   * quorum of that neighbour too: one voter fewer; or one more, which can only be a promoted
   * learner of that membership that has not answered that it lacks the entry.
   * A damaged membership entry from {@code index} on hides a membership: then nothing is decided.
   */
  private boolean cannotHaveBeenCommitted(long index) {
    for (long i : faulty.tailMap(index, true).keySet()) {
      if (log.entry(i).type() == EntryType.MEMBERSHIP) {
        return false;
      }
    }
    for (Membership m : log.membershipsFrom(index)) {
      int voters = m.voters().size();
      int holders = 0;
      boolean otherHolder = false;
      for (int voter : m.voters()) {
        if (voter == self || !absentVotes.contains(voter)) {
          holders++;
          otherHolder |= voter != self;
        }
      }
      boolean promotableHolder = false;
      for (int learner : m.learners()) {
        promotableHolder |= learner != self && !absentVotes.contains(learner);
      }
      if (holders >= quorumOf(voters)) {
        return false;
      }
      if (otherHolder && promotableHolder && holders + 1 >= quorumOf(voters + 1)) {
        return false;
      }
      if (otherHolder && voters > 1 && holders >= quorumOf(voters - 1)) {
        return false;
      }
    }
    return true;
  }

  private static int quorumOf(int voters) {
    return voters / 2 + 1;
  }

  /**
   * Entry {@code index} was never committed, so neither was anything after it: drop them all.
   * Then step down: a leader's log must only grow within its term (followers' acknowledgements
   * name indexes, not contents), so the next leader starts a new term. Nothing at or after
   * {@code index} was ever sent in this term, so nothing in flight refers to what is dropped.
   */
  private void discardFrom(long index) {
    truncateFrom(index);
    unstableFrom = Math.min(unstableFrom, index);
    becomeFollower(term, 0);
  }

  /** Commits the highest current-term index a majority has persisted (D3). */
  private boolean maybeCommit() {
    long quorumIndex = Quorum.committedIndex(membership.voters(),
        id -> id == self ? durableIndex() : matchOf(id));
    if (quorumIndex <= commitIndex || log.term(quorumIndex) != term) {
      return false;
    }
    commitIndex = quorumIndex;
    if (!membership.isVoter(self) && commitIndex >= pendingMembershipIndex) {
      becomeFollower(term, 0); // our own removal is committed: step down
    }
    return true;
  }

  private long matchOf(int id) {
    Progress pr = progress.get(id);
    return pr == null ? 0 : pr.match;
  }

  // =========================================================================================
  // Sending
  // =========================================================================================

  private HardState currentHardState() {
    return new HardState(term, votedFor);
  }

  /** Whether {@code hs} is our current (term, vote); compared in place, this runs for every message. */
  private boolean isCurrent(HardState hs) {
    return hs.term() == term && hs.votedFor() == votedFor;
  }

  /** Messages wait for the persist that makes our (term, vote) durable (D2). */
  private void send(RaftMessage m) {
    if (isCurrent(durableHardState)) {
      messages.add(m);
    } else {
      messagesAfterPersist.add(m);
    }
  }
}
