package io.holdfast.api;

import io.holdfast.metrics.HoldfastMetrics;
import io.holdfast.metrics.HoldfastMetrics.Row;
import io.holdfast.stream.ConsumerInfo;
import io.micrometer.core.instrument.Tags;
import io.holdfast.api.Records.ClusterStatus;
import io.holdfast.api.Records.NodeInfo;
import io.holdfast.api.Records.PubAck;
import io.holdfast.api.Records.StreamCluster;
import io.holdfast.api.Records.StreamConfig;
import io.holdfast.api.Records.StreamInfo;
import io.holdfast.api.Records.StreamMessage;
import io.holdfast.meta.MetaCodec;
import io.holdfast.meta.MetaState;
import io.holdfast.meta.ReplicaIds;
import io.holdfast.node.NodeStorage;
import io.holdfast.replica.ReplicaDriver;
import io.holdfast.replica.ReplicaShell;
import io.holdfast.replica.StreamMachine;
import io.holdfast.replica.Wire;
import io.holdfast.server.GroupRouter;
import io.holdfast.server.MetaWatcher;
import io.holdfast.server.NodeDirectory;
import io.holdfast.server.NodeSettings;
import io.holdfast.server.StreamEntity;
import io.holdfast.server.StreamManager;
import io.holdfast.storage.StorageFailure;
import io.holdfast.storage.file.FileLogStore;
import io.holdfast.stream.Subjects;
import io.holdfast.transport.ReplicaHost;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.SortedMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.atomic.AtomicReference;
import java.util.stream.StreamSupport;
import org.apache.pekko.Done;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.DispatcherSelector;
import org.apache.pekko.actor.typed.Extension;
import org.apache.pekko.actor.typed.ExtensionId;
import org.apache.pekko.actor.typed.Props;
import org.apache.pekko.actor.typed.javadsl.AskPattern;
import org.apache.pekko.cluster.sharding.typed.javadsl.ClusterSharding;
import org.apache.pekko.cluster.sharding.typed.javadsl.Entity;
import org.apache.pekko.cluster.typed.Cluster;

/**
 * Holdfast inside a Pekko cluster application: {@code Holdfast.get(system)}. On a server node
 * ({@code holdfast.node.id} ≥ 1, cluster roles {@code holdfast} and {@code holdfast-node-<id>})
 * it opens the node's storage and runs its replicas; on an application node (id 0) it only
 * routes. Every call returns a {@link CompletionStage} that completes within
 * {@code holdfast.client.request-timeout}, failed with a {@link HoldfastException} if need be.
 */
public final class Holdfast implements Extension {
  public static final class Id extends ExtensionId<Holdfast> {
    @Override
    public Holdfast createExtension(ActorSystem<?> system) {
      return new Holdfast(system);
    }
  }

  private static final Id ID = new Id();

  public static Holdfast get(ActorSystem<?> system) {
    return ID.apply(system);
  }

  private final ActorSystem<?> system;
  private final NodeSettings settings;
  private final GroupRouter router;
  private final AtomicReference<MetaState> view = new AtomicReference<>();
  private final ActorRef<StreamManager.Command> manager;
  private final ClusterSharding sharding;
  private final HoldfastMetrics metrics;
  private final io.holdfast.node.MetaVoters voters;

  private Holdfast(ActorSystem<?> system) {
    this.system = system;
    this.settings = NodeSettings.fromConfig(system.settings().config());
    this.router = new GroupRouter(system);
    this.metrics = HoldfastMetrics.get(system);
    if (settings.server()) {
      io.holdfast.node.DiskGuard.get(system); // starts watching the data directory's free space
      var roles = Cluster.get(system).selfMember().getRoles();
      if (!roles.contains(NodeSettings.SERVER_ROLE) || !roles.contains(NodeSettings.nodeRole(settings.nodeId()))) {
        throw new IllegalStateException("holdfast.node.id = " + settings.nodeId() + " needs the cluster roles \""
            + NodeSettings.SERVER_ROLE + "\" and \"" + NodeSettings.nodeRole(settings.nodeId())
            + "\" in pekko.cluster.roles");
      }
      FileLogStore store;
      long opening = System.nanoTime();
      try {
        store = NodeStorage.openFileStore(settings.dataDir(), system.settings().config());
      } catch (StorageFailure e) {
        throw new IllegalStateException("cannot open the data directory " + settings.dataDir() + ": " + e.getMessage(), e);
      }
      store.recoveryNotes().forEach(n -> system.log().warn("Recovery: {}", n));
      this.voters = io.holdfast.node.MetaVoters.open(settings.metaVoters(), settings.dataDir());
      system.log().info("Opened the node's log in {} ms: {} replicas recovered ({})",
          (System.nanoTime() - opening) / 1_000_000, store.recovered().size(), store.recoverySummary());
      ActorRef<NodeStorage.Command> storage = system.systemActorOf(
          NodeStorage.create(store, NodeStorage.Settings.fromConfig(system.settings().config())), "holdfast-storage",
          DispatcherSelector.fromConfig(NodeStorage.DISPATCHER));
      ActorRef<ReplicaHost.Command> host = system.systemActorOf(ReplicaHost.create(), NodeDirectory.HOST, Props.empty());
      system.systemActorOf(ReplicaHost.largeMessages(host), NodeDirectory.LARGE, Props.empty());
      String http = !settings.httpEnabled() ? ""
          : (system.settings().config().getBoolean("holdfast.http.tls") ? "https://" : "http://") + settings.httpHost()
          + ":" + settings.httpPort();
      this.manager = system.systemActorOf(StreamManager.create(settings, voters, storage, host, store.incarnation(),
              store.recovered().keySet(), http, router),
          NodeDirectory.MANAGER, Props.empty());
    } else {
      this.manager = null;
      this.voters = io.holdfast.node.MetaVoters.inMemory(settings.metaVoters());
    }
    system.systemActorOf(MetaWatcher.create(voters::current, settings.metaPollInterval(), newer -> {
      if (voters.learn(newer)) {
        system.log().info("The meta voters are now nodes {}", voters.current());
      }
      view.set(newer);
      if (manager != null) {
        manager.tell(new StreamManager.MetaUpdated(newer));
      }
    }), "holdfast-meta-watcher", Props.empty());
    this.sharding = ClusterSharding.get(system);
    sharding.init(Entity.of(StreamEntity.KEY, ctx -> StreamEntity.create(ctx.getEntityId(), view::get, router))
        .withRole(NodeSettings.SERVER_ROLE));
    if (settings.server()) {
      metrics.onScrape(this::localGauges);
      io.holdfast.node.DiskMetrics.register(metrics, settings.dataDir());
    }
  }

