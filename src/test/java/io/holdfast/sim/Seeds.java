package io.holdfast.sim;

import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

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
