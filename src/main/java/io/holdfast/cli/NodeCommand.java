package io.holdfast.cli;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import com.typesafe.config.ConfigValueFactory;
import io.holdfast.api.Holdfast;
import io.holdfast.api.HttpApi;
import io.holdfast.nats.NatsNode;
import io.holdfast.nats.NatsSettings;
import io.holdfast.server.NodeSettings;
import java.io.File;
import java.io.PrintStream;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code holdfast node --config FILE}: one server node in the foreground until SIGTERM (a clean
 * leave) or SIGKILL (which it is built to survive). The cluster roles a server node needs are
 * added from {@code holdfast.node.id} when the file does not set them.
 */
@Command(name = "node", description = "Run one server node in the foreground until SIGTERM.")
final class NodeCommand extends CliCommand {
  @Option(names = "--config", paramLabel = "FILE", description = "The node's HOCON config (see conf/node1.conf).")
  String file;

  @Override
  public Integer call() throws Exception {
    PrintStream out = out();
    PrintStream err = err();
    if (file == null) {
      throw new UsageException("node needs --config FILE (see conf/node1.conf)");
    }
    if (!new File(file).isFile()) {
      throw new UsageException("no such config file: " + file);
    }
    Config config = load(new File(file));
    NodeSettings settings = NodeSettings.fromConfig(config);
    NatsSettings nats = NatsSettings.fromConfig(config);
    String natsUrl = null;
    ActorSystem<Void> system = ActorSystem.create(Behaviors.empty(), "holdfast", config);
    try {
      Holdfast holdfast = Holdfast.get(system);
      if (settings.httpEnabled()) {
        HttpApi.start(system, holdfast, settings.httpHost(), settings.httpPort()).toCompletableFuture()
            .get(30, TimeUnit.SECONDS);
      }
      if (nats.enabled()) {
        natsUrl = NatsNode.start(system, holdfast, nats).toCompletableFuture().get(30, TimeUnit.SECONDS).url();
      }
    } catch (Exception e) {
      Throwable cause = e.getCause() != null ? e.getCause() : e;
      err.println("holdfast: node " + settings.nodeId() + " failed to start: " + cause.getMessage());
      system.terminate();
      system.getWhenTerminated().toCompletableFuture().get(30, TimeUnit.SECONDS);
      return 1;
    }
    out.println("holdfast node " + settings.nodeId() + " started"
        + (settings.httpEnabled() ? ", HTTP API on http://" + settings.httpHost() + ":" + settings.httpPort() : "")
        + (natsUrl != null ? ", NATS clients on " + natsUrl : ""));
    out.flush();
    system.getWhenTerminated().toCompletableFuture().get();
    boolean storageStopped = org.apache.pekko.actor.CoordinatedShutdown.get(system).getShutdownReason()
        .filter(r -> r instanceof io.holdfast.server.StreamManager.StorageStoppedReason).isPresent();
    return storageStopped ? 1 : 0;
  }

  /** The file, then Holdfast's and Pekko's defaults; server roles added from the node id if missing. */
  static Config load(File file) {
    Config config = ConfigFactory.parseFile(file).withFallback(ConfigFactory.defaultReference()).resolve();
    int id = config.getInt("holdfast.node.id");
    if (id > 0 && config.getStringList("pekko.cluster.roles").isEmpty()) {
      config = config.withValue("pekko.cluster.roles",
          ConfigValueFactory.fromIterable(List.of(NodeSettings.SERVER_ROLE, NodeSettings.nodeRole(id))));
    }
    return config;
  }
}
