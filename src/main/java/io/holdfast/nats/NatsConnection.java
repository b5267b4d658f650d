package io.holdfast.nats;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.holdfast.security.Permissions;
import io.holdfast.security.Principal;
import io.holdfast.stream.Subjects;
import io.holdfast.stream.Utf8;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.pekko.Done;
import org.apache.pekko.actor.Cancellable;
import org.apache.pekko.util.ByteString;

/**
 * One NATS client connection. Its bytes are parsed and its operations handled on the connection's
 * inbound stream stage, one chunk at a time, so the connection's own state needs no lock; what
 * other threads do to it — deliver a message, send a stream publish's ack, ping — goes through
 * thread-safe fields and the {@link Outbound} handle.
 */
final class NatsConnection {
  static final ObjectMapper JSON = new ObjectMapper();
  private static final CompletionStage<Done> READY = CompletableFuture.completedFuture(Done.getInstance());
  private static final ByteString PING = ByteString.fromString("PING\r\n");
  private static final ByteString PONG = ByteString.fromString("PONG\r\n");
  private static final ByteString OK = ByteString.fromString("+OK\r\n");
  private static final byte[] CRLF = {'\r', '\n'};

  private final NatsNode node;
  final long id;
  private final Outbound.Handle out;
  private final String clientIp;
  private final NatsParser parser;
  private final Map<String, NatsNode.Subscription> subs = new ConcurrentHashMap<>();
  private volatile boolean verbose = true;
  private volatile boolean pedantic = true;
  private volatile boolean echo = true;
  private volatile boolean headers;
  private volatile boolean noResponders;
  private volatile long lastReceivedNanos = System.nanoTime();
  private final AtomicInteger pingsOut = new AtomicInteger();
  private volatile Cancellable pinger;
  /** Bytes of stream publishes sent and not yet acknowledged ({@link NatsSettings#publishInflightBytes}). */
  private final AtomicLong inflight = new AtomicLong();
  private volatile CompletableFuture<Done> resume;
  /** Who the client is: null until its CONNECT is accepted where users are configured. */
  private volatile Principal principal;

  NatsConnection(NatsNode node, long id, Outbound.Handle out, String clientIp) {
    this.node = node;
    this.id = id;
    this.out = out;
    this.clientIp = clientIp;
    this.parser = new NatsParser(node.settings.maxControlLine(), node.settings.maxPayload());
    this.principal = node.users.required() ? null : Principal.TRUSTED;
  }

  /** The client's rights; nothing before it authenticated (no operation but CONNECT reaches a check then). */
  Permissions permissions() {
    Principal p = principal;
    return p == null ? NOTHING : p.permissions();
  }

  private static final Permissions NOTHING = new Permissions(List.of(), List.of(), List.of(), List.of(), false);

  boolean echo() {
    return echo;
  }

  /** INFO, alone: clients read it as one line before they send CONNECT. */
  void start() {
    send(info());
  }

  /**
   * The INFO line, and the auth timeout started. Over TLS the node writes this line itself, in
   * plaintext before the handshake (as nats-server does): a client reads it to learn that TLS is
   * required, then upgrades the connection.
   */
  ByteString info() {
    ObjectNode info = JSON.createObjectNode()
        .put("server_id", node.serverId)
        .put("server_name", node.serverName)
        .put("version", JetStreamApi.VERSION)
        .put("proto", 1)
        .put("go", "holdfast")
        .put("host", node.settings.host())
        .put("port", node.url().isEmpty() ? node.settings.port() : portOf(node.url()))
        .put("headers", true)
        .put("max_payload", node.settings.maxPayload())
        .put("jetstream", true)
        .put("client_id", id)
        .put("client_ip", clientIp);
    if (node.tls != null) {
      info.put("tls_required", true);
      if (node.tlsVerify) {
        info.put("tls_verify", true);
      }
    }
    if (node.users.required()) {
      info.put("auth_required", true);
      // A client that does not send its CONNECT in time is closed, as nats-server does.
      node.system.scheduler().scheduleOnce(node.users.authTimeout(), () -> {
        if (principal == null) {
          close("Authentication Timeout");
        }
      }, node.system.executionContext());
    }
    var urls = info.putArray("connect_urls");
    for (String u : node.connectUrls()) {
      urls.add(u.replaceFirst("^nats://", ""));
    }
    return ByteString.fromString("INFO " + info + "\r\n");
  }