  /**
   * For a scrape of /metrics: each local replica's Raft state; then, for the streams whose local
   * replica leads, their messages and bytes and their consumers' pending, ack pending and
   * redelivered counts — reported by the leader's node only, so that sums over the nodes count
   * each stream once, and read from the leader here, with no request to other nodes.
   */
  private CompletionStage<Void> localGauges() {
    return localReplicas().thenCompose(replicas -> {
      List<Row> term = new ArrayList<>();
      List<Row> leader = new ArrayList<>();
      List<Row> commit = new ArrayList<>();
      List<Row> applied = new ArrayList<>();
      List<Row> lag = new ArrayList<>();
      List<Row> snapshotIndex = new ArrayList<>();
      List<Row> catchUpMissing = new ArrayList<>();
      List<Row> catchUpBytes = new ArrayList<>();
      List<Row> followerEntries = new ArrayList<>();
      List<Row> followerBytes = new ArrayList<>();
      List<Row> followerSnapshot = new ArrayList<>();
      java.util.Set<String> led = new java.util.HashSet<>();
      replicas.forEach((group, status) -> status.ifPresent(st -> {
        Tags tags = Tags.of("group", group); // the role is the leader gauge: a tag would start new series
        boolean leads = st.role() == io.holdfast.raft.RaftCore.Role.LEADER;
        if (leads) {
          led.add(group);
        }
        term.add(new Row(tags, st.term()));
        leader.add(new Row(tags, leads ? 1 : 0));
        commit.add(new Row(tags, st.commitIndex()));
        applied.add(new Row(tags, st.appliedIndex()));
        lag.add(new Row(tags, st.commitIndex() - st.appliedIndex()));
        snapshotIndex.add(new Row(tags, st.snapshotIndex()));
        catchUpMissing.add(new Row(tags, st.catchUpMissing()));
        catchUpBytes.add(new Row(tags, st.catchUpFetchedBytes()));
        for (io.holdfast.raft.RaftCore.FollowerLag f : st.followers()) {
          Tags ft = tags.and("follower", String.valueOf(ReplicaIds.node(f.id())));
          followerEntries.add(new Row(ft, f.entries()));
          followerBytes.add(new Row(ft, f.bytes()));
          followerSnapshot.add(new Row(ft, f.snapshot() ? 1 : 0));
        }
      }));
      metrics.gauge("holdfast.replica.term", "Raft term of each local replica", term);
      metrics.gauge("holdfast.replica.leader", "1 if the local replica leads its group", leader);
      metrics.gauge("holdfast.replica.commit.index", "Commit index of each local replica", commit);
      metrics.gauge("holdfast.replica.applied.index", "Applied index of each local replica", applied);
      metrics.gauge("holdfast.replica.apply.lag.entries", "Committed entries a local replica has not applied yet", lag);
      metrics.gauge("holdfast.replica.snapshot.index", "Index of each local replica's latest snapshot", snapshotIndex);
      metrics.gauge("holdfast.replica.catchup.missing.records", "Records a local replica still fetches from a peer"
          + " before it installs the leader's snapshot (0: no catch-up)", catchUpMissing);
      metrics.gauge("holdfast.replica.catchup.fetched.bytes", "Bytes of records the running catch-up fetched so far",
          catchUpBytes);
      metrics.gauge("holdfast.replica.follower.lag.entries", "Leader's view: log entries each follower lacks",
          followerEntries);
      metrics.gauge("holdfast.replica.follower.lag.bytes", "Leader's view: bytes of the entries each follower lacks"
          + " that the leader's log still holds", followerBytes);
      metrics.gauge("holdfast.replica.follower.snapshot", "Leader's view: 1 while a follower needs or is sent a"
          + " snapshot (it is behind the leader's log)", followerSnapshot);
      MetaState v = view.get();
      if (v != null) {
        metrics.retainStreams(v.streams().keySet()); // a deleted stream's series go
      }
      List<String> mine = v == null ? List.of() : v.streams().values().stream()
          .filter(r -> led.contains(r.group())).map(MetaState.StreamRecord::name).toList();
      return streamGauges(mine);
    });
  }

  private CompletionStage<Void> streamGauges(List<String> streams) {
    List<CompletableFuture<Optional<StreamInfo>>> infos = new ArrayList<>();
    List<CompletableFuture<List<ConsumerInfo>>> consumerLists = new ArrayList<>();
    for (String name : streams) {
      infos.add(streamInfo(name).toCompletableFuture().thenApply(Optional::of).exceptionally(e -> Optional.empty()));
      consumerLists.add(consumers().list(name).toCompletableFuture().exceptionally(e -> List.of()));
    }
    List<CompletableFuture<?>> all = new ArrayList<>(infos);
    all.addAll(consumerLists);
    return CompletableFuture.allOf(all.toArray(new CompletableFuture[0])).thenAccept(x -> {
      List<Row> messages = new ArrayList<>();
      List<Row> bytes = new ArrayList<>();
      for (CompletableFuture<Optional<StreamInfo>> f : infos) {
        f.join().filter(i -> i.state() != null).ifPresent(i -> {
          Tags tags = Tags.of("stream", i.config().name());
          messages.add(new Row(tags, i.state().messages()));
          bytes.add(new Row(tags, i.state().bytes()));
        });
      }
      List<Row> pending = new ArrayList<>();
      List<Row> ackPending = new ArrayList<>();
      List<Row> redelivered = new ArrayList<>();
      for (CompletableFuture<List<ConsumerInfo>> f : consumerLists) {
        for (ConsumerInfo c : f.join()) {
          Tags tags = Tags.of("stream", c.stream(), "consumer", c.config().name());
          pending.add(new Row(tags, c.pending()));
          ackPending.add(new Row(tags, c.ackPending()));
          redelivered.add(new Row(tags, c.redelivered()));
        }
      }
      metrics.gauge("holdfast.stream.messages", "Messages in each stream this node leads", messages);
      metrics.gauge("holdfast.stream.bytes", "Bytes of the messages in each stream this node leads", bytes);
      metrics.gauge("holdfast.consumer.pending", "Messages a consumer has not delivered yet", pending);
      metrics.gauge("holdfast.consumer.ack.pending", "Messages delivered and not acknowledged", ackPending);
      metrics.gauge("holdfast.consumer.redelivered", "Messages delivered more than once", redelivered);
    });
  }

  public NodeSettings settings() {
    return settings;
  }

  private Duration timeout() {
    return settings.requestTimeout();
  }

  // ---- streams ----

  public CompletionStage<StreamInfo> createStream(StreamConfig config) {
    return meta(new MetaState.CreateStream(config.name(), config.subjects(), config.replicas(), config.limits()))
        .thenCompose(v -> awaitView(s -> s.streams().containsKey(config.name())))
        .thenCompose(v -> awaitInfo(config.name()));
  }

