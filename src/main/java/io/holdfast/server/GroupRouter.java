package io.holdfast.server;

import io.holdfast.raft.ProposeResult;
import io.holdfast.raft.RaftCore;
import io.holdfast.replica.ReplicaDriver;
import io.holdfast.replica.ReplicaShell;
import io.holdfast.replica.Wire;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Function;
import java.util.function.Supplier;
import org.apache.pekko.actor.Address;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.javadsl.AskPattern;

/**
 * Sends proposals and leader reads to a replica group's current leader, from any node. The leader
 * is cached after the first hop; a refusal naming another leader moves the cache there; a group
 * that stops answering is located again (by {@code locate}, then by asking every replica its
 * status). Only refusals that prove nothing was appended are retried — until the deadline, after
 * which the caller gets {@link Unavailable}. A proposal sent and not answered is never resent
 * here: its outcome is unknown ({@link Unknown}), and resending could store it twice.
 */
public final class GroupRouter {
  /** How long a group and its leader's node may go without answering, while being sent to, before its leader is located again. */
  private static final long STALL_NANOS = 1_000_000_000L;
  private static final Duration PROBE_TIMEOUT = Duration.ofMillis(500);

  /** The group could not take the request before the deadline (no leader, no quorum): retry later. */
  public record Unavailable(String reason) {}

  /** The request was sent and not answered in time, or its entry was superseded: it may or may not have taken effect. */
  public record Unknown(String reason) {}

  private static final class Route {
    volatile ActorRef<ReplicaShell.Command> leader;
    volatile long lastSend;
    volatile long lastReply;
    /** The leader the last reply came from. */
    volatile ActorRef<ReplicaShell.Command> lastReplier;
  }

  /**
   * A request whose leader's node has answered nothing at all (to any request of this router, for
   * any group) for this long since it was sent is answered {@code outcome_unknown} then, not at
   * its deadline: the node is dead, paused or cut off (a live one under load answers every few
   * milliseconds), and the next request locates the new leader. A client with a bounded window
   * would otherwise keep its slots on a dead leader for the whole request timeout. Silence is
   * counted per node, not per group: with many streams and one request in flight per stream, a
   * busy leader answers each group only every few seconds, and counting per group abandoned
   * requests that live leaders were about to answer (1,000 streams: 2-4% of publishes). The
   * price: a leader deposed on a node that still answers for other groups keeps its requests to
   * their deadline (it answers them superseded once it hears the new leader). A lone request to a
   * node stalled over 2 s (an fsync that slow) is unknown, which it may be anyway.
   */
  private static final long ABANDONED_NANOS = 2_000_000_000L;

  private final ActorSystem<?> system;
  /** Where held acks are sent from once the tasks queued before them have run ({@link #holdAck}). */
  private final java.util.concurrent.Executor flushes;
  private final ConcurrentHashMap<String, Route> routes = new ConcurrentHashMap<>();
  /** When each node last answered a request of this router (System.nanoTime). */
  private final ConcurrentHashMap<Address, Long> nodeHeard = new ConcurrentHashMap<>();
  /** Acks held to be sent as runs ({@link #holdAck}), by group; guarded by itself. */
  private final ConcurrentHashMap<String, HeldAcks> heldAcks = new ConcurrentHashMap<>();
  /** Acks held per group at most before they are sent. */
  static final int HELD_ACKS_MAX = 4096;
  /** Proposals for leaders on other nodes go through it, batched (created on first use). */
  private volatile ActorRef<ProposalForwarder.Command> forwarder;
  /** This router's proposals waiting for replies, and the actor the replies come to (created on first use). */
  private final ReplyDesk desk = new ReplyDesk();
  private volatile ActorRef<ReplicaShell.Replies> deskRef;
  /** The requests {@link #abandonable} watches, each removed when answered. */
  private final java.util.Set<Watched> watched = ConcurrentHashMap.newKeySet();
  /** Whether the sweep of {@link #watched} and the desk runs (started by the first request). */
  private final java.util.concurrent.atomic.AtomicBoolean sweeping = new java.util.concurrent.atomic.AtomicBoolean();
  /** How often the sweep runs: a request is failed at most this long after its deadline or its patience. */
  static final long SWEEP_MILLIS = 250;

