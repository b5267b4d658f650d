package io.holdfast.nats;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.holdfast.api.HoldfastException;
import io.holdfast.api.Records;
import io.holdfast.security.Permissions;
import io.holdfast.stream.Retention;
import io.holdfast.stream.StreamLimits;
import io.holdfast.stream.Subjects;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.SortedMap;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * JetStream over NATS: stream publishes (any publish a stream captures) and the JSON API on
 * {@code $JS.API.>}, translated to Holdfast's Java API. Every answer goes to the request's reply
 * subject through the node's routing, so it reaches the requester wherever its inbox lives.
 *
 * <p>The JSON follows nats-server's: {@code type} fields, integer nanosecond durations, RFC 3339
 * times, NATS field names, and errors as {@code {"code","err_code","description"}} with NATS's
 * codes ({@link #error}). Unknown request fields are ignored.
 */
final class JetStreamApi {
  /** The nats-server version Holdfast answers as: clients switch features on it (2.10: multi-filter consumers...). */
  static final String VERSION = "2.10.22";
  private static final String API = "$JS.API.";
  private static final String TYPE = "io.nats.jetstream.api.v1.";
  private static final long MS = 1_000_000L;

  private final NatsNode node;
  /** The consumer API and push delivery; the node and its router reach it directly. */
  final JetStreamConsumers consumers;

  JetStreamApi(NatsNode node) {
    this.node = node;
    this.consumers = new JetStreamConsumers(node);
  }

  int pushConsumers() {
    return consumers.pushConsumers();
  }

  /** The node is stopping: push consumers stop delivering. */
  void stop() {
    consumers.stopAll();
  }

  // ---- publishes ----

  /** If a stream captures {@code subject}: stores the message and answers {@code reply} with the ack; else false. */
  boolean capture(NatsConnection from, String subject, String reply, byte[] headerBlock, byte[] payload) {
    Optional<String> stream = node.holdfast.streamFor(subject);
    if (stream.isEmpty()) {
      return false;
    }
    if (payload.length > io.holdfast.replica.StreamMachine.MESSAGE_BYTES_MAX) {
      // Refused here, not after a trip to a leader on another node (Artery's frame would not carry it).
      answer(reply, errorJson(null, 400, 10054, "message size exceeds maximum allowed").put("stream", stream.get())
          .put("seq", 0));
      return true;
    }
    SortedMap<String, List<String>> headers;
    try {
      headers = headerBlock == null ? new TreeMap<>() : NatsHeaders.parse(headerBlock).headers();
    } catch (IllegalArgumentException e) {
      answer(reply, errorJson(null, 400, 10003, e.getMessage()).put("stream", stream.get()).put("seq", 0));
      return true;
    }
    List<String> rollup = headers.remove("Nats-Rollup");
    if (rollup != null) {
      // Holdfast's stream rules read their own name for it (a stored header's meaning never changes
      // under a replica's feet); NATS clients send NATS's.
      headers.put(io.holdfast.stream.StreamState.ROLLUP, rollup);
    }
    long weight = payload.length + (headerBlock == null ? 0 : headerBlock.length) + subject.length();
    from.publishSent(weight);
    node.holdfast.publish(subject, headers, payload).whenComplete((ack, failure) -> {
      from.publishDone(weight);
      if (reply == null) {
        return;
      }
      if (failure != null) {
        answer(reply, error(null, failure).put("stream", stream.get()).put("seq", 0));
        return;
      }
      node.publish(null, reply, null, null, pubAck(ack.stream(), ack.seq(), ack.duplicate()));
    });
    return true;
  }

  /**
   * A stored publish's ack, {@code {"stream":…,"seq":…}} (with {@code "duplicate":true} if it was
   * one), written directly: one goes out per publish, and building and writing a Jackson tree for
   * it showed in a busy node's CPU samples. Stream names are A-Z a-z 0-9 _ - (MetaState), so they
   * need no escaping; any other name goes through Jackson.
   */
  static byte[] pubAck(String stream, long seq, boolean duplicate) {
    for (int i = 0; i < stream.length(); i++) {
      char c = stream.charAt(i);
      if (c < 0x20 || c > 0x7e || c == '"' || c == '\\') {
        ObjectNode o = NatsConnection.JSON.createObjectNode().put("stream", stream).put("seq", seq);
        if (duplicate) {
          o.put("duplicate", true);
        }
        return o.toString().getBytes(StandardCharsets.UTF_8);
      }
    }
    return ("{\"stream\":\"" + stream + "\",\"seq\":" + seq + (duplicate ? ",\"duplicate\":true}" : "}"))
        .getBytes(StandardCharsets.US_ASCII);
  }

  // ---- the API ----

  /** A publish on {@code $JS.>}: the API, acks, flow control. False: not JetStream's, route it as core. */
  boolean handle(NatsConnection from, String subject, String reply, byte[] headerBlock, byte[] payload) {
    if (subject.startsWith("$JS.ACK.")) {
      JetStreamConsumers.AckSubject ack = JetStreamConsumers.AckSubject.parse(subject);
      if (ack == null) {
        return true; // not an ack nats-server would read either
      }
      if (!node.holdfast.mayRead(from.permissions(), ack.stream())) {
        from.permissionViolation("Publish", subject);
        return true;
      }
      consumers.ack(ack, reply, payload);
      return true;
    }
    if (subject.startsWith("$JS.FC.")) {
      consumers.flowControl(subject);
      return true;
    }
    if (!subject.startsWith(API)) {
      return false;
    }
    String[] t = Subjects.tokens(subject.substring(API.length()));
    Permissions rights = from.permissions();
    Access access = access(t);
    if (!allowed(rights, access)) {
      from.permissionViolation("Publish", subject);
      String why = "permissions violation: this user may not " + access.describe();
      if (reply != null && subject.startsWith(API + "DIRECT.GET.")) {
        statusTo(reply, 403, "Permissions Violation"); // a direct get is answered by a message, not JSON
      } else {
        answer(reply, error(responseType(t), new HoldfastException.Forbidden(why)));
      }
      return true;
    }
    if (reply == null) {
      return true; // nobody to answer: nats-server drops such requests too
    }
    if (subject.startsWith(API + "CONSUMER.MSG.NEXT.")) {
      if (t.length == 5) {
        consumers.next(t[3], t[4], reply, payload);
      }
      return true;
    }
    if (subject.startsWith(API + "DIRECT.GET.")) {
      directGet(subject.substring((API + "DIRECT.GET.").length()), reply, payload);
      return true;
    }
    JsonNode body;
    try {
      body = payload.length == 0 ? NatsConnection.JSON.createObjectNode() : NatsConnection.JSON.readTree(payload);
      if (body == null || !body.isObject()) {
        body = NatsConnection.JSON.createObjectNode();
      }
    } catch (Exception e) {
      answer(reply, errorJson(null, 400, 10025, "invalid JSON: " + e.getMessage()));
      return true;
    }
    CompletionStage<ObjectNode> result;
    try {
      result = dispatch(t, body, rights);
    } catch (HoldfastException e) {
      result = CompletableFuture.failedFuture(e);
    } catch (RuntimeException e) { // a request this code did not foresee: an error answer, never a dropped connection
      node.system.log().warn("JetStream API request on {} failed: {}", subject, e.toString());
      result = CompletableFuture.failedFuture(new HoldfastException.BadRequest("bad_request", String.valueOf(e.getMessage())));
    }
    String type = responseType(t);
    result.whenComplete((o, failure) -> answer(reply, failure != null ? error(type, failure) : o.put("type", type)));
    return true;
  }

  /** What a JetStream API request needs of its client's permissions: nothing, admin, or read rights on a stream. */
  enum Need { NOTHING, ADMIN, READ, LIST }

  record Access(Need need, String stream) {
    String describe() {
      return switch (need) {
        case ADMIN -> "manage streams and consumers (admin)";
        case READ -> "read stream " + stream + " (subscribe rights on all of its subjects)";
        default -> "do this";
      };
    }
  }

  /**
   * The check for the API request {@code $JS.API.<t...>}. Stream and consumer management needs
   * admin. What reads a stream's messages or state (info, consumer info and lists, message get,
   * direct get, pull requests) needs read rights on that stream ({@link Permissions#mayRead}).
   * Stream lists show only the streams the client may read. Account info needs nothing; an unknown
   * request neither (it is answered as unknown).
   */
  static Access access(String[] t) {
    String op = t.length >= 2 ? t[0] + "." + t[1] : t[0];
    return switch (op) {
      case "STREAM.CREATE", "STREAM.UPDATE", "STREAM.DELETE", "STREAM.PURGE", "CONSUMER.CREATE", "CONSUMER.DURABLE",
          "CONSUMER.DELETE", "SERVER.REMOVE" -> new Access(Need.ADMIN, null);
      case "STREAM.MSG" -> t.length > 2 && t[2].equals("GET") ? read(t, 3) : new Access(Need.ADMIN, null);
      case "STREAM.INFO", "CONSUMER.INFO", "CONSUMER.NAMES", "CONSUMER.LIST", "DIRECT.GET" -> read(t, 2);
      case "CONSUMER.MSG" -> read(t, 3);
      case "STREAM.NAMES", "STREAM.LIST" -> new Access(Need.LIST, null);
      default -> new Access(Need.NOTHING, null);
    };
  }

  private static Access read(String[] t, int at) {
    return new Access(Need.READ, t.length > at ? t[at] : null);
  }

  private boolean allowed(Permissions rights, Access a) {
    return switch (a.need()) {
      case ADMIN -> rights.admin();
      case READ -> a.stream() == null || node.holdfast.mayRead(rights, a.stream());
      default -> true;
    };
  }

  /** A publish to a stream's subject that the client may not publish to: its ack, if it waits for one, says so. */
  void refuseCapture(String subject, String reply) {
    Optional<String> stream = node.holdfast.streamFor(subject);
    if (reply != null && stream.isPresent()) {
      answer(reply, error(null, new HoldfastException.Forbidden("permissions violation: this user may not publish to "
          + subject)).put("stream", stream.get()).put("seq", 0));
    }
  }

  private CompletionStage<ObjectNode> dispatch(String[] t, JsonNode body, Permissions rights) {
    String op = String.join(".", java.util.Arrays.copyOf(t, Math.min(2, t.length)));
    switch (op) {
      case "INFO":
        return accountInfo();
      case "STREAM.CREATE":
        return createStream(token(t, 2, "stream"), body, false);
      case "STREAM.UPDATE":
        return createStream(token(t, 2, "stream"), body, true);
      case "STREAM.INFO":
        return node.holdfast.streamInfo(token(t, 2, "stream")).thenCompose(i -> node.holdfast.consumers().list(i.config().name())
            .handle((consumers, failure) -> {
              ObjectNode o = streamInfo(i);
              if (failure == null) { // the consumer count is an extra read: without it, the info still answers
                ((ObjectNode) o.get("state")).put("consumer_count", consumers.size());
              }
              return o;
            }));
      case "STREAM.DELETE":
        return node.holdfast.deleteStream(token(t, 2, "stream")).thenApply(d -> success());
      case "STREAM.NAMES":
        return readable(text(body, "subject"), rights).thenApply(list -> page(list, body, 1024, "streams",
            i -> NatsConnection.JSON.getNodeFactory().textNode(i.config().name())));
      case "STREAM.LIST":
        return readable(text(body, "subject"), rights).thenApply(list -> {
          ObjectNode o = page(list, body, 256, "streams", this::streamInfo);
          o.putArray("missing");
          return o;
        });
      case "STREAM.PURGE":
        return node.holdfast.purgeStream(token(t, 2, "stream"), text(body, "filter"), body.path("seq").asLong(0),
            body.path("keep").asLong(0)).thenApply(n -> success().put("purged", n));
      case "STREAM.MSG":
        return streamMsg(t, body);
      case "CONSUMER.CREATE", "CONSUMER.DURABLE":
        return consumers.create(t, body);
      case "CONSUMER.INFO":
        return consumers.info(token(t, 2, "stream"), token(t, 3, "consumer"));
      case "CONSUMER.DELETE":
        return consumers.delete(token(t, 2, "stream"), token(t, 3, "consumer"));
      case "CONSUMER.NAMES":
        return consumers.names(token(t, 2, "stream"), body);
      case "CONSUMER.LIST":
        return consumers.list(token(t, 2, "stream"), body);
      case "SERVER.REMOVE":
        return removeServer(body);
      default:
        throw new HoldfastException.BadRequest("unknown_api", "unknown JetStream API subject $JS.API." + String.join(".", t));
    }
  }

  /**
   * {@code $JS.API.SERVER.REMOVE}, nats-server's way to retire a server: here a drain
   * ({@link io.holdfast.api.Holdfast#drainNode}) of the node named by {@code peer} (its
   * {@code server_name}, {@code holdfast-N}) or {@code peer_id} ({@code N}). It answers when every
   * replica and the meta vote moved, which can take minutes; a client that stops waiting does not
   * stop the drain. The node stays marked draining ({@code holdfast cluster drain N --undo} lifts it).
   */
  private CompletionStage<ObjectNode> removeServer(JsonNode body) {
    String peer = text(body, "peer");
    String peerId = text(body, "peer_id");
    String name = peer != null ? peer : peerId;
    if (name == null) {
      throw new HoldfastException.BadRequest("bad_request", "SERVER.REMOVE needs \"peer\" (a server name such as"
          + " holdfast-2) or \"peer_id\" (a node id)");
    }
    int id;
    try {
      id = Integer.parseInt(name.startsWith("holdfast-") ? name.substring("holdfast-".length()) : name);
    } catch (NumberFormatException e) {
      throw new HoldfastException.BadRequest("bad_request", "no server named '" + name + "': Holdfast's servers are"
          + " holdfast-N, N the node id");
    }
    return node.holdfast.drainNode(id, java.time.Duration.ofMinutes(5)).thenApply(r -> {
      ObjectNode o = success().put("peer", "holdfast-" + id);
      r.moved().forEach(o.putArray("moved")::add);
      return o.put("meta_voter", r.metaVoter());
    });
  }

  /** The streams whose subjects overlap {@code filter} (all if null) that {@code rights} may read. */
  private CompletionStage<List<Records.StreamInfo>> readable(String filter, Permissions rights) {
    return node.holdfast.listStreams(filter).thenApply(list -> list.stream()
        .filter(i -> rights.mayRead(i.config().subjects())).toList());
  }

  private static HoldfastException unsupported(String what) {
    return new HoldfastException.BadRequest("not_supported", what + " is not supported by Holdfast yet");
  }

  private CompletionStage<ObjectNode> streamMsg(String[] t, JsonNode body) {
    String stream = token(t, 3, "consumer");
    if (t.length > 2 && t[2].equals("GET")) {
      CompletionStage<Records.StreamMessage> m;
      if (body.hasNonNull("last_by_subj")) {
        m = node.holdfast.getLastFor(stream, body.get("last_by_subj").asText());
      } else if (body.hasNonNull("next_by_subj")) {
        throw unsupported("next_by_subj");
      } else {
        m = node.holdfast.getMessage(stream, body.path("seq").asLong(0));
      }
      return m.thenApply(msg -> {
        ObjectNode o = NatsConnection.JSON.createObjectNode();
        ObjectNode message = o.putObject("message");
        message.put("subject", msg.subject()).put("seq", msg.seq());
        if (msg.headers() != null && !msg.headers().isEmpty()) {
          message.put("hdrs", Base64.getEncoder().encodeToString(NatsHeaders.encode(msg.headers())));
        }
        message.put("data", Base64.getEncoder().encodeToString(msg.payload()));
        message.put("time", time(msg.timestampMillis()));
        return o;
      });
    }
    if (t.length > 2 && t[2].equals("DELETE")) {
      // NATS erases unless told no_erase: the reverse of Holdfast's own default.
      return node.holdfast.deleteMessage(stream, body.path("seq").asLong(0), !body.path("no_erase").asBoolean(false))
          .thenApply(n -> success());
    }
    throw new HoldfastException.BadRequest("unknown_api", "unknown JetStream API subject $JS.API." + String.join(".", t));
  }

  /**
   * DIRECT.GET.<stream> with {seq} or {last_by_subj}, or DIRECT.GET.<stream>.<subject> (the last
   * message on it): the message itself, with Nats-Stream, Nats-Subject, Nats-Sequence and
   * Nats-Time-Stamp headers added; {@code 404 Message Not Found} otherwise (ADR-31).
   */
  private void directGet(String rest, String reply, byte[] payload) {
    int dot = rest.indexOf('.');
    String stream = dot < 0 ? rest : rest.substring(0, dot);
    String lastBySubject = dot < 0 ? null : rest.substring(dot + 1);
    CompletionStage<Records.StreamMessage> m;
    try {
      JsonNode body = payload.length == 0 ? NatsConnection.JSON.createObjectNode() : NatsConnection.JSON.readTree(payload);
      if (lastBySubject == null && body.hasNonNull("last_by_subj")) {
        lastBySubject = body.get("last_by_subj").asText();
      }
      if (lastBySubject != null) {
        m = node.holdfast.getLastFor(stream, lastBySubject);
      } else if (body.path("seq").asLong(0) > 0) {
        m = node.holdfast.getMessage(stream, body.get("seq").asLong());
      } else {
        statusTo(reply, 408, payload.length == 0 ? "Empty Request" : "Bad Request");
        return;
      }
    } catch (Exception e) {
      statusTo(reply, 408, "Bad Request");
      return;
    }
    m.whenComplete((msg, failure) -> {
      if (failure != null) {
        statusTo(reply, 404, "Message Not Found");
        return;
      }
      TreeMap<String, List<String>> h = new TreeMap<>(msg.headers() == null ? Map.of() : msg.headers());
      h.put("Nats-Stream", List.of(msg.stream()));
      h.put("Nats-Subject", List.of(msg.subject()));
      h.put("Nats-Sequence", List.of(String.valueOf(msg.seq())));
      h.put("Nats-Time-Stamp", List.of(time(msg.timestampMillis())));
      node.publish(null, reply, null, NatsHeaders.encode(h), msg.payload());
    });
  }

  private void statusTo(String reply, int code, String description) {
    node.publish(null, reply, null, NatsHeaders.encode(code, description, null), new byte[0]);
  }

  private CompletionStage<ObjectNode> accountInfo() {
    return node.holdfast.listStreams().thenApply(list -> {
      ObjectNode o = NatsConnection.JSON.createObjectNode();
      long bytes = list.stream().mapToLong(i -> i.state() == null ? 0 : i.state().bytes()).sum();
      o.put("memory", 0).put("storage", bytes).put("reserved_memory", 0).put("reserved_storage", 0)
          .put("streams", list.size()).put("consumers", 0);
      o.putObject("limits").put("max_memory", -1).put("max_storage", -1).put("max_streams", -1)
          .put("max_consumers", -1).put("max_ack_pending", -1).put("memory_max_stream_bytes", -1)
          .put("storage_max_stream_bytes", -1).put("max_bytes_required", false);
      o.putObject("api").put("level", 0).put("total", 0).put("errors", 0);
      return o;
    });
  }

  // ---- streams ----

  private CompletionStage<ObjectNode> createStream(String name, JsonNode c, boolean update) {
    if (c.hasNonNull("name") && !c.get("name").asText().equals(name)) {
      throw new HoldfastException.BadRequest("name_mismatch", "stream name in subject does not match request");
    }
    for (String field : List.of("mirror", "sources", "republish", "subject_transform")) {
      if (c.hasNonNull(field) && !(c.get(field).isArray() && c.get(field).isEmpty())) {
        throw unsupported("stream " + field);
      }
    }
    List<String> subjects = new ArrayList<>();
    c.path("subjects").forEach(s -> subjects.add(s.asText()));
    if (subjects.isEmpty() && !update) {
      subjects.add(name); // as nats-server: a stream without subjects captures its own name
    }
    Retention retention = Retention.ofName(c.path("retention").asText("limits"));
    if (retention == null) {
      throw new HoldfastException.BadRequest("bad_request", "retention must be limits, interest or workqueue");
    }
    StreamLimits limits = StreamLimits.DEFAULT
        .withMaxMsgs(c.path("max_msgs").asLong(-1))
        .withMaxBytes(c.path("max_bytes").asLong(-1))
        .withMaxAgeMillis(c.path("max_age").asLong(0) / MS)
        .withMaxMsgsPerSubject(c.path("max_msgs_per_subject").asLong(-1))
        .withMaxMsgSize(c.path("max_msg_size").asLong(-1))
        .withDiscardNew("new".equals(c.path("discard").asText("old")))
        .withDiscardNewPerSubject(c.path("discard_new_per_subject").asBoolean(false))
        .withRetention(retention)
        .withSealed(c.path("sealed").asBoolean(false))
        .withDenyDelete(c.path("deny_delete").asBoolean(false))
        .withDenyPurge(c.path("deny_purge").asBoolean(false))
        .withAllowRollup(c.path("allow_rollup_hdrs").asBoolean(false))
        .withMaxConsumers(c.path("max_consumers").asLong(-1));
    long window = c.path("duplicate_window").asLong(0) / MS;
    if (window > 0) {
      limits = limits.withDuplicateWindowMillis(window);
    } else if (limits.maxAgeMillis() > 0 && limits.maxAgeMillis() < limits.duplicateWindowMillis()) {
      limits = limits.withDuplicateWindowMillis(limits.maxAgeMillis()); // as nats-server: the window fits in max_age
    }
    int replicas = Math.max(1, c.path("num_replicas").asInt(1));
    Records.StreamConfig config = new Records.StreamConfig(name, subjects, replicas, limits);
    if (update) {
      return node.holdfast.updateStream(config).thenApply(this::streamInfo);
    }
    return node.holdfast.createStream(config).thenApply(i -> streamInfo(i).put("did_create", true))
        .exceptionallyCompose(e -> {
          Throwable cause = unwrap(e);
          if (cause instanceof HoldfastException h && h.code().equals("stream_exists")) {
            // Creating what exists with the same configuration succeeds, as in NATS.
            return node.holdfast.streamInfo(name).thenApply(i -> {
              if (!i.config().equals(config)) {
                throw h;
              }
              return streamInfo(i);
            });
          }
          return CompletableFuture.failedFuture(cause);
        });
  }

  private ObjectNode streamInfo(Records.StreamInfo i) {
    ObjectNode o = NatsConnection.JSON.createObjectNode();
    Records.StreamConfig c = i.config();
    StreamLimits l = c.limits();
    ObjectNode config = o.putObject("config");
    config.put("name", c.name());
    ArrayNode subjects = config.putArray("subjects");
    c.subjects().forEach(subjects::add);
    config.put("retention", l.retention().wireName)
        .put("max_consumers", l.maxConsumers())
        .put("max_msgs", l.maxMsgs())
        .put("max_bytes", l.maxBytes())
        .put("max_age", l.maxAgeMillis() * MS)
        .put("max_msgs_per_subject", l.maxMsgsPerSubject())
        .put("max_msg_size", (int) Math.min(Integer.MAX_VALUE, l.maxMsgSize()))
        .put("discard", l.discardNew() ? "new" : "old")
        .put("discard_new_per_subject", l.discardNewPerSubject())
        .put("storage", "file")
        .put("num_replicas", c.replicas())
        .put("duplicate_window", l.duplicateWindowMillis() * MS)
        .put("sealed", l.sealed())
        .put("deny_delete", l.denyDelete())
        .put("deny_purge", l.denyPurge())
        .put("allow_rollup_hdrs", l.allowRollup())
        .put("allow_direct", true)
        .put("mirror_direct", false);
    o.put("created", time(0));
    ObjectNode state = o.putObject("state");
    Records.StreamState s = i.state();
    if (s != null) {
      state.put("messages", s.messages()).put("bytes", s.bytes())
          .put("first_seq", s.firstSeq()).put("first_ts", time(s.firstTimestampMillis()))
          .put("last_seq", s.lastSeq()).put("last_ts", time(s.lastTimestampMillis()))
          .put("num_subjects", s.subjects()).put("num_deleted", s.deleted()).put("consumer_count", 0);
    } else {
      state.put("messages", 0).put("bytes", 0).put("first_seq", 0).put("last_seq", 0).put("consumer_count", 0);
    }
    ObjectNode cluster = o.putObject("cluster");
    cluster.put("name", "holdfast");
    if (i.cluster() != null && i.cluster().leader() > 0) {
      cluster.put("leader", "holdfast-" + i.cluster().leader());
    }
    o.put("ts", time(System.currentTimeMillis()));
    return o;
  }

  // ---- JSON helpers ----

  /** Token {@code at} of an API subject split at dots: the stream's or consumer's name ({@code what}). */
  static String token(String[] t, int at, String what) {
    if (t.length <= at || t[at].isEmpty()) {
      throw new HoldfastException.BadRequest("bad_request", "the API subject names no " + what);
    }
    return t[at];
  }

  /** A JSON field's text, or null when it is absent, null or empty. */
  static String text(JsonNode n, String field) {
    JsonNode v = n.get(field);
    return v == null || v.isNull() || v.asText().isEmpty() ? null : v.asText();
  }

  /**
   * One page of a NAMES or LIST answer, as NATS pages them: {@code total}, the request's {@code
   * offset}, the server's {@code limit}, and the items from offset on, at most limit of them.
   */
  static <T> ObjectNode page(List<T> all, JsonNode request, int limit, String field,
      java.util.function.Function<T, JsonNode> each) {
    int offset = Math.max(0, Math.min(all.size(), request.path("offset").asInt(0)));
    ObjectNode o = NatsConnection.JSON.createObjectNode().put("total", all.size()).put("offset", offset)
        .put("limit", limit);
    ArrayNode items = o.putArray(field);
    all.subList(offset, Math.min(all.size(), offset + limit)).forEach(x -> items.add(each.apply(x)));
    return o;
  }

  private static ObjectNode success() {
    return NatsConnection.JSON.createObjectNode().put("success", true);
  }

  static String time(long millis) {
    return Instant.ofEpochMilli(millis).toString();
  }

  /** The response type for an API subject, as nats-server names it. */
  private static String responseType(String[] t) {
    String op = String.join(".", java.util.Arrays.copyOf(t, Math.min(3, t.length)));
    String kind = switch (op.startsWith("STREAM.MSG.") || op.startsWith("CONSUMER.MSG.") ? op
        : String.join(".", java.util.Arrays.copyOf(t, Math.min(2, t.length)))) {
      case "INFO" -> "account_info_response";
      case "STREAM.CREATE" -> "stream_create_response";
      case "STREAM.UPDATE" -> "stream_update_response";
      case "STREAM.INFO" -> "stream_info_response";
      case "STREAM.DELETE" -> "stream_delete_response";
      case "STREAM.NAMES" -> "stream_names_response";
      case "STREAM.LIST" -> "stream_list_response";
      case "STREAM.PURGE" -> "stream_purge_response";
      case "STREAM.MSG.GET" -> "stream_msg_get_response";
      case "STREAM.MSG.DELETE" -> "stream_msg_delete_response";
      case "CONSUMER.CREATE", "CONSUMER.DURABLE" -> "consumer_create_response";
      case "CONSUMER.INFO" -> "consumer_info_response";
      case "CONSUMER.DELETE" -> "consumer_delete_response";
      case "CONSUMER.NAMES" -> "consumer_names_response";
      case "CONSUMER.LIST" -> "consumer_list_response";
      case "SERVER.REMOVE" -> "meta_server_remove_response";
      default -> "system_response";
    };
    return TYPE + kind;
  }

  private void answer(String reply, ObjectNode body) {
    if (reply != null) {
      node.publish(null, reply, null, null, body.toString().getBytes(StandardCharsets.UTF_8));
    }
  }

  private static ObjectNode errorJson(String type, int code, int errCode, String description) {
    ObjectNode o = NatsConnection.JSON.createObjectNode();
    if (type != null) {
      o.put("type", type);
    }
    o.putObject("error").put("code", code).put("err_code", errCode).put("description", description);
    return o;
  }

  private static final Pattern LAST_NUMBER = Pattern.compile("(\\d+)\\D*$");

  /** A failure as NATS reports it: HTTP-like code, NATS's err_code, and its description. */
  static ObjectNode error(String type, Throwable failure) {
    Throwable e = unwrap(failure);
    if (!(e instanceof HoldfastException h)) {
      return errorJson(type, 500, 10003, String.valueOf(e.getMessage()));
    }
    String message = h.getMessage();
    return switch (h.code()) {
      case "stream_not_found", "no_stream" -> errorJson(type, 404, 10059, "stream not found");
      case "stream_exists" -> errorJson(type, 400, 10058, "stream name already in use with a different configuration");
      case "subjects_overlap" -> errorJson(type, 400, 10065, "subjects overlap with an existing stream");
      case "insufficient_resources" -> errorJson(type, 503, 10023, "insufficient resources");
      case "wrong_last_sequence" -> errorJson(type, 400, 10071, "wrong last sequence: " + lastNumber(message));
      case "wrong_last_msg_id" -> errorJson(type, 400, 10070, "wrong last msg ID: " + message);
      case "wrong_stream" -> errorJson(type, 400, 10060, "expected stream does not match");
      case "maximum_messages_exceeded" -> errorJson(type, 503, 10077, "maximum messages exceeded");
      case "maximum_bytes_exceeded" -> errorJson(type, 503, 10077, "maximum bytes exceeded");
      case "maximum_messages_per_subject_exceeded" -> errorJson(type, 503, 10077,
          "maximum messages per subject exceeded");
      case "message_too_large" -> errorJson(type, 400, 10054, "message size exceeds maximum allowed");
      case "stream_sealed" -> errorJson(type, 400, 10109, "invalid operation on sealed stream");
      case "no_message" -> errorJson(type, 404, 10037, "no message found");
      case "no_consumer" -> errorJson(type, 404, 10014, "consumer not found");
      case "consumer_exists" -> errorJson(type, 400, 10148, "consumer already exists");
      case "maximum_consumers_exceeded" -> errorJson(type, 400, 10026, "maximum consumers limit reached");
      // One NATS code for both, as NATS has one; the description tells a client (torture's among
      // them) whether a retry could store the message twice.
      case "unavailable" -> errorJson(type, 503, 10008, "JetStream system temporarily unavailable "
          + NatsNode.NOT_STORED + ": " + message);
      case "outcome_unknown" -> errorJson(type, 503, 10008,
          "JetStream system temporarily unavailable (outcome unknown): " + message);
      case "name_mismatch" -> errorJson(type, 400, 10056, message);
      case "consumer_name_mismatch" -> errorJson(type, 400, 10017, message);
      case "filter_mismatch" -> errorJson(type, 400, 10131, message);
      case "permission_denied" -> errorJson(type, 403, 10003, message);
      case "node_not_found" -> errorJson(type, 400, 10044, "peer not a member");
      case "insufficient_storage" -> errorJson(type, 503, 10047, "insufficient storage resources available");
      default -> errorJson(type, h.httpStatus() == 404 ? 404 : 400, 10003, message);
    };
  }

  private static String lastNumber(String message) {
    Matcher m = LAST_NUMBER.matcher(message == null ? "" : message);
    return m.find() ? m.group(1) : "0";
  }

  static Throwable unwrap(Throwable e) {
    return HoldfastException.unwrap(e);
  }
}
