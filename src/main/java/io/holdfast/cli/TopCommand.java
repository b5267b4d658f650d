package io.holdfast.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.holdfast.api.Durations;
import io.holdfast.local.NodeClient;
import java.io.PrintStream;
import java.time.Instant;
import java.util.HashMap;
import java.util.Map;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * A live view of the cluster's streams for a person at a terminal: each stream's size, publish
 * rate, leader and replicas, redrawn every {@code --interval}. The rate is the change of the
 * stream's last sequence between two screens, so it counts stored messages, whichever node they
 * came through. Reads {@code GET /streams} only: it needs the rights to read the streams it shows.
 */
@Command(name = "top", sortOptions = false, description = {
    "A live view of the cluster's streams: messages, bytes, publishes per second, leader and replicas, redrawn "
        + "every --interval until interrupted (or --count screens).",
    "Not on a terminal (or with --json), screens follow one another instead of replacing each other."})
final class TopCommand extends ClientCommands.ClientCommand {
  private static final ObjectMapper JSON = new ObjectMapper();
  @Option(names = "--interval", paramLabel = "DURATION", description = "Time between screens (default ${DEFAULT-VALUE}).")
  String interval = "2s";
  @Option(names = "--count", paramLabel = "N", description = "Screens to draw, then stop (default: until interrupted).")
  long count;

  @Override
  int call(NodeClient c) throws Exception {
    long millis;
    try {
      millis = between("--interval", Durations.parseMillis(interval), 200, 60_000);
    } catch (IllegalArgumentException e) {
      throw new UsageException("--interval: " + e.getMessage());
    }
    between("--count", count, 0, Long.MAX_VALUE);
    boolean terminal = System.console() != null && !json;
    Map<String, Long> lastSeq = new HashMap<>();
    long lastNanos = 0;
    for (long screen = 0; count == 0 || screen < count; screen++) {
      if (screen > 0) {
        Thread.sleep(millis); // the refresh interval a person asked for, not a wait for a condition
      }
      JsonNode streams = c.call("GET", "/streams", null).path("streams");
      long now = System.nanoTime();
      double seconds = lastNanos == 0 ? 0 : (now - lastNanos) / 1e9;
      ObjectNode frame = JSON.createObjectNode().put("time", Instant.now().toString());
      ArrayNode rows = frame.putArray("streams");
      for (JsonNode s : streams) {
        String name = s.path("config").path("name").asText();
        long last = s.path("state").path("last_seq").asLong(-1);
        Long before = lastSeq.put(name, last);
        ObjectNode row = rows.addObject().put("name", name)
            .put("messages", s.path("state").path("messages").asLong(-1))
            .put("bytes", s.path("state").path("bytes").asLong(-1))
            .put("leader", s.path("cluster").path("leader").asInt())
            .set("replicas", s.path("cluster").path("replicas"));
        if (before != null && seconds > 0 && last >= 0 && before >= 0) {
          row.put("msgs_per_s", Math.round((last - before) / seconds));
        } else {
          row.putNull("msgs_per_s");
        }
      }
      lastNanos = now;
      if (json) {
        out().println(frame);
      } else {
        draw(frame, c.server(), terminal);
      }
      out().flush();
    }
    return 0;
  }

  private void draw(ObjectNode frame, String server, boolean terminal) {
    PrintStream out = out();
    if (terminal) {
      out.print("\033[H\033[2J"); // home, clear: the new screen replaces the last
    }
    out.printf("holdfast top  %s  %s  %d streams%n", server, frame.path("time").asText(), frame.path("streams").size());
    out.printf("%-24s %12s %12s %10s %7s  %s%n", "STREAM", "MESSAGES", "BYTES", "MSGS/S", "LEADER", "REPLICAS");
    for (JsonNode r : frame.path("streams")) {
      out.printf("%-24s %12s %12s %10s %7s  %s%n", r.path("name").asText(), known(r.path("messages").asLong()),
          known(r.path("bytes").asLong()), r.path("msgs_per_s").isNull() ? "-" : r.path("msgs_per_s").asText(),
          r.path("leader").asInt() == 0 ? "none" : r.path("leader").asText(), r.path("replicas"));
    }
    if (!terminal) {
      out.println();
    }
  }

  /** -1 (no leader answered in time) as "?". */
  private static String known(long value) {
    return value < 0 ? "?" : Long.toString(value);
  }
}