  public GroupRouter(ActorSystem<?> system) {
    this(system, system.executionContext());
  }

  /** With {@code flushes} running the sends of held acks (tests hold them back). */
  GroupRouter(ActorSystem<?> system, java.util.concurrent.Executor flushes) {
    this.system = system;
    this.flushes = flushes;
  }

  private ActorRef<ProposalForwarder.Command> forwarder() {
    ActorRef<ProposalForwarder.Command> f = forwarder;
    if (f == null) {
      synchronized (this) {
        if (forwarder == null) {
          forwarder = system.systemActorOf(ProposalForwarder.create(deskRef()),
              "holdfast-forwarder-" + java.util.UUID.randomUUID(), org.apache.pekko.actor.typed.Props.empty());
        }
        f = forwarder;
      }
    }
    return f;
  }

  private ActorRef<ReplicaShell.Replies> deskRef() {
    ActorRef<ReplicaShell.Replies> d = deskRef;
    if (d == null) {
      synchronized (this) {
        if (deskRef == null) {
          deskRef = system.systemActorOf(ReplyDesk.behavior(desk), "holdfast-replies-" + java.util.UUID.randomUUID(),
              org.apache.pekko.actor.typed.Props.empty());
        }
        d = deskRef;
      }
    }
    return d;
  }

  /**
   * Offers {@code proposal} to {@code leader} under a ticket of the {@link ReplyDesk}, which the
   * reply completes: directly if the leader is on this node, else batched by the forwarder.
   */
  private CompletionStage<ReplicaShell.ProposeReply> offer(ActorRef<ReplicaShell.Command> leader, Wire.Proposal proposal,
      long deadline) {
    CompletableFuture<ReplicaShell.ProposeReply> reply = new CompletableFuture<>();
    ReplicaShell.Propose p = new ReplicaShell.Propose(proposal, null, desk.register(reply, deadline));
    startSweep();
    if (leader.path().address().host().isEmpty()) {
      leader.tell(new ReplicaShell.ProposeAll(List.of(p), deskRef()));
    } else {
      forwarder().tell(new ProposalForwarder.Forward(leader, p));
    }
    return reply;
  }

  /** Forgets the cached leader of {@code group} (e.g. the group was deleted). */
  public void forget(String group) {
    routes.remove(group);
  }

  /**
   * Proposes {@code proposal} to the leader of {@code group} (replicas on {@code nodes}); completes
   * with {@link ReplicaShell.Applied}, {@link ReplicaShell.Invalid}, {@link Unavailable} or
   * {@link Unknown}. {@code locate}, if not null, is a first hop that may know the leader.
   */
  public CompletionStage<Object> propose(String group, List<Integer> nodes, Wire.Proposal proposal,
      Duration timeout, Function<Duration, CompletionStage<Optional<ActorRef<ReplicaShell.Command>>>> locate) {
    flushAcks(group);
    long deadline = System.nanoTime() + timeout.toNanos();
    // A pull request the leader may hold (waiting for messages) is not abandoned for that silence.
    long patience = ABANDONED_NANOS + (proposal instanceof Wire.Consume c && c.kind().equals("fetch")
        ? c.delayMillis() * 1_000_000 : 0);
    return attempt(group, nodes, deadline, patience, locate, leader -> local(offer(leader, proposal, deadline)), reply -> {
          if (reply instanceof ReplicaShell.Refused r) {
            return r.reason() == ProposeResult.Reason.NOT_LEADER ? new Retry(r.leaderHint()) : new Retry(-1);
          }
          if (reply instanceof ReplicaShell.Superseded s) {
            return new Unknown("the entry at index " + s.index() + " was superseded by a leader change");
          }
          return reply;
        });
  }

