package io.holdfast.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.holdfast.local.LocalCluster;
import java.nio.file.Path;
import java.util.List;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code holdfast cluster start|stop|kill|restart|status}: node JVMs on 127.0.0.1 (see {@link LocalCluster}). */
@Command(name = "cluster", description = "Local node JVMs on 127.0.0.1, state under --dir (default ./run).",
    subcommands = {ClusterCommands.Start.class, ClusterCommands.Stop.class, ClusterCommands.Kill.class,
        ClusterCommands.Restart.class, ClusterCommands.Drain.class, ClusterCommands.Status.class})
final class ClusterCommands extends CliCommand {
  @Override
  public Integer call() {
    throw new UsageException("cluster needs an action: start, stop, kill, restart or status");
  }

  /** The options every cluster action takes. */
  abstract static class Action extends CliCommand {
    @Option(names = "--dir", paramLabel = "DIR", description = "The cluster's directory (default ${DEFAULT-VALUE}).")
    Path dirOption = Path.of("run");

    Path dir() {
      return dirOption.toAbsolutePath().normalize();
    }
  }

  @Command(name = "start", sortOptions = false, description = "Start every node that is not running; wait until all serve.")
  static final class Start extends Action {
    @Option(names = "--nodes", paramLabel = "N", description = "Nodes of a new cluster (default ${DEFAULT-VALUE}).")
    int nodes = 3;
    @Option(names = "--heap", paramLabel = "SIZE", description = "Each node's -Xmx, kept in cluster.json (default "
        + LocalCluster.HEAP_DEFAULT + ").")
    String heap = LocalCluster.HEAP_DEFAULT;
    @Option(names = "--tls", description = "For a new cluster: make a throwaway CA and node certificates (in DIR/tls/) "
        + "and use TLS between nodes (mutual authentication), for HTTP (HTTPS) and for NATS clients.")
    boolean tls;
    @Option(names = "--json", description = "Print the nodes as JSON.")
    boolean json;

    @Override
    public Integer call() throws Exception {
      LocalCluster c = LocalCluster.openOrCreate(dir(), between("--nodes", nodes, 1, 9), false, LocalCluster.heap(heap),
          tls);
      c.startAll(err());
      out().println(json ? c.nodesJson().toString() : c.describe());
      return 0;
    }
  }

  @Command(name = "stop", description = "Stop every node (SIGTERM, then SIGKILL after a grace period).")
  static final class Stop extends Action {
    @Override
    public Integer call() throws Exception {
      LocalCluster.open(dir()).stopAll(err());
      out().println("stopped the cluster in " + dir());
      return 0;
    }
  }

  /** An action on one node, named by its id. */
  abstract static class OnNode extends Action {
    @Parameters(paramLabel = "ID", description = "The node's id.")
    int id;
  }

  @Command(name = "kill", description = "SIGKILL one node.")
  static final class Kill extends OnNode {
    @Override
    public Integer call() throws Exception {
      LocalCluster c = LocalCluster.open(dir());
      LocalCluster.Node node = c.node(id);
      long pid = c.kill(node.id());
      out().println(pid > 0 ? "killed node " + node.id() + " (pid " + pid + ")" : "node " + node.id() + " was not running");
      return 0;
    }
  }

  @Command(name = "restart", description = {"Stop one node, start it again, wait until it serves.",
      "With --rolling (and no ID): every node in turn, each after the last one serves again and all its replicas "
          + "caught up, so publishing goes on through it."})
  static final class Restart extends Action {
    @Parameters(paramLabel = "ID", arity = "0..1", description = "The node's id (none with --rolling).")
    Integer id;
    @Option(names = "--rolling", description = "Restart every node, one at a time.")
    boolean rolling;

    @Override
    public Integer call() throws Exception {
      LocalCluster c = LocalCluster.open(dir());
      if (rolling == (id != null)) {
        throw new UsageException(rolling ? "--rolling restarts every node: leave out the ID" : "give a node ID, or --rolling");
      }
      if (rolling) {
        long start = System.nanoTime();
        c.rollingRestart(err(), n -> { }, n -> { });
        out().printf("restarted all %d nodes, one at a time, in %.1f s%n", c.nodes.size(), (System.nanoTime() - start) / 1e9);
        return 0;
      }
      LocalCluster.Node node = c.node(id);
      c.stop(node.id(), err());
      c.start(node.id());
      c.awaitReady(List.of(node), err());
      out().println("restarted node " + node.id() + " (pid " + c.pid(node.id()).orElse(-1L) + ")");
      return 0;
    }
  }

  @Command(name = "drain", description = {"Move every stream replica and the meta vote off one node, so it can be "
      + "retired: each stream grows by a replica on another node, which catches up, then shrinks again; no stream is "
      + "ever below its replica count. A meta vote moves the same way, to a node without one. Prints "
      + "{\"node\":ID,\"draining\":true,\"moved\":[streams],\"meta_voter\":false}.",
      "The node stays marked draining (no new replica goes there) until --undo; a moved meta vote stays moved."})
  static final class Drain extends OnNode {
    @Option(names = "--undo", description = "Let new replicas be placed on the node again.")
    boolean undo;

    @Override
    public Integer call() throws Exception {
      LocalCluster c = LocalCluster.open(dir());
      c.node(id);
      LocalCluster.Node via = c.nodes.stream().filter(n -> n.id() != id && c.pid(n.id()).isPresent()).findFirst()
          .orElseThrow(() -> new UsageException("no other node of " + dir() + " is running"));
      try {
        out().println(c.client(via).call("POST", "/cluster/nodes/" + id + (undo ? "/undrain" : "/drain"), null,
            java.util.Map.of(), java.time.Duration.ofMinutes(31)));
        return 0;
      } catch (io.holdfast.local.NodeClient.ServerError e) {
        err().println("holdfast: cluster drain " + id + ": " + e.code() + ": " + e.getMessage());
        return 1;
      }
    }
  }

  @Command(name = "status", description = "Each node: pid, HTTP address, state.")
  static final class Status extends Action {
    @Option(names = "--json", description = "Print the status as JSON.")
    boolean json;

    @Override
    public Integer call() throws Exception {
      ObjectNode status = LocalCluster.open(dir()).status();
      if (json) {
        out().println(status);
      } else {
        for (JsonNode n : status.get("nodes")) {
          out().printf("node %d  pid %s  %s  %s%n", n.get("id").asInt(), n.get("pid").isNull() ? "-" : n.get("pid").asText(),
              n.get("http").asText(), n.get("state").asText());
        }
      }
      return 0;
    }
  }
}
