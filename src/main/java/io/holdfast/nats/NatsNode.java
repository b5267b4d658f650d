package io.holdfast.nats;

import io.holdfast.api.Holdfast;
import io.holdfast.security.Users;
import io.holdfast.server.NodeSettings;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.Props;
import org.apache.pekko.japi.Pair;
import org.apache.pekko.stream.Materializer;
import org.apache.pekko.stream.TLSClosing;
import org.apache.pekko.stream.TLSProtocol;
import org.apache.pekko.stream.javadsl.TLS;
import org.apache.pekko.stream.javadsl.Flow;
import org.apache.pekko.stream.javadsl.Sink;
import org.apache.pekko.stream.javadsl.Source;
import org.apache.pekko.stream.javadsl.Tcp;
import org.apache.pekko.util.ByteString;

/**
 * One node's NATS front door: the listener, its clients' subscriptions, routing of core messages
 * here and to other nodes ({@link NatsRouter}), and JetStream ({@link JetStreamApi}). Started next
 * to the HTTP API by {@code holdfast node} when {@code holdfast.nats.enabled}.
 */
public final class NatsNode {
  /**
   * In the description of a JetStream error 10008 ("temporarily unavailable") when the request was
   * refused before anything was stored, so a retry cannot store a message twice. NATS has one code
   * for this and for a publish whose outcome is unknown; clients that care read the description.
   */
  public static final String NOT_STORED = "(not stored)";
  final NatsSettings settings;
  /** Who may connect, and what each may do (none configured: everyone, everything; loopback only). */
  final Users users;
  /** TLS for clients (null: plaintext); {@code tlsVerify}: clients must present a certificate. */
  final javax.net.ssl.SSLContext tls;
  final boolean tlsVerify;
  final ActorSystem<?> system;
  final Holdfast holdfast;
  final Materializer materializer;
  final String serverId = UUID.randomUUID().toString().replace("-", "").substring(0, 22).toUpperCase();
  final String serverName;
  final AtomicLong pendingBytes = new AtomicLong();
  final Set<NatsConnection> connections = ConcurrentHashMap.newKeySet();
  private final AtomicLong clientIds = new AtomicLong();
  private final Sublist<Subscription> local = new Sublist<>();
  private final Sublist<RemoteSub> remote = new Sublist<>();
  /** How many local subscriptions share each interest: the router hears of 0 to 1 and 1 to 0 only. */
  private final Map<NatsRouter.Interest, Integer> interestCounts = new HashMap<>();
  /** The other nodes' routers (guarded by {@code interestCounts}'s lock). */
  private final Set<ActorRef<NatsRouter.Command>> peers = new HashSet<>();
  final JetStreamApi jetstream;
  final io.holdfast.metrics.HoldfastMetrics metrics;
  private volatile String url = "";
  private volatile List<String> connectUrls = List.of();
  private volatile ActorRef<NatsRouter.Command> router;

  /** A client's subscription; {@code delivered} and {@code max} are touched from any publishing thread. */
  static final class Subscription {
    final NatsConnection connection;
    final String subject;
    final String queue;
    final String sid;
    final AtomicLong delivered = new AtomicLong();
    volatile long max;

    Subscription(NatsConnection connection, String subject, String queue, String sid) {
      this.connection = connection;
      this.subject = subject;
      this.queue = queue;
      this.sid = sid;
    }
  }

  private record RemoteSub(ActorRef<NatsRouter.Command> peer, String queue) {}

  private NatsNode(ActorSystem<?> system, Holdfast holdfast, NatsSettings settings, Users users,
      javax.net.ssl.SSLContext tls, boolean tlsVerify) {
    this.system = system;
    this.users = users;
    this.tls = tls;
    this.tlsVerify = tlsVerify;
    this.holdfast = holdfast;
    this.settings = settings;
    this.materializer = Materializer.matFromSystem(system);
    this.serverName = "holdfast-" + holdfast.settings().nodeId();
    this.jetstream = new JetStreamApi(this);
    this.metrics = io.holdfast.metrics.HoldfastMetrics.get(system);
    io.micrometer.core.instrument.Gauge.builder("holdfast.nats.connections", connections, Set::size)
        .description("NATS client connections to this node").register(metrics.registry());
  }

