package io.holdfast.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.Set;

/**
 * {@code consumer add|info|ls|rm} and {@code sub}, over a node's HTTP API (like
 * {@link ClientCommands}). {@code sub} pulls in batches with a long poll and prints one line per
 * message; with {@code --json} exactly {@code {"stream","seq","consumer_seq","delivered","subject",
 * "data"}} (plus {@code "encoding":"base64"} when the payload is not UTF-8).
 */
final class ConsumerCommands {
  private static final ObjectMapper JSON = new ObjectMapper();

  private ConsumerCommands() {}

  static int consumer(String[] argv, PrintStream out, PrintStream err) throws Exception {
    if (argv.length < 2) {
      throw new Args.UsageException("consumer needs an action: add, info, ls or rm");
    }
    Args a = Args.parse(argv, 2, Set.of("server", "dir", "deliver", "ack", "ack-wait", "max-deliver", "filter",
        "max-ack-pending", "backoff", "replay", "inactive-threshold"), Set.of("json", "ephemeral"));
    ClientCommands.Client c = new ClientCommands.Client(ClientCommands.server(a));
    boolean json = a.flag("json");
    try {
      switch (argv[1]) {
        case "add" -> {
          if (a.positional().size() != 2) {
            throw new Args.UsageException("usage: consumer add STREAM NAME [--deliver all|last|new|last_per_subject|"
                + "seq:N|time:ISO] [--ack explicit|all|none] [--ack-wait 30s] [--max-deliver N] [--filter SUBJ]...");
          }
          JsonNode info = c.call("POST", "/streams/" + ClientCommands.encode(a.positional().get(0)) + "/consumers",
              config(a, a.positional().get(1)).toString().getBytes(StandardCharsets.UTF_8));
          out.println(json ? info.toString() : describe(info));
        }
        case "info" -> {
          if (a.positional().size() != 2) {
            throw new Args.UsageException("usage: consumer info STREAM NAME");
          }
          JsonNode info = c.call("GET", path(a.positional().get(0), a.positional().get(1)), null);
          out.println(json ? info.toString() : describe(info));
        }
        case "ls" -> {
          if (a.positional().size() != 1) {
            throw new Args.UsageException("usage: consumer ls STREAM");
          }
          JsonNode list = c.call("GET", "/streams/" + ClientCommands.encode(a.positional().get(0)) + "/consumers", null);
          if (json) {
            out.println(list);
          } else {
            list.path("consumers").forEach(i -> out.println(describe(i)));
          }
        }
        case "rm" -> {
          if (a.positional().size() != 2) {
            throw new Args.UsageException("usage: consumer rm STREAM NAME");
          }
          JsonNode r = c.call("DELETE", path(a.positional().get(0), a.positional().get(1)), null);
          out.println(json ? r.toString() : "deleted consumer " + a.positional().get(1));
        }
        default -> throw new Args.UsageException("unknown consumer action '" + argv[1]
            + "' (expected: add, info, ls, rm)");
      }
      return 0;
    } catch (ClientCommands.ServerError e) {
      return ClientCommands.fail(e, json, out, err);
    }
  }

  private static String path(String stream, String consumer) {
    return "/streams/" + ClientCommands.encode(stream) + "/consumers/" + ClientCommands.encode(consumer);
  }

