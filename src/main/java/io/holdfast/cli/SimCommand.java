package io.holdfast.cli;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.holdfast.sim.Coverage;
import io.holdfast.sim.Fault;
import io.holdfast.sim.Mode;
import io.holdfast.sim.SimResult;
import io.holdfast.sim.Simulation;
import java.io.PrintStream;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code holdfast sim}: runs seeds S..S+N-1 of the simulator (in parallel, one seed per thread;
 * each seed is single-threaded and deterministic), prints progress on stderr, a human summary,
 * for each failed seed a one-line replay command, and with {@code --json} one JSON object as the
 * last line of stdout. Exit 0 if and only if no checker fired.
 */
@Command(name = "sim", sortOptions = false,
    description = "Run the deterministic cluster simulator over many seeds; exit 1 if any checker fired.")
final class SimCommand extends CliCommand.Reporting {
  @Option(names = "--seeds", paramLabel = "N", description = "Seeds to run (default ${DEFAULT-VALUE}).")
  int seeds = 100;
  @Option(names = "--start-seed", paramLabel = "S", description = "First seed (default ${DEFAULT-VALUE}).")
  long start = 1;
  @Option(names = "--replicas", paramLabel = "1|3|5", description = "Replicas per group (default ${DEFAULT-VALUE}).")
  int replicas = 3;
  @Option(names = "--faults", paramLabel = "LIST|all|none", completionCandidates = FaultNames.class,
      description = "Fault families: all, none, or a comma-separated list of ${COMPLETION-CANDIDATES} "
          + "(default all).")
  String faultList = "all";
  @Option(names = "--mode", paramLabel = "MODE", converter = ModeName.class, completionCandidates = ModeNames.class,
      description = "safe, or a negative control with a planted bug: ${COMPLETION-CANDIDATES} (default safe).")
  Mode mode = Mode.SAFE;
  @Option(names = "--jobs", paramLabel = "J", description = "Seeds run in parallel (default: the number of cores).")
  int jobs = Runtime.getRuntime().availableProcessors();
  @Option(names = "--trace", description = "Print every event of the one seed (with --seeds 1).")
  boolean trace;

  @Override
  public Integer call() {
    PrintStream out = out();
    PrintStream err = err();
    between("--seeds", seeds, 1, 100_000_000);
    if (replicas != 1 && replicas != 3 && replicas != 5) {
      throw new UsageException("--replicas must be 1, 3 or 5, got " + replicas);
    }
    between("--jobs", jobs, 1, 64);
    if (trace && seeds != 1) {
      throw new UsageException("--trace prints every event: use it with --seeds 1");
    }
    EnumSet<Fault> faults;
    try {
      faults = Fault.parseList(faultList);
    } catch (IllegalArgumentException e) {
      throw new UsageException(e.getMessage());
    }
    String faultsName = Fault.describe(faults);

    long began = System.nanoTime();
    List<SimResult> results = new ArrayList<>(seeds);
    if (trace) {
      Simulation sim = new Simulation(new Simulation.Config(start, replicas, faults, mode), out::println);
      out.println("# seed " + start + ": " + sim.describeOptions());
      results.add(sim.run());
    } else {
      runParallel(start, seeds, replicas, faults, mode, jobs, results, err, began);
    }
    double seconds = Math.max(1e-9, (System.nanoTime() - began) / 1e9);
    return report(results, seeds, start, replicas, faultsName, mode, seconds, json, out);
  }

  static final class FaultNames extends ArrayList<String> {
    private static final long serialVersionUID = 1L;

    FaultNames() {
      for (Fault f : Fault.values()) {
        add(f.cliName());
      }
    }
  }

  static final class ModeName implements CommandLine.ITypeConverter<Mode> {
    @Override
    public Mode convert(String text) {
      try {
        return Mode.parse(text);
      } catch (IllegalArgumentException e) {
        throw new CommandLine.TypeConversionException(e.getMessage());
      }
    }
  }

  static final class ModeNames extends ArrayList<String> {
    private static final long serialVersionUID = 1L;

    ModeNames() {
      for (Mode m : Mode.values()) {
        add(m.cliName);
      }
    }
  }