  /** Binds the listener and joins the cluster's NATS routing; completes with the node once clients can connect. */
  public static CompletionStage<NatsNode> start(ActorSystem<?> system, Holdfast holdfast, NatsSettings settings) {
    return start(system, holdfast, settings, Users.NONE, null, false);
  }

  /**
   * As above, for clients who authenticate as one of {@code users} (if any are configured), over
   * TLS if {@code tls} is given ({@code tlsVerify}: with client certificates its CAs signed).
   */
  public static CompletionStage<NatsNode> start(ActorSystem<?> system, Holdfast holdfast, NatsSettings settings,
      Users users, javax.net.ssl.SSLContext tls, boolean tlsVerify) {
    NatsNode node = new NatsNode(system, holdfast, settings, users, tls, tlsVerify);
    int backlog = NodeSettings.listenBacklog(system.settings().config());
    return Tcp.get(system).bind(settings.host(), settings.port(), backlog, List.of(), false, java.util.Optional.empty())
        .to(Sink.foreach(connection -> node.accept(connection)))
        .run(node.materializer)
        .thenApply(binding -> {
          node.url = "nats://" + binding.localAddress().getHostString() + ":" + binding.localAddress().getPort();
          node.router = system.systemActorOf(NatsRouter.create(node), "holdfast-nats-router", Props.empty());
          // A leaving node takes no new clients, says goodbye to its clients (they reconnect
          // elsewhere, from connect_urls), and its push consumers stop delivering.
          org.apache.pekko.actor.CoordinatedShutdown.get(system).addTask(
              org.apache.pekko.actor.CoordinatedShutdown.PhaseServiceUnbind(), "holdfast-nats-unbind", () -> {
                node.closeAll();
                return binding.unbind().thenApply(x -> org.apache.pekko.Done.getInstance());
              });
          system.log().info("NATS clients: {}", node.url);
          return node;
        });
  }

  public String url() {
    return url;
  }

  /** The other nodes' NATS URLs, as their routers introduced themselves. */
  public List<String> connectUrls() {
    return connectUrls;
  }

  void connectUrls(List<String> urls) {
    connectUrls = List.copyOf(urls);
  }

  private void accept(Tcp.IncomingConnection incoming) {
    Pair<Outbound.Handle, Source<ByteString, org.apache.pekko.NotUsed>> out =
        Source.fromGraph(new Outbound(pendingBytes)).preMaterialize(materializer);
    NatsConnection c = new NatsConnection(this, clientIds.incrementAndGet(), out.first(),
        incoming.remoteAddress().getHostString());
    connections.add(c);
    Sink<ByteString, ?> in = Flow.of(ByteString.class)
        .mapAsync(1, c::onBytes)
        .to(Sink.onComplete(done -> c.closed()));
    Flow<ByteString, ByteString, org.apache.pekko.NotUsed> plain = Flow.fromSinkAndSourceCoupled(in, out.second());
    if (tls == null) {
      incoming.handleWith(plain, materializer);
      c.start();
      return;
    }
    // INFO in plaintext, then everything through TLS: the client upgrades once it read INFO. A
    // client that sends plaintext instead fails the handshake, and the connection is closed.
    Flow<TLSProtocol.SslTlsInbound, TLSProtocol.SslTlsOutbound, org.apache.pekko.NotUsed> app =
        Flow.of(TLSProtocol.SslTlsInbound.class)
            .collectType(TLSProtocol.SessionBytes.class)
            .map(TLSProtocol.SessionBytes::bytes)
            .via(plain)
            .map(b -> (TLSProtocol.SslTlsOutbound) new TLSProtocol.SendBytes(b));
    Flow<ByteString, ByteString, org.apache.pekko.NotUsed> wire =
        TLS.create(() -> io.holdfast.security.Tls.serverEngine(tls, tlsVerify), TLSClosing.eagerClose()).reversed()
            .join(app);
    incoming.handleWith(wire.prepend(Source.single(c.info())), materializer);
  }

