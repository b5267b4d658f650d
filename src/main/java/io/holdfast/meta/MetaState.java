package io.holdfast.meta;

import io.holdfast.raft.message.EntryType;
import io.holdfast.raft.message.LogEntry;
import io.holdfast.stream.StreamCommand;
import io.holdfast.stream.StreamLimits;
import io.holdfast.stream.SubjectIndex;
import io.holdfast.stream.Subjects;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.SortedMap;
import java.util.SortedSet;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.regex.Pattern;

/**
 * The meta group's replicated state (DESIGN.md §3): which server nodes exist and under which disk
 * incarnation (D9), which streams exist, with which subjects, on which nodes. Pure and
 * deterministic like {@code StreamState}: every meta replica applies the same committed commands
 * and agrees byte for byte. Streams appear and disappear only through committed commands (D8);
 * a deleted stream's replica group is remembered so that nodes stop it instead of guessing.
 *
 * <p>A stream's replica group is named {@code <stream>-<index>} after the meta log index that
 * created it, so a stream deleted and created again never meets the old one's log on disk.
 */
public final class MetaState {
  public static final Pattern STREAM_NAME = Pattern.compile("[A-Za-z0-9_-]{1,64}");
  public static final int REPLICAS_MAX = 5;

  /**
   * A server node as the meta group knows it.
   *
   * @param generation how many times the node came back with a new disk ({@link RegisterNode#rejoin}):
   *     its meta replica's id is {@code ReplicaIds.of(id, generation)}
   */
  public record Node(int id, String incarnation, String http, int generation) {}

  /**
   * @param placement the nodes that hold (or are to hold) a replica now
   * @param initialPlacement the nodes the group was created on: its bootstrap membership
   * @param joins per node that ever held the group, how many times it was added after creation:
   *     0 for a creation node, which bootstraps the group; a node added later (again), or whose
   *     disk was wiped while it held the group, joins empty, with a fresh log ({@link #storageName})
   *     under a new replica id ({@link #replicaId}), as a learner, then a voter (D9)
   */
  public record StreamRecord(String name, List<String> subjects, int replicas, List<Integer> placement, String group,
      StreamLimits limits, List<Integer> initialPlacement, SortedMap<Integer, Integer> joins) {
    public StreamRecord {
      subjects = List.copyOf(subjects);
      placement = List.copyOf(placement);
      initialPlacement = List.copyOf(initialPlacement);
      joins = Collections.unmodifiableSortedMap(new TreeMap<>(joins));
    }

    /** Whether {@code node} bootstraps the group (it is a creation node that never left). */
    public boolean bootstraps(int node) {
      return joins.getOrDefault(node, -1) == 0;
    }

    /** Where {@code node} keeps this group's log: a rejoining node never meets its old log. */
    public String storageName(int node) {
      return ReplicaIds.storageName(group, joins.getOrDefault(node, 0));
    }

    /** The Raft id of {@code node}'s replica: a node placed again is a new member, under a new id. */
    public int replicaId(int node) {
      return ReplicaIds.of(node, joins.getOrDefault(node, 0));
    }

    /** The Raft ids of the replicas placement wants: the group's desired membership. */
    public List<Integer> replicaIds() {
      return placement.stream().map(this::replicaId).toList();
    }
  }

  /** An outcome: {@code code} null when the command took effect, else why not. */
  public record Result(String code, String message) {
    public static final Result OK = new Result(null, "ok");

    public boolean ok() {
      return code == null;
    }
  }

  public sealed interface Command {}

  /**
   * A server node announces itself with its disk's incarnation (D9) and its HTTP address.
   *
   * @param rejoin the node was started into a running cluster ({@code holdfast.node.rejoin}): a new
   *     incarnation under a known id is then a wiped or replaced disk coming back as a new member,
   *     not a mistake — every replica it held, meta included, is replaced by a new one under a new
   *     Raft id ({@link ReplicaIds}). Without it a new incarnation is refused.
   */
  public record RegisterNode(int id, String incarnation, String http, boolean rejoin) implements Command {}

