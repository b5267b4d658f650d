package io.holdfast.transport;

import io.holdfast.raft.message.RaftMessage;
import io.holdfast.storage.StoreMessage;
import java.util.HashMap;
import java.util.List;
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
 * <p>It is also the node's outbox: local replicas hand it their envelopes for other nodes
 * ({@link Outgoing}), and it sends what gathered for one node as one {@link PeerBatch}. The batch
 * ends the way the storage actor's does: the first envelope of a batch sends this actor a
 * {@link FlushOutgoing} marker, so everything that reached the mailbox before the marker joins
 * it; no timer, and under load the batches grow by themselves. Measured before it: with 10 busy
 * streams every Raft message crossed Artery on its own, and Artery's per-message work (envelope,
 * dispatch, a wake-up of the receiving thread) took ~40% of the nodes' CPU. A batch is bounded
 * by {@link #BATCH_BYTES_MAX}, well inside Artery's frame; an envelope above that goes alone,
 * as every envelope did before. Envelopes to one node keep their order.
 *
 * <p>Failure policy: resume. An exception routing one envelope drops that envelope (as the
 * network may) and keeps the registrations; a restart would forget every local replica, which
 * registers only once, and cut the node off from its peers.
 */
public final class ReplicaHost {
  private ReplicaHost() {}

  public sealed interface Command permits PeerEnvelope, StoreEnvelope, Register, Unregister, Outgoing, PeerBatch,
      FlushOutgoing {}

  /** From a local replica: send {@code envelope} (a {@link PeerEnvelope} or {@link StoreEnvelope}) to the host {@code to}. */
  public record Outgoing(ActorRef<Command> to, Command envelope) implements Command {}

  /** Envelopes from one node to another, in the order their replicas sent them. */
  public record PeerBatch(List<Command> envelopes) implements Command {
    public PeerBatch {
      envelopes = List.copyOf(envelopes);
    }
  }

  /** Marks the end of an outgoing batch in this actor's mailbox. */
  enum FlushOutgoing implements Command { INSTANCE }

  /** Encoded bytes of envelopes in one batch at most (one larger envelope goes alone): well inside Artery's frame. */
  static final int BATCH_BYTES_MAX = 192 << 10;

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
    return m.snapshot() != null;
  }

  public static Behavior<Command> create() {
    return Behaviors.supervise(routing()).onFailure(SupervisorStrategy.resume());
  }

  private static Behavior<Command> routing() {
    return Behaviors.setup(ctx -> {
      Map<String, Register> local = new HashMap<>();
      Outbox outbox = new Outbox();
      return Behaviors.receive(Command.class)
          .onMessage(Outgoing.class, o -> {
            if (outbox.add(o)) {
              ctx.getSelf().tell(FlushOutgoing.INSTANCE);
            }
            return Behaviors.same();
          })
          .onMessageEquals(FlushOutgoing.INSTANCE, () -> {
            outbox.flush();
            return Behaviors.same();
          })
          .onMessage(PeerBatch.class, b -> {
            for (Command e : b.envelopes()) {
              try {
                route(local, e);
              } catch (RuntimeException x) { // as for a single envelope: this one is dropped, the rest go on
                ctx.getLog().warn("Dropped a peer message that could not be routed: {}", x.toString());
              }
            }
            return Behaviors.same();
          })
          .onMessage(Register.class, r -> {
            local.put(r.group(), r);
            return Behaviors.same();
          })
          .onMessage(Unregister.class, u -> {
            local.computeIfPresent(u.group(), (g, r) -> r.raft().equals(u.raft()) ? null : r);
            return Behaviors.same();
          })
          .onMessage(PeerEnvelope.class, e -> {
            route(local, e);
            return Behaviors.same();
          })
          .onMessage(StoreEnvelope.class, e -> {
            route(local, e);
            return Behaviors.same();
          })
          .build();
    });
  }

  private static void route(Map<String, Register> local, Command envelope) {
    if (envelope instanceof PeerEnvelope e) {
      Register r = local.get(e.group());
      if (r != null) {
        r.raft().tell(e.message());
      }
    } else if (envelope instanceof StoreEnvelope e) {
      Register r = local.get(e.group());
      if (r != null) {
        r.store().tell(e.message());
      }
    }
  }

  /** The envelopes gathered for each destination host since the last flush. */
  static final class Outbox {
    private final Map<ActorRef<Command>, Gathered> byHost = new java.util.LinkedHashMap<>();

    private static final class Gathered {
      final List<Command> envelopes = new java.util.ArrayList<>();
      long bytes;
    }

    /** Adds {@code o}; whether it is the first of a batch (a flush marker is due). */
    boolean add(Outgoing o) {
      boolean first = byHost.isEmpty();
      Gathered g = byHost.computeIfAbsent(o.to(), to -> new Gathered());
      int size = encodedBytes(o.envelope());
      if (!g.envelopes.isEmpty() && g.bytes + size > BATCH_BYTES_MAX) {
        send(o.to(), g.envelopes);
        g.envelopes.clear();
        g.bytes = 0;
      }
      g.envelopes.add(o.envelope());
      g.bytes += size;
      return first;
    }

    void flush() {
      byHost.forEach((to, g) -> send(to, g.envelopes));
      byHost.clear();
    }

    private static void send(ActorRef<Command> to, List<Command> envelopes) {
      to.tell(envelopes.size() == 1 ? envelopes.get(0) : new PeerBatch(envelopes));
    }
  }

  static int encodedBytes(Command envelope) {
    return envelope instanceof PeerEnvelope e ? RaftCodec.encodedBytes(e) : StoreCodec.encodedBytes((StoreEnvelope) envelope);
  }
}