  // ---- subscriptions ----

  void subscribe(Subscription s) {
    local.add(s.subject, s);
    interest(new NatsRouter.Interest(s.subject, s.queue), 1);
    jetstream.consumers.localInterest(s.subject);
  }

  void unsubscribe(Subscription s) {
    if (local.remove(s.subject, s)) {
      interest(new NatsRouter.Interest(s.subject, s.queue), -1);
    }
  }

  /**
   * Counts a subscription in or out; the first and the last of an interest are told to every peer
   * router from here, under the lock that also orders {@link #addPeer}'s snapshot, so that each
   * peer sees the snapshot and the changes in the order they happened, and sees a change before
   * anything the subscribing connection publishes after it.
   */
  private void interest(NatsRouter.Interest i, int delta) {
    synchronized (interestCounts) {
      int now = interestCounts.getOrDefault(i, 0) + delta;
      if (now == 0) {
        interestCounts.remove(i);
      } else {
        interestCounts.put(i, now);
      }
      if (now == 0 || (now == 1 && delta > 0)) {
        for (ActorRef<NatsRouter.Command> peer : peers) {
          peer.tell(new NatsRouter.InterestChanged(router, i, delta > 0));
        }
      }
    }
  }

  /** A peer router appeared: it gets this node's whole interest now, and every change from now on. */
  void addPeer(ActorRef<NatsRouter.Command> peer, ActorRef<NatsRouter.Command> self) {
    synchronized (interestCounts) {
      if (peers.add(peer)) {
        peer.tell(new NatsRouter.Hello(self, url, new ArrayList<>(interestCounts.keySet())));
        jetstream.consumers.known().forEach(peer::tell);
      }
    }
  }

  void removePeer(ActorRef<NatsRouter.Command> peer) {
    synchronized (interestCounts) {
      peers.remove(peer);
    }
    jetstream.consumers.peerGone(peer);
  }

  /** Tells every peer router {@code c}. */
  void tellPeers(NatsRouter.Command c) {
    synchronized (interestCounts) {
      peers.forEach(p -> p.tell(c));
    }
  }

  boolean isPeer(ActorRef<NatsRouter.Command> router) {
    synchronized (interestCounts) {
      return peers.contains(router);
    }
  }

  /** This node's router (null before it started). */
  ActorRef<NatsRouter.Command> router() {
    return router;
  }

  void remoteInterest(ActorRef<NatsRouter.Command> peer, NatsRouter.Interest i, boolean added) {
    RemoteSub r = new RemoteSub(peer, i.queue());
    if (added) {
      remote.add(i.pattern(), r);
    } else {
      remote.remove(i.pattern(), r);
    }
  }

  // ---- routing ----

  /**
   * Delivers a core message to every matching subscriber here and on other nodes (one member per
   * queue group, cluster-wide); returns how many subscribers or nodes it went to. {@code from} (null
   * for the node's own replies) does not get its own message back when it said echo false.
   */
  int publish(NatsConnection from, String subject, String reply, byte[] headers, byte[] payload) {
    return route(from, subject, subject, reply, headers, payload);
  }

  /**
   * A JetStream delivery: routed to the subscribers of {@code to} (a pull request's reply inbox, a
   * push consumer's deliver subject), but showing the stored message's {@code subject} in its MSG
   * line, as nats-server does.
   */
  int deliverAs(String to, String subject, String reply, byte[] headers, byte[] payload) {
    return route(null, to, subject, reply, headers, payload);
  }