  public record CreateStream(String name, List<String> subjects, int replicas, StreamLimits limits) implements Command {
    public CreateStream {
      subjects = List.copyOf(subjects);
    }

    public CreateStream(String name, List<String> subjects, int replicas) {
      this(name, subjects, replicas, StreamLimits.DEFAULT);
    }
  }

  /** Changes a stream's subjects and limits; a replica-count change is refused until membership moves land. */
  public record UpdateStream(String name, List<String> subjects, int replicas, StreamLimits limits) implements Command {
    public UpdateStream {
      subjects = List.copyOf(subjects);
    }
  }

  public record DeleteStream(String name) implements Command {}

  /**
   * Marks a node as draining (or not): no new replica is placed on it, and a stream that shrinks
   * drops its replica there first. {@code holdfast cluster drain} sets it, then moves each replica
   * off the node by growing the stream elsewhere and shrinking it again.
   */
  public record SetDraining(int node, boolean draining) implements Command {}

  /**
   * Changes the meta group's voters from {@code from} to {@code to}, if they are {@code from} now
   * (compare and set, so two drains cannot both act on what they read): the configured
   * {@code holdfast.meta.voters} until a first change, which only the proposer knows, so a first
   * change trusts its {@code from}. Every node in {@code to} must be registered. A node that leaves
   * the voters comes back, if ever, as a new meta member under a new id ({@link #metaReplicaId}, D9).
   * {@code holdfast cluster drain} moves a vote in two changes: a new voter first, then without the
   * drained one.
   */
  public record SetMetaVoters(List<Integer> from, List<Integer> to) implements Command {
    public SetMetaVoters {
      from = List.copyOf(from);
      to = List.copyOf(to);
    }
  }

  /** Error codes, shared with the APIs. */
  public static final String NOT_FOUND = "stream_not_found";
  public static final String NODE_NOT_FOUND = "node_not_found";
  public static final String EXISTS = "stream_exists";
  public static final String BAD_REQUEST = "bad_request";
  public static final String OVERLAP = "subjects_overlap";
  public static final String NO_RESOURCES = "insufficient_resources";
  public static final String IDENTITY = "identity_refused";
  public static final String CHANGED = "meta_voters_changed";

  private final TreeMap<Integer, Node> nodes = new TreeMap<>();
  private final TreeMap<String, StreamRecord> streams = new TreeMap<>();
  private final TreeSet<String> deletedGroups = new TreeSet<>();
  /** Nodes being drained ({@link SetDraining}). */
  private final TreeSet<Integer> draining = new TreeSet<>();
  /** The meta voters once changed ({@link SetMetaVoters}); empty: the configured ones. */
  private List<Integer> metaVoters = List.of();
  /** Per node that left the meta voters (or whose disk was wiped after), the join count of its next meta replica. */
  private final TreeMap<Integer, Integer> metaJoins = new TreeMap<>();
  private long appliedIndex;
  /**
   * The streams by subject filter, built on the first {@link #streamFor} after a change and dropped
   * by every change ({@link #apply}, {@link #restore}). A node's view of the meta state is not
   * changed once published, so its readers share one index; two building it at once build the same.
   */
  private volatile SubjectIndex<StreamRecord> bySubject;

  public SortedMap<Integer, Node> nodes() {
    return Collections.unmodifiableSortedMap(nodes);
  }

  public SortedMap<String, StreamRecord> streams() {
    return Collections.unmodifiableSortedMap(streams);
  }

  public SortedSet<String> deletedGroups() {
    return Collections.unmodifiableSortedSet(deletedGroups);
  }

  /** The nodes being drained: no new replica goes there. */
  public SortedSet<Integer> draining() {
    return Collections.unmodifiableSortedSet(draining);
  }

  /** The meta group's voters since a {@link SetMetaVoters}, or empty: the configured {@code holdfast.meta.voters}. */
  public List<Integer> metaVoters() {
    return metaVoters;
  }

  public long appliedIndex() {
    return appliedIndex;
  }

