package io.holdfast.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.holdfast.local.NodeClient;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * {@code consumer add|info|ls|rm} and {@code sub}, over a node's HTTP API (like
 * {@link ClientCommands}). {@code sub} pulls in batches with a long poll and prints one line per
 * message; with {@code --json} exactly {@code {"stream","seq","consumer_seq","delivered","subject",
 * "data"}} (plus {@code "encoding":"base64"} when the payload is not UTF-8).
 */
final class ConsumerCommands {
  private static final ObjectMapper JSON = new ObjectMapper();

  private ConsumerCommands() {}

  @Command(name = "consumer", description = "Create, inspect and delete consumers.",
      subcommands = {Add.class, Info.class, Ls.class, Rm.class})
  static final class Consumer extends CliCommand {
    @Override
    public Integer call() {
      throw new UsageException("consumer needs an action: add, info, ls or rm");
    }
  }

  /** A client command on one stream's consumers, the stream named first. */
  abstract static class OnStream extends ClientCommands.ClientCommand {
    @Parameters(index = "0", paramLabel = "STREAM", description = "The stream.")
    String stream;
  }

  /** A client command on one consumer: STREAM NAME. */
  abstract static class OnConsumer extends OnStream {
    @Parameters(index = "1", paramLabel = "NAME", description = "The consumer's name.")
    String name;
  }

  /** Where a consumer starts and what it selects: {@code consumer add} and {@code sub} both take them. */
  static final class DeliveryOptions {
    @Option(names = "--deliver", paramLabel = "all|last|new|last_per_subject|seq:N|time:ISO",
        description = "Where delivery starts (default ${DEFAULT-VALUE}).")
    String deliver = "all";
    @Option(names = "--filter", paramLabel = "SUBJ", description = "Only these subjects (repeatable).")
    List<String> filters = new ArrayList<>();

    /** The JSON config these describe (the server checks it and names what is wrong). */
    ObjectNode config(String name) {
      ObjectNode o = JSON.createObjectNode();
      if (name != null) {
        o.put("name", name);
      }
      if (deliver.startsWith("seq:")) {
        o.put("deliver_policy", "by_start_sequence");
        try {
          o.put("opt_start_seq", Long.parseLong(deliver.substring(4)));
        } catch (NumberFormatException e) {
          throw new UsageException("--deliver seq:N needs a number, got '" + deliver + "'");
        }
      } else if (deliver.startsWith("time:")) {
        o.put("deliver_policy", "by_start_time").put("opt_start_time", deliver.substring(5));
      } else {
        o.put("deliver_policy", deliver);
      }
      filters.forEach(o.withArray("filter_subjects")::add);
      return o;
    }
  }

  @Command(name = "add", sortOptions = false, description = "Create a consumer (durable unless --ephemeral).")
  static final class Add extends OnConsumer {
    @Mixin
    DeliveryOptions delivery;
    @Option(names = "--ack", paramLabel = "explicit|all|none", description = "Ack policy (default ${DEFAULT-VALUE}).")
    String ack = "explicit";
    @Option(names = "--ack-wait", paramLabel = "DURATION", description = "Redeliver what is not acked within this, e.g. 30s.")
    String ackWait;
    @Option(names = "--max-deliver", paramLabel = "N", description = "Deliveries of one message at most (-1: no limit).")
    Long maxDeliver;
    @Option(names = "--max-ack-pending", paramLabel = "N", description = "Unacked messages at most (-1: no limit).")
    Long maxAckPending;
    @Option(names = "--backoff", paramLabel = "DURATION", split = ",",
        description = "Redelivery delays, in turn, comma-separated or repeated: 1s,5s.")
    List<String> backoff = new ArrayList<>();
    @Option(names = "--replay", paramLabel = "instant|original", description = "Replay policy.")
    String replay;
    @Option(names = "--ephemeral", description = "Not durable: gone after --inactive-threshold without pulls.")
    boolean ephemeral;
    @Option(names = "--inactive-threshold", paramLabel = "DURATION", description = "With --ephemeral, e.g. 5s.")
    String inactiveThreshold;

