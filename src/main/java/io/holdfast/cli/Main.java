package io.holdfast.cli;

import java.io.PrintStream;

/** The {@code holdfast} command line. Every subcommand exits 0 on success, 1 on a failed check, 2 on bad usage. */
public final class Main {
  private Main() {}

  static final String USAGE = """
      usage: holdfast <command> [options]

      commands:
        sim     run the deterministic cluster simulator over many seeds
                [--seeds N] [--start-seed S] [--replicas 1|3|5] [--faults LIST|all|none]
                [--mode safe|ack-before-fsync|vote-without-persist|truncate-on-corruption|ignore-lost-tail
                |reclaim-wal-before-store-sync|truncate-store-on-corruption] [--jobs J] [--trace] [--json]
        bench journal
                measure the node storage's group commit against the disk's raw fsync rate
                [--streams 1|100|1000] [--record-bytes 1024] [--inflight 256] [--seconds 10]
                [--dir DIR] [--json]
        bench pub
                acknowledged publishes per second (fsynced on a majority), in-process nodes on loopback
                [--replicas 1|3] [--size 1024] [--inflight 1000] [--msgs N] [--dir DIR] [--json]
        bench consume
                fill a stream, then drain it through a consumer Source (or HTTP pulls with --server)
                [--replicas 1|3] [--msgs N] [--size 1024] [--ack explicit|none] [--server URL] [--json]
        bench capacity
                a stream that outgrows memory: fill it, restart a node, wipe one and time its rejoin,
                read samples back from every replica; heap, write amplification, catch-up vs raw disk
                [--nodes 3] [--replicas 3] [--gib 4] [--size 65536] [--subjects 1] [--streams 1] [--heap 256m]
                [--inflight 4MiB/size, 64..1024] [--dir DIR] [--keep] [--json]
        demo    start a 3-node cluster, publish 20,000 acked messages while SIGKILLing the stream
                leader, read every replica back, report {"published","acked","read","lost",...}
                [--msgs 20000] [--dir DIR] [--keep]
        torture the fault campaign on real node processes, checked as Jepsen counts
                [--nodes 3|5] [--replicas 3|5] [--seconds 60] [--rate 2000] [--faults LIST|all] [--seed S]
                [--dir DIR] [--json]; faults: kill, powerloss, pause, partition (root, iptables), bitflip,
                truncate, snapshot-corrupt, membership, split-brain; report.html in DIR
        node    run one server node in the foreground: --config FILE (see conf/node1.conf)
        warm-up a one-node server that serves a few requests and exits: the training run of the
                class-data archive local clusters start their nodes with [--dir DIR]
        cluster start [--nodes 3] [--heap 512m] [--dir DIR] [--json] | stop | kill ID | restart ID | status [--json]
                local node JVMs on 127.0.0.1, state under DIR (default ./run)
        stream add NAME [--subjects 'a.>,b.*'] [--replicas 1|3|5] [--max-msgs N] [--max-bytes N]
                [--max-age 1h] [--max-msgs-per-subject N] [--max-msg-size N] [--max-consumers N] [--discard old|new]
                [--discard-new-per-subject] [--duplicate-window 2m] [--retention limits|interest|workqueue]
                [--sealed] [--deny-delete] [--deny-purge] [--allow-rollup]
        stream update NAME [the same options] | info NAME | ls [--subject FILTER] | rm NAME
               | purge NAME [--subject S] [--seq N] [--keep N] | rm-msg NAME SEQ [--erase]   [--json]
        pub SUBJECT DATA [--count N] [--msg-id ID] [--expected-stream S] [--expected-last-seq N]
                [--expected-last-subject-seq N] [--expected-last-msg-id ID] [--rollup sub|all] [--json]
                prints each ack {"stream":S,"seq":N,"duplicate":false}
        get STREAM SEQ | get STREAM --last-for SUBJECT [--json]   prints {"stream","seq","subject","data",...}
        consumer add STREAM NAME [--deliver all|last|new|last_per_subject|seq:N|time:ISO] [--ack explicit|all|none]
                [--ack-wait 30s] [--max-deliver N] [--max-ack-pending N] [--backoff 1s,5s] [--filter SUBJ]...
                [--replay instant|original] [--ephemeral [--inactive-threshold 5s]]
        consumer info STREAM NAME | ls STREAM | rm STREAM NAME     [--json]
        sub STREAM [--consumer NAME] [--count N] [--ack] [--json]   one line per message,
                {"stream","seq","consumer_seq","delivered","subject","data"}; without --consumer an
                ephemeral consumer (--deliver, --filter as above)
                client commands take --server URL, else $HOLDFAST_SERVER, else the first node of
                --dir (default ./run)
        help    show this text
      """;

  public static void main(String[] argv) {
    System.exit(run(argv, System.out, System.err));
  }

  private static int bench(String[] argv, PrintStream out, PrintStream err) throws Exception {
    if (argv.length < 2) {
      throw new Args.UsageException("bench needs a target: journal, pub, consume or capacity");
    }
    return switch (argv[1]) {
      case "journal" -> JournalBench.run(argv, out, err);
      case "pub" -> PubBench.run(argv, out, err);
      case "consume" -> ConsumeBench.run(argv, out, err);
      case "capacity" -> CapacityBench.run(argv, out, err);
      default -> throw new Args.UsageException("unknown benchmark '" + argv[1]
          + "' (expected: journal, pub, consume, capacity)");
    };
  }

  public static int run(String[] argv, PrintStream out, PrintStream err) {
    if (argv.length == 0 || argv[0].equals("help") || argv[0].equals("--help") || argv[0].equals("-h")) {
      out.print(USAGE);
      return argv.length == 0 ? 2 : 0;
    }
    try {
      return switch (argv[0]) {
        case "sim" -> SimCommand.run(argv, out, err);
        case "bench" -> bench(argv, out, err);
        case "node" -> NodeCommand.run(argv, out, err);
        case "cluster" -> LocalCluster.run(argv, out, err);
        case "stream" -> ClientCommands.stream(argv, out, err);
        case "pub" -> ClientCommands.pub(argv, out, err);
        case "get" -> ClientCommands.get(argv, out, err);
        case "consumer" -> ConsumerCommands.consumer(argv, out, err);
        case "sub" -> ConsumerCommands.sub(argv, out, err);
        case "demo" -> DemoCommand.run(argv, out, err);
        case "torture" -> TortureCommand.run(argv, out, err);
        case "warm-up" -> WarmUpCommand.run(argv, out, err);
        default -> throw new Args.UsageException("unknown command '" + argv[0] + "'");
      };
    } catch (Args.UsageException | IllegalArgumentException e) {
      err.println("holdfast: " + e.getMessage());
      err.println("run 'holdfast help' for usage");
      return 2;
    } catch (Exception e) {
      err.println("holdfast: " + argv[0] + " failed: " + e);
      return 1;
    }
  }
}
