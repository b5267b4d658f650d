package io.holdfast.nats;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.holdfast.api.Consumer;
import io.holdfast.api.HoldfastException;
import io.holdfast.api.Message;
import io.holdfast.stream.ConsumerConfig;
import io.holdfast.stream.ConsumerInfo;
import io.holdfast.stream.Subjects;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import org.apache.pekko.actor.typed.ActorRef;

/**
 * JetStream consumers over NATS: the CONSUMER.* API, pull requests (CONSUMER.MSG.NEXT) with every
 * status frame, acks on {@code $JS.ACK.>} in both token forms, and push consumers (deliveries to a
 * deliver subject, idle heartbeats, flow control) — on top of Holdfast's replicated consumers.
 *
 * <p>A consumer's Holdfast part (where it is, what is delivered and acked) is replicated with its
 * stream. What only NATS has — a push consumer's deliver subject and group, heartbeat and flow
 * control — lives on the node where the consumer was created, which also runs its deliveries
 * (as the reference notes allow: "pin delivery to the node where the consumer was created"). If
 * that node stops, the client's re-creation of the consumer (ordered consumers do it by themselves)
 * moves it to the node the client is then connected to.
 */
final class JetStreamConsumers {
  private static final long MS = 1_000_000L;
  private static final long IDLE_MAX_MILLIS = 100;
  private static final int FETCH_MAX = 256;
  /** Fetches one pull request keeps in flight at most. */
  private static final int PIPELINE = 4;
  /** A push consumer with flow control asks the client to confirm every this many messages. */
  private static final int FLOW_CONTROL_EVERY = 256;
  private static final long EPHEMERAL_INACTIVE_MILLIS = 5_000;
  /** An unbound push consumer looks for a subscriber this often, and checks that it still exists this often. */
  private static final long UNBOUND_PAUSE_MILLIS = 250;
  private static final long UNBOUND_CHECK_NANOS = 10_000_000_000L;

  private final NatsNode node;
  /** The delivery loops of push consumers this node runs, by "stream/consumer". */
  private final Map<String, Push> push = new ConcurrentHashMap<>();
  /**
   * Every push consumer the nodes told each other of, by "stream/consumer": its NATS settings and
   * which node runs its loop ({@link NatsRouter.PushConsumer}). Kept in memory on every node (a
   * few hundred bytes each); an ephemeral one whose owner died and that expired unbound stays
   * until it is deleted by name.
   */
  private final Map<String, NatsRouter.PushConsumer> known = new ConcurrentHashMap<>();
  /** The keys of {@link #known} by deliver subject. */
  private final Map<String, String> byDeliverSubject = new ConcurrentHashMap<>();


  JetStreamConsumers(NatsNode node) {
    this.node = node;
  }

  // ---- the API ----

