package io.holdfast.server;

import io.holdfast.meta.MetaCodec;
import io.holdfast.meta.MetaState;
import io.holdfast.meta.ReplicaIds;
import io.holdfast.node.NodeStorage;
import io.holdfast.raft.message.Membership;
import io.holdfast.replica.MetaMachine;
import io.holdfast.replica.ReplicaShell;
import io.holdfast.replica.ReplicatedMachine;
import io.holdfast.replica.StreamMachine;
import io.holdfast.replica.Wire;
import io.holdfast.storage.file.FileDisk;
import io.holdfast.storage.segment.SegmentStore;
import io.holdfast.transport.ReplicaHost;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.apache.pekko.actor.CoordinatedShutdown;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.DispatcherSelector;
import org.apache.pekko.actor.typed.javadsl.AbstractBehavior;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.actor.typed.javadsl.Receive;
import org.apache.pekko.actor.typed.javadsl.TimerScheduler;

/**
 * One per server node ({@code /system/holdfast}): runs the node's replicas as children named by
 * group — the meta replica if this node is a meta voter, and one replica per stream whose
 * committed placement includes this node. It registers the node with the meta group under its
 * disk's incarnation first (D9); a node the meta group refuses (its disk was wiped or replaced)
 * hosts no stream replica. Stream replicas are stopped only when the committed meta state lists
 * their group as deleted (D8) — never because a view lacks them.
 *
 * <p>Replicas run under Raft ids that carry their node's join count ({@link ReplicaIds}). A meta
 * voter whose data directory holds no meta replica starts one at once only while the cluster forms
 * ({@code holdfast.node.rejoin} off); a rejoining node first registers its disk, and then starts
 * its meta replica as a new member under the id the meta group gave it — an empty log must never
 * vote under an id whose votes the group remembers (D9).
 *
 * <p>Failure policy. A replica that stops without being told to (its storage stopped, its driver
 * failed, a bug threw) stays down until the node restarts: a new replica in this process would
 * start from what the store recovered when the node started, which is out of date for a replica
 * that wrote since ({@link NodeStorage.Recovered#writtenSince}). The node's other replicas go on;
 * {@code /health} lists the stopped ones. If the node's storage actor itself stops, nothing on
 * this node can persist again: the node shuts down (exit code 1 from {@code holdfast node}),
 * loudly, rather than keep replicas that wait for writes forever. An exception in this actor
 * itself stops it (Pekko's default) with its children: the node then hosts nothing, and says so
 * in {@code /health} (no registration answer); restarting it in-process would respawn replicas
 * on stale recovered state, so it is not done.
 */
public final class StreamManager extends AbstractBehavior<StreamManager.Command> {
  public sealed interface Command {}

  public record MetaUpdated(MetaState view) implements Command {}

  public record GetNodeStatus(ActorRef<NodeStatus> replyTo) implements Command {}

  /**
   * @param registration "pending", "registered" or "refused: <why>"
   * @param stopped the groups whose replica here stopped without being told to: down until the node restarts
   */
  public record NodeStatus(int nodeId, String registration, List<String> groups, List<String> stopped) {}

  private enum Tick implements Command { INSTANCE }

  /**
   * How often an unregistered node asks the meta group again (it may have no leader yet: the
   * registration is the node's first write, D9), and looks at the cluster's members in case a
   * membership event was missed. Each costs one proposal or one scan of the member list, so half a
   * second costs nothing and keeps a starting node's wait short; membership events normally arrive
   * at once.
   */
  static final Duration TICK = Duration.ofMillis(500);

  private record Registered(Object outcome) implements Command {}

  private record ReplicaStopped(String group, ActorRef<ReplicaShell.Command> ref) implements Command {}

  private enum StorageGone implements Command { INSTANCE }

  /** The cluster's membership changed: where the peers' ReplicaHosts are may have too. */
  private record MembersChanged(Object event) implements Command {}