  /**
   * Changes a stream's subjects, limits and replica count. A new replica count moves the stream's
   * group one membership change at a time (new nodes join as learners, then vote); the call
   * returns once the meta group has the new placement and the leader applied the limits.
   */
  public CompletionStage<StreamInfo> updateStream(StreamConfig config) {
    return meta(new MetaState.UpdateStream(config.name(), config.subjects(), config.replicas(), config.limits()))
        .thenCompose(v -> awaitView(s -> {
          MetaState.StreamRecord r = s.streams().get(config.name());
          return r != null && r.subjects().equals(config.subjects()) && r.limits().equals(config.limits())
              && r.replicas() == config.replicas();
        }))
        .thenCompose(v -> awaitInfo(config.name()));
  }

  /** What a drain did: the streams whose replica moved off {@code node}, and whether the node keeps a meta vote. */
  public record DrainReport(int node, List<String> moved, boolean metaVoter) {}

  /**
   * Moves every stream replica and the meta vote off {@code node}, so it can be retired: the node
   * is marked draining (no new replica goes there), then each stream it holds grows by one replica
   * elsewhere, waits until the new replica caught up and votes, and shrinks again, which drops the
   * draining node's replica. No stream is ever below its replica count. A meta voter's vote moves
   * the same way: a node without one (not draining, up) becomes a voter first, then the drained
   * node leaves the voters. Too few other nodes for a stream, or none to take the meta vote, fails
   * the drain with {@code insufficient_resources} before anything moved; the node stays marked
   * draining until {@link #undrainNode}. Each step waits up to {@code stepTimeout} for the group to settle.
   */
  public CompletionStage<DrainReport> drainNode(int node, Duration stepTimeout) {
    return retrying(stepTimeout, () -> meta(new MetaState.SetDraining(node, true)))
        .thenCompose(v -> awaitView(s -> s.draining().contains(node)))
        .thenCompose(v -> voters.current().contains(node)
            ? awaitMetaHeir(node, stepTimeout) : CompletableFuture.completedFuture(null))
        .thenCompose(heirExists -> moveOff(node, new ArrayList<>(), stepTimeout))
        .thenCompose(moved -> moveMetaVote(node, stepTimeout)
            .thenApply(v -> new DrainReport(node, List.copyOf(moved), voters.current().contains(node))));
  }

  /** The registered nodes that could take a meta vote from {@code node}: not draining, not voting. */
  private List<Integer> metaHeirs(int node) {
    MetaState v = view.get();
    return v.nodes().keySet().stream()
        .filter(n -> n != node && !v.draining().contains(n) && !voters.current().contains(n))
        .toList();
  }

  /**
   * A node to take {@code node}'s meta vote: one of {@link #metaHeirs} that is a member of the Pekko
   * cluster now (up: it can catch up). Fails at once with {@code insufficient_resources} when no
   * registered node qualifies; waits up to {@code within} for one that does to be a member here.
   * The wait is not an edge case: a node that just registered may not have reached this node's
   * membership yet by gossip, and one the split-brain resolver downed under load rejoins in seconds.
   */
  private CompletionStage<Integer> awaitMetaHeir(int node, Duration within) {
    if (metaHeirs(node).isEmpty()) {
      return CompletableFuture.failedFuture(new HoldfastException.Conflict(MetaState.NO_RESOURCES, "node " + node
          + " holds a meta vote and no other node can take it: every registered node that is not draining votes"
          + " already " + voters.current() + "; add a node first"));
    }
    java.util.concurrent.atomic.AtomicReference<Integer> heir = new java.util.concurrent.atomic.AtomicReference<>();
    return awaitCondition(within, () -> "none of nodes " + metaHeirs(node) + " became a cluster member to take node "
        + node + "'s meta vote", () -> {
          metaHeirs(node).stream().filter(n -> NodeDirectory.memberAddress(system, n).isPresent()).findFirst()
              .ifPresent(heir::set);
          return CompletableFuture.completedFuture(heir.get() != null);
        }).thenApply(v -> heir.get());
  }

  private CompletionStage<Void> moveMetaVote(int node, Duration stepTimeout) {
    List<Integer> before = voters.current();
    if (!before.contains(node)) {
      return CompletableFuture.completedFuture(null);
    }
    return awaitMetaHeir(node, stepTimeout).thenCompose(heir -> {
      List<Integer> grown = new ArrayList<>(before);
      grown.add(heir);
      List<Integer> after = grown.stream().filter(n -> n != node).toList();
      system.log().info("Draining node {}: node {} joins the meta voters {}", node, heir, before);
      return changeMetaVoters(before, grown, stepTimeout)
          .thenCompose(v -> changeMetaVoters(grown, after, stepTimeout))
          .thenAccept(v -> system.log().info("Draining node {}: the meta voters are now {}", node, after));
    });
  }

  /** Commits the change of meta voters, then waits until the meta leader has exactly them as voters. */
  private CompletionStage<Void> changeMetaVoters(List<Integer> from, List<Integer> to, Duration within) {
    List<Integer> toSorted = to.stream().sorted().toList();
    return retrying(within, () -> meta(new MetaState.SetMetaVoters(from, to)).exceptionallyCompose(e -> {
      Throwable t = HoldfastException.unwrap(e);
      // Refused as changed after a retry: an earlier try whose answer was lost may have committed
      // it; the view says so soon (else awaitView fails, as the change is not this drain's).
      return t instanceof HoldfastException h && h.code().equals(MetaState.CHANGED)
          ? awaitView(s -> s.metaVoters().equals(to)) : CompletableFuture.failedFuture(t);
    }))
        .thenCompose(v -> awaitView(s -> s.metaVoters().equals(to)))
        .thenCompose(v -> awaitCondition(within, () -> "the meta group did not settle on voters " + to, () ->
            router.probe("meta", voters.current()).thenCompose(leader -> leader.isEmpty()
                ? CompletableFuture.completedFuture(false)
                : router.local(AskPattern.<ReplicaShell.Command, ReplicaDriver.Status>ask(leader.get(),
                    ReplicaShell.GetStatus::new, timeout(), system.scheduler()))
                    .thenApply(st -> st.voters().stream().map(ReplicaIds::node).sorted().toList().equals(toSorted)))));
  }

  /** Lets new replicas be placed on {@code node} again. */
  public CompletionStage<Done> undrainNode(int node) {
    return retrying(timeout().multipliedBy(6), () -> meta(new MetaState.SetDraining(node, false)))
        .thenCompose(v -> awaitView(s -> !s.draining().contains(node)))
        .thenApply(v -> Done.getInstance());
  }

  private CompletionStage<List<String>> moveOff(int node, List<String> moved, Duration stepTimeout) {
    MetaState v = view.get();
    Optional<MetaState.StreamRecord> next = v.streams().values().stream()
        .filter(s -> s.placement().contains(node)).findFirst();
    if (next.isEmpty()) {
      return CompletableFuture.completedFuture(moved);
    }
    MetaState.StreamRecord s = next.get();
    StreamConfig grown = new StreamConfig(s.name(), s.subjects(), s.replicas() + 1, s.limits());
    system.log().info("Draining node {}: stream {} grows to {} replicas elsewhere ...", node, s.name(), s.replicas() + 1);
    return retrying(stepTimeout, () -> updateStream(grown))
        .thenCompose(i -> awaitSettled(s.name(), stepTimeout))
        .thenCompose(i -> retrying(stepTimeout, () -> updateStream(config(s))))
        .thenCompose(i -> awaitSettled(s.name(), stepTimeout))
        .thenCompose(i -> {
          system.log().info("Draining node {}: stream {} moved off it", node, s.name());
          moved.add(s.name());
          return moveOff(node, moved, stepTimeout);
        });
  }

