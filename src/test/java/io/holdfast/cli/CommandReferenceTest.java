package io.holdfast.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

/**
 * Goal: the command line documents itself truthfully. Method: the README's command reference is
 * compared with picocli's help of every command, every command answers {@code --help} with exit
 * 0, and the completion script covers every command.
 */
class CommandReferenceTest {
  private static final String BEGIN = "<!-- holdfast reference: begin -->\n";
  private static final String END = "<!-- holdfast reference: end -->";

  private record Run(int exit, String out, String err) {}

  private static Run run(String... args) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    ByteArrayOutputStream err = new ByteArrayOutputStream();
    int exit = Main.run(args, new PrintStream(out, true, StandardCharsets.UTF_8),
        new PrintStream(err, true, StandardCharsets.UTF_8));
    return new Run(exit, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
  }

  /** Every command's path below the root, e.g. [bench, journal]. */
  private static List<List<String>> paths(boolean hiddenToo) {
    List<List<String>> all = new ArrayList<>();
    collect(Main.commandLine(System.out, System.err), new ArrayList<>(), all, hiddenToo);
    return all;
  }

  private static void collect(CommandLine c, List<String> path, List<List<String>> into, boolean hiddenToo) {
    c.getSubcommands().forEach((name, sub) -> {
      boolean hidden = sub.getCommandSpec().usageMessage().hidden();
      if (sub.getCommandName().equals(name) && !name.equals("help") && (hiddenToo || !hidden)) {
        List<String> p = new ArrayList<>(path);
        p.add(name);
        into.add(p);
        collect(sub, p, into, hiddenToo);
      }
    });
  }

  @Test
  void theReadmeReferenceIsTheHelpOfEveryCommand() throws Exception {
    String readme = Files.readString(Path.of("README.md"));
    int begin = readme.indexOf(BEGIN);
    int end = readme.indexOf(END);
    assertTrue(begin >= 0 && end > begin, "README.md lacks the reference markers");
    String documented = readme.substring(begin + BEGIN.length(), end);
    assertEquals(Main.reference(), documented,
        "README.md's command reference differs from the code: replace it with the output of 'scripts/holdfast reference'");
  }

  @Test
  void everyCommandAnswersHelp() {
    List<List<String>> paths = paths(true);
    assertTrue(paths.size() > 20, "commands and subcommands: " + paths);
    for (List<String> path : paths) {
      List<String> argv = new ArrayList<>(path);
      argv.add("--help");
      Run r = run(argv.toArray(new String[0]));
      assertEquals(0, r.exit(), argv + ": " + r.err());
      assertTrue(r.out().startsWith("Usage: holdfast " + String.join(" ", path)), r.out());
    }
  }

  @Test
  void theCompletionScriptKnowsEveryCommand() {
    Run r = run("completion");
    assertEquals(0, r.exit(), r.err());
    assertTrue(r.out().contains("complete -F"), "a bash completion function is registered");
    for (List<String> path : paths(false)) {
      assertTrue(r.out().contains(path.get(path.size() - 1)), "completion for " + path);
    }
    assertTrue(r.out().contains("--start-seed"), "options complete too");
  }

  @Test
  void aFailureInsideACommandIsNotAUsageError() {
    // An internal IllegalArgumentException used to be reported as bad usage (exit 2).
    Run r = run("stream", "ls", "--server", "not a url");
    assertEquals(1, r.exit(), r.err());
    assertTrue(r.err().startsWith("holdfast: stream failed: java.lang.IllegalArgumentException"), r.err());
    assertFalse(r.err().contains("\tat "), r.err());
  }
}
