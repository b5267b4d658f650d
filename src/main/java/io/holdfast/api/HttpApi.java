package io.holdfast.api;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.holdfast.api.Records.StreamConfig;
import io.holdfast.api.Records.StreamInfo;
import io.holdfast.api.Records.StreamMessage;
import io.holdfast.replica.ReplicaDriver;
import io.holdfast.replica.ReplicaShell;
import io.holdfast.security.Permissions;
import io.holdfast.security.Principal;
import io.holdfast.security.Users;
import io.holdfast.server.NodeSettings;
import io.holdfast.stream.StreamLimits;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.TreeMap;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CompletionStage;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.cluster.MemberStatus;
import org.apache.pekko.cluster.typed.Cluster;
import org.apache.pekko.http.javadsl.Http;
import org.apache.pekko.http.javadsl.ServerBinding;
import org.apache.pekko.http.javadsl.model.ContentTypes;
import org.apache.pekko.http.javadsl.model.HttpEntities;
import org.apache.pekko.http.javadsl.model.HttpHeader;
import org.apache.pekko.http.javadsl.model.HttpResponse;
import org.apache.pekko.http.javadsl.model.StatusCodes;
import org.apache.pekko.http.javadsl.model.headers.BasicHttpCredentials;
import org.apache.pekko.http.javadsl.model.headers.HttpChallenge;
import org.apache.pekko.http.javadsl.model.headers.HttpCredentials;
import org.apache.pekko.http.javadsl.model.headers.OAuth2BearerToken;
import org.apache.pekko.http.javadsl.model.headers.RawHeader;
import org.apache.pekko.http.javadsl.model.headers.WWWAuthenticate;
import org.apache.pekko.http.javadsl.server.AllDirectives;
import org.apache.pekko.http.javadsl.server.PathMatchers;
import org.apache.pekko.http.javadsl.server.RejectionHandler;
import org.apache.pekko.http.javadsl.server.Route;
import org.apache.pekko.http.javadsl.settings.ServerSettings;
import org.apache.pekko.http.javadsl.unmarshalling.Unmarshaller;

/**
 * The node's HTTP JSON API (README "HTTP API"). Every error is a JSON body
 * {@code {"error":{"code":C,"message":M}}} with a 4xx status for bad input and 503 with
 * {@code Retry-After} when the cluster cannot take the request now.
 */
public final class HttpApi extends AllDirectives {
  /** Message headers travel as HTTP headers with this prefix: {@code Holdfast-Header-Trace-Id: x} → {@code Trace-Id: x}. */
  public static final String HEADER_PREFIX = "Holdfast-Header-";
  private static final ObjectMapper JSON = new ObjectMapper()
      .setPropertyNamingStrategy(com.fasterxml.jackson.databind.PropertyNamingStrategies.SNAKE_CASE);

  private final Holdfast holdfast;
  private final Users users;

  private HttpApi(Holdfast holdfast, Users users) {
    this.holdfast = holdfast;
    this.users = users;
  }

  public static CompletionStage<ServerBinding> start(ActorSystem<?> system, Holdfast holdfast, String host, int port) {
    return start(system, holdfast, host, port, Users.NONE, null);
  }

  /**
   * As above, for clients who authenticate as one of {@code users} (if any are configured), over
   * HTTPS if {@code tls} is given.
   */
  public static CompletionStage<ServerBinding> start(ActorSystem<?> system, Holdfast holdfast, String host, int port,
      Users users, javax.net.ssl.SSLContext tls) {
    var server = Http.get(system).newServerAt(host, port).withSettings(ServerSettings.create(system.classicSystem())
        .withBacklog(NodeSettings.listenBacklog(system.settings().config())));
    if (tls != null) {
      server = server.enableHttps(org.apache.pekko.http.javadsl.ConnectionContext.httpsServer(tls));
    }
    return server.bind(new HttpApi(holdfast, users).routes());
  }