  /**
   * Runs {@code step} again (every 500 ms, for up to {@code within}) while it fails as
   * {@code unavailable} or {@code outcome_unknown}: for the drain's steps, which are idempotent
   * (setting a flag, a stream config, a compare-and-set of voters), so that a meta or stream
   * leader elected meanwhile — a drain moves them — delays a drain instead of failing it.
   */
  private <T> CompletionStage<T> retrying(Duration within, java.util.function.Supplier<CompletionStage<T>> step) {
    return repeat(within, 500, step, e -> {
      boolean again = e instanceof HoldfastException.Unavailable || e instanceof HoldfastException.OutcomeUnknown;
      if (again) {
        system.log().info("Retrying a drain step after: {}", e.getMessage());
      }
      return again;
    });
  }

  /**
   * Runs {@code attempt} every {@code everyMillis} until it succeeds, it fails in a way {@code again}
   * does not accept (also by throwing), or {@code within} has passed (then with its last failure).
   */
  private <T> CompletionStage<T> repeat(Duration within, long everyMillis,
      java.util.function.Supplier<CompletionStage<T>> attempt, java.util.function.Predicate<Throwable> again) {
    long deadline = System.nanoTime() + within.toNanos();
    CompletableFuture<T> result = new CompletableFuture<>();
    Runnable[] next = new Runnable[1];
    next[0] = () -> {
      CompletionStage<T> answer;
      try {
        answer = attempt.get();
      } catch (RuntimeException e) {
        answer = CompletableFuture.failedFuture(e);
      }
      answer.whenComplete((value, failure) -> {
        Throwable e = failure == null ? null : HoldfastException.unwrap(failure);
        if (e == null) {
          result.complete(value);
        } else if (again.test(e) && System.nanoTime() < deadline) {
          router.after(everyMillis, next[0]);
        } else {
          result.completeExceptionally(e);
        }
      });
    };
    next[0].run();
    return result;
  }

  /** Until the stream's leader has exactly the voters its placement wants (new ones caught up and promoted). */
  private CompletionStage<Void> awaitSettled(String name, Duration within) {
    return awaitCondition(within, () -> "stream " + name + " did not settle on its new replicas "
        + Optional.ofNullable(view.get().streams().get(name)).map(MetaState.StreamRecord::placement).orElse(List.of()), () -> {
      MetaState.StreamRecord s = view.get().streams().get(name);
      if (s == null) {
        throw new HoldfastException.NotFound("stream_not_found", "stream " + name + " was deleted while its replicas moved");
      }
      return router.readFromLeader(s.group(), s.placement(), new Wire.GetInfo(true), timeout()).thenApply(reply ->
          reply instanceof Wire.Info i
              && new java.util.TreeSet<>(i.status().voters()).equals(new java.util.TreeSet<>(s.replicaIds())));
    });
  }

  /**
   * Asks {@code check} every 200 ms until it says yes; fails with {@link HoldfastException.Unavailable}
   * ({@code what} says what did not happen) after {@code within}, or with what {@code check} threw.
   * A check that fails (a timeout, no leader) counts as a no.
   */
  private CompletionStage<Void> awaitCondition(Duration within, java.util.function.Supplier<String> what,
      java.util.function.Supplier<CompletionStage<Boolean>> check) {
    final class No extends RuntimeException {
      No() {
        super(null, null, false, false);
      }
    }
    return repeat(within, 200, () -> check.get().handle((yes, e) -> {
      if (e != null || !yes) {
        throw new No();
      }
      return (Void) null;
    }), e -> e instanceof No).exceptionallyCompose(e -> CompletableFuture.failedFuture(
        HoldfastException.unwrap(e) instanceof No
            ? new HoldfastException.Unavailable(what.get() + " within " + within.toSeconds() + " s")
            : HoldfastException.unwrap(e)));
  }

  public CompletionStage<Done> deleteStream(String name) {
    return meta(new MetaState.DeleteStream(name))
        .thenCompose(v -> awaitView(s -> !s.streams().containsKey(name)))
        .thenApply(v -> Done.getInstance());
  }

  public CompletionStage<StreamInfo> streamInfo(String name) {
    return withStream(name, s -> {
      return router.readFromLeader(s.group(), s.placement(), new Wire.GetInfo(true), timeout()).thenApply(reply -> {
        Wire.Info i = (Wire.Info) check(reply);
        var st = i.state();
        return new StreamInfo(config(s), new Records.StreamState(st.messages(), st.bytes(), st.firstSeq(), st.lastSeq(),
            st.firstTimestamp(), st.lastTimestamp(), st.subjects(), st.deleted()),
            new StreamCluster(s.group(), s.placement(), ReplicaIds.node(i.status().id())));
      });
    });
  }

  /** Every stream, with state where its leader answered in time (else state null, leader 0). */
  public CompletionStage<List<StreamInfo>> listStreams() {
    return listStreams(null);
  }

  /** The streams whose subjects overlap {@code subjectFilter} (all if null), with state as {@link #listStreams()}. */
  public CompletionStage<List<StreamInfo>> listStreams(String subjectFilter) {
    if (subjectFilter != null && Subjects.invalidFilter(subjectFilter) != null) {
      return CompletableFuture.failedFuture(new HoldfastException.BadRequest("bad_subject",
          Subjects.invalidFilter(subjectFilter)));
    }
    MetaState v = view.get();
    if (v == null) {
      return CompletableFuture.failedFuture(notReady());
    }
    List<CompletableFuture<StreamInfo>> infos = new ArrayList<>();
    for (MetaState.StreamRecord s : v.streams().values()) {
      if (subjectFilter != null && s.subjects().stream().noneMatch(x -> Subjects.overlap(x, subjectFilter))) {
        continue;
      }
      infos.add(streamInfo(s.name()).toCompletableFuture().exceptionally(
          e -> new StreamInfo(config(s), null, new StreamCluster(s.group(), s.placement(), 0))));
    }
    return CompletableFuture.allOf(infos.toArray(new CompletableFuture[0]))
        .thenApply(x -> infos.stream().map(CompletableFuture::join).toList());
  }

  // ---- messages ----

  /**
   * Whether a client with {@code rights} may read {@code stream} ({@link
   * io.holdfast.security.Permissions#mayRead}), as this node's view of the meta state has the
   * stream's subjects. One it does not know is let through, to be answered "not found".
   */
  public boolean mayRead(io.holdfast.security.Permissions rights, String stream) {
    if (rights == io.holdfast.security.Permissions.ALL) {
      return true;
    }
    MetaState v = view.get();
    MetaState.StreamRecord s = v == null ? null : v.streams().get(stream);
    return s == null || rights.mayRead(s.subjects());
  }