  private final NodeSettings settings;
  private final ActorRef<NodeStorage.Command> storage;
  private final ActorRef<ReplicaHost.Command> host;
  private final String incarnation;
  private final String http;
  private final GroupRouter router;
  public static final String REPLICA_DISPATCHER = "holdfast.replica-dispatcher";
  public static final String STORE_SYNC_DISPATCHER = "holdfast.store-sync-dispatcher";
  private final java.util.concurrent.Executor syncExecutor;
  private final TreeMap<String, ActorRef<ReplicaShell.Command>> children = new TreeMap<>();
  private final Map<String, List<Integer>> members = new HashMap<>();
  /** Each running replica's Raft id. */
  private final Map<String, Integer> ids = new HashMap<>();
  private final java.util.Set<String> retiring = new java.util.HashSet<>();
  /** Each running replica's storage name (its log's, its message store's). */
  private final Map<String, String> storageNames = new HashMap<>();
  /** Replicas stopped because their stream was deleted: their files are forgotten once they have stopped. */
  private final Map<ActorRef<ReplicaShell.Command>, String> forgetOnStop = new HashMap<>();
  /** Groups whose replica stopped without being told to: not started again in this process (see the class comment). */
  private final java.util.TreeSet<String> down = new java.util.TreeSet<>();
  /** The server nodes that are or were members, as last told to the replicas; see {@link #refreshPeerNodes}. */
  private java.util.SortedMap<Integer, org.apache.pekko.actor.Address> peerNodes = new TreeMap<>();
  private final Map<Integer, ActorRef<ReplicaHost.Command>> peerHosts = new HashMap<>();
  private final Map<Integer, ActorRef<ReplicaHost.Command>> peerLargeHosts = new HashMap<>();
  /** Replicas this actor stopped itself (besides deleted and retiring ones). */
  private final java.util.Set<ActorRef<ReplicaShell.Command>> toldToStop = new java.util.HashSet<>();
  private MetaState view;
  private final io.holdfast.node.MetaVoters voters;
  /** Where this node's registration stands, as {@link NodeStatus#registration} says it (the phase decides). */
  private String registration = "pending";
  private boolean registering;

  public static Behavior<Command> create(NodeSettings settings, io.holdfast.node.MetaVoters voters,
      ActorRef<NodeStorage.Command> storage, ActorRef<ReplicaHost.Command> host, String incarnation,
      java.util.Set<String> stored, String http, GroupRouter router) {
    return Behaviors.setup(ctx -> Behaviors.withTimers(timers ->
        new StreamManager(ctx, timers, settings, voters, storage, host, incarnation, stored, http, router)));
  }

  /** @param stored the names of the replica logs the data directory held at start */
  private StreamManager(ActorContext<Command> ctx, TimerScheduler<Command> timers, NodeSettings settings,
      io.holdfast.node.MetaVoters voters, ActorRef<NodeStorage.Command> storage, ActorRef<ReplicaHost.Command> host, String incarnation,
      java.util.Set<String> stored, String http, GroupRouter router) {
    super(ctx);
    this.settings = settings;
    this.voters = voters;
    this.storage = storage;
    this.host = host;
    this.incarnation = incarnation;
    this.http = http;
    this.router = router;
    this.syncExecutor = ctx.getSystem().dispatchers().lookup(DispatcherSelector.fromConfig(STORE_SYNC_DISPATCHER));
    ctx.watchWith(storage, StorageGone.INSTANCE);
    org.apache.pekko.cluster.typed.Cluster.get(ctx.getSystem()).subscriptions().tell(
        org.apache.pekko.cluster.typed.Subscribe.create(
            ctx.messageAdapter(org.apache.pekko.cluster.ClusterEvent.MemberEvent.class, MembersChanged::new),
            org.apache.pekko.cluster.ClusterEvent.MemberEvent.class));
    refreshPeerNodes();
    if (metaVoter()) {
      int join = stored.stream().mapToInt(n -> ReplicaIds.joinOf(n, "meta")).max().orElse(-1);
      if (join >= 0 || (!settings.rejoin() && voters.bootstrapsFromConfig())) {
        spawnMeta(Math.max(join, 0), Membership.ofVoters(voters.current().stream()
            .mapToInt(Integer::intValue).toArray())); // the membership only counts on an empty log
      } else {
        ctx.getLog().info("Node {} has a meta vote but no meta replica on its disk: it starts one as a new member"
            + " once the meta group has registered this disk", settings.nodeId());
      }
    }
    timers.startTimerWithFixedDelay(Tick.INSTANCE, TICK);
    ctx.getSelf().tell(Tick.INSTANCE);
  }

