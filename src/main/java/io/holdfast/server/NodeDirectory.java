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

  /**
   * Where node {@code nodeId} (or the node of replica id {@code nodeId}) is: its address as a
   * member, else the last address this system saw it at while it was one. A node between two
   * incarnations (downed, removed, restarting, not yet a member again) is back at that address as
   * soon as its process runs, and Raft, not membership, decides whether it can serve.
   */
  public static Optional<Address> addressOf(ActorSystem<?> system, int nodeId) {
    var self = Cluster.get(system).selfMember();
    if (self.hasRole(NodeSettings.nodeRole(ReplicaIds.node(nodeId)))) {
      // This node, also before it is a member: a restarted node whose join waits (the cluster's
      // leader cannot admit it while another member is unreachable and not downed) may already
      // lead the meta group, and must find that leader to register its disk. Before, it did not,
      // and its streams stayed down until the unreachable member came back (NodeDirectoryTest).
      return Optional.of(self.address());
    }
    Optional<Address> member = memberAddress(system, nodeId);
    SeenNodes seen = SeenNodes.ID.apply(system);
    member.ifPresent(a -> seen.addresses.put(ReplicaIds.node(nodeId), a));
    return member.isPresent() ? member : Optional.ofNullable(seen.addresses.get(ReplicaIds.node(nodeId)));
  }

  /** Records where server node {@code node} was last seen (a member, or a formation answer). */
  public static void remember(ActorSystem<?> system, int node, Address address) {
    SeenNodes.ID.apply(system).addresses.put(node, address);
  }

  /** Every server node's address: the members', and for the others the last one seen. */
  public static java.util.SortedMap<Integer, Address> knownNodes(ActorSystem<?> system) {
    java.util.TreeMap<Integer, Address> nodes = new java.util.TreeMap<>(SeenNodes.ID.apply(system).addresses);
    nodes.putAll(serverNodes(system));
    return nodes;
  }

  /** Node {@code nodeId}'s address if it is a member now (not down, not removed). */
  public static Optional<Address> memberAddress(ActorSystem<?> system, int nodeId) {
    int node = ReplicaIds.node(nodeId);
    String role = NodeSettings.nodeRole(node);
    return StreamSupport.stream(Cluster.get(system).state().getMembers().spliterator(), false)
        .filter(m -> m.hasRole(role) && m.status() != MemberStatus.removed() && m.status() != MemberStatus.down())
        .map(m -> m.address())
        .findFirst();
  }

  /**
   * Whether messages to {@code ref} can arrive: it is local, or its node is not a member the
   * failure detector holds unreachable (killed, paused, partitioned) and not one that was downed or
   * left; a node this system knows only from before (between incarnations) is worth trying.
   */
  public static boolean reachable(ActorSystem<?> system, ActorRef<?> ref) {
    Address a = ref.path().address();
    if (a.host().isEmpty()) {
      return true;
    }
    var state = Cluster.get(system).state();
    boolean gone = StreamSupport.stream(state.getMembers().spliterator(), false)
        .anyMatch(m -> m.address().equals(a) && (m.status() == MemberStatus.down()
            || m.status() == MemberStatus.exiting() || m.status() == MemberStatus.removed()));
    boolean unreachable = StreamSupport.stream(state.getUnreachable().spliterator(), false)
        .anyMatch(m -> m.address().equals(a));
    return !gone && !unreachable;
  }

  /** The last address of every server node this system has seen as a member (see {@link #addressOf}). */
  static final class SeenNodes implements org.apache.pekko.actor.typed.Extension {
    static final org.apache.pekko.actor.typed.ExtensionId<SeenNodes> ID =
        new org.apache.pekko.actor.typed.ExtensionId<>() {
          @Override
          public SeenNodes createExtension(ActorSystem<?> system) {
            return new SeenNodes();
          }
        };
    final java.util.concurrent.ConcurrentHashMap<Integer, Address> addresses = new java.util.concurrent.ConcurrentHashMap<>();
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