  /** The stream whose subjects capture {@code subject}, as this node's view of the meta state has it. */
  public Optional<String> streamFor(String subject) {
    MetaState v = view.get();
    MetaState.StreamRecord s = v == null ? null : v.streamFor(subject);
    return s == null ? Optional.empty() : Optional.of(s.name());
  }

  /**
   * Publishes to the stream whose subjects match {@code subject}. Completes with the ack only
   * after the message is committed (fsynced on a majority of the stream's replicas) and applied.
   */
  public CompletionStage<PubAck> publish(String subject, SortedMap<String, List<String>> headers, byte[] payload) {
    return publish(subject, headers, payload, Records.PublishOptions.NONE);
  }

  /**
   * Publishes with JetStream's options (de-duplication, expectations), carried as NATS headers. A
   * publish the stream's rules refuse (an expectation, a discard-new limit, a sealed stream) fails
   * with {@link HoldfastException.Conflict} naming the rule and the current value.
   */
  public CompletionStage<PubAck> publish(String subject, SortedMap<String, List<String>> headers, byte[] payload,
      Records.PublishOptions options) {
    SortedMap<String, List<String>> all = java.util.Collections.emptySortedMap(); // most publishes: no map to copy
    if ((headers != null && !headers.isEmpty()) || !options.equals(Records.PublishOptions.NONE)) {
      java.util.TreeMap<String, List<String>> copy = new java.util.TreeMap<>(headers == null ? java.util.Map.of() : headers);
      putIf(copy, io.holdfast.stream.StreamState.MSG_ID, options.msgId());
      putIf(copy, io.holdfast.stream.StreamState.EXPECTED_STREAM, options.expectedStream());
      putIf(copy, io.holdfast.stream.StreamState.EXPECTED_LAST_SEQ, options.expectedLastSeq());
      putIf(copy, io.holdfast.stream.StreamState.EXPECTED_LAST_SUBJECT_SEQ, options.expectedLastSubjectSeq());
      putIf(copy, io.holdfast.stream.StreamState.EXPECTED_LAST_MSG_ID, options.expectedLastMsgId());
      all = copy;
    }
    String bad = Subjects.invalidSubject(subject);
    if (bad != null) {
      return CompletableFuture.failedFuture(new HoldfastException.BadRequest("bad_subject", bad));
    }
    MetaState v = view.get();
    if (v == null) {
      return CompletableFuture.failedFuture(notReady());
    }
    MetaState.StreamRecord s = v.streamFor(subject);
    if (s == null) {
      return CompletableFuture.failedFuture(new HoldfastException.NotFound("no_stream",
          "no stream captures subject '" + subject + "'"));
    }
    Wire.Publish p = new Wire.Publish(subject, all, payload);
    return metered(s.name(), 1, () -> router.propose(s.group(), s.placement(), p, timeout(), locateViaEntity(s.name()))
        .thenApply(reply -> {
          Wire.Seq seq = (Wire.Seq) outcome(reply);
          return new PubAck(seq.stream(), seq.seq(), seq.duplicate());
        }), PubAck::duplicate);
  }

  /**
   * Counts {@code messages} publishes to {@code stream} and, as {@code send}'s result comes, their
   * acks (each with the time it took; duplicates too) or the refusal's code.
   */
  private <T> CompletionStage<T> metered(String stream, int messages, java.util.function.Supplier<CompletionStage<T>> send,
      java.util.function.Predicate<T> duplicate) {
    HoldfastMetrics.StreamMeters meters = metrics.stream(stream);
    meters.publishes().increment(messages);
    long start = System.nanoTime();
    return send.get().whenComplete((result, failure) -> {
      if (failure == null) {
        meters.acks().increment(messages);
        long took = System.nanoTime() - start;
        for (int i = 0; i < messages; i++) {
          meters.ackLatency().record(took, java.util.concurrent.TimeUnit.NANOSECONDS);
        }
        if (duplicate.test(result)) {
          meters.duplicates().increment();
        }
      } else {
        Throwable e = HoldfastException.unwrap(failure);
        metrics.refused(stream, e instanceof HoldfastException h ? h.code() : "internal");
      }
    });
  }

  /**
   * Publishes {@code messages} as one write: all are stored, at consecutive sequences and in this
   * order, or none is — one log entry, committed (fsynced on a majority) and applied before the
   * acks. Every subject must be captured by the same stream. {@code options}' expectations are
   * checked once, against the stream before the write (they are put on the first message); a msg
   * id is refused, as are rollup headers. At most {@link StreamMachine#BATCH_MESSAGES_MAX}
   * messages and {@link StreamMachine#ATOMIC_BYTES_MAX} bytes. Completes with each message's ack;
   * a refusal fails it with the rule's {@link HoldfastException}, and nothing was stored.
   */
  public CompletionStage<List<PubAck>> publishAtomic(List<Records.Outgoing> messages, Records.PublishOptions options) {
    if (messages.isEmpty()) {
      return CompletableFuture.failedFuture(new HoldfastException.BadRequest("bad_batch",
          "an atomic publish needs at least one message"));
    }
    if (options.msgId() != null) {
      return CompletableFuture.failedFuture(new HoldfastException.BadRequest("bad_batch",
          "an atomic publish takes no msg id"));
    }
    MetaState v = view.get();
    if (v == null) {
      return CompletableFuture.failedFuture(notReady());
    }
    MetaState.StreamRecord s = null;
    List<Wire.Publish> batch = new ArrayList<>(messages.size());
    for (Records.Outgoing m : messages) {
      String bad = Subjects.invalidSubject(m.subject());
      if (bad != null) {
        return CompletableFuture.failedFuture(new HoldfastException.BadRequest("bad_subject", bad));
      }
      MetaState.StreamRecord to = v.streamFor(m.subject());
      if (to == null) {
        return CompletableFuture.failedFuture(new HoldfastException.NotFound("no_stream",
            "no stream captures subject '" + m.subject() + "'"));
      }
      if (s != null && !s.name().equals(to.name())) {
        return CompletableFuture.failedFuture(new HoldfastException.BadRequest("bad_batch", "an atomic publish"
            + " writes to one stream: '" + m.subject() + "' is in " + to.name() + ", not " + s.name()));
      }
      s = to;
      java.util.TreeMap<String, List<String>> headers = new java.util.TreeMap<>(m.headers());
      if (batch.isEmpty()) {
        putIf(headers, io.holdfast.stream.StreamState.EXPECTED_STREAM, options.expectedStream());
        putIf(headers, io.holdfast.stream.StreamState.EXPECTED_LAST_SEQ, options.expectedLastSeq());
        putIf(headers, io.holdfast.stream.StreamState.EXPECTED_LAST_SUBJECT_SEQ, options.expectedLastSubjectSeq());
        putIf(headers, io.holdfast.stream.StreamState.EXPECTED_LAST_MSG_ID, options.expectedLastMsgId());
      }
      batch.add(new Wire.Publish(m.subject(), headers, m.payload()));
    }
    Wire.PublishAtomic atomic = new Wire.PublishAtomic(batch);
    String invalid = StreamMachine.invalidAtomic(atomic);
    if (invalid != null) {
      return CompletableFuture.failedFuture(new HoldfastException.BadRequest(invalid.contains("larger than the maximum")
          ? "message_too_large" : "bad_batch", invalid));
    }
    MetaState.StreamRecord stream = s;
    return metered(stream.name(), batch.size(), () -> router.propose(stream.group(), stream.placement(), atomic, timeout(),
        locateViaEntity(stream.name())).thenApply(reply -> {
          Wire.Seq last = (Wire.Seq) outcome(reply);
          List<PubAck> acks = new ArrayList<>(batch.size());
          for (int i = 0; i < batch.size(); i++) {
            acks.add(new PubAck(last.stream(), last.seq() - batch.size() + 1 + i));
          }
          return acks;
        }), acks -> false);
  }