  CompletionStage<ObjectNode> create(String[] t, JsonNode body) {
    // CONSUMER.CREATE.<stream>[.<name>[.<filter>]] or CONSUMER.DURABLE.CREATE.<stream>.<name>
    boolean durableForm = t[1].equals("DURABLE");
    int streamAt = durableForm ? 3 : 2;
    String stream = JetStreamApi.token(t, streamAt, "stream");
    String nameInSubject = t.length > streamAt + 1 ? t[streamAt + 1] : null;
    JsonNode c = body.path("config");
    if (body.hasNonNull("stream_name") && !body.get("stream_name").asText().equals(stream)) {
      throw new HoldfastException.BadRequest("name_mismatch", "stream name in subject does not match request");
    }
    String durableName = JetStreamApi.text(c, "durable_name");
    String name = JetStreamApi.text(c, "name");
    if (durableForm) {
      if (nameInSubject == null || !nameInSubject.equals(durableName)) {
        throw new HoldfastException.BadRequest("consumer_name_mismatch",
            "consumer name in subject does not match durable name in request");
      }
    } else if (nameInSubject != null) {
      if ((name != null && !name.equals(nameInSubject)) || (durableName != null && !durableName.equals(nameInSubject))) {
        throw new HoldfastException.BadRequest("consumer_name_mismatch",
            "consumer name in subject does not match durable name in request");
      }
      if (t.length > streamAt + 2) {
        String filter = String.join(".", java.util.Arrays.copyOfRange(t, streamAt + 2, t.length));
        if (!filter.equals(JetStreamApi.text(c, "filter_subject"))) {
          throw new HoldfastException.BadRequest("filter_mismatch", "consumer filter subject is not a valid subset of the interest subjects");
        }
      }
    }
    String consumer = nameInSubject != null ? nameInSubject : durableName != null ? durableName
        : name != null ? name : UUID.randomUUID().toString().replace("-", "").substring(0, 22);
    boolean durable = durableName != null;
    ConsumerConfig config = config(consumer, durable, c);
    if (c.path("headers_only").asBoolean(false)) {
      throw new HoldfastException.BadRequest("not_supported", "headers_only consumers are not supported by Holdfast yet");
    }
    String deliverSubject = JetStreamApi.text(c, "deliver_subject");
    NatsRouter.PushSettings pushConfig = deliverSubject == null ? null : new NatsRouter.PushSettings(deliverSubject, JetStreamApi.text(c, "deliver_group"),
        c.path("idle_heartbeat").asLong(0) / MS, c.path("flow_control").asBoolean(false));
    if (pushConfig != null && pushConfig.flowControl() && pushConfig.idleHeartbeatMillis() <= 0) {
      throw new HoldfastException.BadRequest("bad_request", "consumer with flow control also needs heartbeats");
    }
    String action = c.isMissingNode() ? "" : body.path("action").asText("");
    Consumer handle = node.holdfast.consumer(stream, consumer);
    CompletionStage<ConsumerInfo> created;
    if (action.equals("update")) {
      created = handle.info().thenCompose(existing -> node.holdfast.consumers().create(stream, config));
    } else {
      created = node.holdfast.consumers().create(stream, config);
    }
    return created.thenApply(info -> {
      String key = stream + "/" + consumer;
      if (pushConfig != null) {
        Push old = push.get(key);
        if (old == null || !old.config.equals(pushConfig)) {
          if (old != null) {
            old.stop();
          }
          Push p = new Push(handle, pushConfig);
          push.put(key, p);
          p.start();
        }
        announce(stream, consumer, pushConfig);
      }
      return info(info);
    });
  }

  private ConsumerConfig config(String name, boolean durable, JsonNode c) {
    ConsumerConfig.DeliverPolicy deliver = ConsumerConfig.DeliverPolicy.ofName(c.path("deliver_policy").asText("all"));
    ConsumerConfig.AckPolicy ack = ConsumerConfig.AckPolicy.ofName(c.path("ack_policy").asText("explicit"));
    ConsumerConfig.ReplayPolicy replay = ConsumerConfig.ReplayPolicy.ofName(c.path("replay_policy").asText("instant"));
    if (deliver == null || ack == null || replay == null) {
      throw new HoldfastException.BadRequest("bad_consumer", "unknown deliver_policy, ack_policy or replay_policy");
    }
    List<String> filters = new ArrayList<>();
    if (JetStreamApi.text(c, "filter_subject") != null) {
      filters.add(c.get("filter_subject").asText());
    }
    c.path("filter_subjects").forEach(f -> filters.add(f.asText()));
    List<Long> backoff = new ArrayList<>();
    c.path("backoff").forEach(b -> backoff.add(b.asLong() / MS));
    ConsumerConfig config = ConsumerConfig.durable(name).withDurable(durable)
        .withDeliverPolicy(deliver)
        .withOptStartSeq(c.path("opt_start_seq").asLong(0))
        .withFilterSubjects(filters)
        .withAckPolicy(ack)
        .withReplayPolicy(replay)
        .withBackoffMillis(backoff);
    if (JetStreamApi.text(c, "opt_start_time") != null) {
      config = config.withOptStartTimeMillis(Instant.parse(c.get("opt_start_time").asText()).toEpochMilli());
    }
    if (c.path("ack_wait").asLong(0) > 0) {
      config = config.withAckWaitMillis(c.get("ack_wait").asLong() / MS);
    }
    if (c.has("max_deliver") && c.get("max_deliver").asLong() != 0) {
      config = config.withMaxDeliver(c.get("max_deliver").asLong());
    }
    if (c.has("max_ack_pending") && c.get("max_ack_pending").asLong() != 0) {
      config = config.withMaxAckPending(c.get("max_ack_pending").asLong());
    }
    long inactive = c.path("inactive_threshold").asLong(0) / MS;
    if (inactive > 0) {
      config = config.withInactiveThresholdMillis(inactive);
    } else if (!durable) {
      config = config.withInactiveThresholdMillis(EPHEMERAL_INACTIVE_MILLIS); // nats-server's default for ephemerals
    }
    return config;
  }

