package io.holdfast.persistence;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import io.holdfast.api.Holdfast;
import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.TreeMap;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.javadsl.Behaviors;

/**
 * Three Holdfast server nodes in this JVM (ActorSystems named {@code systemName}, on 127.0.0.1,
 * data in a temporary directory), for tests whose own ActorSystem — an application node, made
 * with {@link #applicationNode} — joins them: the persistence TCK names its system itself.
 */
final class InJvmCluster implements AutoCloseable {
  final String systemName;
  private final Path dir;
  final TreeMap<Integer, Integer> ports = new TreeMap<>();
  final TreeMap<Integer, ActorSystem<Void>> nodes = new TreeMap<>();

  private InJvmCluster(String systemName, Path dir) {
    this.systemName = systemName;
    this.dir = dir;
  }

  /** A cluster of three nodes with their ports and directory chosen; none started yet. */
  static InJvmCluster plan(String systemName) {
    try {
      InJvmCluster c = new InJvmCluster(systemName, Files.createTempDirectory("holdfast-" + systemName));
      for (int id = 1; id <= 3; id++) {
        c.ports.put(id, freePort());
      }
      return c;
    } catch (IOException e) {
      throw new java.io.UncheckedIOException(e);
    }
  }

  /** Starts the three nodes and waits until each is registered with the meta group. */
  InJvmCluster start() {
    try {
      for (int id = 1; id <= 3; id++) {
        nodes.put(id, ActorSystem.create(Behaviors.empty(), systemName, config(id, ports.get(id))));
        Holdfast.get(nodes.get(id));
      }
      for (ActorSystem<Void> s : nodes.values()) {
        await(() -> Holdfast.get(s).clusterStatus().toCompletableFuture().get().registration().equals("registered"),
            "node " + s.address() + " registered", Duration.ofSeconds(90));
      }
      return this;
    } catch (Exception e) {
      throw new IllegalStateException("the test cluster did not start: " + e, e);
    }
  }

  /** The config of an application node (holdfast.node.id 0) that joins this cluster. */
  Config applicationNode() {
    try {
      return config(0, freePort());
    } catch (IOException e) {
      throw new java.io.UncheckedIOException(e);
    }
  }

  private Config config(int id, int port) {
    StringBuilder seeds = new StringBuilder();
    for (int seed : ports.keySet()) {
      seeds.append(seeds.length() == 0 ? "" : ",").append("\"pekko://").append(systemName).append("@127.0.0.1:")
          .append(ports.get(seed)).append('"');
    }
    String roles = id == 0 ? "[]" : "[\"holdfast\", \"holdfast-node-" + id + "\"]";
    return ConfigFactory.parseString("""
        pekko.loglevel = WARNING
        pekko.actor.provider = cluster
        pekko.remote.artery.canonical.hostname = "127.0.0.1"
        pekko.remote.artery.canonical.port = %d
        pekko.cluster.seed-nodes = [%s]
        pekko.cluster.roles = %s
        pekko.cluster.downing-provider-class = "io.holdfast.server.MajorityDowning"
        holdfast.cluster.downing.stable-after = 3s
        pekko.cluster.seed-node-timeout = 1s
        pekko.cluster.jmx.multi-mbeans-in-same-jvm = on
        pekko.coordinated-shutdown.exit-jvm = off
        holdfast.node.id = %d
        holdfast.node.data-dir = "%s"
        holdfast.client.request-timeout = 4s
        pekko.persistence.journal.plugin = "holdfast.persistence.journal"
        pekko.persistence.snapshot-store.plugin = "holdfast.persistence.snapshot-store"
        pekko.persistence.state.plugin = "holdfast.persistence.state"
        pekko.actor.serialization-bindings {
          "io.holdfast.persistence.BankAccount$CborSerializable" = jackson-cbor
        }
        """.formatted(port, seeds, roles, id, dir.resolve("node" + id).toString().replace("\\", "/")))
        .withFallback(ConfigFactory.load());
  }

  @Override
  public void close() {
    List<ActorSystem<Void>> all = new ArrayList<>(nodes.descendingMap().values());
    nodes.clear();
    for (ActorSystem<Void> s : all) { // one after another: all at once is slower
      s.terminate();
      try {
        s.getWhenTerminated().toCompletableFuture().get(60, TimeUnit.SECONDS);
      } catch (Exception e) {
        throw new IllegalStateException("node " + s.address() + " did not stop: " + e, e);
      }
    }
    try {
      io.holdfast.local.LocalCluster.deleteTree(dir); // created by plan(); nothing runs on it any more
    } catch (IOException e) {
      throw new java.io.UncheckedIOException("could not delete " + dir, e);
    }
  }

  static int freePort() throws IOException {
    try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      return s.getLocalPort();
    }
  }

  /** Polls {@code c} until it holds: the cluster works on its own clock, there is nothing to join on. */
  static void await(Callable<Boolean> c, String what, Duration within) throws Exception {
    long deadline = System.nanoTime() + within.toNanos();
    Exception last = null;
    while (System.nanoTime() < deadline) {
      try {
        if (c.call()) {
          return;
        }
      } catch (Exception e) {
        last = e;
      }
      Thread.sleep(100);
    }
    throw new IllegalStateException("timed out waiting for: " + what + (last == null ? "" : " (last error: " + last
        + ")"));
  }
}
