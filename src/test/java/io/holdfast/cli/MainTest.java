package io.holdfast.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.holdfast.sim.Mode;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * Goal: the {@code holdfast sim} command-line contract (names, JSON fields, exit codes) that other
 * tools rely on. Method: run {@link Main#run} in-process and read what it prints.
 */
class MainTest {
  private record Run(int exit, String out, String err) {
    JsonNode lastJson() throws Exception {
      String[] lines = out.strip().split("\n");
      return new ObjectMapper().readTree(lines[lines.length - 1]);
    }
  }

  private static Run run(String... args) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    ByteArrayOutputStream err = new ByteArrayOutputStream();
    int exit = Main.run(args, new PrintStream(out, true, StandardCharsets.UTF_8), new PrintStream(err, true, StandardCharsets.UTF_8));
    return new Run(exit, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
  }

  @Test
  void simJsonLastLineCarriesTheContractFields() throws Exception {
    Run r = run("sim", "--seeds", "4", "--start-seed", "11", "--json");
    assertEquals(0, r.exit(), r.out() + r.err());
    JsonNode j = r.lastJson();
    for (String field : new String[] {"seeds", "mode", "faults", "acked", "lost", "lost_middle", "divergent",
        "unexpected", "failed_seeds", "violations"}) {
      assertTrue(j.has(field), "missing field " + field + " in " + j);
    }
    assertEquals(4, j.get("seeds").asInt());
    assertEquals("safe", j.get("mode").asText());
    assertEquals("all", j.get("faults").asText());
    assertEquals(0, j.get("violations").asInt());
    assertTrue(j.get("acked").asLong() > 0);
    assertTrue(r.err().contains("sim: 4/4 seeds"), "progress goes to stderr");
  }

  @Test
  void failedSeedsAreListedWithAReplayCommandAndExitOne() throws Exception {
    Run r = run("sim", "--seeds", "6", "--mode", "ack-before-fsync", "--json");
    assertEquals(1, r.exit());
    JsonNode j = r.lastJson();
    assertTrue(j.get("violations").asLong() > 0);
    assertTrue(j.get("failed_seeds").size() > 0);
    long seed = j.get("failed_seeds").get(0).asLong();
    assertTrue(r.out().contains("replay: scripts/holdfast sim --seeds 1 --start-seed " + seed), r.out());
  }

  /**
   * Every mode of the enum is accepted by name, and exits as it must: 0 for the honest disk, 1 for
   * each negative control on seeds (and faults) where it loses acknowledged writes. The seeds are
   * ones the control is caught on today; a change to the simulation may move its bug to other
   * seeds — then pick new ones with {@code sim --seeds 300 --mode M}, never drop the assertion.
   */
  @Test
  void everyModeIsAcceptedAndExitsAsItMust() {
    Map<Mode, String[]> caughtOn = new EnumMap<>(Mode.class);
    caughtOn.put(Mode.SAFE, new String[] {"--seeds", "1"});
    caughtOn.put(Mode.ACK_BEFORE_FSYNC, new String[] {"--seeds", "3"});
    // Rare catches: each range holds two seeds that catch the bug (51 and 75; 48 and 49), so that a
    // change elsewhere that reshapes the histories seldom moves both away at once.
    // The faults "all" meant when these seeds were picked, before disk-low: the same histories.
    String before = "crash,powerloss,partition,pause,network,split-brain,membership,transfer,bitflip,wipe";
    caughtOn.put(Mode.VOTE_WITHOUT_PERSIST, new String[] {"--seeds", "25", "--start-seed", "51", "--faults", before});
    caughtOn.put(Mode.TRUNCATE_ON_CORRUPTION, new String[] {"--seeds", "2", "--start-seed", "48", "--faults", before});
    caughtOn.put(Mode.IGNORE_LOST_TAIL, new String[] {"--seeds", "2", "--start-seed", "2", "--faults", before});
    caughtOn.put(Mode.RECLAIM_WAL_BEFORE_STORE_SYNC,
        new String[] {"--seeds", "2", "--faults", "crash,powerloss,partition"});
    caughtOn.put(Mode.TRUNCATE_STORE_ON_CORRUPTION,
        new String[] {"--seeds", "1", "--start-seed", "8", "--faults", "bitflip,crash,partition"});
    for (Mode mode : Mode.values()) {
      String[] seeds = caughtOn.get(mode);
      assertNotNull(seeds, "no seeds given for mode " + mode.cliName);
      List<String> args = new ArrayList<>(List.of("sim", "--mode", mode.cliName));
      args.addAll(List.of(seeds));
      Run r = run(args.toArray(new String[0]));
      assertEquals(mode == Mode.SAFE ? 0 : 1, r.exit(), mode.cliName + ": " + r.out() + r.err());
      assertTrue(r.out().contains("mode=" + mode.cliName), r.out());
    }
  }

  @Test
  void traceReplaysOneSeedEventByEvent() {
    Run r = run("sim", "--seeds", "1", "--start-seed", "5", "--trace");
    assertEquals(0, r.exit());
    assertTrue(r.out().contains(" deliver "));
    assertTrue(r.out().startsWith("# seed 5:"));
  }

  @Test
  void badInputIsAClearUsageErrorNotAStackTrace() {
    for (String[] args : new String[][] {
        {"sim", "--replicas", "4"}, {"sim", "--faults", "meteor"}, {"sim", "--mode", "yolo"},
        {"sim", "--seeds", "many"}, {"sim", "--seeds"}, {"sim", "--frobnicate"}, {"sim", "--trace", "--seeds", "3"},
        {"launch"}, {"torture", "--client", "grpc"}}) {
      Run r = run(args);
      assertEquals(2, r.exit(), String.join(" ", args));
      assertTrue(r.err().startsWith("holdfast: "), r.err());
      assertFalse(r.err().contains("Exception"), r.err());
    }
  }

  @Test
  void benchJournalReportsItsContractFields() throws Exception {
    Run r = run("bench", "journal", "--streams", "3", "--seconds", "1", "--inflight", "8", "--dir", "target", "--json");
    assertEquals(0, r.exit(), r.out() + r.err());
    JsonNode j = r.lastJson();
    for (String field : new String[] {"streams", "record_bytes", "records_per_s", "mb_per_s", "fsyncs_per_s",
        "avg_batch_records", "ack_p50_us", "ack_p99_us", "raw_fsync_per_s", "raw_fsync_p50_us"}) {
      assertTrue(j.has(field), "missing field " + field + " in " + j);
    }
    assertEquals(3, j.get("streams").asInt());
    assertTrue(j.get("records_per_s").asLong() > 0, "records were acknowledged");
    assertTrue(j.get("fsyncs_per_s").asLong() > 0);
  }

  @Test
  void benchUsageErrorsAreClear() {
    for (String[] args : new String[][] {{"bench"}, {"bench", "warp"}, {"bench", "journal", "--streams", "0"},
        {"bench", "journal", "--record-bytes", "x"}, {"bench", "nats", "--streams", "0"},
        {"bench", "nats", "--streams", "2", "--consume"}}) {
      Run r = run(args);
      assertEquals(2, r.exit(), String.join(" ", args));
      assertTrue(r.err().startsWith("holdfast: "), r.err());
    }
  }

  @Test
  void faultListsCanBeNarrowed() throws Exception {
    Run r = run("sim", "--seeds", "2", "--faults", "crash,partition", "--replicas", "5", "--json");
    assertEquals(0, r.exit());
    assertEquals("crash,partition", r.lastJson().get("faults").asText());
  }

  @Test
  void clusterAndClientCommandsRejectBadInputWithOneLineAndExitTwo() {
    String[][] bad = {
        {"cluster"}, {"cluster", "frobnicate"}, {"cluster", "start", "--nodes", "0"},
        {"cluster", "status", "--dir", "/nonexistent/holdfast-dir"},
        {"stream"}, {"stream", "add", "--server", "http://127.0.0.1:1"},
        {"pub", "only-a-subject", "--server", "http://127.0.0.1:1"},
        {"get", "s", "not-a-number", "--server", "http://127.0.0.1:1"},
        {"node"}, {"node", "--config", "/nonexistent.conf"},
        {"demo", "--kills", "everyone"},
        {"pub", "a", "b", "--dir", "/nonexistent/holdfast-dir"}};
    for (String[] args : bad) {
      Run r = run(args);
      assertEquals(2, r.exit(), String.join(" ", args) + ": " + r.err());
      assertTrue(r.err().startsWith("holdfast: "), r.err());
      assertFalse(r.err().contains("\tat "), "no stack trace: " + r.err());
    }
  }

  @Test
  void tortureRejectsBadInputWithAClearUsageError() {
    Run unknown = run("torture", "--faults", "kill,meteor");
    assertEquals(2, unknown.exit());
    assertTrue(unknown.err().contains("unknown fault 'meteor'"), unknown.err());
    Run tooFew = run("torture", "--nodes", "2");
    assertEquals(2, tooFew.exit());
    assertTrue(tooFew.err().contains("--nodes must be between 3 and 9"), tooFew.err());
    Run replicas = run("torture", "--nodes", "3", "--replicas", "5");
    assertEquals(2, replicas.exit());
    assertTrue(replicas.err().contains("--replicas must be between 1 and 3"), replicas.err());
  }

  @Test
  void aClientThatCannotReachItsServerFailsWithoutAStackTrace() {
    Run r = run("stream", "ls", "--server", "http://127.0.0.1:1");
    assertEquals(1, r.exit());
    assertTrue(r.err().startsWith("holdfast: stream failed:"), r.err());
    assertFalse(r.err().contains("\tat "), r.err());
  }
}
