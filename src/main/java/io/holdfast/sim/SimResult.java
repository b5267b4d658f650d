package io.holdfast.sim;

import java.util.List;

/** What one seed's run found. {@code violations} counts every checker failure of any kind. */
public record SimResult(
    long seed,
    long acked,
    long lost,
    long lostMiddle,
    long lostOnReplica,
    long divergent,
    long unexpected,
    long duplicates,
    long violations,
    List<String> messages,
    Coverage coverage,
    long traceHash,
    long ticks,
    long events) {

  SimResult(Simulation.Config config, SimChecker checker, Coverage coverage, long traceHash, long ticks, long events) {
    this(config.seed(), checker.ackedCount(), checker.lost, checker.lostMiddle, checker.lostOnReplica, checker.divergent,
        checker.unexpected,
        checker.duplicates, checker.violationCount(), List.copyOf(checker.violations()), coverage, traceHash, ticks,
        events);
  }

  public boolean ok() {
    return violations == 0;
  }
}