  CompletionStage<ObjectNode> info(String stream, String consumer) {
    return node.holdfast.consumers().info(stream, consumer).thenApply(this::info);
  }

  CompletionStage<ObjectNode> delete(String stream, String consumer) {
    return node.holdfast.consumers().delete(stream, consumer).thenApply(d -> {
      gone(stream, consumer);
      return NatsConnection.JSON.createObjectNode().put("success", true);
    });
  }

  CompletionStage<ObjectNode> names(String stream, JsonNode request) {
    return node.holdfast.consumers().list(stream).thenApply(list -> JetStreamApi.page(list, request, 1024, "consumers",
        i -> NatsConnection.JSON.getNodeFactory().textNode(i.config().name())));
  }

  CompletionStage<ObjectNode> list(String stream, JsonNode request) {
    return node.holdfast.consumers().list(stream).thenApply(list -> JetStreamApi.page(list, request, 256, "consumers",
        this::info));
  }

  private ObjectNode info(ConsumerInfo i) {
    ConsumerConfig c = i.config();
    ObjectNode o = NatsConnection.JSON.createObjectNode();
    o.put("stream_name", i.stream()).put("name", c.name()).put("created", JetStreamApi.time(0));
    ObjectNode config = o.putObject("config");
    if (c.durable()) {
      config.put("durable_name", c.name());
    }
    config.put("name", c.name())
        .put("deliver_policy", c.deliverPolicy().wireName)
        .put("ack_policy", c.ackPolicy().wireName)
        .put("ack_wait", c.ackWaitMillis() * MS)
        .put("max_deliver", c.maxDeliver())
        .put("replay_policy", c.replayPolicy().wireName)
        .put("max_ack_pending", c.maxAckPending())
        .put("num_replicas", 0);
    if (c.optStartSeq() > 0) {
      config.put("opt_start_seq", c.optStartSeq());
    }
    if (c.optStartTimeMillis() > 0) {
      config.put("opt_start_time", JetStreamApi.time(c.optStartTimeMillis()));
    }
    if (c.filterSubjects().size() == 1) {
      config.put("filter_subject", c.filterSubjects().get(0));
    } else if (c.filterSubjects().size() > 1) {
      ArrayNode f = config.putArray("filter_subjects");
      c.filterSubjects().forEach(f::add);
    }
    if (!c.backoffMillis().isEmpty()) {
      ArrayNode b = config.putArray("backoff");
      c.backoffMillis().forEach(ms -> b.add(ms * MS));
    }
    if (c.inactiveThresholdMillis() > 0) {
      config.put("inactive_threshold", c.inactiveThresholdMillis() * MS);
    }
    NatsRouter.PushConsumer pushed = known.get(i.stream() + "/" + c.name());
    if (pushed != null) {
      NatsRouter.PushSettings p = pushed.settings();
      config.put("deliver_subject", p.deliverSubject());
      if (p.deliverGroup() != null) {
        config.put("deliver_group", p.deliverGroup());
      }
      if (p.idleHeartbeatMillis() > 0) {
        config.put("idle_heartbeat", p.idleHeartbeatMillis() * MS);
      }
      config.put("flow_control", p.flowControl());
      o.put("push_bound", node.interested(p.deliverSubject()));
    } else {
      config.put("max_waiting", 512);
    }
    o.putObject("delivered").put("consumer_seq", i.consumerSeq()).put("stream_seq", i.deliveredSeq());
    o.putObject("ack_floor").put("consumer_seq", i.ackFloorConsumerSeq()).put("stream_seq", i.ackFloor());
    o.put("num_ack_pending", i.ackPending()).put("num_redelivered", i.redelivered()).put("num_waiting", 0)
        .put("num_pending", i.pending()).put("ts", JetStreamApi.time(System.currentTimeMillis()));
    return o;
  }

  // ---- deliveries ----

