package io.holdfast.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.PrintStream;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.Set;

/**
 * The command-line client over a node's HTTP API: {@code stream add|info|ls|rm}, {@code pub},
 * {@code get}. The server is {@code --server URL}, else {@code $HOLDFAST_SERVER}, else the first
 * running node of the local cluster in {@code --dir} (default ./run). Errors print one line
 * (a JSON error object with {@code --json}) and exit 1.
 */
final class ClientCommands {
  private static final ObjectMapper JSON = new ObjectMapper();

  private ClientCommands() {}

  /** Thrown when the server answers an error; carries its JSON body. */
  static final class ServerError extends Exception {
    private static final long serialVersionUID = 1L;
    final transient JsonNode body;
    final int status;

    ServerError(int status, JsonNode body) {
      super(body.path("error").path("message").asText("HTTP " + status));
      this.status = status;
      this.body = body;
    }

    String code() {
      return body.path("error").path("code").asText("http_" + status);
    }
  }

  static final class Client {
    final String server;
    final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(3)).build();

    Client(String server) {
      this.server = server.endsWith("/") ? server.substring(0, server.length() - 1) : server;
    }

    JsonNode call(String method, String path, byte[] body) throws IOException, InterruptedException, ServerError {
      return call(method, path, body, java.util.Map.of());
    }