  private static int portOf(String url) {
    int colon = url.lastIndexOf(':');
    return colon < 0 ? 0 : Integer.parseInt(url.substring(colon + 1));
  }

  CompletionStage<Done> onBytes(ByteString bytes) {
    lastReceivedNanos = System.nanoTime();
    byte[] data = bytes.toArrayUnsafe();
    for (NatsParser.Op op : parser.feed(data, 0, data.length)) {
      if (out.closing()) {
        break;
      }
      handle(op);
    }
    if (inflight.get() <= node.settings.publishInflightBytes()) {
      return READY;
    }
    CompletableFuture<Done> wait = new CompletableFuture<>();
    resume = wait;
    if (inflight.get() <= node.settings.publishInflightBytes()) { // an ack came back meanwhile
      wait.complete(Done.getInstance());
    }
    return wait;
  }

  private void handle(NatsParser.Op op) {
    if (principal == null && !(op instanceof NatsParser.Connect || op instanceof NatsParser.Ping
        || op instanceof NatsParser.Pong || op instanceof NatsParser.Fatal)) {
      close("Authorization Violation"); // users are configured, and this client has not said who it is
      return;
    }
    if (op instanceof NatsParser.Pub p) {
      if (publish(p)) {
        ok();
      }
    } else if (op instanceof NatsParser.Ping) {
      send(PONG);
    } else if (op instanceof NatsParser.Pong) {
      pingsOut.set(0);
    } else if (op instanceof NatsParser.Sub s) {
      if (subscribe(s)) {
        ok();
      }
    } else if (op instanceof NatsParser.Unsub u) {
      unsubscribe(u);
      ok();
    } else if (op instanceof NatsParser.Connect c) {
      connect(c.json());
    } else if (op instanceof NatsParser.Invalid i) {
      error(i.text());
    } else {
      close(((NatsParser.Fatal) op).text());
    }
  }

  private void ok() {
    if (verbose) {
      send(OK);
    }
  }

  private void connect(String json) {
    JsonNode c;
    try {
      c = JSON.readTree(json);
    } catch (Exception e) {
      close("Invalid CONNECT: " + e.getMessage());
      return;
    }
    if (c == null || !c.isObject()) {
      close(NatsParser.UNKNOWN);
      return;
    }
    // Absent keys mean true for these three, as nats-server reads them.
    verbose = c.path("verbose").asBoolean(true);
    pedantic = c.path("pedantic").asBoolean(true);
    echo = c.path("echo").asBoolean(true);
    headers = c.path("headers").asBoolean(false);
    noResponders = c.path("no_responders").asBoolean(false);
    if (noResponders && !headers) {
      close("no responders requires headers support");
      return;
    }
    if (!authenticate(c)) {
      close("Authorization Violation");
      return;
    }
    ok();
    if (pinger == null) {
      var interval = node.settings.pingInterval();
      pinger = node.system.scheduler().scheduleWithFixedDelay(interval, interval, this::pingTick,
          node.system.executionContext());
    }
  }

  /**
   * Where users are configured: the user of CONNECT's {@code user}/{@code pass}, or of its
   * {@code auth_token}. Without users, a client that sends credentials is refused rather than
   * told they were checked. JWTs and nkeys (NATS accounts) are not supported.
   */
  private boolean authenticate(JsonNode c) {
    boolean credentials = c.hasNonNull("user") || c.hasNonNull("pass") || c.hasNonNull("auth_token");
    if (c.hasNonNull("jwt") || c.hasNonNull("nkey") || (!node.users.required() && credentials)) {
      return false;
    }
    if (!node.users.required()) {
      return true;
    }
    java.util.Optional<Principal> who = c.hasNonNull("auth_token")
        ? node.users.token(c.get("auth_token").asText())
        : node.users.password(c.path("user").asText(null), c.path("pass").asText(null));
    if (who.isEmpty()) {
      node.system.log().warn("NATS client {} ({}): authorization violation (user {})", id, clientIp,
          c.hasNonNull("auth_token") ? "by token" : c.path("user").asText("none"));
      return false;
    }
    principal = who.get();
    if (principal.expires() != null) {
      // As nats-server does when a user's JWT expires: the connection is closed then.
      java.time.Duration left = java.time.Duration.between(java.time.Instant.now(), principal.expires());
      node.system.scheduler().scheduleOnce(left.isNegative() ? java.time.Duration.ZERO : left,
          () -> close("User Authentication Expired"), node.system.executionContext());
    }
    return true;
  }