  private static void putIf(java.util.TreeMap<String, List<String>> headers, String name, Object value) {
    if (value != null) {
      headers.put(name, List.of(value.toString()));
    }
  }

  /** Purges {@code stream}: messages matching {@code subject} (null: all), below {@code upToSeq} (0: any), keeping the newest {@code keep}. */
  public CompletionStage<Long> purgeStream(String stream, String subject, long upToSeq, long keep) {
    if (subject != null && Subjects.invalidFilter(subject) != null) {
      return CompletableFuture.failedFuture(new HoldfastException.BadRequest("bad_subject",
          Subjects.invalidFilter(subject)));
    }
    return streamOp(stream, new io.holdfast.stream.StreamCommand.Purge(subject, upToSeq, keep));
  }

  /** Deletes the message at {@code seq} (unless the stream denies deletes). */
  public CompletionStage<Long> deleteMessage(String stream, long seq) {
    return deleteMessage(stream, seq, false);
  }

  /**
   * Deletes the message at {@code seq}; with {@code erase}, each replica also overwrites its payload
   * on disk as it applies the delete (before that node acknowledges any later write). The subject
   * and headers stay in the log: replicated decisions (de-duplication, per-subject limits) use them.
   */
  public CompletionStage<Long> deleteMessage(String stream, long seq, boolean erase) {
    return streamOp(stream, new io.holdfast.stream.StreamCommand.DeleteMessage(seq, erase));
  }

  /** A stream operation (purge, delete, consumer create/delete) through the stream's leader; its count or seq. */
  CompletionStage<Long> streamOp(String stream, io.holdfast.stream.StreamCommand command) {
    return withStream(stream, s -> {
      Wire.StreamOp op = new Wire.StreamOp(io.holdfast.stream.StreamCommand.encode(command));
      return router.propose(s.group(), s.placement(), op, timeout(), locateViaEntity(s.name()))
          .thenApply(reply -> ((Wire.Seq) outcome(reply)).seq());
    });
  }

  // ---- consumers ----

  /** Create, inspect, list and delete a stream's consumers. */
  public Consumers consumers() {
    return new Consumers(this);
  }

  /** A handle on the consumer {@code name} of {@code stream}: pull with {@link Consumer#fetch}, or subscribe with {@link Consumer#source}. */
  public Consumer consumer(String stream, String name) {
    return new Consumer(this, stream, name);
  }

  /** A fetch or an ack for one of the stream's consumers, through its leader; the applied outcome. */
  /** An ack sent to the stream's leader without waiting for its outcome ({@link GroupRouter#send}). */
  void consumeUnconfirmed(String stream, Wire.Consume request) {
    MetaState.StreamRecord s;
    try {
      s = stream(stream);
    } catch (HoldfastException e) {
      return; // no such stream: nothing to ack
    }
    router.send(s.group(), s.placement(), request, timeout(), locateViaEntity(s.name()));
  }

  CompletionStage<Wire.Outcome> consume(String stream, Wire.Consume request) {
    return withStream(stream, s -> router.propose(s.group(), s.placement(), request, timeout(), locateViaEntity(s.name()))
        .thenApply(Holdfast::outcome));
  }

  /** The consumers of {@code stream} (all, or only {@code name}) as its leader has applied them. */
  CompletionStage<List<ConsumerInfo>> consumerInfos(String stream, String name) {
    return withStream(stream, s -> router.readFromLeader(s.group(), s.placement(), new Wire.GetConsumers(name),
        timeout()).thenApply(reply -> ((Wire.Consumers) check(reply)).consumers()));
  }

  ActorSystem<?> system() {
    return system;
  }

  void after(long millis, Runnable task) {
    router.after(millis, task);
  }

  /** The outcome of an applied proposal; a rejection by the stream's rules becomes an exception. */
  private static Wire.Outcome outcome(Object reply) {
    Wire.Outcome o = ((ReplicaShell.Applied) check(reply)).outcome();
    if (o instanceof Wire.Rejected r) {
      throw switch (r.code()) {
        case "message_too_large", "bad_rollup", "bad_consumer", "bad_batch" -> new HoldfastException.BadRequest(r.code(), r.message());
        case "no_message", "no_consumer" -> new HoldfastException.NotFound(r.code(), r.message());
        case ReplicaDriver.INSUFFICIENT_STORAGE -> new HoldfastException(r.code(), 507, r.message());
        default -> new HoldfastException.Conflict(r.code(), r.message());
      };
    }
    return o;
  }

  /** The newest message on {@code subject} in {@code stream}. */
  public CompletionStage<StreamMessage> getLastFor(String stream, String subject) {
    return withStream(stream, s -> {
      return router.readFromLeader(s.group(), s.placement(), new Wire.GetLastFor(subject), timeout()).thenApply(reply -> {
        List<io.holdfast.stream.StoredMessage> found = ((Wire.Messages) check(reply)).messages();
        if (found.isEmpty()) {
          throw new HoldfastException.NotFound("no_message", "stream " + stream + " has no message on " + subject);
        }
        return message(stream, found.get(0));
      });
    });
  }

  /**
   * Up to {@code max} messages on exactly {@code subject} (no wildcards) from stream sequence
   * {@code fromSeq} on, oldest first, from the leader's committed state; a page of about 320 KiB
   * at most (at least one message): read on from the seq after its last message. Empty when
   * there are none.
   */
  public CompletionStage<List<StreamMessage>> readSubject(String stream, String subject, long fromSeq, int max) {
    String bad = Subjects.invalidSubject(subject);
    if (bad != null) {
      return CompletableFuture.failedFuture(new HoldfastException.BadRequest("bad_subject", bad));
    }
    return withStream(stream, s -> router.readFromLeader(s.group(), s.placement(),
        new Wire.GetSubject(subject, fromSeq, max), timeout()).thenApply(reply -> {
          List<StreamMessage> out = new ArrayList<>();
          ((Wire.Messages) check(reply)).messages().forEach(m -> out.add(message(stream, m)));
          return out;
        }));
  }

