package io.holdfast.server;

import io.holdfast.transport.CborMessage;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.StreamSupport;
import org.apache.pekko.actor.Address;
import org.apache.pekko.actor.AddressFromURIString;
import org.apache.pekko.actor.CoordinatedShutdown;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.ActorRefResolver;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.Props;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.cluster.Member;
import org.apache.pekko.cluster.MemberStatus;
import org.apache.pekko.cluster.typed.Cluster;
import org.apache.pekko.cluster.typed.Down;
import org.apache.pekko.cluster.typed.Join;

/**
 * How server nodes form and re-form their Pekko cluster by themselves, in any start order
 * (issue 18). Pekko's seed-node process forms a new cluster only on the node listed first in its
 * own {@code seed-nodes}, and that node forms one after {@code seed-node-timeout} even when it is
 * merely cut off: right for a first start, wrong after a power cut (every node restarted by a
 * service manager, one by one, and none allowed to form) and wrong for a first seed restarting
 * alone (it splits off). So {@code holdfast node} takes the seed list out of Pekko's hands and
 * gives it to this actor, one per node at {@code /system/holdfast-formation}.
 *
 * <p>Every {@code holdfast.cluster.formation-interval}, until the node is a member, it asks each
 * seed's formation actor whether it is a member, and then:
 * <ul>
 *   <li>some seed is a member: join it (as soon as its answer arrives);
 *   <li>none is, and a majority of the seeds (counting itself) answered within the last three
 *       rounds, two rounds in a row: the lowest address among them joins itself, forming the
 *       cluster; the others join it once it answers as a member. A majority is needed so that two
 *       halves of a partition cannot both form one; the lowest address, so that one side forms
 *       only one.
 * </ul>
 * Once a member it keeps asking, every few seconds: a member whose cluster holds fewer than a
 * majority of the seeds, while some seed answers from a cluster holding a majority, is on a split
 * cluster (one formed behind an asymmetric partition); it downs itself, its node restarts
 * ({@code holdfast node} restarts the ActorSystem of a downed node) and joins the majority.
 *
 * <p>Safety never depends on this: Raft groups decide what is committed (D1-D3), and membership
 * only decides who can reach whom and where sharded entities live.
 */
public final class ClusterFormation {
  public static final String NAME = "holdfast-formation";

  public sealed interface Command {}

  /** From a peer's formation actor: are you a member? */
  public record Probe(ActorRef<Command> replyTo) implements Command, CborMessage {}

  /**
   * The answer: the peer's address and Holdfast node id, whether it is a member (joining or up),
   * and how many of the seed nodes its cluster holds up.
   */
  public record Status(String address, int node, boolean member, int seedsUp) implements Command, CborMessage {}

  private enum Tick implements Command { INSTANCE }

  /** Rounds in a row that must find no member and this node the lowest of a majority before it forms a cluster. */
  static final int FORMING_ROUNDS = 2;
  /** Rounds an answer counts for. */
  static final int ANSWER_TICKS = 3;
  /** Ticks a join in progress gets before this node asks again. */
  static final int JOIN_TICKS = 5;

  private ClusterFormation() {}

  /** Parses {@code pekko://system@host:port} seed addresses, naming the bad one. */
  public static List<Address> parseSeeds(List<String> seeds) {
    List<Address> addresses = new ArrayList<>();
    for (String s : seeds) {
      try {
        addresses.add(AddressFromURIString.parse(s));
      } catch (RuntimeException e) {
        throw new IllegalArgumentException("not a cluster address in pekko.cluster.seed-nodes: \"" + s
            + "\" (expected pekko://holdfast@host:port)");
      }
    }
    return addresses;
  }

  /** Starts forming (or joining) the cluster of {@code seeds} (this node may be among them). */
  public static void start(ActorSystem<?> system, List<Address> seeds, Duration interval) {
    system.systemActorOf(create(seeds, interval), NAME, Props.empty());
  }