  /** The stream whose subjects match the literal {@code subject}, or null. Subjects never overlap. */
  public StreamRecord streamFor(String subject) {
    SubjectIndex<StreamRecord> index = bySubject;
    if (index == null) {
      Map<String, StreamRecord> filters = new HashMap<>();
      streams.values().forEach(s -> s.subjects().forEach(f -> filters.put(f, s)));
      bySubject = index = SubjectIndex.of(filters);
    }
    return index.find(subject);
  }

  /** Why {@code c} is malformed (before it is proposed), or null. State-dependent checks happen on apply. */
  public static String invalid(Command c) {
    if (c instanceof CreateStream cs) {
      String why = invalidConfig(cs.name(), cs.subjects(), cs.replicas());
      return why != null ? why : cs.limits().invalid();
    }
    if (c instanceof UpdateStream us) {
      String why = invalidConfig(us.name(), us.subjects(), us.replicas());
      return why != null ? why : us.limits().invalid();
    }
    if (c instanceof DeleteStream ds) {
      return STREAM_NAME.matcher(ds.name()).matches() ? null : "bad stream name '" + ds.name() + "'";
    }
    if (c instanceof SetDraining d) {
      return d.node() < 1 ? "node id must be at least 1" : null;
    }
    if (c instanceof SetMetaVoters v) {
      if (v.to().isEmpty() || v.to().size() > 2 * REPLICAS_MAX) {
        return "the meta group needs 1 to " + 2 * REPLICAS_MAX + " voters, got " + v.to();
      }
      boolean bad = v.to().stream().distinct().count() != v.to().size()
          || v.to().stream().anyMatch(n -> n < 1 || n >= ReplicaIds.STRIDE);
      return bad ? "meta voters must be distinct node ids from 1 to " + (ReplicaIds.STRIDE - 1) + ", got " + v.to()
          : null;
    }
    RegisterNode r = (RegisterNode) c;
    return r.id() < 1 ? "node id must be at least 1" : null;
  }

  private static String invalidConfig(String name, List<String> subjects, int replicas) {
    if (name == null || !STREAM_NAME.matcher(name).matches()) {
      return "stream name must be 1-64 characters of A-Z a-z 0-9 _ -, got '" + name + "'";
    }
    if (subjects.isEmpty()) {
      return "a stream needs at least one subject";
    }
    for (int i = 0; i < subjects.size(); i++) {
      String why = Subjects.invalidFilter(subjects.get(i));
      if (why != null) {
        return why;
      }
      for (int j = 0; j < i; j++) {
        if (Subjects.overlap(subjects.get(i), subjects.get(j))) {
          return "subjects '" + subjects.get(j) + "' and '" + subjects.get(i) + "' overlap";
        }
      }
    }
    if (replicas < 1 || replicas > REPLICAS_MAX) {
      return "replicas must be between 1 and " + REPLICAS_MAX + ", got " + replicas;
    }
    return null;
  }

  /** Applies one committed entry; the result of its command (OK for entries without one). */
  public Result apply(LogEntry entry) {
    bySubject = null;
    appliedIndex = entry.index();
    if (entry.type() != EntryType.COMMAND) {
      return Result.OK;
    }
    Command c = MetaCodec.decodeCommand(entry.data());
    String why = invalid(c);
    if (why != null) {
      return new Result(BAD_REQUEST, why);
    }
    if (c instanceof RegisterNode r) {
      return register(r);
    }
    if (c instanceof CreateStream cs) {
      return create(cs, entry.index());
    }
    if (c instanceof UpdateStream us) {
      return update(us);
    }
    if (c instanceof SetDraining d) {
      if (!nodes.containsKey(d.node())) {
        return new Result(NODE_NOT_FOUND, "no node " + d.node() + " is registered");
      }
      if (d.draining()) {
        draining.add(d.node());
      } else {
        draining.remove(d.node());
      }
      return Result.OK;
    }
    if (c instanceof SetMetaVoters v) {
      return setMetaVoters(v);
    }
    return delete((DeleteStream) c);
  }

