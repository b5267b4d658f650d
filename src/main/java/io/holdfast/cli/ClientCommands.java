package io.holdfast.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.holdfast.local.LocalCluster;
import io.holdfast.local.NodeClient;
import java.io.IOException;
import java.io.PrintStream;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * The command-line client over a node's HTTP API: {@code stream add|info|ls|rm}, {@code pub},
 * {@code get}. The server is {@code --server URL}, else {@code $HOLDFAST_SERVER}, else the first
 * running node of the local cluster in {@code --dir} (default ./run). Errors print one line
 * (a JSON error object with {@code --json}) and exit 1.
 */
final class ClientCommands {
  private static final ObjectMapper JSON = new ObjectMapper();

  private ClientCommands() {}

  /**
   * The options every client command takes, and what it does with them: finds its server, and
   * turns a server's error answer into one line (the JSON body with {@code --json}) and exit 1.
   */
  abstract static class ClientCommand extends CliCommand {
    @Option(names = "--server", paramLabel = "URL", description = "A node's HTTP address (default: $HOLDFAST_SERVER, "
        + "else the first running node of --dir).")
    String server;
    @Option(names = "--dir", paramLabel = "DIR", description = "A local cluster's directory (default ${DEFAULT-VALUE}).")
    Path dir = Path.of("run");
    @Option(names = "--json", description = "Print the server's JSON answers.")
    boolean json;
    @Option(names = "--ca", paramLabel = "FILE", description = "The CA certificate (PEM) that signed an HTTPS --server's "
        + "certificate (default: $HOLDFAST_CA, else the JDK's CAs; a --dir cluster's own CA is found by itself).")
    Path ca;
    @Option(names = "--user", paramLabel = "NAME", description = "Authenticate as this user (default: $HOLDFAST_USER), "
        + "with --password or $HOLDFAST_PASSWORD.")
    String user;
    @Option(names = "--password", paramLabel = "SECRET", description = "The user's password (default: "
        + "$HOLDFAST_PASSWORD; the variable keeps it out of the process list).")
    String password;
    @Option(names = "--token", paramLabel = "SECRET", description = "Authenticate with this token instead "
        + "(default: $HOLDFAST_TOKEN).")
    String token;

    @Override
    public final Integer call() throws Exception {
      NodeClient c = credentials(client());
      try {
        return call(c);
      } catch (NodeClient.ServerError e) {
        return fail(e, json, out(), err());
      }
    }

    abstract int call(NodeClient c) throws Exception;

    /** The client with the credentials of the options, else of the environment, else none. */
    NodeClient credentials(NodeClient c) {
      String u = user != null ? user : System.getenv("HOLDFAST_USER");
      String p = password != null ? password : System.getenv("HOLDFAST_PASSWORD");
      String t = token != null ? token : System.getenv("HOLDFAST_TOKEN");
      if (u != null && !u.isEmpty()) {
        if (p == null) {
          throw new UsageException("--user " + u + " needs --password or $HOLDFAST_PASSWORD");
        }
        return c.asUser(u, p);
      }
      return t != null && !t.isEmpty() ? c.withToken(t) : c;
    }

    /** The server's answer with --json, else {@code human}. */
    void print(JsonNode answer, String human) {
      out().println(json ? answer.toString() : human);
    }

    /** The client of the node given, or of the first running node of --dir's cluster (trusting its CA). */
    NodeClient client() throws IOException {
      String s = server != null ? server : System.getenv("HOLDFAST_SERVER");
      if (s != null && !s.isBlank()) {
        String caFile = ca != null ? ca.toString() : System.getenv("HOLDFAST_CA");
        if (caFile == null || caFile.isBlank()) {
          return new NodeClient(s);
        }
        try {
          return new NodeClient(s, io.holdfast.security.Tls.clientContext(Path.of(caFile)));
        } catch (IllegalArgumentException e) {
          throw new UsageException("--ca: " + e.getMessage());
        }
      }
      Path d = dir.toAbsolutePath().normalize();
      if (!Files.exists(d.resolve("cluster.json"))) {
        throw new UsageException("no server: give --server URL, set HOLDFAST_SERVER, or start a cluster with "
            + "'holdfast cluster start' (looked in " + d + ")");
      }
      LocalCluster lc = LocalCluster.open(d);
      return lc.client(lc.nodes.stream().filter(n -> lc.pid(n.id()).isPresent()).findFirst().orElse(lc.nodes.get(0)));
    }
  }