  /**
   * The node's lifecycle, one behavior per phase: {@link #registering} until the meta group has
   * this disk (D9), then {@link #registered} (it runs what committed placement gives it) or
   * {@link #refused} (it hosts no replica). What every phase does is in {@link #common}.
   */
  @Override
  public Receive<Command> createReceive() {
    return registering();
  }

  /** Not yet registered: asks the meta group every tick; hosts its meta replica at most. */
  private Receive<Command> registering() {
    return common(false)
        .onMessageEquals(Tick.INSTANCE, () -> {
          refreshAndConnect();
          register();
          return Behaviors.same();
        })
        .onMessage(Registered.class, this::onRegistered)
        .onMessage(MetaUpdated.class, u -> {
          view = u.view(); // placement waits for the registration
          return Behaviors.same();
        })
        .build();
  }

  /** Registered: runs the replicas committed placement gives this node, stops those of deleted streams. */
  private Receive<Command> registered() {
    return common(true)
        .onMessageEquals(Tick.INSTANCE, () -> {
          refreshAndConnect();
          return Behaviors.same();
        })
        .onMessage(MetaUpdated.class, u -> {
          view = u.view();
          reconcile();
          return Behaviors.same();
        })
        .onMessage(Registered.class, r -> Behaviors.same()) // an answer to an ask from before
        .build();
  }

  /** Refused: this disk is not the one the meta group knows under this id; the node hosts no replica. */
  private Receive<Command> refused() {
    return common(false)
        .onMessageEquals(Tick.INSTANCE, () -> Behaviors.same())
        .onMessage(MetaUpdated.class, u -> {
          view = u.view();
          return Behaviors.same();
        })
        .onMessage(Registered.class, r -> Behaviors.same())
        .build();
  }

  /**
   * What every phase does (a phase's own handlers come after these, so none of these may take a
   * message a phase handles); {@code placing}: whether a stopped replica that is still placed starts again.
   */
  private org.apache.pekko.actor.typed.javadsl.ReceiveBuilder<Command> common(boolean placing) {
    return newReceiveBuilder()
        .onMessageEquals(StorageGone.INSTANCE, this::onStorageGone)
        .onMessage(MembersChanged.class, m -> {
          refreshAndConnect();
          return Behaviors.same();
        })
        .onMessage(ReplicaStopped.class, r -> {
          LocalReplicas.get(getContext().getSystem()).stopped(r.group(), r.ref());
          String gone = forgetOnStop.remove(r.ref());
          if (children.get(r.group()) == r.ref() && !retiring.contains(r.group()) && !toldToStop.remove(r.ref())) {
            down.add(r.group());
            getContext().getLog().error("Replica {} stopped without being told to: it stays down until this node"
                + " restarts (its log says why)", r.group());
          }
          if (children.get(r.group()) == r.ref()) {
            children.remove(r.group());
            members.remove(r.group());
            ids.remove(r.group());
            String storageName = storageNames.remove(r.group());
            if (retiring.remove(r.group()) && !stillPlaced(r.group(), storageName)) {
              gone = storageName; // the meta group placed it elsewhere (or anew): its files are garbage
            }
            if (placing) {
              reconcile(); // a retired replica that is wanted again starts anew (a new member)
            }
          }
          if (gone != null) {
            storage.tell(new NodeStorage.Forget(gone));
          }
          compactionChanged();
          return Behaviors.same();
        })
        .onMessage(GetNodeStatus.class, g -> {
          g.replyTo().tell(new NodeStatus(settings.nodeId(), registration, List.copyOf(children.keySet()),
              List.copyOf(down)));
          return Behaviors.same();
        });
  }

