package io.holdfast.server;

import io.holdfast.meta.ReplicaIds;
import io.holdfast.replica.ReplicaShell;
import io.holdfast.transport.ReplicaHost;
import java.util.Optional;
import java.util.stream.StreamSupport;
import org.apache.pekko.actor.Address;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.ActorRefResolver;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.cluster.MemberStatus;
import org.apache.pekko.cluster.typed.Cluster;

/**
 * Where server node {@code id} is: the cluster member with role {@code holdfast-node-<id>}. Its
 * replicas live at fixed paths under it: {@code /system/holdfast/<group>} and its
 * {@link ReplicaHost} at {@code /system/holdfast-host}. Paths carry no actor uid, so a reference
 * stays good across the node's restarts.
 *
 * <p>Every {@code nodeId} here may also be a Raft replica id: it leads to the replica's node
 * ({@link ReplicaIds#node}), so a leader hint can be followed as it is.
 *
 * <p>Why fixed paths and cluster membership, not Pekko's Receptionist (decided in issue 15): what
 * a node needs to reach is one actor per peer node (its ReplicaHost; replicas are addressed through
 * it by group name), and which nodes exist is exactly the cluster's membership, which the
 * StreamManager follows by subscription (member events), not by polling. A uid-free path is good
 * the moment a restarted node's Artery association is up; a Receptionist listing holds the dead
 * incarnation's reference until gossip replaces it, and registering each of 1,000 replicas per
 * node would put thousands of entries into replicated data for no gain. No periodic re-send
 * remains: references are resolved once per membership change ({@code StreamManager}).
 */
public final class NodeDirectory {
  public static final String MANAGER = "holdfast";
  public static final String HOST = "holdfast-host";
  /** Listed in {@code pekko.remote.artery.large-message-destinations} (reference.conf). */
  public static final String LARGE = "holdfast-large";

  private NodeDirectory() {}

  /** Every server node that is a member now (not down, not removed), by node id. */
  public static java.util.SortedMap<Integer, Address> serverNodes(ActorSystem<?> system) {
    java.util.TreeMap<Integer, Address> nodes = new java.util.TreeMap<>();
    String prefix = NodeSettings.NODE_ROLE_PREFIX;
    for (var m : Cluster.get(system).state().getMembers()) {
      if (m.status() == MemberStatus.removed() || m.status() == MemberStatus.down()) {
        continue;
      }
      for (String role : m.getRoles()) {
        if (role.startsWith(prefix)) {
          try {
            nodes.putIfAbsent(Integer.parseInt(role.substring(prefix.length())), m.address());
          } catch (NumberFormatException e) {
            // another role that starts the same way: not a node id
          }
        }
      }
    }
    return nodes;
  }

  /** The ReplicaHost of the node at {@code address} (or its forwarder on the large-message stream). */
  public static ActorRef<ReplicaHost.Command> hostAt(ActorSystem<?> system, Address address, boolean large) {
    return ActorRefResolver.get(system).resolveActorRef(address + "/system/" + (large ? LARGE : HOST));
  }

  public static Optional<Address> addressOf(ActorSystem<?> system, int nodeId) {
    String role = NodeSettings.nodeRole(ReplicaIds.node(nodeId));
    return StreamSupport.stream(Cluster.get(system).state().getMembers().spliterator(), false)
        .filter(m -> m.hasRole(role) && m.status() != MemberStatus.removed() && m.status() != MemberStatus.down())
        .map(m -> m.address())
        .findFirst();
  }

  /**
   * Whether messages to {@code ref} can arrive: it is local, or its node is a member that the
   * failure detector does not hold unreachable. A node that left, was removed, or is unreachable
   * (killed, paused, partitioned) is not worth waiting on.
   */
  public static boolean reachable(ActorSystem<?> system, ActorRef<?> ref) {
    Address a = ref.path().address();
    if (a.host().isEmpty()) {
      return true;
    }
    var state = Cluster.get(system).state();
    boolean member = StreamSupport.stream(state.getMembers().spliterator(), false)
        .anyMatch(m -> m.address().equals(a) && (m.status() == MemberStatus.up() || m.status() == MemberStatus.weaklyUp()
            || m.status() == MemberStatus.joining()));
    boolean unreachable = StreamSupport.stream(state.getUnreachable().spliterator(), false)
        .anyMatch(m -> m.address().equals(a));
    return member && !unreachable;
  }

  public static Optional<ActorRef<ReplicaShell.Command>> replica(ActorSystem<?> system, int nodeId, String group) {
    Optional<Address> address = addressOf(system, nodeId);
    if (address.isPresent() && address.get().equals(Cluster.get(system).selfMember().address())) {
      return LocalReplicas.get(system).find(group); // see LocalReplicas: no stale local references
    }
    return address.map(a -> ActorRefResolver.get(system).<ReplicaShell.Command>resolveActorRef(
        a + "/system/" + MANAGER + "/" + group));
  }
}