  private static void runParallel(long start, int seeds, int replicas, EnumSet<Fault> faults, Mode mode, int jobs,
      List<SimResult> results, PrintStream err, long began) {
    ExecutorService pool = Executors.newFixedThreadPool(jobs, r -> {
      Thread t = new Thread(r, "sim");
      t.setDaemon(true);
      return t;
    });
    try {
      List<Future<SimResult>> futures = new ArrayList<>(seeds);
      for (int i = 0; i < seeds; i++) {
        long seed = start + i;
        futures.add(pool.submit(() -> new Simulation(new Simulation.Config(seed, replicas, faults, mode), null).run()));
      }
      long lastProgress = System.nanoTime();
      long failed = 0;
      for (int i = 0; i < seeds; i++) {
        SimResult r = futures.get(i).get();
        results.add(r);
        if (!r.ok()) {
          failed++;
        }
        long t = System.nanoTime();
        if (t - lastProgress > 1_000_000_000L || i == seeds - 1) {
          lastProgress = t;
          err.printf("sim: %d/%d seeds, %d failed, %.1f seeds/s%n", i + 1, seeds, failed, (i + 1) / ((t - began) / 1e9));
        }
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted", e);
    } catch (ExecutionException e) {
      java.io.StringWriter trace = new java.io.StringWriter();
      e.getCause().printStackTrace(new java.io.PrintWriter(trace));
      throw new IllegalStateException("simulator crashed outside the checkers: " + trace, e.getCause());
    } finally {
      pool.shutdownNow();
    }
  }

  private static int report(List<SimResult> results, int seeds, long start, int replicas, String faults, Mode mode,
      double seconds, boolean json, PrintStream out) {
    long acked = 0;
    long lost = 0;
    long lostMiddle = 0;
    long lostOnReplica = 0;
    long divergent = 0;
    long unexpected = 0;
    long duplicates = 0;
    long violations = 0;
    long events = 0;
    Coverage coverage = new Coverage();
    List<Long> failedSeeds = new ArrayList<>();
    for (SimResult r : results) {
      acked += r.acked();
      lost += r.lost();
      lostMiddle += r.lostMiddle();
      lostOnReplica += r.lostOnReplica();
      divergent += r.divergent();
      unexpected += r.unexpected();
      duplicates += r.duplicates();
      violations += r.violations();
      events += r.events();
      coverage.add(r.coverage());
      if (!r.ok()) {
        failedSeeds.add(r.seed());
      }
    }
    out.printf("holdfast sim: %d seeds (%d..%d), %d replicas, faults=%s, mode=%s%n",
        seeds, start, start + seeds - 1, replicas, faults, mode.cliName);
    out.printf("  acked %d (%.0f per seed), lost %d (%d in the middle), lost on one replica %d, divergent %d,"
        + " unexpected %d, duplicates %d%n", acked, (double) acked / seeds, lost, lostMiddle, lostOnReplica, divergent,
        unexpected, duplicates);
    out.println("  coverage: " + coverage);
    out.printf("  violations %d in %d seeds; %.2f seeds/s, %.0f events/s%n",
        violations, failedSeeds.size(), seeds / seconds, events / seconds);
    int shown = 0;
    for (SimResult r : results) {
      if (r.ok() || shown++ >= 10) {
        continue;
      }
      out.printf("seed=%d: %d violations%n", r.seed(), r.violations());
      for (String m : r.messages().subList(0, Math.min(5, r.messages().size()))) {
        out.println("  - " + m);
      }
      out.printf("  replay: scripts/holdfast sim --seeds 1 --start-seed %d --replicas %d --faults %s --mode %s --trace%n",
          r.seed(), replicas, faults, mode.cliName);
    }
    if (failedSeeds.size() > shown) {
      out.printf("(%d more failed seeds, listed in failed_seeds)%n", failedSeeds.size() - shown);
    }
    if (json) {
      Map<String, Object> j = new LinkedHashMap<>();
      j.put("seeds", seeds);
      j.put("start_seed", start);
      j.put("replicas", replicas);
      j.put("mode", mode.cliName);
      j.put("faults", faults);
      j.put("acked", acked);
      j.put("avg_acked_per_seed", Math.round((double) acked / seeds));
      j.put("lost", lost);
      j.put("lost_middle", lostMiddle);
      j.put("lost_on_replica", lostOnReplica);
      j.put("divergent", divergent);
      j.put("unexpected", unexpected);
      j.put("duplicates", duplicates);
      j.put("failed_seeds", failedSeeds);
      j.put("violations", violations);
      j.put("seconds", Math.round(seconds * 100) / 100.0);
      j.put("seeds_per_s", Math.round(seeds / seconds * 100) / 100.0);
      try {
        out.println(new ObjectMapper().writeValueAsString(j));
      } catch (JsonProcessingException e) {
        throw new IllegalStateException(e);
      }
    }
    return violations == 0 ? 0 : 1;
  }
}