  /** {@code -ERR 'Permissions Violation for <what> to "<subject>"'}, as nats-server says it; the connection stays. */
  void permissionViolation(String what, String subject) {
    error("Permissions Violation for " + what + " to \"" + subject + "\"");
  }

  /** Pings an idle client; one that has not answered {@code max-pings-out} pings is stale and closed. */
  private void pingTick() {
    if (System.nanoTime() - lastReceivedNanos < node.settings.pingInterval().toNanos()) {
      return; // it talks: it is alive
    }
    if (pingsOut.incrementAndGet() > node.settings.maxPingsOut()) {
      close("Stale Connection");
    } else {
      send(PING);
    }
  }

  /** Handles a PUB or HPUB; false if it was refused (an -ERR was sent, and no +OK follows). */
  private boolean publish(NatsParser.Pub p) {
    String subject = p.subject();
    // Wildcards in a publish subject are only refused in pedantic mode, as by nats-server: clients
    // rely on it (jnats names a consumer's filter, "orders.>", in the consumer-create subject).
    boolean literal = Subjects.invalidSubject(subject) == null;
    if (!literal && pedantic) {
      error("Invalid Publish Subject");
      return false;
    }
    if (p.headers() != null && !headers) {
      close(NatsParser.UNKNOWN); // HPUB from a client that did not say it speaks headers
      return true;
    }
    if (subject.startsWith("$JS.")) {
      if (node.jetstream.handle(this, subject, p.reply(), p.headers(), p.payload())) {
        return true;
      }
    }
    if (!permissions().mayPublish(subject)) {
      permissionViolation("Publish", subject);
      // A JetStream publish waits for its ack: it gets the refusal now, not a timeout.
      node.jetstream.refuseCapture(subject, p.reply());
      return false;
    }
    if (literal && !subject.startsWith("$JS.") && node.jetstream.capture(this, subject, p.reply(), p.headers(), p.payload())) {
      node.publish(this, subject, p.reply(), p.headers(), p.payload()); // core subscribers see it too
      return true;
    }
    int receivers = node.publish(this, subject, p.reply(), p.headers(), p.payload());
    if (receivers == 0 && p.reply() != null) {
      noResponders(p.reply(), subject);
    }
    return true;
  }

  /** A request nobody heard: the 503 status to the requester's own reply subscription, if it asked for one. */
  void noResponders(String reply, String subject) {
    if (!noResponders) {
      return;
    }
    byte[] status = NatsHeaders.encode(503, null, Map.of("Nats-Subject", List.of(subject)));
    for (NatsNode.Subscription s : node.ownMatches(this, reply)) {
      deliver(s, reply, null, status, new byte[0]);
    }
  }

  private boolean subscribe(NatsParser.Sub s) {
    if (!permissions().maySubscribe(s.subject())) {
      permissionViolation("Subscription", s.subject());
      return false;
    }
    NatsNode.Subscription sub = new NatsNode.Subscription(this, s.subject(), s.queue(), s.sid());
    NatsNode.Subscription old = subs.put(s.sid(), sub);
    if (old != null) {
      node.unsubscribe(old);
    }
    node.subscribe(sub);
    return true;
  }

  private void unsubscribe(NatsParser.Unsub u) {
    NatsNode.Subscription sub = subs.get(u.sid());
    if (sub == null) {
      return;
    }
    if (u.max() > 0 && sub.delivered.get() < u.max()) {
      sub.max = u.max();
      if (sub.delivered.get() < u.max()) {
        return;
      }
    }
    remove(sub);
  }

  private void remove(NatsNode.Subscription sub) {
    if (subs.remove(sub.sid, sub)) {
      node.unsubscribe(sub);
    }
  }