  /**
   * Sends {@code proposal} to the cached leader of {@code group} without waiting for its outcome
   * (no ask: no temporary actor, no timeout task); through {@link #propose} when no leader is
   * cached. For proposals whose loss the caller can live with — a NATS ack without a reply
   * subject: if it is lost (a leader change), the message is delivered again after its ack wait,
   * as with NATS.
   */
  public void send(String group, List<Integer> nodes, Wire.Proposal proposal, Duration timeout,
      Function<Duration, CompletionStage<Optional<ActorRef<ReplicaShell.Command>>>> locate) {
    if (proposal instanceof Wire.Consume c && c.kind().equals("ack") && c.max() <= 1) {
      holdAck(group, nodes, c, timeout, locate);
      return;
    }
    flushAcks(group);
    sendNow(group, nodes, proposal, timeout, locate);
  }

  private void sendNow(String group, List<Integer> nodes, Wire.Proposal proposal, Duration timeout,
      Function<Duration, CompletionStage<Optional<ActorRef<ReplicaShell.Command>>>> locate) {
    Route route = routes.get(group);
    ActorRef<ReplicaShell.Command> leader = route == null ? null : route.leader;
    if (leader == null) {
      propose(group, nodes, proposal, timeout, locate);
      return;
    }
    // Pekko's ignoreRef: sent to another node it resolves to that node's own ignoreRef, so the
    // leader's reply goes nowhere on its own node instead of crossing the network per ack.
    ReplicaShell.Propose p = new ReplicaShell.Propose(proposal, system.ignoreRef());
    if (leader.path().address().host().isEmpty()) {
      leader.tell(p);
    } else {
      forwarder().tell(new ProposalForwarder.Forward(leader, p));
    }
  }

  /**
   * Plain acks sent without waiting ({@link #send}), held per group until the tasks already queued
   * on the dispatcher have run, then sent as runs of consecutive sequences: one proposal, one
   * forwarded message and one encoded op list per run instead of per ack. A NATS client acks each
   * message with its own PUB, and a connection reads hundreds of them per read. Held acks go out
   * before anything else this router sends to the same group (a proposal, a read, another
   * unconfirmed request), so a client that acks and then asks for its consumer's info or fetches
   * again still sees its acks first, as when each ack was sent alone. At most {@link
   * #HELD_ACKS_MAX} are held per group; the next one sends them.
   */
  private void holdAck(String group, List<Integer> nodes, Wire.Consume ack, Duration timeout,
      Function<Duration, CompletionStage<Optional<ActorRef<ReplicaShell.Command>>>> locate) {
    boolean schedule;
    boolean full;
    synchronized (heldAcks) {
      HeldAcks held = heldAcks.computeIfAbsent(group, g -> new HeldAcks(nodes, timeout, locate));
      schedule = held.count == 0;
      held.seqs.computeIfAbsent(ack.consumer(), k -> new ArrayList<>()).add(ack.seq());
      full = ++held.count >= HELD_ACKS_MAX;
    }
    if (full) {
      flushAcks(group);
    } else if (schedule) {
      flushes.execute(() -> flushAcks(group));
    }
  }

  /** Sends the acks held for {@code group}, if any, as runs ({@link #holdAck}). */
  private void flushAcks(String group) {
    if (heldAcks.isEmpty()) {
      return;
    }
    HeldAcks held;
    synchronized (heldAcks) {
      held = heldAcks.remove(group);
    }
    if (held == null) {
      return;
    }
    for (var e : held.seqs.entrySet()) {
      for (long[] run : runs(e.getValue())) {
        sendNow(group, held.nodes, new Wire.Consume(e.getKey(), "ack", run[0], (int) run[1], 0), held.timeout,
            held.locate);
      }
    }
  }

  /** {@code seqs} as runs {from, count} of consecutive sequences, ascending; duplicates count once. */
  static List<long[]> runs(List<Long> seqs) {
    long[] sorted = seqs.stream().mapToLong(Long::longValue).sorted().distinct().toArray();
    List<long[]> runs = new ArrayList<>();
    for (int i = 0; i < sorted.length; ) {
      int j = i + 1;
      while (j < sorted.length && sorted[j] == sorted[j - 1] + 1 && j - i < Wire.Consume.ACK_RUN_MAX) {
        j++;
      }
      runs.add(new long[] {sorted[i], j - i});
      i = j;
    }
    return runs;
  }

