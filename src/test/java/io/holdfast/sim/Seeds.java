package io.holdfast.sim;

import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.function.Predicate;

/** Runs a range of seeds on all cores (each seed itself is single-threaded and deterministic). */
final class Seeds {
  private Seeds() {}

  static List<SimResult> run(long start, int count, int replicas, EnumSet<Fault> faults, Mode mode) throws Exception {
    ExecutorService pool = Executors.newFixedThreadPool(Runtime.getRuntime().availableProcessors());
    try {
      List<Future<SimResult>> futures = new ArrayList<>();
      for (int i = 0; i < count; i++) {
        long seed = start + i;
        futures.add(pool.submit(() -> new Simulation(new Simulation.Config(seed, replicas, faults, mode), null).run()));
      }
      List<SimResult> results = new ArrayList<>();
      for (Future<SimResult> f : futures) {
        results.add(f.get());
      }
      return results;
    } finally {
      pool.shutdownNow();
    }
  }

  /**
   * Seeds {@code start}, {@code start + 1}, ... in chunks, until the results so far satisfy
   * {@code enough} or {@code max} seeds have run. For negative controls, whose conditions (a sum
   * or a count of failing seeds above a bound) only grow with more seeds: they pass exactly when
   * running all {@code max} seeds would, and stop as soon as the planted bug is caught.
   */
  static List<SimResult> runUntil(long start, int max, int replicas, EnumSet<Fault> faults, Mode mode,
      Predicate<List<SimResult>> enough) throws Exception {
    int chunk = 4 * Runtime.getRuntime().availableProcessors();
    List<SimResult> results = new ArrayList<>();
    while (results.size() < max && !enough.test(results)) {
      results.addAll(run(start + results.size(), Math.min(chunk, max - results.size()), replicas, faults, mode));
    }
    return results;
  }

  /** A failure report naming every failed seed with the command that replays it. */
  static String failures(List<SimResult> results, int replicas, String faults, Mode mode) {
    StringBuilder sb = new StringBuilder();
    for (SimResult r : results) {
      if (!r.ok()) {
        sb.append("seed=").append(r.seed()).append(": ").append(r.messages()).append("\n  replay: scripts/holdfast sim")
            .append(" --seeds 1 --start-seed ").append(r.seed()).append(" --replicas ").append(replicas)
            .append(" --faults ").append(faults).append(" --mode ").append(mode.cliName).append(" --trace\n");
      }
    }
    return sb.toString();
  }
}