  /**
   * Up to {@code max} messages of {@code stream} from {@code fromSeq} on, from the leader's
   * committed state; a page of about 320 KiB at most (at least one message).
   */
  public CompletionStage<List<StreamMessage>> readRange(String stream, long fromSeq, int max) {
    return withStream(stream, s -> router.readFromLeader(s.group(), s.placement(), new Wire.GetMessages(fromSeq, max),
        timeout()).thenApply(reply -> {
          List<StreamMessage> out = new ArrayList<>();
          ((Wire.Messages) check(reply)).messages().forEach(m -> out.add(message(stream, m)));
          return out;
        }));
  }

  /**
   * Up to {@code max} (at most {@link StreamMachine#SUBJECTS_MAX}) of the subjects that have
   * messages in {@code stream} and match {@code filter}, in name order after {@code after} ("" for
   * the first page).
   */
  public CompletionStage<List<String>> subjects(String stream, String filter, String after, int max) {
    String bad = Subjects.invalidFilter(filter);
    if (bad != null) {
      return CompletableFuture.failedFuture(new HoldfastException.BadRequest("bad_subject", bad));
    }
    return withStream(stream, s -> router.readFromLeader(s.group(), s.placement(), new Wire.GetSubjects(filter, after,
        max), timeout()).thenApply(reply -> ((Wire.SubjectNames) check(reply)).subjects()));
  }

  /** The message at {@code seq} of {@code stream}, read from the leader's committed state. */
  public CompletionStage<StreamMessage> getMessage(String stream, long seq) {
    return withStream(stream, s -> {
      return router.readFromLeader(s.group(), s.placement(), new Wire.GetMessages(seq, 1), timeout()).thenApply(reply -> {
        List<io.holdfast.stream.StoredMessage> found = ((Wire.Messages) check(reply)).messages();
        if (found.isEmpty() || found.get(0).seq() != seq) {
          throw new HoldfastException.NotFound("no_message", "stream " + stream + " has no message at sequence " + seq);
        }
        return message(stream, found.get(0));
      });
    });
  }

  /**
   * Up to {@code max} messages from {@code fromSeq} as this node's own replica has applied them
   * (committed, possibly behind the leader): for checking every replica separately. An answer stops
   * early, after the page that reaches {@link #LOCAL_READ_BYTES} of payload: read on from the seq
   * after its last message.
   */
  public CompletionStage<List<StreamMessage>> readLocalReplica(String stream, long fromSeq, int max) {
    return withStream(stream, s -> {
      if (!s.placement().contains(settings.nodeId())) {
        return CompletableFuture.failedFuture(new HoldfastException.NotFound("no_local_replica",
            "node " + settings.nodeId() + " holds no replica of stream " + stream));
      }
      ActorRef<ReplicaShell.Command> local = NodeDirectory.replica(system, settings.nodeId(), s.group())
          .orElseThrow(() -> new HoldfastException.Unavailable("the replica of stream " + stream + " on node "
              + settings.nodeId() + " is not running yet"));
      return readLocalPages(local, stream, fromSeq, max, new ArrayList<>(), 0);
    });
  }

  /** Payload bytes after which {@link #readLocalReplica} answers what it has (a 64 KiB message stream asked for 10,000 held 640 MiB). */
  public static final long LOCAL_READ_BYTES = 8L << 20;

  /** The replica answers a page of about 320 KiB at a time: pages are read until {@code max}, the byte budget or the end. */
  private CompletionStage<List<StreamMessage>> readLocalPages(ActorRef<ReplicaShell.Command> local, String stream,
      long fromSeq, int max, List<StreamMessage> got, long gotBytes) {
    return router.local(AskPattern.<ReplicaShell.Command, Wire.ReadReply>ask(local,
            r -> new ReplicaShell.Read(new Wire.GetMessages(fromSeq, max - got.size()), false, r), timeout(),
            system.scheduler()))
        .thenCompose(reply -> {
          if (!(reply instanceof Wire.Messages page)) {
            throw new HoldfastException.Unavailable("the replica of stream " + stream + " on node "
                + settings.nodeId() + " is repairing a damaged message; try again shortly");
          }
          long bytes = gotBytes;
          for (io.holdfast.stream.StoredMessage m : page.messages()) {
            StreamMessage read = message(stream, m);
            got.add(read);
            bytes += read.payload().length;
          }
          if (page.messages().isEmpty() || got.size() >= max || bytes >= LOCAL_READ_BYTES) {
            return CompletableFuture.completedFuture(List.copyOf(got));
          }
          long next = page.messages().get(page.messages().size() - 1).seq() + 1;
          return readLocalPages(local, stream, next, max, got, bytes);
        });
  }

  // ---- cluster ----

  /** Ready to serve: the meta view is known and, on a server node, the node is registered. */
  public CompletionStage<ClusterStatus> clusterStatus() {
    CompletionStage<StreamManager.NodeStatus> registration = manager == null
        ? CompletableFuture.completedFuture(new StreamManager.NodeStatus(0, "application node", List.of(), List.of()))
        : router.local(AskPattern.<StreamManager.Command, StreamManager.NodeStatus>ask(manager,
            StreamManager.GetNodeStatus::new, timeout(), system.scheduler()));
    CompletionStage<Optional<ActorRef<ReplicaShell.Command>>> metaLeader = router.probe("meta", voters.current());
    return registration.thenCombine(metaLeader, (reg, leader) -> {
      MetaState v = view.get();
      List<String> members = StreamSupport.stream(Cluster.get(system).state().getMembers().spliterator(), false)
          .map(m -> m.address() + " " + m.status()).toList();
      List<NodeInfo> nodes = new ArrayList<>();
      if (v != null) {
        for (MetaState.Node n : v.nodes().values()) {
          nodes.add(new NodeInfo(n.id(), n.http(), n.incarnation(), n.generation(),
              NodeDirectory.memberAddress(system, n.id()).isPresent()));
        }
      }
      int leaderNode = leader.map(l -> metaNodeOf(l)).orElse(0);
      return new ClusterStatus(settings.nodeId(), reg.registration(), v == null ? 0 : v.appliedIndex(), leaderNode,
          voters.current(), nodes,
          members, reg.stopped());
    });
  }

  /**
   * The groups whose replica on this node is recovering from a lost WAL tail (it does not vote
   * until it holds an entry of a later term: RaftCore's lost tail); a replica that does not answer
   * in time is listed too, as not known to be recovered.
   */
  public CompletionStage<List<String>> recoveringLostTail() {
    return localReplicas().thenApply(all -> all.entrySet().stream().filter(e -> recoveringLostTail(e.getValue()))
        .map(java.util.Map.Entry::getKey).toList());
  }

