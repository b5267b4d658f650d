package io.holdfast.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import io.holdfast.api.Holdfast;
import io.holdfast.api.HttpApi;
import io.holdfast.local.LocalCluster;
import io.holdfast.local.NodeClient;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code holdfast warm-up}: an internal command, the training run of a node's class-data archive
 * (see {@link LocalCluster}, "class-data sharing"). It boots a one-node server on loopback with a
 * throw-away data directory, drives the paths a node takes when it serves (cluster join, meta group,
 * a stream replica, the segment store, HTTP publish, get and a consumer fetch), and shuts down. The
 * JVM that runs it writes the classes it loaded to the archive at exit; node JVMs then map them
 * instead of loading and verifying some 10,000 classes each start (measured: a node serves about
 * 3.5 s sooner on 2 cores).
 */
@Command(name = "warm-up", description = {"Internal: the training run of the class-data archive local clusters start nodes with.",
    "A one-node server that serves a few requests and exits."})
final class WarmUpCommand extends CliCommand {
  private static final ObjectMapper JSON = new ObjectMapper();

  @Option(names = "--dir", paramLabel = "DIR", description = "Its data directory (default: a new temporary one).")
  Path dirOption;

  @Override
  public Integer call() throws Exception {
    PrintStream out = out();
    Path dir = dirOption != null ? dirOption : Files.createTempDirectory("holdfast-warm-up");
    Files.createDirectories(dir);
    int artery = LocalCluster.freePort("127.0.0.1");
    int http = LocalCluster.freePort("127.0.0.1");
    Config config = ConfigFactory.parseString("""
        pekko.loglevel = WARNING
        pekko.actor.provider = cluster
        pekko.remote.artery.canonical.hostname = "127.0.0.1"
        pekko.remote.artery.canonical.port = %d
        pekko.cluster.seed-nodes = ["pekko://holdfast@127.0.0.1:%d"]
        pekko.cluster.roles = ["holdfast", "holdfast-node-1"]
        pekko.coordinated-shutdown.exit-jvm = off
        holdfast.node.id = 1
        holdfast.node.data-dir = "%s"
        holdfast.meta.voters = [1]
        """.formatted(artery, artery, dir.resolve("data").toString().replace("\\", "/")))
        .withFallback(ConfigFactory.load());
    ActorSystem<Void> system = ActorSystem.create(Behaviors.empty(), "holdfast", config);
    try {
      Holdfast holdfast = Holdfast.get(system);
      HttpApi.start(system, holdfast, "127.0.0.1", http).toCompletableFuture().get(30, TimeUnit.SECONDS);
      NodeClient c = new NodeClient("http://127.0.0.1:" + http);
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
      while (!healthy(c)) {
        if (System.nanoTime() > deadline) {
          throw new IllegalStateException("the warm-up node did not become healthy in 60 s");
        }
        Thread.sleep(100); // polling the node's own startup: it has no event to wait on
      }
      ObjectNode stream = JSON.createObjectNode().put("name", "warm");
      stream.putArray("subjects").add("warm.>");
      c.call("POST", "/streams", stream.toString().getBytes(StandardCharsets.UTF_8));
      byte[] payload = new byte[4096];
      for (int i = 0; i < 200; i++) {
        c.call("POST", "/pub/warm." + (i % 10), payload);
      }
      c.call("GET", "/streams/warm/messages/1", null);
      c.call("GET", "/streams/warm/last/warm.3", null);
      ObjectNode consumer = JSON.createObjectNode().put("name", "w").put("deliver_policy", "all")
          .put("ack_policy", "explicit");
      c.call("POST", "/streams/warm/consumers", consumer.toString().getBytes(StandardCharsets.UTF_8));
      JsonNode batch = c.call("POST", "/streams/warm/consumers/w/next?batch=10&wait=1s", null);
      for (JsonNode m : batch.path("messages")) {
        c.call("POST", "/ack/" + m.path("ack_token").asText(), null);
      }
      c.call("GET", "/streams/warm", null);
      out.println("warm-up done");
      return 0;
    } finally {
      system.terminate();
      system.getWhenTerminated().toCompletableFuture().get(60, TimeUnit.SECONDS);
      LocalCluster.deleteTree(dir);
    }
  }

  private static boolean healthy(NodeClient c) throws IOException, InterruptedException {
    try {
      return c.call("GET", "/health", null).path("status").asText().equals("ok");
    } catch (NodeClient.ServerError starting) { // 503 until the node has registered
      return false;
    }
  }
}