  /**
   * The v1 ack subject nats-server sends by default; every token describes itself, so any node can
   * take the ack. Its pending count is as of this message: Holdfast's (after the whole fetch) plus
   * the first deliveries that follow it in the same fetch ({@code later}).
   */
  private static String ackSubject(Message m, long later) {
    return "$JS.ACK." + m.stream() + "." + m.consumer() + "." + m.delivered() + "." + m.seq() + "." + m.consumerSeq()
        + "." + m.timestampMillis() * MS + "." + (m.pending() + later);
  }

  /** For each message of a fetch, how many first deliveries follow it in the fetch. */
  private static int[] firstDeliveriesAfter(List<Message> fetched) {
    int[] later = new int[fetched.size()];
    for (int j = fetched.size() - 2; j >= 0; j--) {
      later[j] = later[j + 1] + (fetched.get(j + 1).delivered() == 1 ? 1 : 0);
    }
    return later;
  }

  /** Sends message {@code i} of a fetch to the subscribers of {@code to}; how many got it. */
  private int deliver(String to, List<Message> fetched, int i, int[] later) {
    Message m = fetched.get(i);
    byte[] headers = m.headers() == null || m.headers().isEmpty() ? null : NatsHeaders.encode(m.headers());
    return node.deliverAs(to, m.subject(), ackSubject(m, later[i]), headers, m.payload());
  }

  private void status(String to, int code, String description, Map<String, List<String>> headers) {
    node.deliverAs(to, to, null, NatsHeaders.encode(code, description, headers), new byte[0]);
  }

  private void after(long millis, Runnable task) {
    node.system.scheduler().scheduleOnce(Duration.ofMillis(millis), task, node.system.executionContext());
  }

  /** CONSUMER.MSG.NEXT.<stream>.<consumer>: a pull request, answered on {@code reply}. */
  void next(String stream, String consumer, String reply, byte[] payload) {
    int batch = 1;
    long expiresNanos = 0;
    long maxBytes = 0;
    long heartbeatNanos = 0;
    boolean noWait = false;
    String text = new String(payload, StandardCharsets.UTF_8).strip();
    try {
      if (!text.isEmpty() && text.chars().allMatch(Character::isDigit)) {
        batch = Integer.parseInt(text);
      } else if (!text.isEmpty()) {
        JsonNode r = NatsConnection.JSON.readTree(text);
        batch = r.path("batch").asInt(1);
        expiresNanos = r.path("expires").asLong(0);
        maxBytes = r.path("max_bytes").asLong(0);
        noWait = r.path("no_wait").asBoolean(false);
        heartbeatNanos = r.path("idle_heartbeat").asLong(0);
      }
    } catch (Exception e) {
      status(reply, 400, "Bad Request", null);
      return;
    }
    if (batch <= 0) {
      status(reply, 400, "Bad Request - batch must be positive", null);
      return;
    }
    if (heartbeatNanos > 0 && expiresNanos > 0 && heartbeatNanos * 2 > expiresNanos) {
      status(reply, 400, "Bad Request - heartbeat value too large", null);
      return;
    }
    new Pull(node.holdfast.consumer(stream, consumer), reply, batch, maxBytes, noWait,
        expiresNanos > 0 ? System.nanoTime() + expiresNanos : 0, heartbeatNanos / MS).run();
  }

  /**
   * One pull request until its batch is delivered, it expires, or its requester is gone. Up to
   * {@link #PIPELINE} fetches are in flight at once (each is a replicated proposal of at most
   * {@link #FETCH_MAX} messages and 320 KiB, so one at a time a large batch waited out a commit per
   * fetch); their results are handled strictly in the order the fetches were made, so
   * messages reach the client in the order the consumer delivered them.
   */
  private final class Pull {
    private final Consumer consumer;
    private final String reply;
    private int left;
    private long bytesLeft;
    private final boolean limitBytes;
    private final boolean noWait;
    private final long deadlineNanos;
    private final long heartbeatMillis;
    private long idlePause = 5;
    private long lastSentNanos = System.nanoTime();
    private boolean deliveredAny;
    /** The last fetch found nothing: the next one may wait at the leader. */
    private boolean idle;
    /** Messages asked for by the fetches in flight, and how many fetches those are. */
    private int requested;
    private int inFlight;
    private boolean done;
    /** The handling of the last fetch made: the next one's is chained behind it. */
    private CompletableFuture<Void> handled = CompletableFuture.completedFuture(null);