  /**
   * In case a membership event was missed, looks at the cluster's members: if server nodes came
   * or went, every replica is told where its peers are now (as on {@link MembersChanged}). Before,
   * every replica was told every tick: with 1,000 replicas, 4,000 actor references resolved per
   * second per node with nothing changing.
   */
  private void refreshAndConnect() {
    if (refreshPeerNodes()) {
      children.values().forEach(this::connect);
    }
  }

  /** Asks the meta group to register this disk, unless an ask is out. */
  private void register() {
    if (!registering) {
      registering = true;
      byte[] command = MetaCodec.encode(new MetaState.RegisterNode(settings.nodeId(), incarnation, http,
          settings.rejoin()));
      getContext().pipeToSelf(router.propose("meta", voters.current(), new Wire.MetaChange(command),
          Duration.ofSeconds(2), null), (outcome, failure) -> new Registered(failure != null ? failure : outcome));
    }
  }

  private Behavior<Command> onStorageGone() {
    CoordinatedShutdown shutdown = CoordinatedShutdown.get(getContext().getSystem());
    if (shutdown.getShutdownReason().isEmpty()) {
      getContext().getLog().error("The node's storage actor stopped: nothing on this node can persist again; the node"
          + " shuts down");
      shutdown.runAll(StorageStoppedReason.INSTANCE);
    }
    return Behaviors.same();
  }

  /** Why a node shut itself down: its storage actor stopped. */
  public static final class StorageStoppedReason implements CoordinatedShutdown.Reason {
    public static final StorageStoppedReason INSTANCE = new StorageStoppedReason();

    private StorageStoppedReason() {}

    @Override
    public String toString() {
      return "the node's storage actor stopped";
    }
  }

  private Behavior<Command> onRegistered(Registered r) {
    registering = false;
    if (r.outcome() instanceof ReplicaShell.Applied a && a.outcome() instanceof Wire.MetaOutcome m) {
      if (m.code() == null) {
        registration = "registered";
        getContext().getLog().info("Node {} registered with the meta group (disk incarnation {})", settings.nodeId(),
            incarnation);
        reconcile();
        return registered();
      } else {
        registration = "refused: " + m.message();
        getContext().getLog().error("Node {} refused by the meta group; it hosts no replica: {}",
            settings.nodeId(), m.message());
        ActorRef<ReplicaShell.Command> meta = children.get("meta");
        if (meta != null) {
          // This disk is not the one the group knows under this id (wiped, yet started with rejoin
          // off): its meta replica holds nothing the group agreed to and must not vote again.
          toldToStop.add(meta);
          getContext().stop(meta);
        }
        return refused();
      }
    }
    return Behaviors.same(); // no answer (no meta leader yet): asked again on the next tick
  }