  /** Whether a local replica of {@link #localReplicas} is recovering a lost tail; one that did not answer may be. */
  static boolean recoveringLostTail(Optional<ReplicaDriver.Status> status) {
    return status.map(ReplicaDriver.Status::recoveringLostTail).orElse(true);
  }

  /** Each replica on this node by group, with its status; empty if it did not answer within 2 s. */
  public CompletionStage<SortedMap<String, Optional<ReplicaDriver.Status>>> localReplicas() {
    java.util.TreeMap<String, CompletableFuture<Optional<ReplicaDriver.Status>>> asks = new java.util.TreeMap<>();
    for (var e : io.holdfast.server.LocalReplicas.get(system).all().entrySet()) {
      asks.put(e.getKey(), router.local(AskPattern.<ReplicaShell.Command, ReplicaDriver.Status>ask(e.getValue(),
              ReplicaShell.GetStatus::new, Duration.ofSeconds(2), system.scheduler()))
          .handle((st, failure) -> failure != null ? Optional.empty() : Optional.of(st)));
    }
    return CompletableFuture.allOf(asks.values().toArray(CompletableFuture[]::new)).thenApply(v -> {
      SortedMap<String, Optional<ReplicaDriver.Status>> out = new java.util.TreeMap<>();
      asks.forEach((group, f) -> out.put(group, f.join()));
      return out;
    });
  }

  private int metaNodeOf(ActorRef<ReplicaShell.Command> ref) {
    for (int voter : voters.current()) {
      if (NodeDirectory.replica(system, voter, "meta").map(ref::equals).orElse(false)) {
        return voter;
      }
    }
    return 0;
  }

  // ---- plumbing ----

  /** The first hop: the stream's sharded entity names its leader. */
  private java.util.function.Function<Duration, CompletionStage<Optional<ActorRef<ReplicaShell.Command>>>>
      locateViaEntity(String stream) {
    return wait -> router.local(sharding.entityRefFor(StreamEntity.KEY, stream)
        .<StreamEntity.Located>ask(StreamEntity.Locate::new, wait)).thenApply(StreamEntity.Located::leader);
  }

  private CompletionStage<Void> meta(MetaState.Command command) {
    String bad = MetaState.invalid(command);
    if (bad != null) {
      return CompletableFuture.failedFuture(new HoldfastException.BadRequest("bad_request", bad));
    }
    return router.propose("meta", voters.current(), new Wire.MetaChange(MetaCodec.encode(command)), timeout(), null)
        .thenApply(reply -> {
          Wire.MetaOutcome o = (Wire.MetaOutcome) ((ReplicaShell.Applied) check(reply)).outcome();
          if (o.code() != null) {
            throw switch (o.code()) {
              case MetaState.NOT_FOUND, MetaState.NODE_NOT_FOUND -> new HoldfastException.NotFound(o.code(), o.message());
              case MetaState.BAD_REQUEST -> new HoldfastException.BadRequest(o.code(), o.message());
              default -> new HoldfastException.Conflict(o.code(), o.message());
            };
          }
          return null;
        });
  }

  /** Waits (within the request timeout) until this node's meta view satisfies {@code done}. */
  private CompletionStage<Void> awaitView(java.util.function.Predicate<MetaState> done) {
    long deadline = System.nanoTime() + timeout().toNanos();
    CompletableFuture<Void> result = new CompletableFuture<>();
    Runnable[] check = new Runnable[1];
    check[0] = () -> {
      MetaState v = view.get();
      if (v != null && done.test(v)) {
        result.complete(null);
      } else if (System.nanoTime() > deadline) {
        result.completeExceptionally(new HoldfastException.OutcomeUnknown(
            "the change is committed but this node has not seen it yet; try again shortly"));
      } else {
        router.after(20, check[0]);
      }
    };
    check[0].run();
    return result;
  }

  /**
   * Info of a just-created or updated stream once its leader has applied the configuration (so
   * the limits hold for every publish that follows), waiting within the timeout; after that, the
   * stream as the meta group has it, without state.
   */
  private CompletionStage<StreamInfo> awaitInfo(String name) {
    long deadline = System.nanoTime() + timeout().toNanos();
    CompletableFuture<StreamInfo> result = new CompletableFuture<>();
    Runnable[] attempt = new Runnable[1];
    attempt[0] = () -> {
      MetaState.StreamRecord s;
      try {
        s = stream(name);
      } catch (HoldfastException e) {
        result.completeExceptionally(e); // deleted meanwhile
        return;
      }
      router.readFromLeader(s.group(), s.placement(), new Wire.GetInfo(true), timeout()).whenComplete((reply, e) -> {
        if (e == null && reply instanceof Wire.Info i
            && io.holdfast.stream.StreamLimits.decode(i.limits()).equals(s.limits())) {
          streamInfo(name).whenComplete((info, f) -> {
            if (f == null) {
              result.complete(info);
            } else {
              result.completeExceptionally(f);
            }
          });
        } else if (System.nanoTime() > deadline) {
          result.complete(new StreamInfo(config(s), null, new StreamCluster(s.group(), s.placement(), 0)));
        } else {
          router.after(50, attempt[0]);
        }
      });
    };
    attempt[0].run();
    return result;
  }

  /** {@code then} with the stream's record from this node's meta view, or a failed stage if there is none. */
  private <T> CompletionStage<T> withStream(String name,
      java.util.function.Function<MetaState.StreamRecord, CompletionStage<T>> then) {
    try {
      return then.apply(stream(name));
    } catch (HoldfastException e) {
      return CompletableFuture.failedFuture(e);
    }
  }

  private MetaState.StreamRecord stream(String name) {
    MetaState v = view.get();
    if (v == null) {
      throw notReady();
    }
    MetaState.StreamRecord s = v.streams().get(name);
    if (s == null) {
      throw new HoldfastException.NotFound(MetaState.NOT_FOUND, "no stream named " + name);
    }
    return s;
  }

  private static StreamConfig config(MetaState.StreamRecord s) {
    return new StreamConfig(s.name(), s.subjects(), s.replicas(), s.limits());
  }

  private static StreamMessage message(String stream, io.holdfast.stream.StoredMessage m) {
    return new StreamMessage(stream, m.seq(), m.message().subject(), m.message().headers(), m.message().payload(),
        m.message().timestampMillis());
  }

  private static HoldfastException notReady() {
    return new HoldfastException.Unavailable("this node has not heard from the meta group yet");
  }

  /** Turns the router's non-answers into exceptions. */
  private static Object check(Object reply) {
    if (reply instanceof GroupRouter.Unavailable u) {
      throw new HoldfastException.Unavailable(u.reason());
    }
    if (reply instanceof GroupRouter.Unknown u) {
      throw new HoldfastException.OutcomeUnknown(u.reason());
    }
    if (reply instanceof ReplicaShell.Invalid i) {
      throw new HoldfastException.BadRequest("invalid", i.reason());
    }
    return reply;
  }
}