    @Override
    int call(NodeClient c) throws Exception {
      ObjectNode o = delivery.config(name);
      if (ephemeral) {
        o.put("durable", false);
      }
      o.put("ack_policy", ack);
      putIf(o, "ack_wait", ackWait);
      putIf(o, "replay_policy", replay);
      putIf(o, "inactive_threshold", inactiveThreshold);
      if (maxDeliver != null) {
        o.put("max_deliver", between("--max-deliver", maxDeliver, -1, Long.MAX_VALUE));
      }
      if (maxAckPending != null) {
        o.put("max_ack_pending", between("--max-ack-pending", maxAckPending, -1, Long.MAX_VALUE));
      }
      backoff.stream().map(String::trim).forEach(o.withArray("backoff")::add);
      JsonNode info = c.call("POST", "/streams/" + ClientCommands.encode(stream) + "/consumers",
          o.toString().getBytes(StandardCharsets.UTF_8));
      print(info, describe(info));
      return 0;
    }
  }

  @Command(name = "info", description = "A consumer's configuration and progress.")
  static final class Info extends OnConsumer {

    @Override
    int call(NodeClient c) throws Exception {
      JsonNode info = c.call("GET", path(stream, name), null);
      print(info, describe(info));
      return 0;
    }
  }

  @Command(name = "ls", description = "A stream's consumers.")
  static final class Ls extends OnStream {

    @Override
    int call(NodeClient c) throws Exception {
      JsonNode list = c.call("GET", "/streams/" + ClientCommands.encode(stream) + "/consumers", null);
      if (json) {
        out().println(list);
      } else {
        list.path("consumers").forEach(i -> out().println(describe(i)));
      }
      return 0;
    }
  }

  @Command(name = "rm", description = "Delete a consumer.")
  static final class Rm extends OnConsumer {

    @Override
    int call(NodeClient c) throws Exception {
      JsonNode r = c.call("DELETE", path(stream, name), null);
      print(r, "deleted consumer " + name);
      return 0;
    }
  }

  @Command(name = "sub", sortOptions = false, description = {"Pull and print messages, one line each.",
      "--json prints {\"stream\",\"seq\",\"consumer_seq\",\"delivered\",\"subject\",\"data\"}. Without --consumer,",
      "an ephemeral consumer of its own (--deliver and --filter as for consumer add)."})
  static final class Sub extends OnStream {
    @Option(names = "--consumer", paramLabel = "NAME", description = "Pull from this consumer.")
    String consumer;
    @Option(names = "--count", paramLabel = "N", description = "Stop after N messages (default: never).")
    long count = Long.MAX_VALUE;
    @Option(names = "--ack", description = "Ack each message after printing it.")
    boolean ack;
    @Mixin
    DeliveryOptions delivery;

    @Override
    int call(NodeClient c) throws Exception {
      between("--count", count, 1, Long.MAX_VALUE);
      String from = consumer;
      if (from == null) {
        // No consumer named: an ephemeral one of its own, gone 30 s after this command stops pulling.
        ObjectNode cfg = delivery.config(null).put("ack_policy", "explicit").put("durable", false)
            .put("inactive_threshold", "30s");
        from = c.call("POST", "/streams/" + ClientCommands.encode(stream) + "/consumers",
            cfg.toString().getBytes(StandardCharsets.UTF_8)).path("name").asText();
      }
      String next = path(stream, from) + "/next";
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
          print(line, "[#" + line.get("seq").asLong() + "] " + line.get("subject").asText() + ": "
              + line.get("data").asText());
          if (ack) {
            c.call("POST", "/ack/" + m.path("ack_token").asText(), null);
          }
          seen++;
        }
        out().flush();
      }
      return 0;
    }
  }

  private static String path(String stream, String consumer) {
    return "/streams/" + ClientCommands.encode(stream) + "/consumers/" + ClientCommands.encode(consumer);
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
}
