package io.holdfast.api;

import com.typesafe.config.ConfigFactory;
import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.javadsl.Behaviors;

/** A one-node Holdfast server in this JVM (its own meta group of one), for API tests that need no failover. */
public final class OneNode implements AutoCloseable {
  public final ActorSystem<Void> system;
  public final Holdfast holdfast;

  /** A temporary data directory this node created and deletes when it closes; null if given one. */
  private Path ownedDir;

  /** A node in a new temporary directory named {@code prefix}..., deleted when the node closes. */
  public static OneNode inTempDirectory(String prefix) throws Exception {
    Path dir = java.nio.file.Files.createTempDirectory(prefix);
    OneNode node = new OneNode(dir);
    node.ownedDir = dir;
    return node;
  }

  public OneNode(Path dataDir) throws Exception {
    this(dataDir, "");
  }

  /** A node with {@code extraConfig} (HOCON) over its settings. */
  public OneNode(Path dataDir, String extraConfig) throws Exception {
    int port = freePort();
    system = ActorSystem.create(Behaviors.empty(), "holdfast", ConfigFactory.parseString("""
        pekko.loglevel = WARNING
        pekko.actor.provider = cluster
        pekko.remote.artery.canonical.hostname = "127.0.0.1"
        pekko.remote.artery.canonical.port = %d
        pekko.cluster.seed-nodes = ["pekko://holdfast@127.0.0.1:%d"]
        pekko.cluster.roles = ["holdfast", "holdfast-node-1"]
        pekko.cluster.jmx.multi-mbeans-in-same-jvm = on
        pekko.coordinated-shutdown.exit-jvm = off
        holdfast.node.id = 1
        holdfast.node.data-dir = "%s"
        holdfast.meta.voters = [1]
        holdfast.client.request-timeout = 5s
        """.formatted(port, port, dataDir.toString().replace("\\", "/")) + extraConfig).withFallback(ConfigFactory.load()));
    holdfast = Holdfast.get(system);
    long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
    while (true) {
      try {
        if (holdfast.clusterStatus().toCompletableFuture().get(10, TimeUnit.SECONDS).registration().equals("registered")) {
          break;
        }
      } catch (Exception notYet) {
        if (System.nanoTime() > deadline) {
          throw notYet;
        }
      }
      if (System.nanoTime() > deadline) {
        throw new IllegalStateException("the node did not register within 60 s");
      }
      Thread.sleep(50); // polling a condition: the node's own startup has nothing to join on
    }
  }

  private static int freePort() throws IOException {
    try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      return s.getLocalPort();
    }
  }

  @Override
  public void close() throws Exception {
    system.terminate();
    system.getWhenTerminated().toCompletableFuture().get(60, TimeUnit.SECONDS);
    if (ownedDir != null) {
      io.holdfast.local.LocalCluster.deleteTree(ownedDir);
    }
  }
}
