package io.holdfast.api;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.holdfast.api.Records.StreamConfig;
import io.holdfast.api.Records.StreamInfo;
import io.holdfast.api.Records.StreamMessage;
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
import org.apache.pekko.http.javadsl.Http;
import org.apache.pekko.http.javadsl.ServerBinding;
import org.apache.pekko.http.javadsl.model.ContentTypes;
import org.apache.pekko.http.javadsl.model.HttpEntities;
import org.apache.pekko.http.javadsl.model.HttpHeader;
import org.apache.pekko.http.javadsl.model.HttpResponse;
import org.apache.pekko.http.javadsl.model.StatusCodes;
import org.apache.pekko.http.javadsl.model.headers.RawHeader;
import org.apache.pekko.http.javadsl.server.AllDirectives;
import org.apache.pekko.http.javadsl.server.PathMatchers;
import org.apache.pekko.http.javadsl.server.RejectionHandler;
import org.apache.pekko.http.javadsl.server.Route;
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

  private HttpApi(Holdfast holdfast) {
    this.holdfast = holdfast;
  }

  public static CompletionStage<ServerBinding> start(ActorSystem<?> system, Holdfast holdfast, String host, int port) {
    return Http.get(system).newServerAt(host, port).bind(new HttpApi(holdfast).routes());
  }

  Route routes() {
    RejectionHandler jsonRejections = RejectionHandler.defaultHandler().mapRejectionResponse(response -> {
      String text = response.entity() instanceof org.apache.pekko.http.javadsl.model.HttpEntity.Strict s
          ? s.getData().utf8String() : response.status().reason();
      return response.withEntity(json(error("http_" + response.status().intValue(), text)));
    });
    return handleRejections(jsonRejections, () -> concat(
        path("health", () -> get(this::health)),
        path("cluster", () -> get(() -> answer(holdfast.clusterStatus(), s -> JSON.valueToTree(s)))),
        pathPrefix("streams", () -> concat(
            pathEnd(() -> concat(get(this::listStreams), post(this::createStream))),
            pathPrefix(PathMatchers.segment(), this::stream))),
        path(PathMatchers.segment("pub").slash(PathMatchers.segment()), subject -> post(() -> publish(subject)))));
  }

  private Route health() {
    return completeWithFuture(holdfast.clusterStatus().handle((s, e) -> {
      boolean ready = e == null && s.metaIndex() > 0 && s.metaLeader() > 0
          && (s.node() == 0 || "registered".equals(s.registration()));
      ObjectNode body = JSON.createObjectNode().put("status", ready ? "ok" : "starting")
          .put("node", holdfast.settings().nodeId());
      return respond(ready ? 200 : 503, body);
    }));
  }

  private Route listStreams() {
    return answer(holdfast.listStreams(), list -> {
      ArrayNode arr = JSON.createArrayNode();
      list.forEach(i -> arr.add(info(i)));
      return JSON.createObjectNode().set("streams", arr);
    });
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

  private Route stream(String name) {
    return concat(
        pathEnd(() -> concat(
            get(() -> answer(holdfast.streamInfo(name), HttpApi::info)),
            put(() -> entity(Unmarshaller.entityToString(), body -> {
              try {
                return answer(holdfast.updateStream(config(body, name)), HttpApi::info);
              } catch (HoldfastException e) {
                return complete(failure(e));
              }
            })),
            delete(() -> answer(holdfast.deleteStream(name), d -> JSON.createObjectNode().put("deleted", name))))),
        path(PathMatchers.segment("messages").slash(PathMatchers.longSegment()),
            seq -> get(() -> answer(holdfast.getMessage(name, seq), HttpApi::message))),
        path("local", () -> get(() -> parameterOptional("from", from -> parameterOptional("max",
            max -> localRead(name, from.orElse("1"), max.orElse("1000")))))));
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
      return answer(holdfast.publish(subject, headers, body.toArray()),
          ack -> JSON.createObjectNode().put("stream", ack.stream()).put("seq", ack.seq()));
    }));
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

  /** {"name","subjects":[...],"replicas"}; {@code name} from the path wins when given. */
  private static StreamConfig config(String body, String pathName) {
    JsonNode n;
    try {
      n = JSON.readTree(body);
    } catch (Exception e) {
      throw new HoldfastException.BadRequest("bad_json", "the body is not JSON: " + e.getMessage());
    }
    if (n == null || !n.isObject()) {
      throw new HoldfastException.BadRequest("bad_json", "the body must be a JSON object");
    }
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
    JsonNode r = n.path("replicas");
    if (!r.isMissingNode() && !r.canConvertToInt()) {
      throw new HoldfastException.BadRequest("bad_request", "replicas must be an integer");
    }
    return new StreamConfig(name, subjects, r.isMissingNode() ? 1 : r.asInt());
  }

  static ObjectNode info(StreamInfo i) {
    ObjectNode o = JSON.createObjectNode();
    o.set("config", JSON.valueToTree(i.config()));
    if (i.state() != null) {
      o.putObject("state").put("messages", i.state().messages()).put("bytes", i.state().bytes())
          .put("first_seq", i.state().firstSeq()).put("last_seq", i.state().lastSeq());
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
        .put("time", java.time.Instant.ofEpochMilli(m.timestampMillis()).toString());
    if (!m.headers().isEmpty()) {
      o.set("headers", JSON.valueToTree(m.headers()));
    }
    String text = utf8(m.payload());
    return text != null ? o.put("data", text).put("encoding", "utf-8")
        : o.put("data", Base64.getEncoder().encodeToString(m.payload())).put("encoding", "base64");
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
