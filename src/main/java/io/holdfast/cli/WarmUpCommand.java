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
import io.holdfast.nats.NatsNode;
import io.holdfast.nats.NatsSettings;
import io.holdfast.server.ClusterFormation;
import io.nats.client.Connection;
import io.nats.client.JetStream;
import io.nats.client.JetStreamSubscription;
import io.nats.client.Message;
import io.nats.client.Nats;
import io.nats.client.Options;
import io.nats.client.PullSubscribeOptions;
import io.nats.client.api.PublishAck;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code holdfast warm-up}: an internal command, the training run of a node's class-data archive
 * (see {@link LocalCluster}, "class-data sharing"). It boots {@value #NODES} server nodes in this
 * JVM on loopback with throw-away data directories, as {@code holdfast node} starts them (cluster
 * formation, HTTP and NATS listeners), drives the paths nodes take when they serve together
 * (forming the cluster over Artery, gossip and sharding, the meta group, an R3 stream replicated
 * to followers, the segment store, HTTP and NATS publishes through every node, reads, a consumer
 * fetch and acks), and shuts down. The JVM that runs it writes the classes it loaded to the
 * archive at exit; node JVMs then map them instead of loading and verifying them each start.
 *
 * <p>Why three nodes, not one: with a one-node training run, a node restarting into a 3-node
 * cluster loaded ~2,900 classes from jars (read, verified) against ~9,100 from the archive; with
 * this one ~1,950 against ~10,000 (remoting, gossip, distributed data, replication and the NATS
 * front door are now mapped; what is left is mostly lambda and proxy classes, and picocli, whose
 * class files are too old for CDS). Class loading time per node at a restart of all three:
 * 6.6-7.6 s before, 4.5-4.8 s after (PerfCounter sun.cls.time).
 */
@Command(name = "warm-up", description = {"Internal: the training run of the class-data archive local clusters start nodes with.",
    "Three nodes in one JVM that form a cluster, serve a few requests and exit."})
final class WarmUpCommand extends CliCommand {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final int NODES = 3;

  @Option(names = "--dir", paramLabel = "DIR", description = "Its data directory (default: a new temporary one).")
  Path dirOption;

  @Override
  public Integer call() throws Exception {
    PrintStream out = out();
    Path dir = dirOption != null ? dirOption : Files.createTempDirectory("holdfast-warm-up");
    Files.createDirectories(dir);
    int[] artery = new int[NODES];
    List<String> seeds = new ArrayList<>();
    for (int i = 0; i < NODES; i++) {
      artery[i] = LocalCluster.freePort("127.0.0.1");
      seeds.add("pekko://holdfast@127.0.0.1:" + artery[i]);
    }
    String voters = String.join(", ", java.util.stream.IntStream.rangeClosed(1, NODES).mapToObj(String::valueOf)
        .toList()); // every node votes in the meta group
    List<ActorSystem<Void>> systems = new ArrayList<>();
    try {
      List<NodeClient> http = new ArrayList<>();
      List<String> nats = new ArrayList<>();
      for (int i = 0; i < NODES; i++) {
        int id = i + 1;
        int httpPort = LocalCluster.freePort("127.0.0.1");
        int natsPort = LocalCluster.freePort("127.0.0.1");
        // The node's config as `holdfast cluster` writes it: conf/holdfast.conf and this node's place.
        Config config = ConfigFactory.load(ConfigFactory.parseString("""
            include file("%s")
            pekko.loglevel = WARNING
            pekko.remote.artery.canonical.hostname = "127.0.0.1"
            pekko.remote.artery.canonical.port = %d
            pekko.cluster.roles = ["holdfast", "holdfast-node-%d"]
            pekko.cluster.seed-nodes = []
            pekko.cluster.jmx.multi-mbeans-in-same-jvm = on
            pekko.coordinated-shutdown.exit-jvm = off
            holdfast.node.id = %d
            holdfast.node.data-dir = "%s"
            holdfast.meta.voters = [%s]
            holdfast.nats.enabled = on
            holdfast.nats.host = "127.0.0.1"
            holdfast.nats.port = %d
            """.formatted(LocalCluster.baseConfig(), artery[i], id, id,
            dir.resolve("node" + id).toString().replace("\\", "/"), voters, natsPort)));
        ActorSystem<Void> system = ActorSystem.create(Behaviors.empty(), "holdfast", config);
        systems.add(system);
        // As NodeCommand starts a node: formation (not Pekko's seed-node process), then the listeners.
        ClusterFormation.start(system, ClusterFormation.parseSeeds(seeds),
            config.getDuration("holdfast.cluster.formation-interval"));
        Holdfast holdfast = Holdfast.get(system);
        HttpApi.start(system, holdfast, "127.0.0.1", httpPort).toCompletableFuture().get(30, TimeUnit.SECONDS);
        nats.add(NatsNode.start(system, holdfast, NatsSettings.fromConfig(config)).toCompletableFuture()
            .get(30, TimeUnit.SECONDS).url());
        http.add(new NodeClient("http://127.0.0.1:" + httpPort));
      }
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(90);
      for (NodeClient c : http) {
        while (!healthy(c)) {
          if (System.nanoTime() > deadline) {
            throw new IllegalStateException("the warm-up nodes did not become healthy in 90 s");
          }
          Thread.sleep(100); // polling the nodes' own startup: they have no event to wait on
        }
      }
      ObjectNode stream = JSON.createObjectNode().put("name", "warm").put("replicas", NODES);
      stream.putArray("subjects").add("warm.>");
      http.get(0).call("POST", "/streams", stream.toString().getBytes(StandardCharsets.UTF_8));
      byte[] payload = new byte[4096];
      for (int i = 0; i < 300; i++) {
        http.get(i % NODES).call("POST", "/pub/warm." + (i % 10), payload);
      }
      natsRound(nats);
      for (NodeClient c : http) {
        c.call("GET", "/streams/warm/messages/1", null);
        c.call("GET", "/streams/warm/last/warm.3", null);
        c.call("GET", "/streams/warm", null);
      }
      ObjectNode consumer = JSON.createObjectNode().put("name", "w").put("deliver_policy", "all")
          .put("ack_policy", "explicit");
      http.get(1).call("POST", "/streams/warm/consumers", consumer.toString().getBytes(StandardCharsets.UTF_8));
      JsonNode batch = http.get(1).call("POST", "/streams/warm/consumers/w/next?batch=10&wait=1s", null);
      for (JsonNode m : batch.path("messages")) {
        http.get(1).call("POST", "/ack/" + m.path("ack_token").asText(), null);
      }
      out.println("warm-up done");
      return 0;
    } finally {
      for (int i = systems.size() - 1; i >= 0; i--) { // one by one: each leaves while the others can confirm it
        ActorSystem<Void> system = systems.get(i);
        system.terminate();
        system.getWhenTerminated().toCompletableFuture().get(60, TimeUnit.SECONDS);
      }
      LocalCluster.deleteTree(dir);
    }
  }

  /** Publishes through a NATS client on every node, then drains what it sent through a pull consumer. */
  private static void natsRound(List<String> urls) throws Exception {
    try (Connection nc = Nats.connect(new Options.Builder().servers(urls.toArray(new String[0]))
        .connectionTimeout(Duration.ofSeconds(10)).build())) {
      JetStream js = nc.jetStream();
      List<CompletableFuture<PublishAck>> acks = new ArrayList<>();
      for (int i = 0; i < 300; i++) {
        acks.add(js.publishAsync("warm.nats." + (i % 10), new byte[1024]));
      }
      CompletableFuture.allOf(acks.toArray(new CompletableFuture[0])).get(60, TimeUnit.SECONDS);
      JetStreamSubscription sub = js.subscribe("warm.nats.>", PullSubscribeOptions.builder().durable("n").build());
      for (Message m : sub.fetch(100, Duration.ofSeconds(5))) {
        m.ack();
      }
      nc.flush(Duration.ofSeconds(5));
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
