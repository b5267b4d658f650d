package io.holdfast.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.holdfast.torture.Campaign;
import io.holdfast.torture.Checker;
import io.holdfast.torture.Network;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code holdfast torture}: the fault campaign on real processes ({@link io.holdfast.torture}):
 * its options, checked, and its summary and JSON line. Exit 0 only if the history is valid.
 */
@Command(name = "torture", sortOptions = false,
    description = {"The fault campaign on real node processes, checked as Jepsen counts.",
        "Writes report.html (and report.csv, report.json) in --dir; exit 1 if an acknowledged publish was lost or",
        "read wrong."})
final class TortureCommand extends CliCommand.Reporting {
  private static final ObjectMapper JSON = new ObjectMapper();

  @Option(names = "--nodes", paramLabel = "3..9", description = "Node processes (default ${DEFAULT-VALUE}).")
  int nodes = 3;
  @Option(names = "--replicas", paramLabel = "R", description = "Replicas of the stream (default: 3, at most --nodes).")
  Integer replicasOption;
  @Option(names = "--seconds", paramLabel = "S", description = "How long the campaign runs (default ${DEFAULT-VALUE}).")
  int seconds = 60;
  @Option(names = "--rate", paramLabel = "N", description = "Publishes per second offered (default ${DEFAULT-VALUE}).")
  int rate = 2000;
  @Option(names = "--faults", paramLabel = "LIST|all|none", completionCandidates = FaultNames.class,
      description = {"Fault families: all, none, or a comma-separated list of ${COMPLETION-CANDIDATES}",
          "(partition and split-brain need root and iptables; rolling, a rolling restart, only when named;"
              + " default all)."})
  String faultArg = "all";
  @Option(names = "--seed", paramLabel = "S", description = "Seed of the fault schedule (default: from the clock).")
  Long seedOption;
  @Option(names = "--dir", paramLabel = "DIR", description = "Where the cluster and the report go (default ${DEFAULT-VALUE}).")
  Path dir = Path.of("run/torture");
  @Option(names = "--keep", description = "Leave the nodes running afterwards.")
  boolean keep;
  @Option(names = "--client", paramLabel = "nats|http", description = {"How the clients (publishers, readers) reach the"
      + " nodes: as NATS applications (jnats) or through the HTTP API (default ${DEFAULT-VALUE})."})
  String client = "nats";

  static final class FaultNames extends ArrayList<String> {
    private static final long serialVersionUID = 1L;

    FaultNames() {
      super(Campaign.KNOWN_FAULTS);
    }
  }

  @Override
  public Integer call() throws Exception {
    PrintStream out = out();
    between("--nodes", nodes, 3, 9);
    int replicas = between("--replicas", replicasOption != null ? replicasOption : Math.min(nodes, 3), 1, nodes);
    between("--seconds", seconds, 5, 86_400);
    between("--rate", rate, 1, 1_000_000);
    if (!client.equals("nats") && !client.equals("http")) {
      throw new UsageException("--client must be nats or http, not '" + client + "'");
    }
    long seed = between("--seed", seedOption != null ? seedOption : System.currentTimeMillis() % 1_000_000, 0,
        Long.MAX_VALUE);
    List<String> faults = faultArg.equals("all") ? Campaign.FAULTS : faultArg.equals("none") ? List.of()
        : List.of(faultArg.split(","));
    for (String f : faults) {
      if (!Campaign.KNOWN_FAULTS.contains(f)) {
        throw new UsageException("unknown fault '" + f + "' (expected all, none, or a list of "
            + String.join(", ", Campaign.KNOWN_FAULTS) + ")");
      }
    }
    if (faults.contains("partition") || faults.contains("split-brain")) {
      String why = Network.unavailable();
      if (why != null) {
        throw new UsageException(why);
      }
    }
    Campaign.Result r = Campaign.run(new Campaign.Options(nodes, replicas, seconds, rate, faults, seed, dir, keep,
        client.equals("nats")),
        err());
    Checker.Counts c = r.counts();
    out.printf("torture: %d s, %d nodes, R%d, faults %s, seed %d%n", seconds, nodes, replicas, faultArg, seed);
    out.printf("  acked %d of %d published (%.0f/s over %.1f s of load; %d unknown outcome, %d unavailable after 20 s"
        + " of retries), consumed %d%n", c.acked(), r.published(), r.ackedPerSecond(), r.loadSeconds(), r.unknown(),
        r.failed(), r.consumed());
    out.printf("  longest stretch without an ack while a majority of the stream's nodes was up and connected:"
        + " %.1f s%n", r.maxUnavailableSeconds());
    out.printf("  lost %d (in the middle %d), lost on a node %d, unexpected %d, recovered %d, duplicates %d,"
        + " misplaced %d%n", c.lost(), c.lostMiddle(), c.lostOnNode(), c.unexpected(), c.recovered(), c.duplicates(),
        c.misplaced());
    for (String note : c.notes()) {
      out.println("  " + note);
    }
    out.printf("  faults injected: %d (%s); report %s%n", r.faultsInjected(), r.faultCounts(), r.report());
    out.println(c.valid() ? "  VALID: every acked value is on every node" : "  INVALID");
    if (json) {
      ObjectNode j = JSON.createObjectNode().put("seconds", seconds).put("faults", faultArg).put("seed", seed)
          .put("nodes", nodes).put("replicas", replicas).put("client", client).put("published", r.published())
          .put("acked", c.acked())
          .put("lost", c.lost()).put("lost_middle", c.lostMiddle()).put("lost_on_node", c.lostOnNode())
          .put("unexpected", c.unexpected()).put("recovered", c.recovered()).put("duplicates", c.duplicates())
          .put("misplaced", c.misplaced())
          .put("unknown", r.unknown()).put("unavailable", r.failed()).put("consumed", r.consumed())
          .put("acked_per_s", r.ackedPerSecond()).put("load_s", r.loadSeconds())
          .put("max_unavailable_s", r.maxUnavailableSeconds())
          // Time the faults left a majority up and connected, within the run's seconds: acks can
          // only be expected then (issue 18 compares acked against a run without faults).
          .put("majority_up_s", r.majorityUpSeconds())
          .put("faults_injected", r.faultsInjected()).put("nodes_refused", r.refusals())
          .put("nodes_read", c.readNodes())
          .put("valid", c.valid());
      out.println(j);
    }
    return c.valid() ? 0 : 1;
  }
}