  /** Acks held for one group: by consumer, their sequences. */
  private static final class HeldAcks {
    final List<Integer> nodes;
    final Duration timeout;
    final Function<Duration, CompletionStage<Optional<ActorRef<ReplicaShell.Command>>>> locate;
    final java.util.Map<String, List<Long>> seqs = new java.util.LinkedHashMap<>();
    int count;

    HeldAcks(List<Integer> nodes, Duration timeout,
        Function<Duration, CompletionStage<Optional<ActorRef<ReplicaShell.Command>>>> locate) {
      this.nodes = nodes;
      this.timeout = timeout;
      this.locate = locate;
    }
  }

  /**
   * A read answered by the leader of {@code group} from its committed state. It waits for the
   * leader's answer until the deadline (a busy leader answers reads after the proposals queued
   * before them; cutting the wait short and asking again would only queue the read anew).
   */
  public CompletionStage<Object> readFromLeader(String group, List<Integer> nodes, Wire.Query query, Duration timeout) {
    flushAcks(group);
    long deadline = System.nanoTime() + timeout.toNanos();
    return attempt(group, nodes, deadline, ABANDONED_NANOS, null, leader -> local(read(leader, query, deadline)),
        reply -> reply instanceof Wire.NotLeader n ? new Retry(n.leaderHint()) : reply);
  }

  /**
   * As {@link #offer}, for a read (an ask): through the forwarder to another node, so it stays
   * behind this node's earlier proposals.
   */
  private CompletionStage<Wire.ReadReply> read(ActorRef<ReplicaShell.Command> leader, Wire.Query query, long deadline) {
    if (leader.path().address().host().isEmpty()) {
      return AskPattern.ask(leader, r -> new ReplicaShell.Read(query, true, r), remaining(deadline), system.scheduler());
    }
    return AskPattern.<ProposalForwarder.Command, Wire.ReadReply>ask(forwarder(),
        r -> new ProposalForwarder.Forward(leader, new ReplicaShell.Read(query, true, r)), remaining(deadline),
        system.scheduler());
  }

  /** Retry after {@code leaderHint} refused: the hinted node (>0), unknown leader (0), or the same one later (-1). */
  private record Retry(int leaderHint) {}

  private <R> CompletionStage<Object> attempt(String group, List<Integer> nodes, long deadline, long patience,
      Function<Duration, CompletionStage<Optional<ActorRef<ReplicaShell.Command>>>> locate,
      Function<ActorRef<ReplicaShell.Command>, CompletionStage<R>> send, Function<R, Object> interpret) {
    if (System.nanoTime() >= deadline) {
      return CompletableFuture.completedFuture(new Unavailable("no leader of " + group + " took the request in time"));
    }
    Route route = routes.computeIfAbsent(group, g -> new Route());
    long now = System.nanoTime();
    if (route.leader != null && ((route.lastSend - route.lastReply > STALL_NANOS
        && now - Math.max(route.lastReply, nodeHeard.getOrDefault(route.leader.path().address(), route.lastReply)) > STALL_NANOS)
        || !NodeDirectory.reachable(system, route.leader))) {
      route.leader = null; // gone, or sent to for a while and silent for a while: look again
    }
    CompletionStage<Optional<ActorRef<ReplicaShell.Command>>> leader = route.leader != null
        ? CompletableFuture.completedFuture(Optional.of(route.leader))
        : locate(group, nodes, deadline, locate);
    return leader.thenCompose(found -> {
      if (found.isEmpty()) {
        return later(() -> attempt(group, nodes, deadline, patience, locate, send, interpret), 100);
      }
      ActorRef<ReplicaShell.Command> target = found.get();
      route.leader = target;
      if (route.lastReply >= route.lastSend) {
        route.lastReply = System.nanoTime(); // idle until now: the silence clock starts with this send
      }
      route.lastSend = System.nanoTime();
      long sentAt = System.nanoTime();
      return abandonable(send.apply(target), route, target, sentAt, patience).handle((reply, failure) -> {
        if (failure != null) {
          // Located again by the next request. Requests sent one at a time, each waiting out its
          // deadline, never look stalled to the check above (each send restarts the silence
          // clock); and a path reference outlives its actor: a node restarted without this
          // replica (retired, or a wiped disk back as a new member) is reachable, yet nothing
          // there answers.
          if (route.leader == target) {
            route.leader = null;
          }
          return CompletableFuture.<Object>completedFuture(new Unknown("no answer from the leader of " + group
              + " in time; the request may or may not have taken effect"));
        }
        route.lastReply = System.nanoTime();
        route.lastReplier = target;
        nodeHeard.put(target.path().address(), route.lastReply);
        Object meaning = interpret.apply(reply);
        if (meaning instanceof Retry r) {
          if (r.leaderHint() > 0) {
            Optional<ActorRef<ReplicaShell.Command>> hinted = NodeDirectory.replica(system, r.leaderHint(), group);
            route.leader = hinted.filter(h -> !h.equals(target)).orElse(null);
          } else if (r.leaderHint() == 0) {
            route.leader = null;
          }
          return later(() -> attempt(group, nodes, deadline, patience, locate, send, interpret), r.leaderHint() > 0 ? 0 : 50);
        }
        return CompletableFuture.completedFuture(meaning);
      }).thenCompose(Function.identity());
    });
  }

