package io.holdfast.server;

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
 */
public final class NodeDirectory {
  public static final String MANAGER = "holdfast";
  public static final String HOST = "holdfast-host";

  private NodeDirectory() {}

  public static Optional<Address> addressOf(ActorSystem<?> system, int nodeId) {
    String role = NodeSettings.nodeRole(nodeId);
    return StreamSupport.stream(Cluster.get(system).state().getMembers().spliterator(), false)
        .filter(m -> m.hasRole(role) && m.status() != MemberStatus.removed() && m.status() != MemberStatus.down())
        .map(m -> m.address())
        .findFirst();
  }

  public static Optional<ActorRef<ReplicaShell.Command>> replica(ActorSystem<?> system, int nodeId, String group) {
    return addressOf(system, nodeId).map(a -> ActorRefResolver.get(system).<ReplicaShell.Command>resolveActorRef(
        a + "/system/" + MANAGER + "/" + group));
  }

  public static Optional<ActorRef<ReplicaHost.Command>> host(ActorSystem<?> system, int nodeId) {
    return addressOf(system, nodeId).map(a -> ActorRefResolver.get(system).<ReplicaHost.Command>resolveActorRef(
        a + "/system/" + HOST));
  }
}
