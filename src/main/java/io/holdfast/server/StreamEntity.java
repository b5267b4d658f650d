package io.holdfast.server;

import io.holdfast.meta.MetaState;
import io.holdfast.replica.ReplicaShell;
import io.holdfast.transport.CborMessage;
import java.util.Optional;
import java.util.function.Supplier;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.cluster.sharding.typed.javadsl.EntityTypeKey;

/**
 * A stream's address in the cluster: a Cluster Sharding entity keyed by stream name, hosted on
 * server nodes (application nodes reach it through sharding proxies). It holds no durable state —
 * sharding may move it freely (DESIGN.md §3). It names the stream's current leader replica;
 * clients cache that and send to the leader directly after this first hop.
 *
 * <p>Decision: the entity names the leader rather than carrying the publish itself. A publish lost
 * in an extra hop (the entity's node just died, sharding is rebalancing) could only be reported
 * "outcome unknown"; a {@link Locate} has no effect, so when it is not answered the client simply
 * asks the replicas instead, and the publish itself is sent exactly once, to a live leader.
 */
public final class StreamEntity {
  public static final EntityTypeKey<Command> KEY = EntityTypeKey.create(Command.class, "HoldfastStream");

  private StreamEntity() {}

  public sealed interface Command extends CborMessage {}

  /** Where is the leader? Answered with {@link Located} (empty if unknown right now). */
  public record Locate(ActorRef<Located> replyTo) implements Command {}

  public record Located(Optional<ActorRef<ReplicaShell.Command>> leader) implements CborMessage {}

  private record Found(Optional<ActorRef<ReplicaShell.Command>> leader) implements Command {}

  /** @param view this node's current meta view (may be null before the first one arrives) */
  public static Behavior<Command> create(String stream, Supplier<MetaState> view, GroupRouter router) {
    return Behaviors.setup(ctx -> {
      java.util.ArrayList<Locate> waiting = new java.util.ArrayList<>();
      boolean[] probing = {false};
      Runnable probe = () -> {
        MetaState v = view.get();
        MetaState.StreamRecord s = v == null ? null : v.streams().get(stream);
        if (s == null) {
          ctx.getSelf().tell(new Found(Optional.empty()));
          return;
        }
        probing[0] = true;
        ctx.pipeToSelf(router.probe(s.group(), s.placement()),
            (found, failure) -> new Found(failure == null ? found : Optional.empty()));
      };
      return Behaviors.receive(Command.class)
          .onMessage(Found.class, f -> {
            probing[0] = false;
            for (Locate l : waiting) {
              l.replyTo().tell(new Located(f.leader()));
            }
            waiting.clear();
            return Behaviors.same();
          })
          .onMessage(Locate.class, l -> {
            // Always look again: the asker comes here because its cached leader failed it.
            waiting.add(l);
            if (!probing[0]) {
              probe.run();
            }
            return Behaviors.same();
          })
          .build();
    });
  }
}
