package io.holdfast.cli;

import java.io.OutputStreamWriter;
import java.io.PrintStream;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Help;
import picocli.CommandLine.ParseResult;

/**
 * The {@code holdfast} command line, on picocli: one annotated class per command, help generated
 * from the annotations ({@code holdfast help}, {@code holdfast CMD --help}). Every command exits 0
 * on success, 1 on a failed check or run, 2 on bad usage.
 */
@Command(name = "holdfast",
    description = "A durable, replicated message-stream broker: an acknowledged publish is never lost.",
    subcommands = {
        SimCommand.class, BenchCommands.class, DemoCommand.class, TortureCommand.class, NodeCommand.class,
        WarmUpCommand.class, ClusterCommands.class, ClientCommands.Stream.class, ClientCommands.Pub.class,
        ClientCommands.Get.class, ConsumerCommands.Consumer.class, ConsumerCommands.Sub.class,
        TopCommand.class, PasswdCommand.class,
        Main.Completion.class, Main.Reference.class, CommandLine.HelpCommand.class})
public final class Main implements Runnable {
  @CommandLine.Option(names = {"-h", "--help"}, usageHelp = true, description = "Show this help and exit.")
  boolean help;

  final PrintStream out;
  final PrintStream err;

  private Main(PrintStream out, PrintStream err) {
    this.out = out;
    this.err = err;
  }

  public static void main(String[] argv) {
    System.exit(run(argv, System.out, System.err));
  }

  /** Runs one command line, printing to {@code out} and {@code err}; returns the exit code. */
  public static int run(String[] argv, PrintStream out, PrintStream err) {
    CommandLine cl = commandLine(out, err);
    if (argv.length == 0) {
      cl.usage(cl.getOut(), Help.Ansi.OFF);
      return 2;
    }
    return cl.execute(argv);
  }

  /** Without a command: the usage, exit 2 (see {@link #run}). */
  @Override
  public void run() {
    throw new UsageException("give a command");
  }

  static CommandLine commandLine(PrintStream out, PrintStream err) {
    CommandLine cl = new CommandLine(new Main(out, err));
    cl.setOut(new PrintWriter(new OutputStreamWriter(out, StandardCharsets.UTF_8), true));
    cl.setErr(new PrintWriter(new OutputStreamWriter(err, StandardCharsets.UTF_8), true));
    cl.setColorScheme(Help.defaultColorScheme(Help.Ansi.OFF));
    cl.setUsageHelpWidth(100);
    cl.setParameterExceptionHandler((e, args) -> {
      usageError(err, e.getMessage(), e.getCommandLine());
      return 2;
    });
    cl.setExecutionExceptionHandler((e, command, parsed) -> {
      if (e instanceof UsageException || e instanceof io.holdfast.local.LocalClusterException) {
        usageError(err, e.getMessage(), command);
        return 2;
      }
      err.println("holdfast: " + topCommand(parsed) + " failed: " + e);
      return 1;
    });
    return cl;
  }

  private static void usageError(PrintStream err, String message, CommandLine command) {
    err.println("holdfast: " + message);
    err.println("run '" + command.getCommandSpec().qualifiedName() + " --help' for usage");
  }

  private static String topCommand(ParseResult parsed) {
    return parsed.hasSubcommand() ? parsed.subcommand().commandSpec().name() : "holdfast";
  }

  /** Every command's help, in command order: the README's command reference. */
  static String reference() {
    StringBuilder sb = new StringBuilder();
    List<CommandLine> all = new ArrayList<>();
    collect(commandLine(System.out, System.err), all);
    for (CommandLine c : all) {
      if (c.getCommandSpec().usageMessage().hidden() || c.getCommandSpec().userObject() instanceof CommandLine.HelpCommand) {
        continue;
      }
      sb.append("```\n").append(c.getUsageMessage(Help.Ansi.OFF).stripTrailing()).append("\n```\n\n");
    }
    return sb.toString().stripTrailing() + "\n";
  }

  private static void collect(CommandLine c, List<CommandLine> into) {
    into.add(c);
    for (CommandLine sub : c.getSubcommands().values()) {
      if (!into.contains(sub)) {
        collect(sub, into);
      }
    }
  }

  @Command(name = "completion", description = "Print a bash completion script for holdfast: "
      + "source <(scripts/holdfast completion)")
  static final class Completion extends CliCommand {
    @Override
    public Integer call() {
      out().print(picocli.AutoComplete.bash("holdfast", spec.root().commandLine()));
      return 0;
    }
  }

  @Command(name = "reference", hidden = true, description = "Print the README's command reference (every command's help).")
  static final class Reference extends CliCommand {
    @Override
    public Integer call() {
      out().print(reference());
      return 0;
    }
  }
}
