package io.holdfast.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import io.holdfast.node.NodeStorage;
import io.holdfast.transport.ReplicaHost;
import java.nio.file.Path;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.apache.pekko.actor.CoordinatedShutdown;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Goal: the node's failure policy when its storage actor stops — nothing on the node can persist
 * again, so the node shuts down, loudly, instead of keeping replicas that wait for writes forever.
 * Method: a node's StreamManager over a storage actor the test stops.
 */
class StreamManagerTest {
  @TempDir
  Path tmp;

  @Test
  void theNodeShutsDownWhenItsStorageActorStops() throws Exception {
    Config config = ConfigFactory.parseString("""
        pekko.loglevel = ERROR
        pekko.actor.provider = cluster
        pekko.remote.artery.canonical.hostname = "127.0.0.1"
        pekko.remote.artery.canonical.port = 0
        pekko.coordinated-shutdown.exit-jvm = off
        holdfast.node.id = 1
        holdfast.meta.voters = [2]
        holdfast.node.data-dir = "%s"
        """.formatted(tmp.toString().replace("\\", "/"))).withFallback(ConfigFactory.load());
    ActorSystem<Void> system = ActorSystem.create(Behaviors.empty(), "holdfast", config);
    try {
      NodeSettings settings = NodeSettings.fromConfig(config);
      ActorRef<NodeStorage.Command> storage = system.systemActorOf(Behaviors.<NodeStorage.Command>receive(
          (ctx, m) -> Behaviors.stopped()), "storage", org.apache.pekko.actor.typed.Props.empty());
      ActorRef<ReplicaHost.Command> host = system.systemActorOf(ReplicaHost.create(), "host",
          org.apache.pekko.actor.typed.Props.empty());
      system.systemActorOf(StreamManager.create(settings,
          io.holdfast.node.MetaVoters.inMemory(settings.metaVoters()), storage, host, "incarnation", Set.of(), "",
          new GroupRouter(system)), "manager", org.apache.pekko.actor.typed.Props.empty());
      storage.tell(new NodeStorage.Forget("anything")); // its behavior stops on any message
      system.getWhenTerminated().toCompletableFuture().get(30, TimeUnit.SECONDS);
      assertTrue(CoordinatedShutdown.get(system).getShutdownReason().isPresent());
      assertEquals(StreamManager.StorageStoppedReason.INSTANCE, CoordinatedShutdown.get(system).getShutdownReason().get());
    } finally {
      system.terminate();
    }
  }
}