    Pull(Consumer consumer, String reply, int batch, long maxBytes, boolean noWait, long deadlineNanos,
        long heartbeatMillis) {
      this.consumer = consumer;
      this.reply = reply;
      this.left = batch;
      this.bytesLeft = maxBytes;
      this.limitBytes = maxBytes > 0;
      this.noWait = noWait;
      this.deadlineNanos = deadlineNanos;
      this.heartbeatMillis = heartbeatMillis;
    }

    synchronized void run() {
      if (done) {
        return;
      }
      if (!node.interested(reply)) {
        done = true; // the requester is gone (or unsubscribed): nothing to send to
        return;
      }
      if (deadlineNanos > 0 && System.nanoTime() >= deadlineNanos) {
        finish(408, "Request Timeout", pending());
        return;
      }
      int pipeline = limitBytes ? 1 : PIPELINE;
      while (inFlight < pipeline && left - requested > 0) {
        int n = limitBytes ? 1 : Math.min(left - requested, FETCH_MAX);
        requested += n;
        inFlight++;
        CompletableFuture<List<Message>> fetch = consumer.fetchWaiting(n, hold()).toCompletableFuture();
        handled = handled.thenCompose(v -> fetch.handle((got, failure) -> {
          handle(n, got, failure);
          return null;
        }));
      }
    }

    private synchronized void handle(int asked, List<Message> got, Throwable failure) {
      requested -= asked;
      inFlight--;
      if (done) {
        if (got != null) { // fetched after the request ended: back to the consumer at once
          got.forEach(x -> consumer.acknowledge(x.seq(), "nak", 0));
        }
        return;
      }
      if (failure != null) {
        Throwable e = JetStreamApi.unwrap(failure);
        if (e instanceof HoldfastException.NotFound) {
          finish(409, "Consumer Deleted", null);
        } else if (e instanceof HoldfastException.Unavailable || e instanceof HoldfastException.OutcomeUnknown) {
          if (inFlight == 0) {
            waitThenRun(); // a leader change: ask again shortly
          }
        } else {
          finish(400, "Bad Request - " + e.getMessage(), null);
        }
        return;
      }
      int[] later = firstDeliveriesAfter(got);
      for (int i = 0; i < got.size(); i++) {
        Message m = got.get(i);
        if (limitBytes && m.payload().length > bytesLeft) {
          consumer.acknowledge(m.seq(), "nak", 0); // not for this request: deliverable again at once
          finish(409, "Message Size Exceeds MaxBytes", pending());
          return;
        }
        if (deliver(reply, got, i, later) == 0) {
          // The requester went away between fetch and delivery: these go back to the consumer.
          got.subList(i, got.size()).forEach(x -> consumer.acknowledge(x.seq(), "nak", 0));
          done = true;
          return;
        }
        deliveredAny = true;
        lastSentNanos = System.nanoTime();
        left--;
        bytesLeft -= m.payload().length;
      }
      if (left == 0) {
        done = true; // the batch is complete: nats-server sends nothing more
        return;
      }
      if (limitBytes && bytesLeft <= 0) {
        finish(409, "Message Size Exceeds MaxBytes", pending());
        return;
      }
      if (!got.isEmpty()) {
        idlePause = 5;
        idle = false;
        run();
        return;
      }
      boolean held = idle; // this fetch could wait at the leader, and came back empty anyway
      idle = true;
      if (inFlight > 0) {
        return; // the fetches still out decide what comes next
      }
      if (noWait) {
        if (deliveredAny) {
          finish(408, "Request Timeout", pending());
        } else {
          finish(404, "No Messages", null);
        }
        return;
      }
      if (!held) {
        run(); // the next fetch waits at the leader
      } else {
        waitThenRun();
      }
    }

    private void finish(int code, String description, Map<String, List<String>> headers) {
      done = true;
      status(reply, code, description, headers);
    }

    /**
     * How long the leader may hold the next fetch while nothing is deliverable: none for the first
     * fetch (and with no_wait), so that what is there comes at once; after an empty one, up to the
     * consumer's hold, the request's expiry and its idle-heartbeat interval (the heartbeat is sent
     * between fetches).
     */
    private Duration hold() {
      if (noWait || !idle) {
        return Duration.ZERO;
      }
      long millis = consumer.holdMillis();
      if (deadlineNanos > 0) {
        millis = Math.min(millis, Math.max(0, (deadlineNanos - System.nanoTime()) / MS));
      }
      if (heartbeatMillis > 0) {
        millis = Math.min(millis, heartbeatMillis);
      }
      return Duration.ofMillis(millis);
    }