  private Result setMetaVoters(SetMetaVoters v) {
    if (!metaVoters.isEmpty() && !metaVoters.equals(v.from())) {
      return new Result(CHANGED, "the meta voters are " + metaVoters + " now, not " + v.from());
    }
    for (int n : v.to()) {
      if (!nodes.containsKey(n)) {
        return new Result(NODE_NOT_FOUND, "no node " + n + " is registered");
      }
    }
    for (int n : v.from()) {
      if (!v.to().contains(n)) {
        metaJoins.put(n, metaJoin(n) + 1); // its next meta replica, if any, is a new member
      }
    }
    metaVoters = v.to();
    return Result.OK;
  }

  private Result register(RegisterNode r) {
    Node known = nodes.get(r.id());
    if (known != null && known.incarnation().equals(r.incarnation())) {
      nodes.put(r.id(), new Node(r.id(), r.incarnation(), r.http(), known.generation()));
      return Result.OK;
    }
    if (known != null && !r.rejoin()) {
      return new Result(IDENTITY, "node " + r.id() + " is registered with disk incarnation " + known.incarnation()
          + " but this disk is " + r.incarnation() + ": a wiped or replaced disk comes back only as a new member,"
          + " started with holdfast.node.rejoin = on (D9)");
    }
    // A rejoining node that was never registered may still have run a meta replica under its id
    // and lost that disk before registering: it too comes back under a new id.
    int generation = known != null ? known.generation() + 1 : r.rejoin() ? 1 : 0;
    nodes.put(r.id(), new Node(r.id(), r.incarnation(), r.http(), generation));
    metaJoins.computeIfPresent(r.id(), (id, join) -> join + 1); // its meta log is gone too
    if (known != null) {
      for (StreamRecord s : List.copyOf(streams.values())) {
        if (s.placement().contains(r.id())) { // its replica's log is gone: a new member replaces it
          TreeMap<Integer, Integer> joins = new TreeMap<>(s.joins());
          joins.merge(r.id(), 1, Integer::sum);
          streams.put(s.name(), new StreamRecord(s.name(), s.subjects(), s.replicas(), s.placement(), s.group(),
              s.limits(), s.initialPlacement(), joins));
        }
      }
    }
    return Result.OK;
  }

  /**
   * The Raft id of the meta replica on {@code node}: it changes each time the node rejoins with a
   * new disk and each time it is given a meta vote again after losing it, so no id is used twice (D9).
   */
  public int metaReplicaId(int node) {
    return ReplicaIds.of(node, metaJoin(node));
  }

  /** The join count of {@code node}'s meta replica: where its log is kept ({@code ReplicaIds.storageName}). */
  public int metaJoin(int node) {
    Node n = nodes.get(node);
    return Math.max(n == null ? 0 : n.generation(), metaJoins.getOrDefault(node, 0));
  }

  private Result create(CreateStream c, long index) {
    StreamRecord existing = streams.get(c.name());
    if (existing != null) {
      boolean same = existing.subjects().equals(c.subjects()) && existing.replicas() == c.replicas()
          && existing.limits().equals(c.limits());
      return same ? Result.OK : new Result(EXISTS, "stream " + c.name() + " exists with another configuration");
    }
    String overlap = overlapWithOthers(c.name(), c.subjects());
    if (overlap != null) {
      return new Result(OVERLAP, overlap);
    }
    if (nodes.size() - draining.size() < c.replicas()) {
      return tooFewNodes(c.replicas());
    }
    List<Integer> placement = place(c.replicas(), List.of());
    TreeMap<Integer, Integer> joins = new TreeMap<>();
    placement.forEach(n -> joins.put(n, 0));
    streams.put(c.name(), new StreamRecord(c.name(), c.subjects(), c.replicas(), placement, c.name() + "-" + index,
        c.limits(), placement, joins));
    return Result.OK;
  }