  /** A client command on one stream, named first. */
  abstract static class OnStream extends ClientCommand {
    @Parameters(index = "0", paramLabel = "NAME", description = "The stream's name.")
    String name;
  }

  static String encode(String s) {
    return URLEncoder.encode(s, StandardCharsets.UTF_8).replace("+", "%20");
  }

  @Command(name = "stream", description = "Create, change, inspect and delete streams.",
      subcommands = {StreamAdd.class, StreamUpdate.class, StreamInfo.class, StreamLs.class, StreamRm.class,
          StreamPurge.class, StreamRmMsg.class})
  static final class Stream extends CliCommand {
    @Override
    public Integer call() {
      throw new UsageException("stream needs an action: add, update, info, ls, rm, purge or rm-msg");
    }
  }

  /** Stream options as flags: the JSON field names with '-' for '_'; only the given ones change a config. */
  static final class StreamConfigOptions {
    @Option(names = "--subjects", paramLabel = "LIST",
        description = "Subjects the stream takes, comma-separated: 'a.>,b.*' (default NAME.>).")
    String subjects;
    @Option(names = "--replicas", paramLabel = "1|3|5", description = "Replicas (default 1).")
    Integer replicas;
    @Option(names = "--max-msgs", paramLabel = "N", description = "Most messages kept (-1: no limit).")
    Long maxMsgs;
    @Option(names = "--max-bytes", paramLabel = "N", description = "Most bytes kept (-1: no limit).")
    Long maxBytes;
    @Option(names = "--max-age", paramLabel = "DURATION", description = "Oldest message kept, e.g. 1h.")
    String maxAge;
    @Option(names = "--max-msgs-per-subject", paramLabel = "N", description = "Most messages kept per subject.")
    Long maxMsgsPerSubject;
    @Option(names = "--max-msg-size", paramLabel = "N", description = "Largest message accepted, in bytes.")
    Long maxMsgSize;
    @Option(names = "--max-consumers", paramLabel = "N", description = "Most consumers.")
    Long maxConsumers;
    @Option(names = "--discard", paramLabel = "old|new", description = "At a limit, drop old messages or refuse new ones.")
    String discard;
    @Option(names = "--discard-new-per-subject", description = "Refuse new messages at the per-subject limit.")
    boolean discardNewPerSubject;
    @Option(names = "--duplicate-window", paramLabel = "DURATION", description = "How long message ids are remembered, e.g. 2m.")
    String duplicateWindow;
    @Option(names = "--retention", paramLabel = "limits|interest|workqueue", description = "Retention policy.")
    String retention;
    @Option(names = "--sealed", description = "No more writes or deletes.")
    boolean sealed;
    @Option(names = "--deny-delete", description = "Messages cannot be deleted.")
    boolean denyDelete;
    @Option(names = "--deny-purge", description = "The stream cannot be purged.")
    boolean denyPurge;
    @Option(names = "--allow-rollup", description = "Publishes may roll up a subject or the stream.")
    boolean allowRollup;

    void applyTo(ObjectNode body, String name) {
      if (subjects != null || body.path("subjects").isEmpty()) {
        var list = body.putArray("subjects");
        Arrays.stream((subjects != null ? subjects : name + ".>").split(",")).map(String::trim)
            .filter(x -> !x.isEmpty()).forEach(list::add);
      }
      if (replicas != null || !body.has("replicas")) {
        body.put("replicas", CliCommand.between("--replicas", replicas != null ? replicas : 1, 1, 5));
      }
      putLimit(body, "--max-msgs", maxMsgs);
      putLimit(body, "--max-bytes", maxBytes);
      putLimit(body, "--max-msgs-per-subject", maxMsgsPerSubject);
      putLimit(body, "--max-msg-size", maxMsgSize);
      putLimit(body, "--max-consumers", maxConsumers);
      putText(body, "--max-age", maxAge);
      putText(body, "--duplicate-window", duplicateWindow);
      putText(body, "--discard", discard);
      putText(body, "--retention", retention);
      putFlag(body, "--discard-new-per-subject", discardNewPerSubject);
      putFlag(body, "--sealed", sealed);
      putFlag(body, "--deny-delete", denyDelete);
      putFlag(body, "--deny-purge", denyPurge);
      putFlag(body, "--allow-rollup", allowRollup);
    }

    private static String field(String option) {
      return option.substring(2).replace('-', '_');
    }

    private static void putLimit(ObjectNode body, String option, Long value) {
      if (value != null) {
        body.put(field(option), CliCommand.between(option, value, -1, Long.MAX_VALUE));
      }
    }

