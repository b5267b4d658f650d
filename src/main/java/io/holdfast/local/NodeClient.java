package io.holdfast.local;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * A client of one node's HTTP API, for the command line, the benchmarks and the fault campaign:
 * JSON in, JSON out; an error answer is a {@link ServerError} carrying the server's JSON body.
 */
public final class NodeClient {
  private static final ObjectMapper JSON = new ObjectMapper();

  /** Thrown when the server answers an error; carries its JSON body. */
  public static final class ServerError extends Exception {
    private static final long serialVersionUID = 1L;
    private final transient JsonNode body;
    private final int status;

    ServerError(int status, JsonNode body) {
      super(body.path("error").path("message").asText("HTTP " + status));
      this.status = status;
      this.body = body;
    }

    /** The server's error body, {@code {"error":{"code","message"}}}. */
    public JsonNode body() {
      return body;
    }

    public String code() {
      return body.path("error").path("code").asText("http_" + status);
    }
  }

  private final String server;
  private final HttpClient http;
  private final javax.net.ssl.SSLContext trust;
  /** The Authorization header's value for every call, or null (a node without users). */
  private final String authorization;

  public NodeClient(String server) {
    this(server, null, null);
  }

  /** A client of an HTTPS {@code server} whose certificate {@code trust} accepts (null: the JDK's CAs). */
  public NodeClient(String server, javax.net.ssl.SSLContext trust) {
    this(server, trust, null);
  }

  private NodeClient(String server, javax.net.ssl.SSLContext trust, String authorization) {
    this.server = server.endsWith("/") ? server.substring(0, server.length() - 1) : server;
    this.trust = trust;
    this.authorization = authorization;
    HttpClient.Builder b = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(3));
    this.http = (trust == null ? b : b.sslContext(trust)).build();
  }

  /** This client as {@code user} with {@code password} (HTTP basic auth). */
  public NodeClient asUser(String user, String password) {
    String pair = user + ":" + password;
    return new NodeClient(server, trust, "Basic " + java.util.Base64.getEncoder().encodeToString(
        pair.getBytes(java.nio.charset.StandardCharsets.UTF_8)));
  }

  /** This client with a bearer {@code token}. */
  public NodeClient withToken(String token) {
    return new NodeClient(server, trust, "Bearer " + token);
  }

  /** The node's base URL, without a trailing slash. */
  public String server() {
    return server;
  }

  public JsonNode call(String method, String path, byte[] body) throws IOException, InterruptedException, ServerError {
    return call(method, path, body, Map.of());
  }

  /** A call with a JSON body. */
  public JsonNode callJson(String method, String path, JsonNode body)
      throws IOException, InterruptedException, ServerError {
    return call(method, path, JSON.writeValueAsBytes(body), Map.of());
  }

  public JsonNode call(String method, String path, byte[] body, Map<String, String> headers)
      throws IOException, InterruptedException, ServerError {
    return call(method, path, body, headers, Duration.ofSeconds(30));
  }

  /** A call that may take up to {@code timeout} (a drain waits for every moved replica to catch up). */
  public JsonNode call(String method, String path, byte[] body, Map<String, String> headers, Duration timeout)
      throws IOException, InterruptedException, ServerError {
    HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(server + path)).timeout(timeout);
    headers.forEach(b::header);
    if (authorization != null) {
      b.header("Authorization", authorization);
    }
    b.method(method, body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofByteArray(body));
    HttpResponse<String> r = http.send(b.build(), HttpResponse.BodyHandlers.ofString());
    JsonNode j;
    try {
      j = JSON.readTree(r.body());
    } catch (IOException e) {
      j = JSON.createObjectNode().set("error", JSON.createObjectNode().put("code", "http_" + r.statusCode())
          .put("message", r.body()));
    }
    if (r.statusCode() >= 400) {
      throw new ServerError(r.statusCode(), j);
    }
    return j;
  }

  /** This node's own replica of {@code stream}, payloads by sequence from 1 (null for a hole). */
  public List<String> readReplica(String stream) throws IOException, InterruptedException, ServerError {
    List<String> values = new ArrayList<>();
    long from = 1;
    while (true) {
      JsonNode page = call("GET", "/streams/" + stream + "/local?from=" + from + "&max=5000", null).path("messages");
      if (page.isEmpty()) {
        return values;
      }
      for (JsonNode m : page) {
        long seq = m.get("seq").asLong();
        while (values.size() < seq - 1) {
          values.add(null); // a hole: never expected, counted as divergence by comparison
        }
        values.add(m.get("data").asText());
        from = seq + 1;
      }
    }
  }

  /** A stream's config as the HTTP API takes it: name, subjects (none: the server's default), replicas. */
  public static ObjectNode streamConfig(String name, int replicas, String... subjects) {
    ObjectNode o = JSON.createObjectNode().put("name", name);
    if (subjects.length > 0) {
      ArrayNode list = o.putArray("subjects");
      for (String s : subjects) {
        list.add(s);
      }
    }
    return o.put("replicas", replicas);
  }

  /** The {@code error.code} of an error answer's body, or "" if it is not one. */
  public static String errorCode(String body) {
    try {
      return JSON.readTree(body).path("error").path("code").asText("");
    } catch (IOException e) {
      return "";
    }
  }
}