  /** The JSON config the flags describe (the server checks it and names what is wrong). */
  static ObjectNode config(Args a, String name) {
    ObjectNode o = JSON.createObjectNode();
    if (name != null) {
      o.put("name", name);
    }
    if (a.flag("ephemeral")) {
      o.put("durable", false);
    }
    String deliver = a.string("deliver", "all");
    if (deliver.startsWith("seq:")) {
      o.put("deliver_policy", "by_start_sequence");
      try {
        o.put("opt_start_seq", Long.parseLong(deliver.substring(4)));
      } catch (NumberFormatException e) {
        throw new Args.UsageException("--deliver seq:N needs a number, got '" + deliver + "'");
      }
    } else if (deliver.startsWith("time:")) {
      o.put("deliver_policy", "by_start_time").put("opt_start_time", deliver.substring(5));
    } else {
      o.put("deliver_policy", deliver);
    }
    o.put("ack_policy", a.string("ack", "explicit"));
    putIf(o, "ack_wait", a.string("ack-wait", null));
    putIf(o, "replay_policy", a.string("replay", null));
    putIf(o, "inactive_threshold", a.string("inactive-threshold", null));
    if (a.string("max-deliver", null) != null) {
      o.put("max_deliver", a.longValue("max-deliver", -1, -1, Long.MAX_VALUE));
    }
    if (a.string("max-ack-pending", null) != null) {
      o.put("max_ack_pending", a.longValue("max-ack-pending", -1, -1, Long.MAX_VALUE));
    }
    a.strings("filter").forEach(o.withArray("filter_subjects")::add);
    for (String b : a.strings("backoff")) {
      for (String d : b.split(",")) {
        o.withArray("backoff").add(d.trim());
      }
    }
    return o;
  }

  private static void putIf(ObjectNode o, String field, String value) {
    if (value != null) {
      o.put(field, value);
    }
  }

  private static String describe(JsonNode i) {
    JsonNode cfg = i.path("config");
    return "consumer " + i.path("stream").asText() + "/" + i.path("name").asText() + "  deliver "
        + cfg.path("deliver_policy").asText() + "  ack " + cfg.path("ack_policy").asText() + " (wait "
        + cfg.path("ack_wait").asText() + ")  filters " + cfg.path("filter_subjects") + "  delivered "
        + i.path("delivered").path("stream_seq").asLong() + "  ack floor " + i.path("ack_floor").path("stream_seq").asLong()
        + "  unacked " + i.path("num_ack_pending").asLong() + "  pending " + i.path("num_pending").asLong();
  }

  static int sub(String[] argv, PrintStream out, PrintStream err) throws Exception {
    Args a = Args.parse(argv, 1, Set.of("server", "dir", "consumer", "count", "deliver", "filter"),
        Set.of("json", "ack"));
    if (a.positional().size() != 1) {
      throw new Args.UsageException("usage: sub STREAM [--consumer NAME] [--count N] [--ack] [--json]");
    }
    String stream = a.positional().get(0);
    long count = a.longValue("count", Long.MAX_VALUE, 1, Long.MAX_VALUE);
    boolean json = a.flag("json");
    ClientCommands.Client c = new ClientCommands.Client(ClientCommands.server(a));
    try {
      String consumer = a.string("consumer", null);
      if (consumer == null) {
        // No consumer named: an ephemeral one of its own, gone 30 s after this command stops pulling.
        ObjectNode cfg = config(a, null).put("durable", false).put("inactive_threshold", "30s");
        consumer = c.call("POST", "/streams/" + ClientCommands.encode(stream) + "/consumers",
            cfg.toString().getBytes(StandardCharsets.UTF_8)).path("name").asText();
      }
      String next = path(stream, consumer) + "/next";
      for (long seen = 0; seen < count; ) {
        int batch = (int) Math.min(100, count - seen);
        JsonNode r = c.call("POST", next + "?batch=" + batch + "&wait=5s", null);
        for (JsonNode m : r.path("messages")) {
          ObjectNode line = JSON.createObjectNode().put("stream", m.path("stream").asText()).put("seq", m.path("seq").asLong())
              .put("consumer_seq", m.path("consumer_seq").asLong()).put("delivered", m.path("delivered").asLong())
              .put("subject", m.path("subject").asText()).put("data", m.path("data").asText());
          if (m.path("encoding").asText().equals("base64")) {
            line.put("encoding", "base64");
          }
          out.println(json ? line.toString() : "[#" + line.get("seq").asLong() + "] " + line.get("subject").asText() + ": "
              + line.get("data").asText());
          if (a.flag("ack")) {
            c.call("POST", "/ack/" + m.path("ack_token").asText(), null);
          }
          seen++;
        }
        out.flush();
      }
      return 0;
    } catch (ClientCommands.ServerError e) {
      return ClientCommands.fail(e, json, out, err);
    }
  }
}
