package io.holdfast.transport;

import io.holdfast.raft.message.RaftMessage;
import io.holdfast.storage.StoreMessage;
import java.util.HashMap;
import java.util.Map;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.ActorRefResolver;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.SupervisorStrategy;
import org.apache.pekko.actor.typed.javadsl.Behaviors;

/**
 * One per node: the address replicas on other nodes send to. Routes each {@link PeerEnvelope} to
 * the local replica of that group; envelopes for groups not hosted here are dropped (Raft retries
 * everything it needs).
 *
 * <p>Failure policy: resume. An exception routing one envelope drops that envelope (as the
 * network may) and keeps the registrations; a restart would forget every local replica, which
 * registers only once, and cut the node off from its peers.
 */
public final class ReplicaHost {
  private ReplicaHost() {}

  public sealed interface Command permits PeerEnvelope, StoreEnvelope, Register, Unregister {}

  /**
   * The local replica of {@code group} takes the messages addressed to it: Raft messages at
   * {@code raft}, store messages at {@code store} (the replica's message adapters).
   */
  public record Register(String group, ActorRef<RaftMessage> raft, ActorRef<StoreMessage> store)
      implements Command {}

  /** The replica registered with {@code raft} stopped; ignored if another replica of the group registered since. */
  public record Unregister(String group, ActorRef<RaftMessage> raft) implements Command {}

  /**
   * {@code host} (of another node) as a reference held by node {@code from}: resolved through
   * {@code from}'s provider, so messages to it cross the network and are serialized.
   */
  public static ActorRef<Command> asSeenFrom(ActorSystem<?> from, ActorSystem<?> owner, ActorRef<Command> host) {
    return ActorRefResolver.get(from).resolveActorRef(ActorRefResolver.get(owner).toSerializationFormat(host));
  }

  /**
   * Forwards to {@code host} the envelopes that arrive on Artery's large-message stream (snapshots;
   * its path is listed in {@code pekko.remote.artery.large-message-destinations}).
   */
  public static Behavior<Command> largeMessages(ActorRef<Command> host) {
    return Behaviors.receive(Command.class)
        .onMessage(PeerEnvelope.class, e -> {
          host.tell(e);
          return Behaviors.same();
        })
        .onMessage(StoreEnvelope.class, e -> {
          host.tell(e);
          return Behaviors.same();
        })
        .build();
  }

  /** Whether {@code m} carries a snapshot and so goes on the large-message stream. */
  public static boolean large(RaftMessage m) {
    return m instanceof RaftMessage.InstallSnapshot
        || m instanceof RaftMessage.RepairResult r && r.snapshot() != null;
  }

  public static Behavior<Command> create() {
    return Behaviors.supervise(routing()).onFailure(SupervisorStrategy.resume());
  }

  private static Behavior<Command> routing() {
    return Behaviors.setup(ctx -> {
      Map<String, Register> local = new HashMap<>();
      return Behaviors.receive(Command.class)
          .onMessage(Register.class, r -> {
            local.put(r.group(), r);
            return Behaviors.same();
          })
          .onMessage(Unregister.class, u -> {
            local.computeIfPresent(u.group(), (g, r) -> r.raft().equals(u.raft()) ? null : r);
            return Behaviors.same();
          })
          .onMessage(PeerEnvelope.class, e -> {
            Register r = local.get(e.group());
            if (r != null) {
              r.raft().tell(e.message());
            }
            return Behaviors.same();
          })
          .onMessage(StoreEnvelope.class, e -> {
            Register r = local.get(e.group());
            if (r != null) {
              r.store().tell(e.message());
            }
            return Behaviors.same();
          })
          .build();
    });
  }
}