  private Result update(UpdateStream u) {
    StreamRecord s = streams.get(u.name());
    if (s == null) {
      return new Result(NOT_FOUND, "no stream named " + u.name());
    }
    List<Integer> placement = s.placement();
    if (u.replicas() > s.replicas()) {
      // A node that held the group before may be placed again: it joins as a new member, under a
      // new replica id and with a fresh log (joins below), so its old replica — perhaps still
      // running, retiring — can never be taken for it.
      long eligible = nodes.keySet().stream().filter(n -> !draining.contains(n) && !s.placement().contains(n)).count();
      if (eligible < u.replicas() - s.replicas()) {
        return tooFewNodes(u.replicas());
      }
      placement = place(u.replicas() - s.replicas(), s.placement());
    } else if (u.replicas() < s.replicas()) {
      // Replicas on draining nodes go first, then the highest ids.
      List<Integer> keep = new ArrayList<>(s.placement());
      keep.sort(java.util.Comparator.<Integer, Boolean>comparing(draining::contains).thenComparing(n -> n));
      placement = new ArrayList<>(keep.subList(0, u.replicas()));
      Collections.sort(placement);
    }
    String overlap = overlapWithOthers(u.name(), u.subjects());
    if (overlap != null) {
      return new Result(OVERLAP, overlap);
    }
    if (s.limits().sealed() && !u.limits().sealed()) {
      return new Result(BAD_REQUEST, "a sealed stream cannot be unsealed");
    }
    if (s.limits().retention() != u.limits().retention()) {
      return new Result(BAD_REQUEST, "the retention policy of a stream cannot change");
    }
    TreeMap<Integer, Integer> joins = new TreeMap<>(s.joins());
    for (int n : placement) {
      if (!s.placement().contains(n)) {
        joins.merge(n, 1, Integer::sum); // 0 + 1 for a creation node coming back, 1 for a first-time joiner
      }
    }
    streams.put(u.name(), new StreamRecord(s.name(), u.subjects(), u.replicas(), placement, s.group(), u.limits(),
        s.initialPlacement(), joins));
    return Result.OK;
  }

  private Result tooFewNodes(int replicas) {
    return new Result(NO_RESOURCES, replicas + " replicas need " + replicas + " server nodes; " + nodes.size()
        + " are registered" + (draining.isEmpty() ? "" : ", " + draining.size() + " of them draining " + draining));
  }

  private Result delete(DeleteStream d) {
    StreamRecord s = streams.remove(d.name());
    if (s == null) {
      return new Result(NOT_FOUND, "no stream named " + d.name());
    }
    deletedGroups.add(s.group());
    return Result.OK;
  }

  private String overlapWithOthers(String name, List<String> subjects) {
    for (StreamRecord other : streams.values()) {
      if (other.name().equals(name)) {
        continue;
      }
      for (String a : subjects) {
        for (String b : other.subjects()) {
          if (Subjects.overlap(a, b)) {
            return "subject '" + a + "' overlaps '" + b + "' of stream " + other.name();
          }
        }
      }
    }
    return null;
  }

  /**
   * {@code existing} plus {@code more} distinct nodes: the least loaded first, then the lowest id
   * (deterministic on every replica); sorted.
   */
  private List<Integer> place(int more, List<Integer> existing) {
    TreeMap<Integer, Integer> load = new TreeMap<>();
    nodes.keySet().stream().filter(id -> !existing.contains(id) && !draining.contains(id)).forEach(id -> load.put(id, 0));
    for (StreamRecord s : streams.values()) {
      for (int id : s.placement()) {
        load.computeIfPresent(id, (k, v) -> v + 1);
      }
    }
    List<Map.Entry<Integer, Integer>> order = new ArrayList<>(load.entrySet());
    order.sort(Map.Entry.<Integer, Integer>comparingByValue().thenComparing(Map.Entry.comparingByKey()));
    List<Integer> chosen = new ArrayList<>(existing);
    for (int i = 0; i < more; i++) {
      chosen.add(order.get(i).getKey());
    }
    Collections.sort(chosen);
    return chosen;
  }