  Route routes() {
    RejectionHandler jsonRejections = RejectionHandler.defaultHandler().mapRejectionResponse(response -> {
      String text = response.entity() instanceof org.apache.pekko.http.javadsl.model.HttpEntity.Strict s
          ? s.getData().utf8String() : response.status().reason();
      return response.withEntity(json(error("http_" + response.status().intValue(), text)));
    });
    return handleRejections(jsonRejections, () -> concat(
        path("health", () -> get(this::health)), // open: load balancers and service managers probe it
        authenticated(rights -> concat(
            path("metrics", () -> get(this::metrics)),
            path(PathMatchers.segment("cluster").slash("nodes").slash(PathMatchers.integerSegment()).slash("drain"),
                id -> post(() -> admin(rights, () -> drain(id)))),
            path(PathMatchers.segment("cluster").slash("nodes").slash(PathMatchers.integerSegment()).slash("undrain"),
                id -> post(() -> admin(rights, () -> answer(holdfast.undrainNode(id),
                    d -> JSON.createObjectNode().put("node", id).put("draining", false))))),
            path("cluster", () -> get(() -> answer(holdfast.clusterStatus(), s -> JSON.valueToTree(s)))),
            pathPrefix("streams", () -> concat(
                pathEnd(() -> concat(get(() -> listStreams(rights)), post(() -> admin(rights, this::createStream)))),
                pathPrefix(PathMatchers.segment(), name -> stream(name, rights)))),
            path(PathMatchers.segment("pub").slash(PathMatchers.segment()), subject -> post(() -> rights.mayPublish(subject)
                ? publish(subject) : forbidden("publish to " + subject))),
            path(PathMatchers.segment("ack").slash(PathMatchers.segment()), token -> post(() -> parameterOptional("kind",
                kind -> parameterOptional("delay", delay -> ack(token, kind.orElse("ack"), delay.orElse("0s"),
                    rights)))))))));
  }

  /**
   * Where users are configured, the request's user (basic auth, or a bearer token) and its
   * permissions; else 401 with a challenge for both. Without users: everything (loopback only).
   */
  private Route authenticated(java.util.function.Function<Permissions, Route> inner) {
    if (!users.required()) {
      return inner.apply(Permissions.ALL);
    }
    return extractCredentials(credentials -> {
      java.util.Optional<Principal> who = credentials.flatMap(this::principal);
      if (who.isEmpty()) {
        return complete(respond(401, error("unauthorized", credentials.isEmpty()
            ? "this node needs a user: basic auth, or a bearer token (holdfast --user/--password or --token)"
            : "wrong user, password or token")).addHeader(WWWAuthenticate.create(HttpChallenge.createBasic("holdfast"),
            HttpChallenge.create("Bearer", "holdfast"))));
      }
      return inner.apply(who.get().permissions());
    });
  }

  private java.util.Optional<Principal> principal(HttpCredentials c) {
    if (c instanceof BasicHttpCredentials b) {
      return users.password(b.username(), b.password());
    }
    if (c instanceof OAuth2BearerToken t) {
      return users.token(t.token());
    }
    return java.util.Optional.empty();
  }

  /**
   * Moves every stream replica off node {@code id} ({@link Holdfast#drainNode}); answers when done,
   * which may take minutes (each stream's new replica catches up first).
   */
  private Route drain(int id) {
    return withRequestTimeout(java.time.Duration.ofMinutes(30), () -> answer(
        holdfast.drainNode(id, java.time.Duration.ofMinutes(5)), r -> {
          ObjectNode o = JSON.createObjectNode().put("node", r.node()).put("draining", true);
          r.moved().forEach(o.putArray("moved")::add);
          return o.put("meta_voter", r.metaVoter());
        }));
  }