  /**
   * {@code request}, or a failure once this router has heard nothing from {@code target}'s node for
   * {@code patience} ns ({@link #ABANDONED_NANOS}, plus what a pull request may wait) since
   * {@code sentAt}. Checked by one sweep of all requests in flight every {@link #SWEEP_MILLIS},
   * not by a timer task per request: such a task held each request's future and reply for the
   * whole patience after the reply came (2 s), and at 37k publishes/s those 75k replies outlived
   * every young collection, which then spent 15-40 ms copying them (the leader's node, measured).
   */
  private <R> CompletionStage<R> abandonable(CompletionStage<R> request, Route route,
      ActorRef<ReplicaShell.Command> target, long sentAt, long patience) {
    CompletableFuture<R> result = new CompletableFuture<>();
    Watched watch = new Watched(result, route, target, sentAt, patience);
    watched.add(watch);
    startSweep();
    request.whenComplete((v, e) -> {
      watched.remove(watch);
      if (e != null) {
        result.completeExceptionally(e);
      } else {
        result.complete(v);
      }
    });
    return result;
  }

  /**
   * A request in flight, watched for its leader's silence ({@link #abandonable}). A class, not a
   * record: the set below keys it by identity, without hashing an actor path per request.
   */
  private static final class Watched {
    final CompletableFuture<?> result;
    final Route route;
    final ActorRef<ReplicaShell.Command> target;
    final long sentAt;
    final long patience;

    Watched(CompletableFuture<?> result, Route route, ActorRef<ReplicaShell.Command> target, long sentAt,
        long patience) {
      this.result = result;
      this.route = route;
      this.target = target;
      this.sentAt = sentAt;
      this.patience = patience;
    }
  }

  private void startSweep() {
    if (!sweeping.get() && !sweeping.getAndSet(true)) {
      system.scheduler().scheduleWithFixedDelay(Duration.ofMillis(SWEEP_MILLIS), Duration.ofMillis(SWEEP_MILLIS),
          this::sweep, system.executionContext());
    }
  }

  /** Fails the requests whose leader's node went silent ({@link #abandonable}) and those past their deadline. */
  private void sweep() {
    long now = System.nanoTime();
    desk.expire(now);
    for (Watched w : watched) {
      if (now - w.sentAt <= w.patience || w.result.isDone()) {
        continue;
      }
      long heard = Math.max(w.target.equals(w.route.lastReplier) ? w.route.lastReply : w.sentAt,
          nodeHeard.getOrDefault(w.target.path().address(), w.sentAt));
      if (now - Math.max(heard, w.sentAt) > w.patience) {
        watched.remove(w);
        if (w.route.leader == w.target) {
          w.route.leader = null; // located again by the next request
        }
        w.result.completeExceptionally(new java.util.concurrent.TimeoutException("leader silent"));
      }
    }
  }