  /** Starts the replicas committed placement gives this node; stops those of committed deletions (registered phase). */
  private void reconcile() {
    if (view == null) {
      return;
    }
    MetaState.Node me = view.nodes().get(settings.nodeId());
    if (me == null || !me.incarnation().equals(incarnation)) {
      return; // a view from before this disk registered: its placement may name replicas this disk never had
    }
    reconcileMeta();
    for (MetaState.StreamRecord s : view.streams().values()) {
      boolean placed = s.placement().contains(settings.nodeId());
      int id = s.replicaId(settings.nodeId());
      if (placed && children.containsKey(s.group()) && ids.get(s.group()) != id && !retiring.contains(s.group())) {
        // Placed anew while the old replica runs: the group removes its id; it retires, then the new one starts.
        getContext().getLog().info("Replica {} (id {}) is replaced by a new member with id {}", s.group(),
            ids.get(s.group()), id);
        retiring.add(s.group());
      }
      if (placed && !children.containsKey(s.group()) && !down.contains(s.group())) {
        // Only the nodes the group was created on bootstrap it, and only while they never left; a
        // node added later (or again) joins with a fresh, empty log, as a learner the leader brings
        // up to date — never with a log from before it was removed (D9).
        Membership initial = s.bootstraps(settings.nodeId())
            ? Membership.ofVoters(s.initialPlacement().stream().mapToInt(Integer::intValue).toArray())
            : Membership.EMPTY;
        String storageName = s.storageName(settings.nodeId());
        spawn(s.group(), storageName, id, s.replicaIds(), initial, new StreamMachine(s.name(),
            synced -> SegmentStore.open(FileDisk.ofStream(settings.dataDir(), storageName), settings.store(), synced)));
      }
      ActorRef<ReplicaShell.Command> child = children.get(s.group());
      if (child == null) {
        continue;
      }
      if (placed && retiring.contains(s.group())) {
        // Placed again while retiring: the new member starts (fresh log, new id) once this one has
        // stopped — at once unless it leads; a leader that is removing itself must first see the
        // rest of the group take that change, or the group could be left without a quorum.
        child.tell(ReplicaShell.Retire.REPLACED);
      } else if (placed) {
        members.put(s.group(), s.replicaIds());
        child.tell(new ReplicaShell.Configure(s.limits())); // the leader brings the stream there
        child.tell(new ReplicaShell.Members(s.replicaIds()));
      } else {
        retiring.add(s.group());
        child.tell(new ReplicaShell.Members(s.replicaIds())); // a leader removes itself last
        child.tell(ReplicaShell.Retire.INSTANCE);
      }
    }
    for (String group : view.deletedGroups()) {
      ActorRef<ReplicaShell.Command> child = children.remove(group);
      if (child != null) {
        getContext().getLog().info("Stopping replica {}: its stream was deleted; its files go once it stopped", group);
        forgetOnStop.put(child, storageNames.remove(group));
        getContext().stop(child);
        members.remove(group);
        router.forget(group);
      }
    }
  }

  private boolean metaVoter() {
    return voters.current().contains(settings.nodeId());
  }

  /**
   * Starts the meta replica of a rejoining node (or one given a vote) once the committed view holds
   * this disk, under the id the meta group gave it; tells a running one which ids the meta voters
   * have now (a voter that rejoined with a new disk is replaced by its new replica, one membership
   * change at a time); retires it when the node's vote moved elsewhere.
   */
  private void reconcileMeta() {
    ActorRef<ReplicaShell.Command> meta = children.get("meta");
    if (!metaVoter()) {
      if (meta != null && !view.metaVoters().isEmpty() && retiring.add("meta")) {
        // Its vote moved (a drain): it stops once the group has let it go, and its log is forgotten.
        // If it leads, it removes itself, last, from the members it is told.
        getContext().getLog().info("This node's meta replica retires: the meta voters are now nodes {}",
            view.metaVoters());
        meta.tell(new ReplicaShell.Members(voters.current().stream().map(this::metaIdOf).toList()));
        meta.tell(ReplicaShell.Retire.INSTANCE);
      }
      return;
    }
    if (meta != null && ids.get("meta") != view.metaReplicaId(settings.nodeId()) && retiring.add("meta")) {
      meta.tell(ReplicaShell.Retire.REPLACED); // an old member under an id the group let go: a new one follows
    }
    if (meta == null && !down.contains("meta")) {
      spawnMeta(view.metaJoin(settings.nodeId()), Membership.EMPTY); // a learner the leader brings up to date
    }
    meta = children.get("meta");
    if (meta != null && !retiring.contains("meta")) {
      List<Integer> desired = voters.current().stream().map(this::metaIdOf).toList();
      members.put("meta", desired);
      meta.tell(new ReplicaShell.Members(desired));
    }
  }