    private static void putText(ObjectNode body, String option, String value) {
      if (value != null) {
        body.put(field(option), value);
      }
    }

    private static void putFlag(ObjectNode body, String option, boolean value) {
      if (value) {
        body.put(field(option), true);
      }
    }
  }

  @Command(name = "add", sortOptions = false, description = "Create a stream.")
  static final class StreamAdd extends OnStream {
    @Mixin
    StreamConfigOptions config;

    @Override
    int call(NodeClient c) throws Exception {
      ObjectNode body = JSON.createObjectNode().put("name", name);
      body.putArray("subjects");
      config.applyTo(body, name);
      JsonNode info = c.call("POST", "/streams", bytes(body));
      print(info, "created " + describe(info));
      return 0;
    }
  }

  @Command(name = "update", sortOptions = false, description = "Change a stream's configuration: only the options given.")
  static final class StreamUpdate extends OnStream {
    @Mixin
    StreamConfigOptions config;

    @Override
    int call(NodeClient c) throws Exception {
      ObjectNode body = (ObjectNode) c.call("GET", "/streams/" + encode(name), null).get("config");
      config.applyTo(body, name);
      JsonNode info = c.call("PUT", "/streams/" + encode(name), bytes(body));
      print(info, "updated " + describe(info));
      return 0;
    }
  }

  @Command(name = "info", description = "A stream's configuration, state and placement.")
  static final class StreamInfo extends OnStream {

    @Override
    int call(NodeClient c) throws Exception {
      JsonNode info = c.call("GET", "/streams/" + encode(name), null);
      print(info, describe(info));
      return 0;
    }
  }

  @Command(name = "ls", description = "Every stream, or those that take a subject.")
  static final class StreamLs extends ClientCommand {
    @Option(names = "--subject", paramLabel = "FILTER", description = "Only streams whose subjects overlap this one.")
    String filter;

    @Override
    int call(NodeClient c) throws Exception {
      JsonNode list = c.call("GET", "/streams" + (filter == null ? "" : "?subject=" + encode(filter)), null);
      if (json) {
        out().println(list);
      } else if (list.path("streams").isEmpty()) {
        out().println("no streams");
      } else {
        list.path("streams").forEach(i -> out().println(describe(i)));
      }
      return 0;
    }
  }

  @Command(name = "rm", description = "Delete a stream and its consumers.")
  static final class StreamRm extends OnStream {

    @Override
    int call(NodeClient c) throws Exception {
      JsonNode r = c.call("DELETE", "/streams/" + encode(name), null);
      print(r, "deleted stream " + name);
      return 0;
    }
  }

  @Command(name = "purge", sortOptions = false, description = "Delete messages: all, of a subject, below a sequence, or all but the last N.")
  static final class StreamPurge extends OnStream {
    @Option(names = "--subject", paramLabel = "S", description = "Only messages of this subject (wildcards allowed).")
    String subject;
    @Option(names = "--seq", paramLabel = "N", description = "Only messages below this sequence.")
    long seq;
    @Option(names = "--keep", paramLabel = "N", description = "Keep the last N.")
    long keep;

    @Override
    int call(NodeClient c) throws Exception {
      ObjectNode body = JSON.createObjectNode();
      if (subject != null) {
        body.put("subject", subject);
      }
      body.put("seq", between("--seq", seq, 0, Long.MAX_VALUE)).put("keep", between("--keep", keep, 0, Long.MAX_VALUE));
      JsonNode r = c.call("POST", "/streams/" + encode(name) + "/purge", bytes(body));
      print(r, "purged " + r.path("purged").asLong() + " messages from " + name);
      return 0;
    }
  }

  @Command(name = "rm-msg", description = "Delete one message (with --erase, overwrite its bytes too).")
  static final class StreamRmMsg extends OnStream {
    @Parameters(index = "1", paramLabel = "SEQ", description = "The message's sequence.")
    long seq;
    @Option(names = "--erase", description = "Overwrite the message's bytes on disk.")
    boolean erase;

    @Override
    int call(NodeClient c) throws Exception {
      JsonNode r = c.call("DELETE", "/streams/" + encode(name) + "/messages/" + seq + (erase ? "?erase=true" : ""), null);
      print(r, (erase ? "deleted and erased message " : "deleted message ") + seq + " of " + name);
      return 0;
    }
  }