    private void waitThenRun() {
      long pause = idlePause;
      idlePause = Math.min(IDLE_MAX_MILLIS, idlePause * 2);
      if (heartbeatMillis > 0 && System.nanoTime() - lastSentNanos >= heartbeatMillis * MS) {
        status(reply, 100, "Idle Heartbeat", null);
        lastSentNanos = System.nanoTime();
      }
      after(pause, this::run);
    }

    private Map<String, List<String>> pending() {
      return Map.of("Nats-Pending-Messages", List.of(String.valueOf(left)),
          "Nats-Pending-Bytes", List.of(String.valueOf(limitBytes ? Math.max(0, bytesLeft) : 0)));
    }
  }

  // ---- acks ----

  /**
   * What an ack subject names: v1 {@code $JS.ACK.<stream>.<consumer>.<delivered>.<sseq>.<cseq>.<ts>.<pending>}
   * (9 tokens) or v2 with domain and account hash before the stream (11 or more). {@code seq}, the
   * stream sequence, is -1 if that token is not a number. Read in one pass without splitting the
   * subject into tokens: every ack a consumer sends comes through here.
   */
  record AckSubject(String stream, String consumer, long seq) {
    /** Null if the subject has neither form's number of tokens. */
    static AckSubject parse(String subject) {
      int[] dots = new int[10];
      int count = 1;
      for (int i = 0; i < subject.length(); i++) {
        if (subject.charAt(i) == '.') {
          if (count <= dots.length) {
            dots[count - 1] = i;
          }
          count++;
        }
      }
      int at = count == 9 ? 2 : count >= 11 ? 4 : -1; // the stream's token
      if (at < 0) {
        return null;
      }
      return new AckSubject(subject.substring(dots[at - 1] + 1, dots[at]),
          subject.substring(dots[at] + 1, dots[at + 1]), NatsParser.number(subject, dots[at + 2] + 1, dots[at + 3]));
    }
  }

  /**
   * A publish to {@code $JS.ACK.…}: v1 ({@code $JS.ACK.<stream>.<consumer>.<delivered>.<sseq>.…},
   * 9 tokens) or v2 (domain and account hash first, 11 or more). Bodies: empty, +ACK or +OK; -NAK
   * with an optional delay (a duration like 5s, or JSON {"delay": ns}); +WPI; +TERM [reason]; +NXT
   * [request]. If the ack has a reply subject, an empty message answers it once the ack is applied.
   */
  void ack(AckSubject subject, String reply, byte[] payload) {
    if (subject.seq() < 0) {
      return;
    }
    String stream = subject.stream();
    String consumer = subject.consumer();
    long seq = subject.seq();
    String body = new String(payload, StandardCharsets.UTF_8).strip();
    String kind;
    long delayMillis = 0;
    String rest = "";
    if (body.isEmpty() || body.startsWith("+ACK") || body.equals("+OK")) {
      kind = "ack";
    } else if (body.startsWith("-NAK")) {
      kind = "nak";
      delayMillis = nakDelay(body.substring(4).strip());
    } else if (body.startsWith("+WPI")) {
      kind = "progress";
    } else if (body.startsWith("+TERM")) {
      kind = "term";
    } else if (body.startsWith("+NXT")) {
      kind = "ack";
      rest = body.substring(4).strip();
    } else {
      return; // nats-server ignores what it does not know
    }
    Consumer c = node.holdfast.consumer(stream, consumer);
    boolean next = body.startsWith("+NXT");
    if (reply == null) {
      c.acknowledgeUnconfirmed(seq, kind, delayMillis); // nobody waits for it: as nats-server, fire and forget
      return;
    }
    String finalRest = rest;
    c.acknowledge(seq, kind, delayMillis).whenComplete((done, failure) -> {
      if (next && reply != null) {
        next(stream, consumer, reply, finalRest.getBytes(StandardCharsets.UTF_8));
      } else if (reply != null && failure == null) {
        node.publish(null, reply, null, null, new byte[0]);
      }
    });
  }