  /** The node's metrics in Prometheus's text format (README "Monitoring"). */
  private Route metrics() {
    return completeWithFuture(io.holdfast.metrics.HoldfastMetrics.get(holdfast.system())
        .scrape(java.time.Duration.ofSeconds(3)).thenApply(text -> HttpResponse.create().withEntity(
            HttpEntities.create(org.apache.pekko.http.javadsl.model.ContentTypes.create(
                org.apache.pekko.http.javadsl.model.MediaTypes.TEXT_PLAIN, org.apache.pekko.http.javadsl.model.HttpCharsets.UTF_8),
                text))));
  }

  private Route admin(Permissions rights, java.util.function.Supplier<Route> inner) {
    return rights.admin() ? inner.get() : forbidden("manage streams and consumers (admin)");
  }

  /** Read rights on a stream ({@link Permissions#mayRead}); one this node does not know goes on, to a 404. */
  private Route read(Permissions rights, String stream, java.util.function.Supplier<Route> inner) {
    return holdfast.mayRead(rights, stream) ? inner.get() : forbidden("read stream " + stream + " (subscribe rights on all of its subjects)");
  }

  private Route forbidden(String what) {
    return complete(failure(new HoldfastException.Forbidden("permissions violation: this user may not " + what)));
  }

  /**
   * 200 once the node serves: it knows the meta group's leader, is registered, and is an Up member
   * of the cluster ({@code member}). Up, not merely joined: a node that joins while a peer is
   * unreachable stays WeaklyUp until membership converges. (Under Pekko's keep-majority, which
   * Holdfast used before MajorityDowning, counting such a node as ready let a kill right after a
   * start down the two running nodes: seen in NatsFailoverTest.) {@code stopped_replicas} lists the groups whose replica here stopped
   * without being told to (down until the node restarts; its log says why);
   * {@code recovering_lost_tail} lists the groups whose replica here is
   * still recovering entries a cut-off WAL tail took (they serve, but do not vote yet);
   * {@code replicas} gives each local replica's Raft state (null if it did not answer in time).
   */
  private Route health() {
    return completeWithFuture(holdfast.clusterStatus().thenCombine(holdfast.localReplicas(), (s, replicas) -> {
      MemberStatus member = Cluster.get(holdfast.system()).selfMember().status();
      boolean ready = s.metaIndex() > 0 && s.metaLeader() > 0 && (s.node() == 0 || "registered".equals(s.registration()))
          && member == MemberStatus.up();
      ObjectNode body = JSON.createObjectNode().put("status", ready ? "ok" : "starting")
          .put("node", holdfast.settings().nodeId()).put("member", memberStatus(member));
      s.stoppedReplicas().forEach(body.putArray("stopped_replicas")::add);
      ArrayNode groups = body.putArray("recovering_lost_tail");
      ObjectNode each = body.putObject("replicas");
      replicas.forEach((group, status) -> {
        if (Holdfast.recoveringLostTail(status)) {
          groups.add(group);
        }
        if (status.isEmpty()) {
          each.putNull(group);
          return;
        }
        ReplicaDriver.Status st = status.get();
        ObjectNode r = each.putObject(group).put("id", st.id()).put("role", st.role().name().toLowerCase())
            .put("term", st.term()).put("leader", st.leader()).put("commit", st.commitIndex())
            .put("applied", st.appliedIndex()).put("store_missing", st.storeDamaged());
        st.voters().forEach(r.putArray("voters")::add);
      });
      return respond(ready ? 200 : 503, body);
    }).exceptionally(e -> respond(503, JSON.createObjectNode().put("status", "starting")
        .put("node", holdfast.settings().nodeId()))));
  }

  /** A member status as Pekko names it, in the API's lower snake case: up, weakly_up, joining, ... */
  private static String memberStatus(MemberStatus status) {
    return status.toString().replaceAll("([a-z])([A-Z])", "$1_$2").toLowerCase(java.util.Locale.ROOT);
  }

  /** Every stream (overlapping {@code ?subject=} if given) that the user may read. */
  private Route listStreams(Permissions rights) {
    return parameterOptional("subject", subject -> answer(holdfast.listStreams(subject.orElse(null)), list -> {
      ArrayNode arr = JSON.createArrayNode();
      list.stream().filter(i -> rights.mayRead(i.config().subjects())).forEach(i -> arr.add(info(i)));
      return JSON.createObjectNode().set("streams", arr);
    }));
  }

