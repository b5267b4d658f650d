package io.holdfast.cli;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import com.typesafe.config.ConfigValueFactory;
import io.holdfast.api.Holdfast;
import io.holdfast.api.HttpApi;
import io.holdfast.local.TcpRetransmission;
import io.holdfast.nats.NatsNode;
import io.holdfast.nats.NatsSettings;
import io.holdfast.security.Users;
import io.holdfast.server.ClusterFormation;
import io.holdfast.server.NodeSettings;
import io.holdfast.server.StreamManager;
import io.holdfast.storage.StorageFailure;
import java.io.File;
import java.io.PrintStream;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import org.apache.pekko.actor.Address;
import org.apache.pekko.actor.CoordinatedShutdown;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code holdfast node --config FILE}: one server node in the foreground until SIGTERM (a clean
 * leave) or SIGKILL (which it is built to survive). The cluster roles a server node needs are
 * added from {@code holdfast.node.id} when the file does not set them.
 *
 * <p>The node stays up without an operator (issue 18): its cluster forms and re-forms through
 * {@link ClusterFormation}, in any start order, and when its ActorSystem terminates for any other
 * reason than SIGTERM, a leave, a stopped disk (D10) or a refused config — the majority downed
 * it, a peer quarantined it — the process starts a new ActorSystem on the same data
 * directory, which joins the cluster as a new incarnation. Restarts of a node that ran under a
 * minute back off from 1 s to 32 s. Exit codes: 0 stopped cleanly; 1 could not start (its storage
 * refused to open: the message says why), or storage stopped: a supervisor should not restart it
 * blindly; 2 bad usage.
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
    Users users;
    try {
      users = Users.fromConfig(config);
    } catch (IllegalArgumentException | com.typesafe.config.ConfigException e) {
      throw new UsageException(file + ": " + e.getMessage());
    }
    String refusal = refusal(users, settings, nats);
    if (refusal != null) {
      throw new UsageException(file + ": " + refusal);
    }
    Listeners listeners;
    try {
      listeners = Listeners.fromConfig(config, users);
    } catch (IllegalArgumentException | com.typesafe.config.ConfigException e) {
      throw new UsageException(file + ": " + e.getMessage());
    }
    String rto = TcpRetransmission.nodeNote();
    if (rto != null) {
      err.println("holdfast: note: " + rto);
    }
    List<Address> seeds;
    try {
      seeds = ClusterFormation.parseSeeds(config.getStringList("pekko.cluster.seed-nodes"));
    } catch (IllegalArgumentException e) {
      throw new UsageException(e.getMessage());
    }
    // The seed list goes to ClusterFormation, not to Pekko's seed-node process (see its class
    // comment); the JVM outlives an ActorSystem that terminates, so that it can start another.
    Config own = config.withValue("pekko.cluster.seed-nodes", ConfigValueFactory.fromIterable(List.of()))
        .withValue("pekko.coordinated-shutdown.exit-jvm", ConfigValueFactory.fromAnyRef(false));
    Duration formationInterval = config.getDuration("holdfast.cluster.formation-interval");
    int incarnation = 0;
    int quickRestarts = 0;
    while (true) {
      incarnation++;
      ActorSystem<Void> system = ActorSystem.create(Behaviors.empty(), "holdfast", own);
      long started = System.nanoTime();
      // Formation first: finding the cluster (a round trip to each seed, two rounds to form one)
      // runs while the HTTP and NATS listeners start, not after them (~1 s sooner after a restart).
      ClusterFormation.start(system, seeds, formationInterval);
      String natsUrl;
      try {
        natsUrl = startServices(system, settings, nats, listeners);
      } catch (Exception e) {
        Throwable cause = e.getCause() != null ? e.getCause() : e;
        Optional<CoordinatedShutdown.Reason> shutdownReason = CoordinatedShutdown.get(system).getShutdownReason();
        system.terminate();
        system.getWhenTerminated().toCompletableFuture().get(30, TimeUnit.SECONDS);
        boolean storage = false;
        for (Throwable t = e; t != null; t = t.getCause()) {
          storage |= t instanceof StorageFailure;
        }
        switch (afterFailedStart(shutdownReason, storage, incarnation, quickRestarts)) {
          case EXIT -> {
            err.println("holdfast: node " + settings.nodeId() + " failed to start: " + cause.getMessage());
            return 1;
          }
          case RESTART_DOWNED -> err.println("holdfast: node " + settings.nodeId() + ": downed while starting ("
              + shutdownReason.orElseThrow() + "); starting it again");
          case RETRY -> err.println("holdfast: node " + settings.nodeId() + " could not start again ("
              + cause.getMessage() + "); trying again");
        }
        quickRestarts++;
        pause(Math.min(quickRestarts, RESTARTS_MAX));
        continue;
      }
      out.println("holdfast node " + settings.nodeId() + (incarnation == 1 ? " started" : " started again")
          + (settings.httpEnabled() ? ", HTTP API on http://" + settings.httpHost() + ":" + settings.httpPort() : "")
          + (natsUrl != null ? ", NATS clients on " + natsUrl : ""));
      out.flush();
      system.getWhenTerminated().toCompletableFuture().get();
      CoordinatedShutdown.Reason reason = CoordinatedShutdown.get(system).getShutdownReason()
          .orElse(CoordinatedShutdown.unknownReason());
      if (reason instanceof StreamManager.StorageStoppedReason
          || reason == CoordinatedShutdown.incompatibleConfigurationDetectedReason()) {
        return 1; // an operator's matter (D10; a config the cluster refuses): restarting would not mend it
      }
      if (reason == CoordinatedShutdown.jvmExitReason() || reason == CoordinatedShutdown.clusterLeavingReason()) {
        return 0; // SIGTERM, or asked to leave: a clean stop
      }
      // Downed by the majority (MajorityDowning), quarantined, or terminated by a fault: start again,
      // with a fresh ActorSystem (a new cluster incarnation) on the same data directory.
      quickRestarts = System.nanoTime() - started > TimeUnit.SECONDS.toNanos(60) ? 0 : quickRestarts + 1;
      err.println("holdfast: node " + settings.nodeId() + ": its ActorSystem terminated (" + reason
          + "); starting it again");
      pause(Math.min(quickRestarts, RESTARTS_MAX));
    }
  }

  /** What a node does when its services failed to start. */
  enum AfterFailedStart { EXIT, RESTART_DOWNED, RETRY }

  /**
   * After the services of {@code incarnation} failed to start: a storage failure, or a first start
   * that fails, or too many quick restarts, exit (exit code 1); else start again. Formation runs
   * beside the start, so the node may be downed while its services start (it formed a cluster
   * beside the majority's, and leaves it to join that one): that is a restart like any downing,
   * also for the first incarnation, not a failure to start.
   */
  static AfterFailedStart afterFailedStart(Optional<CoordinatedShutdown.Reason> shutdownReason, boolean storage,
      int incarnation, int quickRestarts) {
    if (storage) {
      return AfterFailedStart.EXIT;
    }
    if (shutdownReason.filter(CoordinatedShutdown.clusterDowningReason()::equals).isPresent()) {
      return AfterFailedStart.RESTART_DOWNED;
    }
    return incarnation == 1 || quickRestarts >= RESTARTS_MAX ? AfterFailedStart.EXIT : AfterFailedStart.RETRY;
  }

  /** Restarts of a node that ran under a minute, in a row, before the backoff stops growing. */
  private static final int RESTARTS_MAX = 5;

  /** 1 s after the first quick restart, doubling to 32 s: a node downed again and again backs off. */
  private static void pause(int quickRestarts) throws InterruptedException {
    Thread.sleep(1000L << Math.max(0, quickRestarts - 1)); // a restart backoff, not a wait for a condition
  }

  /** Holdfast, its HTTP API and its NATS listener on {@code system}; returns the NATS URL (null: off). */
  private static String startServices(ActorSystem<Void> system, NodeSettings settings, NatsSettings nats,
      Listeners l) throws Exception {
    Holdfast holdfast = Holdfast.get(system);
    if (settings.httpEnabled()) {
      HttpApi.start(system, holdfast, settings.httpHost(), settings.httpPort(), l.users(), l.httpTls())
          .toCompletableFuture().get(30, TimeUnit.SECONDS);
    }
    return nats.enabled() ? NatsNode.start(system, holdfast, nats, l.users(), l.natsTls(), l.natsVerify())
        .toCompletableFuture().get(30, TimeUnit.SECONDS).url() : null;
  }

  /** Who may use the listeners, and their TLS ({@code holdfast.tls}; null context: plaintext). */
  record Listeners(Users users, javax.net.ssl.SSLContext natsTls, boolean natsVerify, javax.net.ssl.SSLContext httpTls) {
    static Listeners fromConfig(Config config, Users users) {
      boolean nats = config.getBoolean("holdfast.nats.tls");
      boolean http = config.getBoolean("holdfast.http.tls");
      javax.net.ssl.SSLContext ctx = nats || http ? io.holdfast.security.Tls.serverContext(config) : null;
      return new Listeners(users, nats ? ctx : null, config.getBoolean("holdfast.nats.tls-verify"), http ? ctx : null);
    }
  }

  /**
   * Secure by default: why this node must not start (null: it may). A listener on an address other
   * machines can reach needs users; on loopback, no users is fine (zero config on one machine).
   */
  static String refusal(Users users, NodeSettings settings, NatsSettings nats) {
    String http = settings.httpEnabled() ? users.refusal("holdfast.http.host", settings.httpHost()) : null;
    return http != null ? http : nats.enabled() ? users.refusal("holdfast.nats.host", nats.host()) : null;
  }

  /**
   * {@code -D} system properties over the file, then Holdfast's and Pekko's defaults (Typesafe
   * Config's usual order); server roles added from the node id if missing.
   */
  static Config load(File file) {
    Config config = ConfigFactory.load(ConfigFactory.parseFile(file));
    int id = config.getInt("holdfast.node.id");
    if (id > 0 && config.getStringList("pekko.cluster.roles").isEmpty()) {
      config = config.withValue("pekko.cluster.roles",
          ConfigValueFactory.fromIterable(List.of(NodeSettings.SERVER_ROLE, NodeSettings.nodeRole(id))));
    }
    return config;
  }
}