  private static long nakDelay(String arg) {
    if (arg.isEmpty()) {
      return 0;
    }
    try {
      if (arg.startsWith("{")) {
        return NatsConnection.JSON.readTree(arg).path("delay").asLong(0) / MS;
      }
      return io.holdfast.api.Durations.parseMillis(arg);
    } catch (Exception e) {
      return 0;
    }
  }

  // ---- push consumers ----

  /**
   * A flow control reply ({@code $JS.FC.<stream>.<consumer>.<n>}): that push consumer may go on.
   * If its loop runs on another node (the client moved here), the reply goes to every peer.
   */
  void flowControl(String subject) {
    if (!flowControlHere(subject)) {
      node.tellPeers(new NatsRouter.FlowControlReply(subject));
    }
  }

  /** A flow control reply for a loop here (from a client here, or one another node passed on); whether there is one. */
  boolean flowControlHere(String subject) {
    String[] t = Subjects.tokens(subject);
    Push p = t.length >= 5 ? push.get(t[2] + "/" + t[3]) : null;
    if (p != null) {
      p.flowControlAnswered(subject);
    }
    return p != null;
  }

  /** Tells every node of push consumer {@code stream/consumer}, run here from now on. */
  private void announce(String stream, String consumer, NatsRouter.PushSettings settings) {
    NatsRouter.PushConsumer p = new NatsRouter.PushConsumer(stream, consumer, settings, node.router(), true);
    remember(p);
    node.tellPeers(p);
  }

  private void remember(NatsRouter.PushConsumer p) {
    String key = p.stream() + "/" + p.consumer();
    NatsRouter.PushConsumer old = known.put(key, p);
    if (old != null && !old.settings().deliverSubject().equals(p.settings().deliverSubject())) {
      byDeliverSubject.remove(old.settings().deliverSubject(), key);
    }
    byDeliverSubject.put(p.settings().deliverSubject(), key);
  }

  /** Push consumer {@code stream/consumer} no longer exists: its loop here stops, and every node forgets it. */
  private void gone(String stream, String consumer) {
    NatsRouter.PushConsumer k = forget(stream + "/" + consumer);
    if (k != null) {
      node.tellPeers(new NatsRouter.PushConsumer(stream, consumer, null, node.router(), false));
    }
  }

  /** Stops the loop of {@code key} here, if any, and forgets it; what was known of it, or null. */
  private NatsRouter.PushConsumer forget(String key) {
    Push loop = push.remove(key);
    if (loop != null) {
      loop.stop();
    }
    NatsRouter.PushConsumer k = known.remove(key);
    if (k != null) {
      byDeliverSubject.remove(k.settings().deliverSubject(), key);
    }
    return k;
  }

  /** What a peer told of a push consumer. */
  void learned(NatsRouter.PushConsumer p) {
    String key = p.stream() + "/" + p.consumer();
    if (p.exists()) {
      remember(p);
      takeOverIfOrphaned(key);
    } else {
      forget(key);
    }
  }

  List<NatsRouter.PushConsumer> known() {
    return List.copyOf(known.values());
  }

  void localInterest(String subject) {
    String key = byDeliverSubject.get(subject);
    if (key != null) {
      takeOverIfOrphaned(key);
    }
  }

  void peerGone(ActorRef<NatsRouter.Command> router) {
    known.forEach((key, p) -> {
      if (Objects.equals(p.owner(), router)) {
        takeOverIfOrphaned(key);
      }
    });
  }

  /**
   * Runs the loop of push consumer {@code key} here if the node that ran it is gone and a client
   * here subscribes to its deliver subject (while its owner lives, deliveries reach a client on
   * any node through the routers).
   */
  private synchronized void takeOverIfOrphaned(String key) {
    NatsRouter.PushConsumer p = known.get(key);
    if (p == null || push.containsKey(key) || Objects.equals(p.owner(), node.router()) || node.isPeer(p.owner())
        || !node.interestedHere(p.settings().deliverSubject())) {
      return;
    }
    Push loop = new Push(node.holdfast.consumer(p.stream(), p.consumer()), p.settings());
    push.put(key, loop);
    announce(p.stream(), p.consumer(), p.settings());
    loop.start();
  }

  /** Push consumers delivering from this node. */
  int pushConsumers() {
    return push.size();
  }