  private void spawnMeta(int join, Membership initial) {
    List<Integer> peers = voters.current().stream()
        .map(v -> v == settings.nodeId() ? ReplicaIds.of(v, join) : metaIdOf(v)).toList();
    spawn("meta", ReplicaIds.storageName("meta", join), ReplicaIds.of(settings.nodeId(), join), peers, initial,
        new MetaMachine());
  }

  /** The meta replica id of voter {@code node} as the view has it (its node id before any view). */
  private int metaIdOf(int node) {
    return view == null ? node : view.metaReplicaId(node);
  }

  private void spawn(String group, String storageName, int self, List<Integer> peerIds, Membership initial,
      ReplicatedMachine machine) {
    long seed = storageName.hashCode() * 31L + self;
    Runnable close = machine instanceof StreamMachine m ? m::close : () -> { };
    ActorRef<ReplicaShell.Command> ref = getContext().spawn(ReplicaShell.create(group, storageName, self,
        initial, settings.raft(), settings.tick(), storage, seed, machine, syncExecutor, close, ReplicaShell.Clock.SYSTEM), group,
        DispatcherSelector.fromConfig(REPLICA_DISPATCHER));
    getContext().watchWith(ref, new ReplicaStopped(group, ref));
    LocalReplicas.get(getContext().getSystem()).started(group, ref);
    children.put(group, ref);
    ids.put(group, self);
    storageNames.put(group, storageName);
    members.put(group, List.copyOf(peerIds));
    connect(ref);
    compactionChanged();
    if (!group.equals("meta")) { // the meta group's proposals come from every node alike
      ref.tell(new ReplicaShell.FollowPublishers(settings.followPublishersPerRound()));
    }
  }

  /** Whether the committed view still places this node's replica of {@code group} under {@code storageName}. */
  private boolean stillPlaced(String group, String storageName) {
    if (view == null) {
      return true; // nothing known: nothing deleted (D8)
    }
    for (MetaState.StreamRecord s : view.streams().values()) {
      if (s.group().equals(group)) {
        return s.placement().contains(settings.nodeId()) && s.storageName(settings.nodeId()).equals(storageName);
      }
    }
    if (group.equals("meta")) {
      return metaVoter() && ReplicaIds.storageName("meta", view.metaJoin(settings.nodeId())).equals(storageName);
    }
    return !view.deletedGroups().contains(group);
  }

  /** Each replica's share of the node's log memory changes with how many there are. */
  private void compactionChanged() {
    long after = settings.compactAfterBytes(children.size());
    children.values().forEach(c -> c.tell(new ReplicaShell.Compaction(after)));
  }

  /**
   * Looks at which server nodes are members and where; returns whether that changed. A node that
   * left the membership (downed, removed, restarting) keeps its last address: Raft messages go on
   * to it, and reach its next incarnation at the same address as soon as it runs, without waiting
   * for it to be a member again (availability decided by Raft, not by Pekko membership). A node
   * back at a new address replaces the old one.
   */
  private boolean refreshPeerNodes() {
    var now = new TreeMap<>(peerNodes);
    now.putAll(NodeDirectory.knownNodes(getContext().getSystem()));
    if (now.equals(peerNodes)) {
      return false;
    }
    peerNodes = now;
    peerHosts.clear();
    peerLargeHosts.clear();
    now.forEach((node, address) -> {
      peerHosts.put(node, NodeDirectory.hostAt(getContext().getSystem(), address, false));
      peerLargeHosts.put(node, NodeDirectory.hostAt(getContext().getSystem(), address, true));
    });
    return true;
  }

  /** Tells a replica where every node's hosts are, by node id (ReplicaShell routes replica ids by node). */
  private void connect(ActorRef<ReplicaShell.Command> replica) {
    Map<Integer, ActorRef<ReplicaHost.Command>> peers = new HashMap<>(peerHosts);
    Map<Integer, ActorRef<ReplicaHost.Command>> large = new HashMap<>(peerLargeHosts);
    peers.put(settings.nodeId(), host);
    large.put(settings.nodeId(), host);
    replica.tell(new ReplicaShell.Connect(peers, host, large));
  }
}
