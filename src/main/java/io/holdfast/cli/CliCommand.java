package io.holdfast.cli;

import java.io.PrintStream;
import java.util.concurrent.Callable;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * A {@code holdfast} command: picocli fills its annotated fields, then calls {@link #call}, whose
 * result is the exit code (0 success, 1 a failed check or run, 2 bad usage). Output goes to the
 * streams {@link Main#run} was given, so tests run commands in-process.
 */
abstract class CliCommand implements Callable<Integer> {
  @Spec
  CommandSpec spec;

  @Option(names = {"-h", "--help"}, usageHelp = true, description = "Show this help and exit.")
  boolean help;

  PrintStream out() {
    return ((Main) spec.root().userObject()).out;
  }

  PrintStream err() {
    return ((Main) spec.root().userObject()).err;
  }

  /** {@code value} of {@code option}, checked against [{@code min}, {@code max}]. */
  static long between(String option, long value, long min, long max) {
    if (value < min || value > max) {
      throw new UsageException(option + " must be between " + min + " and " + max + ", got " + value);
    }
    return value;
  }

  static int between(String option, int value, int min, int max) {
    return (int) between(option, (long) value, min, max);
  }

  /** A command that reports figures: with {@code --json} its last line is one JSON object. */
  abstract static class Reporting extends CliCommand {
    @Option(names = "--json", description = "Also print one JSON object as the last line.")
    boolean json;
  }
}
