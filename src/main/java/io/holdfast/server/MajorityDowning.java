package io.holdfast.server;

import java.time.Duration;
import java.util.List;
import java.util.Set;
import java.util.stream.Collectors;
import java.util.stream.StreamSupport;
import org.apache.pekko.actor.AbstractActorWithTimers;
import org.apache.pekko.actor.ActorSystem;
import org.apache.pekko.actor.Address;
import org.apache.pekko.actor.Props;
import org.apache.pekko.cluster.Cluster;
import org.apache.pekko.cluster.ClusterEvent;
import org.apache.pekko.cluster.DowningProvider;
import org.apache.pekko.cluster.Member;
import org.apache.pekko.cluster.MemberStatus;
import scala.Option;
import scala.concurrent.duration.FiniteDuration;

/**
 * Holdfast's downing (issue 18): the side that holds a majority of the members downs the members
 * it has not reached for {@code holdfast.cluster.downing.stable-after}; a minority side downs
 * nobody, itself included. Pekko's keep-majority downs the minority side's own nodes: on three
 * nodes, one survivor of a double failure — or a node that saw a peer die while another was
 * restarting, its old incarnation still counted as unreachable — downed itself, and its restart
 * took the last replica of every stream with it. Here Raft groups decide what is committed
 * (D1-D3) and replicas reach each other whatever membership says, so downing only has to remove
 * nodes that are gone for good (freeing their shards and letting the membership converge); a node
 * on the losing side of a partition is downed by the winning side, learns it when the partition
 * heals (by gossip, or by being quarantined, upon which it downs itself), and {@code holdfast
 * node} starts it again (a new ActorSystem, same data).
 *
 * <p>Only the cluster's leader (the first reachable member) decides, once membership and
 * reachability have not changed for {@code stable-after}: one decision per stable view.
 */
public final class MajorityDowning extends DowningProvider {
  private final Duration stableAfter;

  public MajorityDowning(ActorSystem system) {
    this.stableAfter = system.settings().config().getDuration("holdfast.cluster.downing.stable-after");
  }

  @Override
  public FiniteDuration downRemovalMargin() {
    return FiniteDuration.Zero();
  }

  @Override
  public Option<Props> downingActorProps() {
    return Option.apply(Props.create(Decider.class, () -> new Decider(stableAfter)));
  }

  /**
   * Which members to down, if {@code self} leads: the unreachable ones, when the reachable ones are
   * a strict majority of {@code members} (the members not yet down or removed).
   */
  static List<Address> toDown(List<Address> members, Set<Address> unreachable, Address self, Address leader) {
    if (leader == null || !leader.equals(self)) {
      return List.of();
    }
    List<Address> gone = members.stream().filter(unreachable::contains).toList();
    int reachable = members.size() - gone.size();
    return gone.isEmpty() || reachable * 2 <= members.size() ? List.of() : gone;
  }

  /** The downing actor Pekko runs on every node. */
  static final class Decider extends AbstractActorWithTimers {
    private final Duration stableAfter;
    private final Cluster cluster = Cluster.get(getContext().getSystem());
    private long changedAt = System.nanoTime();

    Decider(Duration stableAfter) {
      this.stableAfter = stableAfter;
    }

    private enum Tick { INSTANCE }

    @Override
    public void preStart() {
      cluster.subscribe(getSelf(), ClusterEvent.initialStateAsEvents(), ClusterEvent.MemberEvent.class,
          ClusterEvent.ReachabilityEvent.class);
      getContext().getSystem().getEventStream().subscribe(getSelf(),
          org.apache.pekko.remote.artery.ThisActorSystemQuarantinedEvent.class);
      getTimers().startTimerWithFixedDelay(Tick.INSTANCE, Tick.INSTANCE, Duration.ofSeconds(1));
    }

    @Override
    public void postStop() {
      cluster.unsubscribe(getSelf());
    }

    @Override
    public Receive createReceive() {
      return receiveBuilder()
          .match(ClusterEvent.MemberEvent.class, e -> changedAt = System.nanoTime())
          .match(ClusterEvent.ReachabilityEvent.class, e -> changedAt = System.nanoTime())
          .match(org.apache.pekko.remote.artery.ThisActorSystemQuarantinedEvent.class, this::quarantined)
          .matchEquals(Tick.INSTANCE, t -> decide())
          .build();
    }

    /**
     * A peer quarantined this incarnation (the majority downed and removed it while it was cut
     * off or paused): the two can never talk again, and this side, a minority, would wait
     * forever. It downs itself, and {@code holdfast node} starts a new incarnation that joins.
     */
    private void quarantined(org.apache.pekko.remote.artery.ThisActorSystemQuarantinedEvent e) {
      getContext().getSystem().log().warning("{} quarantined this node: downing it, so that a new incarnation joins",
          e.remoteAddress().address());
      cluster.down(cluster.selfAddress());
    }

    private void decide() {
      if (System.nanoTime() - changedAt < stableAfter.toNanos()) {
        return;
      }
      ClusterEvent.CurrentClusterState state = cluster.state();
      Set<Address> unreachable = state.getUnreachable().stream().map(Member::address).collect(Collectors.toSet());
      List<Address> members = StreamSupport.stream(state.getMembers().spliterator(), false)
          .filter(m -> m.status() != MemberStatus.down() && m.status() != MemberStatus.removed())
          .map(Member::address).toList();
      List<Address> down = toDown(members, unreachable, cluster.selfAddress(), state.getLeader());
      if (!down.isEmpty()) {
        getContext().getSystem().log().warning("Downing {}: unreachable for {} s while this side holds a majority"
            + " of the members", down, stableAfter.toSeconds());
        down.forEach(cluster::down);
        changedAt = System.nanoTime(); // one decision per stable view
      }
    }
  }
}
