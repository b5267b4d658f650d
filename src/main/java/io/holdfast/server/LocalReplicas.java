package io.holdfast.server;

import io.holdfast.replica.ReplicaShell;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.Extension;
import org.apache.pekko.actor.typed.ExtensionId;

/**
 * This node's running replicas by group. Local references are bound to one actor incarnation, and
 * Pekko caches path resolution per thread: resolving the path of a replica that was stopped and
 * started again (it retired and rejoined) can return the dead one. So local replicas are looked up
 * here; remote ones by path, which always reaches whatever runs there now.
 */
public final class LocalReplicas implements Extension {
  public static final class Id extends ExtensionId<LocalReplicas> {
    @Override
    public LocalReplicas createExtension(ActorSystem<?> system) {
      return new LocalReplicas();
    }
  }

  private static final Id ID = new Id();

  public static LocalReplicas get(ActorSystem<?> system) {
    return ID.apply(system);
  }

  private final ConcurrentHashMap<String, ActorRef<ReplicaShell.Command>> replicas = new ConcurrentHashMap<>();

  void started(String group, ActorRef<ReplicaShell.Command> ref) {
    replicas.put(group, ref);
  }

  void stopped(String group, ActorRef<ReplicaShell.Command> ref) {
    replicas.remove(group, ref);
  }

  public Optional<ActorRef<ReplicaShell.Command>> find(String group) {
    return Optional.ofNullable(replicas.get(group));
  }

  /** Every running replica on this node, by group. */
  public java.util.Map<String, ActorRef<ReplicaShell.Command>> all() {
    return java.util.Map.copyOf(replicas);
  }
}
