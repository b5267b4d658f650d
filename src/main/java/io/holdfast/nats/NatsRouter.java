package io.holdfast.nats;

import io.holdfast.transport.CborMessage;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.actor.typed.receptionist.Receptionist;
import org.apache.pekko.actor.typed.receptionist.ServiceKey;

/**
 * Core NATS traffic across the cluster. Each node's router tells every other node's router which
 * subject patterns (and queue groups) its clients subscribe to — the whole set when it first sees a
 * peer, then each change, sent by the subscribing connection itself before anything it publishes
 * next (so a request's reply never outruns the requester's inbox interest) — and a node forwards a publish only to the nodes that have a matching
 * subscription: once per node for plain subscribers, to one chosen member for each queue group.
 * Core NATS is at most once, so a message in flight to a node that dies is simply gone.
 *
 * <p>Routers find each other through Pekko's Receptionist: there are a handful (one per node), and
 * a router that restarts registers again and introduces itself anew ({@link Hello}).
 */
public final class NatsRouter {
  public static final ServiceKey<Command> KEY = ServiceKey.create(Command.class, "holdfast-nats-router");

  private NatsRouter() {}

  public interface Command {}

  /** A subject pattern some client on a node subscribes to; {@code queue} null for plain subscribers. */
  public record Interest(String pattern, String queue) {}

  /** A peer's introduction: its clients' URL for failover and every interest it has now. */
  public record Hello(ActorRef<Command> from, String url, List<Interest> interests) implements Command, CborMessage {}

  public record InterestChanged(ActorRef<Command> from, Interest interest, boolean added)
      implements Command, CborMessage {}

  /**
   * A publish forwarded by another node: for its plain subscribers of {@code subject}, or (queue
   * set) for one member of that group; {@code shown}, if not null, is the subject its MSG line
   * shows instead (a JetStream delivery to an inbox).
   */
  public record Routed(String subject, String shown, String reply, byte[] headers, byte[] payload, String queue)
      implements Command, CborMessage {}

  /** What a push consumer has beyond Holdfast's consumer config. */
  public record PushSettings(String deliverSubject, String deliverGroup, long idleHeartbeatMillis,
      boolean flowControl) {}

  /**
   * A push consumer's NATS settings, told to every node (none of them is in Holdfast's replicated
   * consumer config), and which node runs its delivery loop ({@code owner}, that node's router);
   * {@code exists} false (settings null): it was deleted. A node whose client subscribes to the deliver subject of
   * a push consumer whose owner is gone runs the loop from then on: a client whose node died
   * reconnects to another one, subscribes again, and its messages keep coming.
   */
  public record PushConsumer(String stream, String consumer, PushSettings settings, ActorRef<Command> owner,
      boolean exists) implements Command, CborMessage {}

  /** A client's flow-control reply, taken by a node that does not run that consumer's loop: for the one that does. */
  public record FlowControlReply(String subject) implements Command, CborMessage {}

  private record Peers(Receptionist.Listing listing) implements Command {}

  static Behavior<Command> create(NatsNode node) {
    return Behaviors.setup(ctx -> {
      ctx.getSystem().receptionist().tell(Receptionist.register(KEY, ctx.getSelf()));
      ctx.getSystem().receptionist().tell(Receptionist.subscribe(KEY, ctx.messageAdapter(Receptionist.Listing.class,
          Peers::new)));
      Set<ActorRef<Command>> peers = new HashSet<>();
      Map<ActorRef<Command>, Set<Interest>> theirs = new HashMap<>();
      Map<ActorRef<Command>, String> urls = new HashMap<>();
      Runnable publishUrls = () -> node.connectUrls(urls.values().stream().sorted().toList());
      return Behaviors.receive(Command.class)
          .onMessage(Peers.class, p -> {
            Set<ActorRef<Command>> now = new HashSet<>(p.listing().getServiceInstances(KEY));
            now.remove(ctx.getSelf());
            for (ActorRef<Command> peer : now) {
              if (peers.add(peer)) {
                node.addPeer(peer, ctx.getSelf());
              }
            }
            for (ActorRef<Command> gone : new HashSet<>(peers)) {
              if (!now.contains(gone)) {
                peers.remove(gone);
                node.removePeer(gone);
                forget(node, theirs, gone);
                urls.remove(gone);
              }
            }
            publishUrls.run();
            return Behaviors.same();
          })
          .onMessage(Hello.class, h -> {
            forget(node, theirs, h.from());
            Set<Interest> set = new HashSet<>(h.interests());
            theirs.put(h.from(), set);
            set.forEach(i -> node.remoteInterest(h.from(), i, true));
            urls.put(h.from(), h.url());
            publishUrls.run();
            return Behaviors.same();
          })
          .onMessage(InterestChanged.class, c -> {
            Set<Interest> set = theirs.computeIfAbsent(c.from(), k -> new HashSet<>());
            if (c.added() ? set.add(c.interest()) : set.remove(c.interest())) {
              node.remoteInterest(c.from(), c.interest(), c.added());
            }
            return Behaviors.same();
          })
          .onMessage(Routed.class, r -> {
            node.deliverRouted(r);
            return Behaviors.same();
          })
          .onMessage(PushConsumer.class, p -> {
            node.jetstream.consumers.learned(p);
            return Behaviors.same();
          })
          .onMessage(FlowControlReply.class, f -> {
            node.jetstream.consumers.flowControlHere(f.subject());
            return Behaviors.same();
          })
          .build();
    });
  }

  private static void forget(NatsNode node, Map<ActorRef<Command>, Set<Interest>> theirs, ActorRef<Command> peer) {
    Set<Interest> old = theirs.remove(peer);
    if (old != null) {
      old.forEach(i -> node.remoteInterest(peer, i, false));
    }
  }
}