  /** The whole state, checksummed (D5): u32 crc32c of the rest, then the fields. */
  public byte[] snapshot() {
    StreamCommand.Writer w = new StreamCommand.Writer();
    w.b.putInt(0).putLong(appliedIndex).putInt(nodes.size());
    for (Node n : nodes.values()) {
      w.ensure(4);
      w.b.putInt(n.id());
      w.string(n.incarnation());
      w.string(n.http());
      w.ensure(4);
      w.b.putInt(n.generation());
    }
    w.ensure(4);
    w.b.putInt(streams.size());
    for (StreamRecord s : streams.values()) {
      w.string(s.name());
      MetaCodec.writeStrings(w, s.subjects());
      w.ensure(8 + 4 * s.placement().size());
      w.b.putInt(s.replicas()).putInt(s.placement().size());
      s.placement().forEach(w.b::putInt);
      w.string(s.group());
      byte[] limits = s.limits().encode();
      w.ensure(8 + limits.length + 4 * s.initialPlacement().size());
      w.b.putInt(limits.length).put(limits);
      w.b.putInt(s.initialPlacement().size());
      s.initialPlacement().forEach(w.b::putInt);
      w.ensure(4 + 8 * s.joins().size());
      w.b.putInt(s.joins().size());
      s.joins().forEach((node, count) -> w.b.putInt(node).putInt(count));
    }
    MetaCodec.writeStrings(w, List.copyOf(deletedGroups));
    // Appended last, so that a snapshot written before draining existed reads as none draining.
    w.ensure(4 + 4 * draining.size());
    w.b.putInt(draining.size());
    draining.forEach(w.b::putInt);
    w.ensure(8 + 4 * metaVoters.size() + 8 * metaJoins.size());
    w.b.putInt(metaVoters.size());
    metaVoters.forEach(w.b::putInt);
    w.b.putInt(metaJoins.size());
    metaJoins.forEach((node, join) -> w.b.putInt(node).putInt(join));
    return StreamCommand.sealChecksum(w.bytes());
  }

  /** Replaces the state by a snapshot; an empty one (the group's initial snapshot) is the empty state. */
  public void restore(byte[] snapshot) {
    bySubject = null;
    nodes.clear();
    streams.clear();
    deletedGroups.clear();
    draining.clear();
    metaVoters = List.of();
    metaJoins.clear();
    appliedIndex = 0;
    if (snapshot.length == 0) {
      return;
    }
    ByteBuffer b = StreamCommand.openChecksummed(snapshot, "meta snapshot");
    appliedIndex = b.getLong();
    int n = b.getInt();
    for (int i = 0; i < n; i++) {
      Node node = new Node(b.getInt(), StreamCommand.readString(b), StreamCommand.readString(b), b.getInt());
      nodes.put(node.id(), node);
    }
    int s = b.getInt();
    for (int i = 0; i < s; i++) {
      String name = StreamCommand.readString(b);
      List<String> subjects = MetaCodec.readStrings(b);
      int replicas = b.getInt();
      List<Integer> placement = new ArrayList<>();
      for (int k = b.getInt(); k > 0; k--) {
        placement.add(b.getInt());
      }
      String group = StreamCommand.readString(b);
      byte[] limits = new byte[b.getInt()];
      b.get(limits);
      List<Integer> initial = new ArrayList<>();
      for (int k = b.getInt(); k > 0; k--) {
        initial.add(b.getInt());
      }
      TreeMap<Integer, Integer> joins = new TreeMap<>();
      for (int k = b.getInt(); k > 0; k--) {
        joins.put(b.getInt(), b.getInt());
      }
      streams.put(name, new StreamRecord(name, subjects, replicas, placement, group, StreamLimits.decode(limits),
          initial, joins));
    }
    deletedGroups.addAll(MetaCodec.readStrings(b));
    if (b.hasRemaining()) {
      for (int k = b.getInt(); k > 0; k--) {
        draining.add(b.getInt());
      }
    }
    if (b.hasRemaining()) { // meta voters, appended after draining
      List<Integer> voters = new ArrayList<>();
      for (int k = b.getInt(); k > 0; k--) {
        voters.add(b.getInt());
      }
      metaVoters = List.copyOf(voters);
      for (int k = b.getInt(); k > 0; k--) {
        metaJoins.put(b.getInt(), b.getInt());
      }
    }
  }
}