  @Command(name = "pub", sortOptions = false, description = {"Publish; prints each ack {\"stream\":S,\"seq\":N,\"duplicate\":false}.",
      "{n} in DATA (and in header options) becomes the message number with --count."})
  static final class Pub extends ClientCommand {
    /** Options sent as headers: Holdfast-Msg-Id and so on. */
    private static final String[] HEADER_OPTIONS = {"--msg-id", "--expected-stream", "--expected-last-seq",
        "--expected-last-subject-seq", "--expected-last-msg-id", "--rollup"};

    @Parameters(index = "0", paramLabel = "SUBJECT", description = "The subject.")
    String subject;
    @Parameters(index = "1", paramLabel = "DATA", description = "The payload (UTF-8).")
    String data;
    @Option(names = "--count", paramLabel = "N", description = "Publish N messages (default ${DEFAULT-VALUE}).")
    long count = 1;
    @Option(names = "--msg-id", paramLabel = "ID", description = "Message id, for de-duplication.")
    String msgId;
    @Option(names = "--expected-stream", paramLabel = "S", description = "Refused unless the subject is in stream S.")
    String expectedStream;
    @Option(names = "--expected-last-seq", paramLabel = "N", description = "Refused unless the stream's last sequence is N.")
    String expectedLastSeq;
    @Option(names = "--expected-last-subject-seq", paramLabel = "N",
        description = "Refused unless the subject's last sequence is N.")
    String expectedLastSubjectSeq;
    @Option(names = "--expected-last-msg-id", paramLabel = "ID", description = "Refused unless the last message id is ID.")
    String expectedLastMsgId;
    @Option(names = "--rollup", paramLabel = "sub|all", description = "Replace the subject's (or stream's) messages.")
    String rollup;

    @Override
    int call(NodeClient c) throws Exception {
      between("--count", count, 1, 100_000_000);
      String[] values = {msgId, expectedStream, expectedLastSeq, expectedLastSubjectSeq, expectedLastMsgId, rollup};
      for (long i = 1; i <= count; i++) {
        String n = Long.toString(i);
        java.util.Map<String, String> headers = new java.util.TreeMap<>();
        for (int h = 0; h < HEADER_OPTIONS.length; h++) {
          if (values[h] != null) {
            headers.put(header(HEADER_OPTIONS[h]), values[h].replace("{n}", n));
          }
        }
        JsonNode ack = c.call("POST", "/pub/" + encode(subject), data.replace("{n}", n).getBytes(StandardCharsets.UTF_8),
            headers);
        out().println(ack);
      }
      return 0;
    }

    /** --msg-id: Holdfast-Msg-Id. */
    private static String header(String option) {
      return "Holdfast-" + Arrays.stream(option.substring(2).split("-"))
          .map(w -> Character.toUpperCase(w.charAt(0)) + w.substring(1)).reduce((x, y) -> x + "-" + y).orElseThrow();
    }
  }

  @Command(name = "get", description = {"One message, by sequence or the last of a subject.",
      "--json prints {\"stream\",\"seq\",\"subject\",\"data\",...}."})
  static final class Get extends ClientCommand {
    @Parameters(index = "0", paramLabel = "STREAM", description = "The stream.")
    String stream;
    @Parameters(index = "1", arity = "0..1", paramLabel = "SEQ", description = "The message's sequence.")
    Long seq;
    @Option(names = "--last-for", paramLabel = "SUBJECT", description = "The last message of this subject instead.")
    String lastFor;

    @Override
    int call(NodeClient c) throws Exception {
      if ((seq == null) == (lastFor == null)) {
        throw new UsageException("get needs STREAM SEQ, or STREAM --last-for SUBJECT");
      }
      String path = "/streams/" + encode(stream) + (lastFor == null ? "/messages/" + seq : "/last/" + encode(lastFor));
      JsonNode m = c.call("GET", path, null);
      if (json) {
        out().println(m);
      } else {
        out().println(m.get("stream").asText() + " #" + m.get("seq").asLong() + "  " + m.get("subject").asText() + "  "
            + m.get("time").asText() + (m.get("encoding").asText().equals("base64") ? "  (base64)" : ""));
        out().println(m.get("data").asText());
      }
      return 0;
    }
  }

  private static byte[] bytes(JsonNode body) {
    return body.toString().getBytes(StandardCharsets.UTF_8);
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

  static int fail(NodeClient.ServerError e, boolean json, PrintStream out, PrintStream err) {
    if (json) {
      out.println(e.body());
    }
    err.println("holdfast: " + e.code() + ": " + e.getMessage());
    return 1;
  }
}
