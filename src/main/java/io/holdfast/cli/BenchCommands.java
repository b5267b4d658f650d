package io.holdfast.cli;

import picocli.CommandLine.Command;

/** {@code holdfast bench}: the benchmarks; each prints JSON with its figures and their baseline. */
@Command(name = "bench", description = "Benchmarks: each measures its baseline in the same run and prints JSON.",
    subcommands = {JournalBench.class, PubBench.class, ConsumeBench.class, CapacityBench.class, NatsBench.class, IdleBench.class,
        PersistBench.class})
final class BenchCommands extends CliCommand {
  @Override
  public Integer call() {
    throw new UsageException("bench needs a target: journal, pub, consume, capacity, nats or persist");
  }
}