  static Behavior<Command> create(List<Address> seeds, Duration interval) {
    return Behaviors.setup(ctx -> Behaviors.withTimers(timers -> {
      Cluster cluster = Cluster.get(ctx.getSystem());
      Address self = cluster.selfMember().address();
      List<Address> all = new ArrayList<>(seeds);
      if (!all.contains(self)) {
        all.add(self);
      }
      int majority = all.size() / 2 + 1;
      int nodeId = NodeSettings.fromConfig(ctx.getSystem().settings().config()).nodeId();
      ActorRefResolver resolver = ActorRefResolver.get(ctx.getSystem());
      List<ActorRef<Command>> peers = new ArrayList<>();
      for (Address a : all) {
        if (!a.equals(self)) {
          peers.add(resolver.resolveActorRef(a + "/system/" + NAME));
        }
      }
      Map<String, Status> answers = new TreeMap<>();
      Map<String, Long> answeredAt = new TreeMap<>(); // the tick of each peer's latest answer
      long[] lastJoinTick = {Long.MIN_VALUE / 2};
      long[] tick = {0};
      int[] formingRounds = {0};
      // Downed or stopping: this ActorSystem is done; the next one joins.
      java.util.function.BooleanSupplier done = () -> cluster.selfMember().status() == MemberStatus.down()
          || CoordinatedShutdown.get(ctx.getSystem()).getShutdownReason().isPresent();
      java.util.function.Consumer<Address> join = target -> {
        if (!target.equals(self)) {
          ctx.getLog().info("Joining the cluster through {}", target);
        }
        cluster.manager().tell(Join.create(target));
        lastJoinTick[0] = tick[0];
      };
      timers.startTimerWithFixedDelay(Tick.INSTANCE, interval);
      ctx.getSelf().tell(Tick.INSTANCE);
      return Behaviors.receive(Command.class)
          .onMessage(Probe.class, p -> {
            // A joining member counts: its cluster exists. A node restarted while the leader cannot
            // move members up (an old incarnation of some node still unreachable, not yet downed)
            // stays joining for seconds, and answering "not a member" then had another restarted
            // node form a second cluster beside it (torture seed 3, 2026-12-06).
            p.replyTo().tell(new Status(self.toString(), nodeId, isMember(cluster.selfMember()),
                seedsUp(cluster, all)));
            return Behaviors.same();
          })
          .onMessage(Status.class, s -> {
            answers.put(s.address(), s);
            answeredAt.put(s.address(), tick[0]);
            if (s.node() > 0) {
              // Where that node is, before either is a member: its replicas and meta group can be
              // reached at once (NodeDirectory.addressOf), not only once membership settles.
              NodeDirectory.remember(ctx.getSystem(), s.node(), AddressFromURIString.parse(s.address()));
            }
            // A member answered: join it now, not at the next tick, so a restarted node serves up to
            // an interval sooner. Forming a new cluster still waits for the ticks.
            if (s.member() && !done.getAsBoolean() && !isMember(cluster.selfMember())
                && tick[0] - lastJoinTick[0] >= JOIN_TICKS) {
              Address target = decide(self, answers, majority);
              if (target != null && !target.equals(self)) {
                join.accept(target);
              }
            }
            return Behaviors.same();
          })
          .onMessageEquals(Tick.INSTANCE, () -> {
            tick[0]++;
            if (done.getAsBoolean()) {
              return Behaviors.same();
            }
            boolean joined = isMember(cluster.selfMember());
            if (!joined && tick[0] - lastJoinTick[0] >= JOIN_TICKS) {
              Address target = decide(self, answers, majority);
              // Forming needs two rounds in a row that say so: a member slow to answer one round
              // (busy, just resumed) must not see a second cluster formed beside it.
              formingRounds[0] = target != null && target.equals(self) ? formingRounds[0] + 1 : 0;
              if (target != null && target.equals(self) && formingRounds[0] < FORMING_ROUNDS) {
                target = null;
              }
              if (target != null && target.equals(self)) {
                ctx.getLog().info("Forming the cluster: {} of {} seed nodes answered, none is a member, and this"
                    + " node has the lowest address of them", answers.size() + 1, all.size());
              }
              if (target != null) {
                join.accept(target);
              }
            } else if (joined && up(cluster.selfMember()) && seedsUp(cluster, all) < majority) {
              answers.values().stream()
                  .filter(s -> s.member() && s.seedsUp() >= majority && !knows(cluster, s.address()))
                  .findFirst().ifPresent(s -> {
                    ctx.getLog().warn("This node's cluster holds {} of {} seed nodes while {} is in another one"
                        + " holding {}: downing this node, which then restarts and joins that one",
                        seedsUp(cluster, all), all.size(), s.address(), s.seedsUp());
                    cluster.manager().tell(new Down(self));
                  });
            }
            // An answer counts for ANSWER_TICKS ticks: a peer slow to answer (starting, busy) is not
            // taken for absent, which would keep a majority from ever being counted.
            answeredAt.entrySet().removeIf(e -> tick[0] - e.getValue() >= ANSWER_TICKS);
            answers.keySet().retainAll(answeredAt.keySet());
            if (!joined || tick[0] % 5 == 0) { // members ask less often: only the split check needs it
              for (ActorRef<Command> peer : peers) {
                peer.tell(new Probe(ctx.getSelf()));
              }
            }
            return Behaviors.same();
          })
          .build();
    }));
  }

  /**
   * Whom to join, from the answers that count: a member seed (the lowest address of them), else
   * this node itself if a majority answered and it has the lowest address of them, else nobody yet.
   */
  static Address decide(Address self, Map<String, Status> answers, int majority) {
    List<String> members = answers.values().stream().filter(Status::member).map(Status::address).sorted().toList();
    if (!members.isEmpty()) {
      return AddressFromURIString.parse(members.get(0));
    }
    if (answers.size() + 1 < majority) {
      return null;
    }
    String lowest = answers.keySet().stream().min(String::compareTo).orElse(self.toString());
    return self.toString().compareTo(lowest) <= 0 ? self : null;
  }

  private static boolean isMember(Member m) {
    return inCluster(m.status());
  }

  /** Whether a node in status {@code s} is in a cluster, for joining and for answering probes. */
  static boolean inCluster(MemberStatus s) {
    return s == MemberStatus.joining() || s == MemberStatus.weaklyUp() || s == MemberStatus.up()
        || s == MemberStatus.leaving() || s == MemberStatus.exiting();
  }

  private static boolean up(Member m) {
    return m.status() == MemberStatus.up() || m.status() == MemberStatus.weaklyUp();
  }

  /** Whether {@code address} is a member of this node's cluster, in any state. */
  private static boolean knows(Cluster cluster, String address) {
    return StreamSupport.stream(cluster.state().getMembers().spliterator(), false)
        .anyMatch(m -> m.address().toString().equals(address));
  }

  private static int seedsUp(Cluster cluster, List<Address> seeds) {
    return (int) StreamSupport.stream(cluster.state().getMembers().spliterator(), false)
        .filter(m -> up(m) && seeds.contains(m.address()))
        .filter(m -> StreamSupport.stream(cluster.state().getUnreachable().spliterator(), false)
            .noneMatch(u -> u.address().equals(m.address())))
        .count();
  }
}