  /** The leader of {@code group}: from {@code locate} if given, else by asking each replica. */
  private CompletionStage<Optional<ActorRef<ReplicaShell.Command>>> locate(String group, List<Integer> nodes,
      long deadline, Function<Duration, CompletionStage<Optional<ActorRef<ReplicaShell.Command>>>> locate) {
    if (locate == null) {
      return probe(group, nodes);
    }
    Duration wait = min(PROBE_TIMEOUT, remaining(deadline));
    return local(locate.apply(wait)).handle((found, failure) -> failure == null && found.isPresent()
        ? CompletableFuture.completedFuture(found) : probe(group, nodes)).thenCompose(Function.identity());
  }

  /** Asks every replica of the group its status: the first that leads, if any. */
  public CompletionStage<Optional<ActorRef<ReplicaShell.Command>>> probe(String group, List<Integer> nodes) {
    List<CompletableFuture<Optional<Candidate>>> asks = new ArrayList<>();
    for (int node : nodes) {
      Optional<ActorRef<ReplicaShell.Command>> ref = NodeDirectory.replica(system, node, group);
      // Asked even if the failure detector holds its node unreachable: a new incarnation at the
      // same address is held so until the old one is removed, and an ask that times out costs
      // nothing but its wait, which runs beside the others.
      if (ref.isEmpty()) {
        continue;
      }
      asks.add(local(AskPattern.<ReplicaShell.Command, ReplicaDriver.Status>ask(ref.get(), ReplicaShell.GetStatus::new,
              PROBE_TIMEOUT, system.scheduler()))
          .handle((s, failure) -> failure == null ? Optional.of(new Candidate(ref.get(), s)) : Optional.empty()));
    }
    // The first replica to say it leads is taken, without waiting for the others: a dead or
    // paused node's ask would hold the answer for its whole timeout. Should that one be a deposed
    // leader, it refuses the request (nothing appended) and names the new one.
    CompletableFuture<Optional<ActorRef<ReplicaShell.Command>>> first = new CompletableFuture<>();
    for (var a : asks) {
      a.thenAccept(c -> {
        if (c.isPresent() && c.get().status().role() == RaftCore.Role.LEADER) {
          first.complete(Optional.of(c.get().ref()));
        }
      });
    }
    CompletableFuture.allOf(asks.toArray(new CompletableFuture[0])).thenRun(() -> first.complete(Optional.empty()));
    return first;
  }

  private record Candidate(ActorRef<ReplicaShell.Command> ref, ReplicaDriver.Status status) {}

  private static Duration remaining(long deadline) {
    return Duration.ofNanos(Math.max(1_000_000, deadline - System.nanoTime()));
  }

  private static Duration min(Duration a, Duration b) {
    return a.compareTo(b) <= 0 ? a : b;
  }

  private CompletionStage<Object> later(Supplier<CompletionStage<Object>> next, long millis) {
    if (millis <= 0) {
      return next.get();
    }
    CompletableFuture<Object> result = new CompletableFuture<>();
    after(millis, () -> next.get().whenComplete((v, e) -> {
      if (e != null) {
        result.completeExceptionally(e);
      } else {
        result.complete(v);
      }
    }));
    return result;
  }

  /** Runs {@code task} on the actor system's dispatcher after {@code millis}. */
  public void after(long millis, Runnable task) {
    system.scheduler().scheduleOnce(Duration.ofMillis(millis), task, system.executionContext());
  }

  /**
   * {@code stage} as a plain CompletableFuture completed on the dispatcher. Pekko's stages run
   * every continuation on the JDK's default async executor, which on a machine with fewer than 3
   * cores starts a new thread per task (measured: it serialized the whole request path at ~600
   * requests/s on 2 cores). Everything chained on the result runs where it completes.
   */
  public <T> CompletableFuture<T> local(CompletionStage<T> stage) {
    CompletableFuture<T> plain = new CompletableFuture<>();
    stage.toCompletableFuture().whenCompleteAsync((v, e) -> {
      if (e != null) {
        plain.completeExceptionally(e);
      } else {
        plain.complete(v);
      }
    }, system.executionContext());
    return plain;
  }
}