  /**
   * Sends a message to one of this connection's subscriptions (from any thread); false if that
   * subscription is gone or has had its {@code max}. A client whose unsent bytes exceed its limit,
   * or its share of the node's budget, is disconnected as a slow consumer.
   */
  boolean deliver(NatsNode.Subscription s, String subject, String reply, byte[] headerBlock, byte[] payload) {
    if (!permissions().mayReceive(subject)) {
      return true; // a subscription only partly denied: messages on its denied subjects are not delivered
    }
    long n = s.delivered.incrementAndGet();
    long max = s.max;
    if (max > 0 && n > max) {
      return false;
    }
    ByteString frame = frame(subject, s.sid, reply, headers ? headerBlock : null, payload);
    if (!send(frame)) {
      return false;
    }
    if (max > 0 && n >= max) {
      remove(s);
    }
    return true;
  }

  private static ByteString frame(String subject, String sid, String reply, byte[] headerBlock, byte[] payload) {
    // One array of the frame's exact size, its control line written straight in, handed over
    // without a copy: a builder copied the payload twice (into its buffer, then out of it), and the
    // line went through a StringBuilder, a String and a byte[] for every message delivered.
    int headerBytes = headerBlock == null ? 0 : headerBlock.length;
    String sizes = (headerBlock == null ? "" : headerBytes + " ") + (headerBytes + payload.length) + "\r\n";
    int control = (headerBlock == null ? 4 : 5) + Utf8.length(subject) + 1 + Utf8.length(sid) + 1
        + (reply == null ? 0 : Utf8.length(reply) + 1) + sizes.length();
    byte[] out = new byte[control + headerBytes + payload.length + CRLF.length];
    int at = Utf8.write(headerBlock == null ? "MSG " : "HMSG ", out, 0);
    at = Utf8.write(subject, out, at);
    out[at++] = ' ';
    at = Utf8.write(sid, out, at);
    out[at++] = ' ';
    if (reply != null) {
      at = Utf8.write(reply, out, at);
      out[at++] = ' ';
    }
    at = Utf8.write(sizes, out, at);
    if (headerBlock != null) {
      System.arraycopy(headerBlock, 0, out, at, headerBytes);
    }
    System.arraycopy(payload, 0, out, at + headerBytes, payload.length);
    System.arraycopy(CRLF, 0, out, out.length - CRLF.length, CRLF.length);
    return ByteString.fromArrayUnsafe(out);
  }

  /** Queues bytes for the client, unless that makes it a slow consumer (then it is disconnected). */
  boolean send(ByteString bytes) {
    NatsSettings s = node.settings;
    long mine = out.pending();
    if (mine + bytes.size() > s.maxPending()
        || (node.pendingBytes.get() > s.pendingBudget() && mine > s.pendingBudget() / Math.max(1, node.connections.size()))) {
      node.system.log().warn("NATS client {} ({}) is a slow consumer: {} bytes unsent; disconnected", id, clientIp, mine);
      node.metrics.slowConsumers.increment();
      close("Slow Consumer");
      return false;
    }
    return out.offer(bytes);
  }

  private void error(String text) {
    out.offer(ByteString.fromString("-ERR '" + text + "'\r\n"));
  }

  /** Ends the connection, with {@code -ERR '<text>'} first unless {@code text} is null. */
  void close(String text) {
    out.close(text == null ? ByteString.emptyByteString() : ByteString.fromString("-ERR '" + text + "'\r\n"));
  }

  /** The socket is gone (either side closed it): the connection's subscriptions go with it. */
  void closed() {
    out.close(ByteString.emptyByteString());
    if (pinger != null) {
      pinger.cancel();
    }
    subs.values().forEach(this::remove);
    node.connections.remove(this);
    CompletableFuture<Done> r = resume;
    if (r != null) {
      r.complete(Done.getInstance());
    }
  }

  /** A stream publish of {@code bytes} is on its way: counts against the connection's in-flight budget. */
  void publishSent(long bytes) {
    inflight.addAndGet(bytes);
  }

  /** ... and its ack or failure came back: reading resumes once the connection is under its budget. */
  void publishDone(long bytes) {
    if (inflight.addAndGet(-bytes) <= node.settings.publishInflightBytes()) {
      CompletableFuture<Done> r = resume;
      if (r != null) {
        resume = null;
        r.complete(Done.getInstance());
      }
    }
  }
}