    JsonNode call(String method, String path, byte[] body, java.util.Map<String, String> headers)
        throws IOException, InterruptedException, ServerError {
      HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(server + path)).timeout(Duration.ofSeconds(30));
      headers.forEach(b::header);
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
  }

  static String server(Args a) throws IOException {
    String s = a.string("server", System.getenv("HOLDFAST_SERVER"));
    if (s != null && !s.isBlank()) {
      return s;
    }
    Path dir = Path.of(a.string("dir", "run")).toAbsolutePath().normalize();
    if (!Files.exists(dir.resolve("cluster.json"))) {
      throw new Args.UsageException("no server: give --server URL, set HOLDFAST_SERVER, or start a cluster with "
          + "'holdfast cluster start' (looked in " + dir + ")");
    }
    LocalCluster c = LocalCluster.open(dir);
    return c.nodes.stream().filter(n -> c.pid(n.id()).isPresent()).findFirst().orElse(c.nodes.get(0)).http();
  }

  static String encode(String s) {
    return URLEncoder.encode(s, StandardCharsets.UTF_8).replace("+", "%20");
  }

  static int stream(String[] argv, PrintStream out, PrintStream err) throws Exception {
    if (argv.length < 2) {
      throw new Args.UsageException("stream needs an action: add, info, ls or rm");
    }
    Args a = Args.parse(argv, 2, Set.of("server", "dir", "subjects", "replicas", "max-msgs", "max-bytes", "max-age",
        "max-msgs-per-subject", "max-msg-size", "max-consumers", "discard", "duplicate-window", "retention", "subject", "seq", "keep"),
        Set.of("json", "discard-new-per-subject", "sealed", "deny-delete", "deny-purge", "allow-rollup",
        "erase"));
    Client c = new Client(server(a));
    boolean json = a.flag("json");
    try {
      switch (argv[1]) {
        case "add" -> {
          String name = one(a, "stream add NAME");
          ObjectNode body = JSON.createObjectNode().put("name", name);
          body.putArray("subjects");
          applyConfigFlags(a, body, name);
          JsonNode info = c.call("POST", "/streams", body.toString().getBytes(StandardCharsets.UTF_8));
          out.println(json ? info.toString() : "created " + describe(info));
        }
        case "update" -> {
          String name = one(a, "stream update NAME [options]");
          ObjectNode body = (ObjectNode) c.call("GET", "/streams/" + encode(name), null).get("config");
          applyConfigFlags(a, body, name);
          JsonNode info = c.call("PUT", "/streams/" + encode(name), body.toString().getBytes(StandardCharsets.UTF_8));
          out.println(json ? info.toString() : "updated " + describe(info));
        }
        case "purge" -> {
          String name = one(a, "stream purge NAME [--subject S] [--seq N] [--keep N]");
          ObjectNode body = JSON.createObjectNode();
          if (a.string("subject", null) != null) {
            body.put("subject", a.string("subject", null));
          }
          body.put("seq", a.longValue("seq", 0, 0, Long.MAX_VALUE)).put("keep", a.longValue("keep", 0, 0, Long.MAX_VALUE));
          JsonNode r = c.call("POST", "/streams/" + encode(name) + "/purge", body.toString().getBytes(StandardCharsets.UTF_8));
          out.println(json ? r.toString() : "purged " + r.path("purged").asLong() + " messages from " + name);
        }
        case "rm-msg" -> {
          if (a.positional().size() != 2) {
            throw new Args.UsageException("usage: stream rm-msg NAME SEQ [--erase]");
          }
          long seq = parseSeq(a.positional().get(1));
          boolean erase = a.flag("erase");
          JsonNode r = c.call("DELETE", "/streams/" + encode(a.positional().get(0)) + "/messages/" + seq
              + (erase ? "?erase=true" : ""), null);
          out.println(json ? r.toString() : (erase ? "deleted and erased message " : "deleted message ") + seq + " of "
              + a.positional().get(0));
        }
        case "info" -> {
          JsonNode info = c.call("GET", "/streams/" + encode(one(a, "stream info NAME")), null);
          out.println(json ? info.toString() : describe(info));
        }
        case "ls" -> {
          String filter = a.string("subject", null);
          JsonNode list = c.call("GET", "/streams" + (filter == null ? "" : "?subject=" + encode(filter)), null);
          if (json) {
            out.println(list);
          } else if (list.path("streams").isEmpty()) {
            out.println("no streams");
          } else {
            list.path("streams").forEach(i -> out.println(describe(i)));
          }
        }
        case "rm" -> {
          String name = one(a, "stream rm NAME");
          JsonNode r = c.call("DELETE", "/streams/" + encode(name), null);
          out.println(json ? r.toString() : "deleted stream " + name);
        }
        default -> throw new Args.UsageException("unknown stream action '" + argv[1]
            + "' (expected: add, update, info, ls, rm, purge, rm-msg)");
      }
      return 0;
    } catch (ServerError e) {
      return fail(e, json, out, err);
    }
  }

  /** Stream options as flags: the JSON field names with '-' for '_'; only the given ones change {@code body}. */
  private static void applyConfigFlags(Args a, ObjectNode body, String name) {
    if (a.string("subjects", null) != null || body.path("subjects").isEmpty()) {
      var subjects = body.putArray("subjects");
      Arrays.stream(a.string("subjects", name + ".>").split(",")).map(String::trim).filter(x -> !x.isEmpty())
          .forEach(subjects::add);
    }
    if (a.string("replicas", null) != null || !body.has("replicas")) {
      body.put("replicas", (int) a.longValue("replicas", 1, 1, 5));
    }
    for (String f : new String[] {"max-msgs", "max-bytes", "max-msgs-per-subject", "max-msg-size", "max-consumers"}) {
      if (a.string(f, null) != null) {
        body.put(f.replace('-', '_'), a.longValue(f, -1, -1, Long.MAX_VALUE));
      }
    }
    for (String f : new String[] {"max-age", "duplicate-window", "discard", "retention"}) {
      if (a.string(f, null) != null) {
        body.put(f.replace('-', '_'), a.string(f, null));
      }
    }
    for (String f : new String[] {"discard-new-per-subject", "sealed", "deny-delete", "deny-purge", "allow-rollup"}) {
      if (a.flag(f)) {
        body.put(f.replace('-', '_'), true);
      }
    }
  }

  private static long parseSeq(String s) {
    try {
      return Long.parseLong(s);
    } catch (NumberFormatException e) {
      throw new Args.UsageException("SEQ must be a number, got '" + s + "'");
    }
  }

  static int pub(String[] argv, PrintStream out, PrintStream err) throws Exception {
    Args a = Args.parse(argv, 1, Set.of("server", "dir", "count", "msg-id", "expected-stream", "expected-last-seq",
        "expected-last-subject-seq", "expected-last-msg-id", "rollup"), Set.of("json"));
    if (a.positional().size() != 2) {
      throw new Args.UsageException("pub needs SUBJECT DATA ({n} in DATA becomes the message number with --count)");
    }
    Client c = new Client(server(a));
    String subject = a.positional().get(0);
    long count = a.longValue("count", 1, 1, 100_000_000);
    try {
      for (long i = 1; i <= count; i++) {
        String data = a.positional().get(1).replace("{n}", Long.toString(i));
        java.util.Map<String, String> headers = new java.util.TreeMap<>();
        for (String option : new String[] {"msg-id", "expected-stream", "expected-last-seq", "expected-last-subject-seq",
            "expected-last-msg-id", "rollup"}) {
          String v = a.string(option, null);
          if (v != null) {
            String header = "Holdfast-" + Arrays.stream(option.split("-"))
                .map(w -> Character.toUpperCase(w.charAt(0)) + w.substring(1)).reduce((x, y) -> x + "-" + y).orElseThrow();
            headers.put(header, v.replace("{n}", Long.toString(i)));
          }
        }
        JsonNode ack = c.call("POST", "/pub/" + encode(subject), data.getBytes(StandardCharsets.UTF_8), headers);
        out.println(ack);
      }
      return 0;
    } catch (ServerError e) {
      return fail(e, a.flag("json"), out, err);
    }
  }

  static int get(String[] argv, PrintStream out, PrintStream err) throws Exception {
    Args a = Args.parse(argv, 1, Set.of("server", "dir", "last-for"), Set.of("json"));
    String lastFor = a.string("last-for", null);
    if (a.positional().size() != (lastFor == null ? 2 : 1)) {
      throw new Args.UsageException("get needs STREAM SEQ, or STREAM --last-for SUBJECT");
    }
    String path = "/streams/" + encode(a.positional().get(0)) + (lastFor == null
        ? "/messages/" + parseSeq(a.positional().get(1)) : "/last/" + encode(lastFor));
    Client c = new Client(server(a));
    try {
      JsonNode m = c.call("GET", path, null);
      if (a.flag("json")) {
        out.println(m);
      } else {
        out.println(m.get("stream").asText() + " #" + m.get("seq").asLong() + "  " + m.get("subject").asText() + "  "
            + m.get("time").asText() + (m.get("encoding").asText().equals("base64") ? "  (base64)" : ""));
        out.println(m.get("data").asText());
      }
      return 0;
    } catch (ServerError e) {
      return fail(e, a.flag("json"), out, err);
    }
  }

  private static String one(Args a, String usage) {
    if (a.positional().size() != 1) {
      throw new Args.UsageException("usage: " + usage);
    }
    return a.positional().get(0);
  }

  private static String describe(JsonNode info) {
    JsonNode cfg = info.path("config");
    JsonNode st = info.path("state");
    JsonNode cl = info.path("cluster");
    String state = st.isNull() || st.isMissingNode() ? "state unavailable"
        : st.get("messages").asLong() + " messages, " + st.get("bytes").asLong() + " bytes, seq "
            + st.get("first_seq").asLong() + ".." + st.get("last_seq").asLong();
    return "stream " + cfg.path("name").asText() + "  subjects " + cfg.path("subjects") + "  replicas "
        + cfg.path("replicas").asInt() + " on nodes " + cl.path("replicas") + ", leader "
        + (cl.path("leader").asInt() == 0 ? "none" : "node " + cl.path("leader").asInt()) + "  " + state;
  }

  static int fail(ServerError e, boolean json, PrintStream out, PrintStream err) {
    if (json) {
      out.println(e.body);
    }
    err.println("holdfast: " + e.code() + ": " + e.getMessage());
    return 1;
  }
}