  private Route createStream() {
    return entity(Unmarshaller.entityToString(), body -> {
      try {
        return answer(holdfast.createStream(config(body, null)), HttpApi::info, 201);
      } catch (HoldfastException e) {
        return complete(failure(e));
      }
    });
  }

  private Route stream(String name, Permissions rights) {
    return concat(
        pathEnd(() -> concat(
            get(() -> read(rights, name, () -> answer(holdfast.streamInfo(name), HttpApi::info))),
            put(() -> admin(rights, () -> entity(Unmarshaller.entityToString(), body -> answer(holdfast.streamInfo(name).thenCompose(info -> {
              // Fields left out keep their current values (a PUT of {"max_msgs":10} changes only that).
              ObjectNode merged = config(info.config());
              try {
                JsonNode changes = JSON.readTree(body);
                if (changes == null || !changes.isObject()) {
                  throw new HoldfastException.BadRequest("bad_json", "the body must be a JSON object");
                }
                merged.setAll((ObjectNode) changes);
              } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
                throw new HoldfastException.BadRequest("bad_json", "the body is not JSON: " + e.getOriginalMessage());
              }
              return holdfast.updateStream(config(merged.toString(), name));
            }), HttpApi::info)))),
            delete(() -> admin(rights, () -> answer(holdfast.deleteStream(name),
                d -> JSON.createObjectNode().put("deleted", name)))))),
        path(PathMatchers.segment("messages").slash(PathMatchers.longSegment()), seq -> concat(
            get(() -> read(rights, name, () -> answer(holdfast.getMessage(name, seq), HttpApi::message))),
            delete(() -> admin(rights, () -> parameterOptional("erase", erase -> {
              boolean wipe = erase.map(v -> v.isEmpty() || v.equals("true")).orElse(false);
              return answer(holdfast.deleteMessage(name, seq, wipe),
                  n -> JSON.createObjectNode().put("deleted", seq).put("erased", wipe));
            }))))),
        path(PathMatchers.segment("last").slash(PathMatchers.segment()),
            subject -> get(() -> read(rights, name, () -> answer(holdfast.getLastFor(name, subject), HttpApi::message)))),
        path("purge", () -> post(() -> admin(rights, () -> entity(Unmarshaller.entityToString(), body -> {
          try {
            JsonNode n = body.isBlank() ? JSON.createObjectNode() : JSON.readTree(body);
            String subject = n.path("subject").isTextual() ? n.path("subject").asText() : null;
            return answer(holdfast.purgeStream(name, subject, number(n, "seq", 0), number(n, "keep", 0)),
                purged -> JSON.createObjectNode().put("purged", purged));
          } catch (HoldfastException e) {
            return complete(failure(e));
          } catch (Exception e) {
            return complete(failure(new HoldfastException.BadRequest("bad_json", "the body is not JSON: "
                + e.getMessage())));
          }
        })))),
        path("local", () -> get(() -> read(rights, name, () -> parameterOptional("from", from -> parameterOptional("max",
            max -> localRead(name, from.orElse("1"), max.orElse("1000"))))))),
        pathPrefix("consumers", () -> read(rights, name, () -> consumers(name, rights))));
  }

  // ---- consumers ----

  /** A stream's consumers: info and messages for those who may read the stream; changes for admins. */
  private Route consumers(String stream, Permissions rights) {
    return concat(
        pathEnd(() -> concat(
            get(() -> answer(holdfast.consumers().list(stream), list -> {
              ArrayNode arr = JSON.createArrayNode();
              list.forEach(i -> arr.add(ConsumerJson.info(i)));
              return JSON.createObjectNode().set("consumers", arr);
            })),
            post(() -> admin(rights, () -> entity(Unmarshaller.entityToString(), body -> {
              try {
                return answer(holdfast.consumers().create(stream, ConsumerJson.config(body)), ConsumerJson::info, 201);
              } catch (HoldfastException e) {
                return complete(failure(e));
              }
            }))))),
        pathPrefix(PathMatchers.segment(), consumer -> concat(
            pathEnd(() -> concat(
                get(() -> answer(holdfast.consumers().info(stream, consumer), ConsumerJson::info)),
                delete(() -> admin(rights, () -> answer(holdfast.consumers().delete(stream, consumer),
                    d -> JSON.createObjectNode().put("deleted", consumer)))))),
            path("next", () -> post(() -> parameterOptional("batch", batch -> parameterOptional("wait",
                wait -> next(stream, consumer, batch.orElse("10"), wait.orElse("0s")))))),
            path("events", () -> get(() -> parameterOptional("count", count -> events(stream, consumer, count)))))));
  }

  /** A pull: up to {@code batch} (≤ 1000) messages, waiting up to {@code wait} (≤ 30 s) for the first. */
  private Route next(String stream, String consumer, String batch, String wait) {
    int max;
    long waitMillis;
    try {
      max = Integer.parseInt(batch);
      waitMillis = Durations.parseMillis(wait);
      if (max < 1 || max > 1000 || waitMillis < 0 || waitMillis > 30_000) {
        throw new IllegalArgumentException("batch must be 1..1000 and wait at most 30s");
      }
    } catch (IllegalArgumentException e) {
      return complete(failure(new HoldfastException.BadRequest("bad_request", e.getMessage())));
    }
    return answer(holdfast.consumer(stream, consumer).fetch(max, java.time.Duration.ofMillis(waitMillis)), list -> {
      ArrayNode arr = JSON.createArrayNode();
      list.forEach(m -> arr.add(ConsumerJson.message(m)));
      return JSON.createObjectNode().set("messages", arr);
    });
  }

  /**
   * Server-sent events: one {@code message} event per delivery (data: the message JSON with its
   * ack token), {@code count} of them if given. Flow control is TCP's: the consumer's source
   * fetches only as fast as the client reads. A comment line every 15 s keeps idle proxies open.
   */
  private Route events(String stream, String consumer, java.util.Optional<String> count) {
    long limit;
    try {
      limit = count.map(Long::parseLong).orElse(Long.MAX_VALUE);
    } catch (NumberFormatException e) {
      return complete(failure(new HoldfastException.BadRequest("bad_request", "count must be an integer")));
    }
    Consumer c = holdfast.consumer(stream, consumer).withBatch(64).withMaxMessages(limit);
    return completeWithFuture(holdfast.consumers().info(stream, consumer).handle((info, e) -> {
      if (e != null) {
        return failure(e);
      }
      org.apache.pekko.stream.javadsl.Source<org.apache.pekko.util.ByteString, ?> body = c.source()
          .map(m -> org.apache.pekko.util.ByteString.fromString("event: message\ndata: " + ConsumerJson.message(m)
              + "\n\n"))
          .keepAlive(java.time.Duration.ofSeconds(15), () -> org.apache.pekko.util.ByteString.fromString(":\n\n"));
      return HttpResponse.create().withEntity(HttpEntities.create(
          org.apache.pekko.http.javadsl.model.MediaTypes.TEXT_EVENT_STREAM.toContentType(), body));
    }));
  }

  /** An ack by its token; the user needs read rights on the token's stream. */
  private Route ack(String token, String kind, String delay, Permissions rights) {
    try {
      AckToken t = AckToken.parse(token);
      long delayMillis;
      try {
        delayMillis = Durations.parseMillis(delay);
      } catch (IllegalArgumentException e) {
        throw new HoldfastException.BadRequest("bad_request", "delay: " + e.getMessage());
      }
      return read(rights, t.stream(), () -> answer(holdfast.consumer(t.stream(), t.consumer())
          .acknowledge(t.seq(), kind, delayMillis), o -> JSON.createObjectNode().put("stream", t.stream())
          .put("consumer", t.consumer()).put("seq", t.seq()).put("kind", kind)));
    } catch (HoldfastException e) {
      return complete(failure(e));
    }
  }

  private Route localRead(String name, String from, String max) {
    long f;
    int m;
    try {
      f = Long.parseLong(from);
      m = Math.min(10_000, Integer.parseInt(max));
    } catch (NumberFormatException e) {
      return complete(failure(new HoldfastException.BadRequest("bad_request", "from and max must be integers")));
    }
    return answer(holdfast.readLocalReplica(name, f, m), list -> {
      ArrayNode arr = JSON.createArrayNode();
      list.forEach(msg -> arr.add(message(msg)));
      return JSON.createObjectNode().set("messages", arr);
    });
  }

  private Route publish(String subject) {
    return extractRequest(req -> entity(Unmarshaller.entityToByteString(), body -> {
      TreeMap<String, List<String>> headers = new TreeMap<>();
      for (HttpHeader h : req.getHeaders()) {
        if (h.name().regionMatches(true, 0, HEADER_PREFIX, 0, HEADER_PREFIX.length())
            && h.name().length() > HEADER_PREFIX.length()) {
          headers.computeIfAbsent(h.name().substring(HEADER_PREFIX.length()), k -> new ArrayList<>()).add(h.value());
        }
      }
      Records.PublishOptions options;
      try {
        options = new Records.PublishOptions(header(req, "Holdfast-Msg-Id"), header(req, "Holdfast-Expected-Stream"),
            longHeader(req, "Holdfast-Expected-Last-Seq"), longHeader(req, "Holdfast-Expected-Last-Subject-Seq"),
            header(req, "Holdfast-Expected-Last-Msg-Id"));
      } catch (HoldfastException e) {
        return complete(failure(e));
      }
      String rollup = header(req, "Holdfast-Rollup");
      if (rollup != null) {
        headers.put(io.holdfast.stream.StreamState.ROLLUP, List.of(rollup));
      }
      return answer(holdfast.publish(subject, headers, body.toArray(), options),
          ack -> JSON.createObjectNode().put("stream", ack.stream()).put("seq", ack.seq())
              .put("duplicate", ack.duplicate()));
    }));
  }

  private static String header(org.apache.pekko.http.javadsl.model.HttpRequest req, String name) {
    return req.getHeader(name).map(HttpHeader::value).orElse(null);
  }

  private static Long longHeader(org.apache.pekko.http.javadsl.model.HttpRequest req, String name) {
    String v = header(req, name);
    if (v == null) {
      return null;
    }
    try {
      return Long.parseLong(v.trim());
    } catch (NumberFormatException e) {
      throw new HoldfastException.BadRequest("bad_request", name + " must be a number, got '" + v + "'");
    }
  }

  private <T> Route answer(CompletionStage<T> result, java.util.function.Function<T, JsonNode> render) {
    return answer(result, render, 200);
  }

  private <T> Route answer(CompletionStage<T> result, java.util.function.Function<T, JsonNode> render, int status) {
    return completeWithFuture(result.handle((value, e) -> e == null ? respond(status, render.apply(value)) : failure(e)));
  }

  private static HttpResponse failure(Throwable e) {
    Throwable cause = e instanceof CompletionException && e.getCause() != null ? e.getCause() : e;
    if (cause instanceof HoldfastException h) {
      HttpResponse r = respond(h.httpStatus(), error(h.code(), h.getMessage()));
      return h.httpStatus() == 503 ? r.addHeader(RawHeader.create("Retry-After", "1")) : r;
    }
    if (cause instanceof java.util.concurrent.TimeoutException
        || cause instanceof org.apache.pekko.pattern.AskTimeoutException) {
      return respond(503, error("unavailable", "no answer in time: " + cause.getMessage()))
          .addHeader(RawHeader.create("Retry-After", "1"));
    }
    return respond(500, error("internal", String.valueOf(cause)));
  }

  private static HttpResponse respond(int status, JsonNode body) {
    return HttpResponse.create().withStatus(StatusCodes.get(status)).withEntity(json(body));
  }

  private static org.apache.pekko.http.javadsl.model.ResponseEntity json(JsonNode body) {
    return HttpEntities.create(ContentTypes.APPLICATION_JSON, body.toString());
  }

  static ObjectNode error(String code, String message) {
    ObjectNode e = JSON.createObjectNode();
    e.putObject("error").put("code", code).put("message", message);
    return e;
  }

  /**
   * {"name","subjects":[...],"replicas", and JetStream's limits: "max_msgs","max_bytes","max_age",
   * "max_msgs_per_subject","max_msg_size","discard":"old|new","discard_new_per_subject",
   * "duplicate_window","retention":"limits|interest|workqueue","sealed","deny_delete","deny_purge",
   * "allow_rollup","max_consumers"}. Durations are strings like "90s", "2m", "1h" (or milliseconds as a number).
   * {@code name} from the path wins when given.
   */
  static StreamConfig config(String body, String pathName) {
    JsonNode n = jsonObject(body);
    String name = pathName != null ? pathName : n.path("name").asText(null);
    List<String> subjects = new ArrayList<>();
    JsonNode s = n.path("subjects");
    if (s.isTextual()) {
      subjects.add(s.asText());
    } else if (s.isArray()) {
      s.forEach(x -> subjects.add(x.asText()));
    } else if (!s.isMissingNode()) {
      throw new HoldfastException.BadRequest("bad_request", "subjects must be a string or a list of strings");
    }
    if (subjects.isEmpty() && name != null) {
      subjects.add(name + ".>"); // JetStream's default: the stream's name as a subject prefix
    }
    String discard = n.path("discard").asText("old");
    if (!discard.equals("old") && !discard.equals("new")) {
      throw new HoldfastException.BadRequest("bad_request", "discard must be old or new, got '" + discard + "'");
    }
    StreamLimits d = StreamLimits.DEFAULT;
    String retentionName = n.path("retention").asText(d.retention().wireName);
    io.holdfast.stream.Retention retention = io.holdfast.stream.Retention.ofName(retentionName);
    if (retention == null) {
      throw new HoldfastException.BadRequest("bad_request", io.holdfast.stream.Retention.unknown(retentionName));
    }
    StreamLimits limits = d.withMaxMsgs(number(n, "max_msgs", d.maxMsgs()))
        .withMaxBytes(number(n, "max_bytes", d.maxBytes()))
        .withMaxAgeMillis(duration(n, "max_age", d.maxAgeMillis()))
        .withMaxMsgsPerSubject(number(n, "max_msgs_per_subject", d.maxMsgsPerSubject()))
        .withMaxMsgSize(number(n, "max_msg_size", d.maxMsgSize()))
        .withDiscardNew(discard.equals("new"))
        .withDiscardNewPerSubject(flag(n, "discard_new_per_subject"))
        .withDuplicateWindowMillis(duration(n, "duplicate_window", d.duplicateWindowMillis()))
        .withRetention(retention)
        .withSealed(flag(n, "sealed"))
        .withDenyDelete(flag(n, "deny_delete"))
        .withDenyPurge(flag(n, "deny_purge"))
        .withAllowRollup(flag(n, "allow_rollup"))
        .withMaxConsumers(number(n, "max_consumers", d.maxConsumers()));
    return new StreamConfig(name, subjects, (int) number(n, "replicas", 1), limits);
  }

  /** A request body that must be a JSON object, or a {@code bad_json} error saying why not. */
  static JsonNode jsonObject(String body) {
    JsonNode n;
    try {
      n = JSON.readTree(body);
    } catch (Exception e) {
      throw new HoldfastException.BadRequest("bad_json", "the body is not JSON: " + e.getMessage());
    }
    if (n == null || !n.isObject()) {
      throw new HoldfastException.BadRequest("bad_json", "the body must be a JSON object");
    }
    return n;
  }

  private static long number(JsonNode n, String field, long fallback) {
    JsonNode v = n.path(field);
    if (v.isMissingNode() || v.isNull()) {
      return fallback;
    }
    if (!v.canConvertToLong()) {
      throw new HoldfastException.BadRequest("bad_request", field + " must be an integer, got " + v);
    }
    return v.asLong();
  }

  private static boolean flag(JsonNode n, String field) {
    JsonNode v = n.path(field);
    if (!v.isMissingNode() && !v.isBoolean()) {
      throw new HoldfastException.BadRequest("bad_request", field + " must be true or false, got " + v);
    }
    return v.asBoolean(false);
  }

  private static long duration(JsonNode n, String field, long fallback) {
    JsonNode v = n.path(field);
    return v.isMissingNode() || v.isNull() ? fallback : Durations.fromJson(v, field, "bad_request");
  }

  static ObjectNode config(StreamConfig c) {
    StreamLimits l = c.limits();
    ObjectNode o = JSON.createObjectNode().put("name", c.name());
    c.subjects().forEach(o.putArray("subjects")::add);
    return o.put("replicas", c.replicas()).put("retention", l.retention().wireName).put("max_msgs", l.maxMsgs())
        .put("max_bytes", l.maxBytes()).put("max_age", Durations.format(l.maxAgeMillis()))
        .put("max_consumers", l.maxConsumers())
        .put("max_msgs_per_subject", l.maxMsgsPerSubject()).put("max_msg_size", l.maxMsgSize())
        .put("discard", l.discardNew() ? "new" : "old").put("discard_new_per_subject", l.discardNewPerSubject())
        .put("duplicate_window", Durations.format(l.duplicateWindowMillis())).put("sealed", l.sealed())
        .put("deny_delete", l.denyDelete()).put("deny_purge", l.denyPurge()).put("allow_rollup", l.allowRollup());
  }

  static ObjectNode info(StreamInfo i) {
    ObjectNode o = JSON.createObjectNode();
    o.set("config", config(i.config()));
    if (i.state() != null) {
      var st = i.state();
      o.putObject("state").put("messages", st.messages()).put("bytes", st.bytes())
          .put("first_seq", st.firstSeq()).put("last_seq", st.lastSeq())
          .put("first_ts", st.firstTimestampMillis() == 0 ? null : time(st.firstTimestampMillis()))
          .put("last_ts", st.lastTimestampMillis() == 0 ? null : time(st.lastTimestampMillis()))
          .put("num_subjects", st.subjects()).put("num_deleted", st.deleted());
    } else {
      o.putNull("state");
    }
    ObjectNode c = o.putObject("cluster").put("group", i.cluster().group()).put("leader", i.cluster().leader());
    ArrayNode replicas = c.putArray("replicas");
    i.cluster().replicas().forEach(replicas::add);
    return o;
  }

  /** data as UTF-8 text when it is valid UTF-8, else base64 — "encoding" says which. */
  static ObjectNode message(StreamMessage m) {
    ObjectNode o = JSON.createObjectNode().put("stream", m.stream()).put("seq", m.seq()).put("subject", m.subject())
        .put("time", time(m.timestampMillis()));
    if (!m.headers().isEmpty()) {
      o.set("headers", JSON.valueToTree(m.headers()));
    }
    String text = utf8(m.payload());
    return text != null ? o.put("data", text).put("encoding", "utf-8")
        : o.put("data", Base64.getEncoder().encodeToString(m.payload())).put("encoding", "base64");
  }

  private static String time(long millis) {
    return java.time.Instant.ofEpochMilli(millis).toString();
  }

  private static String utf8(byte[] bytes) {
    try {
      return StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
          .onUnmappableCharacter(CodingErrorAction.REPORT).decode(ByteBuffer.wrap(bytes)).toString();
    } catch (CharacterCodingException e) {
      return null;
    }
  }
}
