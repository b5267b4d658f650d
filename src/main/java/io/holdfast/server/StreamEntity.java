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
 * sharding may move it freely (DESIGN.md §3). It finds the stream's current leader replica, and
 * forwards proposals to it; clients cache the leader it names and talk to it directly after this
 * first hop.
 */
public final class StreamEntity {
  public static final EntityTypeKey<Command> KEY = EntityTypeKey.create(Command.class, "HoldfastStream");

  private StreamEntity() {}

  public sealed interface Command extends CborMessage {}

  /** Where is the leader? Answered with {@link Located} (empty if unknown right now). */
  public record Locate(ActorRef<Located> replyTo) implements Command {}

  public record Located(Optional<ActorRef<ReplicaShell.Command>> leader) implements CborMessage {}

  /** Hand {@code propose} to the leader; the leader answers the proposer directly. */
  public record Forward(ReplicaShell.Propose propose) implements Command {}

  private record Found(Optional<ActorRef<ReplicaShell.Command>> leader) implements Command {}

  /** @param view this node's current meta view (may be null before the first one arrives) */
  public static Behavior<Command> create(String stream, Supplier<MetaState> view, GroupRouter router) {
    return Behaviors.setup(ctx -> {
      @SuppressWarnings("unchecked")
      ActorRef<ReplicaShell.Command>[] leader = new ActorRef[1];
      java.util.ArrayList<Command> waiting = new java.util.ArrayList<>();
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
            leader[0] = f.leader().orElse(null);
            for (Command c : waiting) {
              answer(c, leader[0]);
            }
            waiting.clear();
            return Behaviors.same();
          })
          .onAnyMessage(c -> {
            // Always look again for Locate (the asker's cache failed it); Forward uses the cached leader.
            if (c instanceof Forward && leader[0] != null && NodeDirectory.reachable(ctx.getSystem(), leader[0])) {
              answer(c, leader[0]);
            } else {
              waiting.add(c);
              if (!probing[0]) {
                probe.run();
              }
            }
            return Behaviors.same();
          })
          .build();
    });
  }

  private static void answer(Command c, ActorRef<ReplicaShell.Command> leader) {
    if (c instanceof Locate l) {
      l.replyTo().tell(new Located(Optional.ofNullable(leader)));
    } else if (c instanceof Forward f) {
      if (leader != null) {
        leader.tell(f.propose());
      } else {
        f.propose().replyTo().tell(new ReplicaShell.Refused(io.holdfast.raft.ProposeResult.Reason.NOT_LEADER, 0));
      }
    }
  }
}