  private int route(NatsConnection from, String to, String shown, String reply, byte[] headers, byte[] payload) {
    int receivers = 0;
    Map<String, List<Object>> groups = null;
    for (Subscription s : local.match(to)) {
      if (from != null && s.connection == from && !from.echo()) {
        continue;
      }
      if (s.queue == null) {
        receivers += s.connection.deliver(s, shown, reply, headers, payload) ? 1 : 0;
      } else {
        (groups == null ? groups = new LinkedHashMap<>() : groups).computeIfAbsent(s.queue, k -> new ArrayList<>()).add(s);
      }
    }
    List<RemoteSub> elsewhere = remote.match(to);
    if (!elsewhere.isEmpty()) {
      Set<ActorRef<NatsRouter.Command>> plain = new HashSet<>();
      for (RemoteSub r : elsewhere) {
        if (r.queue() == null) {
          plain.add(r.peer());
        } else {
          List<Object> members = (groups == null ? groups = new LinkedHashMap<>() : groups)
              .computeIfAbsent(r.queue(), k -> new ArrayList<>());
          if (!members.contains(r.peer())) {
            members.add(r.peer());
          }
        }
      }
      String showAs = shown.equals(to) ? null : shown;
      for (ActorRef<NatsRouter.Command> peer : plain) {
        peer.tell(new NatsRouter.Routed(to, showAs, reply, headers, payload, null));
        receivers++;
      }
    }
    if (groups != null) {
      for (Map.Entry<String, List<Object>> g : groups.entrySet()) {
        receivers += deliverToOne(g.getKey(), g.getValue(), to, shown, reply, headers, payload) ? 1 : 0;
      }
    }
    return receivers;
  }

  /** One member of a queue group: a local subscription or another node (which picks one of its own). */
  @SuppressWarnings("unchecked")
  private boolean deliverToOne(String queue, List<Object> members, String to, String shown, String reply,
      byte[] headers, byte[] payload) {
    int start = ThreadLocalRandom.current().nextInt(members.size());
    for (int i = 0; i < members.size(); i++) {
      Object m = members.get((start + i) % members.size());
      if (m instanceof Subscription s) {
        if (s.connection.deliver(s, shown, reply, headers, payload)) {
          return true;
        }
      } else {
        ((ActorRef<NatsRouter.Command>) m).tell(new NatsRouter.Routed(to, shown.equals(to) ? null : shown, reply,
            headers, payload, queue));
        return true;
      }
    }
    return false;
  }

  /** A message another node forwarded: to the plain subscribers here, or one member of its queue group. */
  void deliverRouted(NatsRouter.Routed r) {
    String shown = r.shown() == null ? r.subject() : r.shown();
    List<Object> members = new ArrayList<>();
    for (Subscription s : local.match(r.subject())) {
      if (r.queue() == null && s.queue == null) {
        s.connection.deliver(s, shown, r.reply(), r.headers(), r.payload());
      } else if (r.queue() != null && r.queue().equals(s.queue)) {
        members.add(s);
      }
    }
    if (!members.isEmpty()) {
      deliverToOne(r.queue(), members, r.subject(), shown, r.reply(), r.headers(), r.payload());
    }
  }

  /** The subscriptions of {@code connection} that match {@code subject} (where a 503 for its request goes). */
  List<Subscription> ownMatches(NatsConnection connection, String subject) {
    List<Subscription> out = new ArrayList<>();
    for (Subscription s : local.match(subject)) {
      if (s.connection == connection) {
        out.add(s);
      }
    }
    return out;
  }

  /** Whether a client of this node subscribes to something that matches {@code subject}. */
  boolean interestedHere(String subject) {
    return !local.match(subject).isEmpty();
  }

  /** Whether a subscriber here or on another node (as far as this node has heard) matches {@code subject}. */
  boolean interested(String subject) {
    return interestedHere(subject) || !remote.match(subject).isEmpty();
  }

  /** Closes every client connection (the node is stopping). */
  public void closeAll() {
    jetstream.stop();
    connections.forEach(c -> c.close(null));
  }
}