  void stopAll() {
    push.values().forEach(Push::stop);
  }

  /** The delivery loop of one push consumer created on this node. */
  private final class Push {
    final NatsRouter.PushSettings config;
    private final Consumer consumer;
    private volatile boolean stopped;
    private long idlePause = 5;
    private long lastSentNanos = System.nanoTime();
    private long lastStreamSeq;
    private long lastConsumerSeq;
    private int sinceFlowControl;
    private long flowControlCounter;
    private volatile String awaitingFlowControl;
    private long checkedNanos = System.nanoTime();

    Push(Consumer consumer, NatsRouter.PushSettings config) {
      this.consumer = consumer;
      this.config = config;
    }

    void start() {
      node.system.executionContext().execute(this::run);
    }

    void stop() {
      stopped = true;
    }

    void flowControlAnswered(String subject) {
      if (subject.equals(awaitingFlowControl)) {
        awaitingFlowControl = null;
      }
    }

    private void run() {
      if (stopped) {
        return;
      }
      if (!node.interested(config.deliverSubject())) {
        // Not bound: nobody to deliver to yet, or any more. An ephemeral consumer then expires
        // (nothing fetches it): look now and then whether it still exists, and stop if not.
        if (System.nanoTime() - checkedNanos > UNBOUND_CHECK_NANOS) {
          checkedNanos = System.nanoTime();
          consumer.info().whenComplete((info, failure) -> {
            if (failure != null && JetStreamApi.unwrap(failure) instanceof HoldfastException.NotFound) {
              stopped = true;
              gone(consumer.stream(), consumer.name());
            }
          });
        }
        after(UNBOUND_PAUSE_MILLIS, this::run);
        return;
      }
      if (awaitingFlowControl != null) {
        pause();
        return;
      }
      consumer.fetch(FETCH_MAX).whenComplete((got, failure) -> {
        if (failure != null) {
          if (JetStreamApi.unwrap(failure) instanceof HoldfastException.NotFound) {
            stopped = true; // the consumer (or its stream) is gone
            gone(consumer.stream(), consumer.name());
          } else {
            pause();
          }
          return;
        }
        int[] later = firstDeliveriesAfter(got);
        for (int i = 0; i < got.size(); i++) {
          Message m = got.get(i);
          if (stopped || deliver(config.deliverSubject(), got, i, later) == 0) {
            got.subList(i, got.size()).forEach(x -> consumer.acknowledge(x.seq(), "nak", 0));
            pause();
            return;
          }
          lastStreamSeq = m.seq();
          lastConsumerSeq = m.consumerSeq();
          lastSentNanos = System.nanoTime();
          if (config.flowControl() && ++sinceFlowControl >= FLOW_CONTROL_EVERY) {
            sinceFlowControl = 0;
            String fc = "$JS.FC." + consumer.stream() + "." + consumer.name() + "." + (++flowControlCounter);
            awaitingFlowControl = fc;
            node.deliverAs(config.deliverSubject(), config.deliverSubject(), fc,
                NatsHeaders.encode(100, "FlowControl Request", null), new byte[0]);
          }
        }
        if (got.isEmpty()) {
          pause();
        } else {
          idlePause = 5;
          node.system.executionContext().execute(this::run);
        }
      });
    }

    private void pause() {
      long pause = idlePause;
      idlePause = Math.min(IDLE_MAX_MILLIS, idlePause * 2);
      if (config.idleHeartbeatMillis() > 0 && System.nanoTime() - lastSentNanos >= config.idleHeartbeatMillis() * MS
          && node.interested(config.deliverSubject())) {
        java.util.TreeMap<String, List<String>> h = new java.util.TreeMap<>();
        h.put("Nats-Last-Consumer", List.of(String.valueOf(lastConsumerSeq)));
        h.put("Nats-Last-Stream", List.of(String.valueOf(lastStreamSeq)));
        String stalled = awaitingFlowControl;
        if (stalled != null) {
          h.put("Nats-Consumer-Stalled", List.of(stalled));
        }
        node.deliverAs(config.deliverSubject(), config.deliverSubject(), null,
            NatsHeaders.encode(100, "Idle Heartbeat", h), new byte[0]);
        lastSentNanos = System.nanoTime();
      }
      after(pause, this::run);
    }
  }
}
