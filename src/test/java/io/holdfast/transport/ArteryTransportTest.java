package io.holdfast.transport;

import static org.junit.jupiter.api.Assertions.assertEquals;

import com.typesafe.config.ConfigFactory;
import io.holdfast.node.NodeStorage;
import io.holdfast.raft.RaftSettings;
import io.holdfast.raft.message.Membership;
import io.holdfast.replica.ReplicaDriver;
import io.holdfast.replica.ReplicaShell;
import io.holdfast.storage.file.FileLogStore;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.actor.testkit.typed.javadsl.TestProbe;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.DispatcherSelector;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Goal: replicas on different nodes replicate through their ReplicaHosts over Artery, with Raft
 * messages carried by {@link RaftMessageSerializer} (Java serialization is off, so anything
 * unbound would be dropped and nothing would commit). Method: three ActorSystems on 127.0.0.1
 * with random ports, one replica each; propose through the leader; every replica applies all.
 */
class ArteryTransportTest {
  private static final RaftSettings SETTINGS = RaftSettings.defaults().withInflightAppendsMax(16)
      .withAppendEntriesMax(256).withAppendBytesMax(1 << 20).withUncommittedEntriesMax(10_000).withApplyEntriesMax(1024);
  @TempDir
  Path tmp;
  private final List<ActorTestKit> nodes = new ArrayList<>();
  private final List<FileLogStore> stores = new ArrayList<>();

  @AfterEach
  void shutdown() throws Exception {
    for (int i = nodes.size() - 1; i >= 0; i--) {
      nodes.get(i).shutdownTestKit();
    }
    for (FileLogStore s : stores) {
      s.close();
    }
  }

  @Test
  void replicasOnThreeNodesReplicateOverArtery() throws Exception {
    Map<Integer, ActorRef<ReplicaShell.Command>> replicas = new HashMap<>();
    Map<Integer, ActorRef<ReplicaHost.Command>> hosts = new HashMap<>();
    for (int id = 1; id <= 3; id++) {
      ActorTestKit kit = ActorTestKit.create("node" + id, ConfigFactory.parseString("""
          pekko.actor.provider = remote
          pekko.remote.artery.canonical.hostname = "127.0.0.1"
          pekko.remote.artery.canonical.port = 0
          """).withFallback(ConfigFactory.load()));
      nodes.add(kit);
      FileLogStore store = FileLogStore.open(FileLogStore.Options.defaults(tmp.resolve("node" + id)));
      java.nio.file.Path streams = tmp.resolve("node" + id).resolve("streams");
      stores.add(store);
      ActorRef<NodeStorage.Command> storage = kit.spawn(NodeStorage.create(store, new NodeStorage.Settings(4096, 16 << 20)),
          "storage", DispatcherSelector.fromConfig(NodeStorage.DISPATCHER));
      hosts.put(id, kit.spawn(ReplicaHost.create(), "host"));
      replicas.put(id, kit.spawn(ReplicaShell.create("orders", id, Membership.ofVoters(1, 2, 3), SETTINGS,
          Duration.ofMillis(10), storage, id, new io.holdfast.replica.StreamMachine("orders",
              synced -> io.holdfast.storage.segment.SegmentStore.open(new io.holdfast.storage.file.FileDisk(
                  streams), io.holdfast.storage.segment.SegmentStore.Options.defaults(), synced)), ReplicaShell.Clock.SYSTEM),
          "orders"));
    }
    for (int id = 1; id <= 3; id++) {
      Map<Integer, ActorRef<ReplicaHost.Command>> peers = new HashMap<>();
      for (int peer = 1; peer <= 3; peer++) {
        peers.put(peer, peer == id ? hosts.get(id)
            : ReplicaHost.asSeenFrom(nodes.get(id - 1).system(), nodes.get(peer - 1).system(), hosts.get(peer)));
      }
      replicas.get(id).tell(new ReplicaShell.Connect(peers, hosts.get(id)));
    }

    ActorTestKit first = nodes.get(0);
    TestProbe<ReplicaShell.ProposeReply> reply = first.createTestProbe();
    TestProbe<ReplicaDriver.Status> status = first.createTestProbe();
    List<String> acked = new ArrayList<>();
    for (int i = 0; i < 30; i++) {
      String value = "order-" + i;
      boolean applied = false;
      while (!applied) {
        int leader = leaderOf(replicas, status);
        replicas.get(leader).tell(new ReplicaShell.Propose(
            new io.holdfast.replica.Wire.Publish("orders.new", null, value.getBytes(StandardCharsets.UTF_8)), reply.ref()));
        applied = reply.receiveMessage(Duration.ofSeconds(10)) instanceof ReplicaShell.Applied;
      }
      acked.add(value);
    }
    // Proposals forwarded together from another node are answered together: one Replies message
    // to the node's repliesVia, holding each proposal's reply under its ticket.
    int leader = leaderOf(replicas, status);
    ActorTestKit other = nodes.get(leader % 3);
    TestProbe<ReplicaShell.Replies> via = other.createTestProbe();
    ActorRef<ReplicaShell.Command> remoteLeader = org.apache.pekko.actor.typed.ActorRefResolver.get(other.system())
        .resolveActorRef(org.apache.pekko.actor.typed.ActorRefResolver.get(nodes.get(leader - 1).system())
            .toSerializationFormat(replicas.get(leader)));
    remoteLeader.tell(new ReplicaShell.ProposeAll(List.of(
        new ReplicaShell.Propose(new io.holdfast.replica.Wire.Publish("orders.new", null,
            "together-1".getBytes(StandardCharsets.UTF_8)), null, 71),
        new ReplicaShell.Propose(new io.holdfast.replica.Wire.Publish("orders.new", null,
            "together-2".getBytes(StandardCharsets.UTF_8)), null, 72)), via.ref()));
    ReplicaShell.Replies together = via.receiveMessage(Duration.ofSeconds(10));
    assertEquals(List.of(71L, 72L), together.replies().stream().map(ReplicaShell.Routed::ticket).toList());
    together.replies().forEach(r -> assertEquals(ReplicaShell.Applied.class, r.reply().getClass(), r.toString()));
    acked.add("together-1");
    acked.add("together-2");

    TestProbe<io.holdfast.replica.Wire.ReadReply> appliedProbe = first.createTestProbe();
    appliedProbe.awaitAssert(Duration.ofSeconds(20), Duration.ofMillis(50), () -> {
      for (int id = 1; id <= 3; id++) {
        replicas.get(id).tell(new ReplicaShell.Read(new io.holdfast.replica.Wire.GetMessages(1, 1000), false,
            appliedProbe.ref()));
        List<String> got = ((io.holdfast.replica.Wire.Messages) appliedProbe.receiveMessage()).messages().stream()
            .map(m -> new String(m.message().payload(), StandardCharsets.UTF_8)).toList();
        assertEquals(acked, got, "node " + id);
      }
      return null;
    });
  }

  /** The replica that says it leads, once one does. */
  private static int leaderOf(Map<Integer, ActorRef<ReplicaShell.Command>> replicas,
      TestProbe<ReplicaDriver.Status> status) {
    return status.awaitAssert(Duration.ofSeconds(20), Duration.ofMillis(20), () -> {
      for (int id = 1; id <= 3; id++) {
        replicas.get(id).tell(new ReplicaShell.GetStatus(status.ref()));
        if (status.receiveMessage().role() == io.holdfast.raft.RaftCore.Role.LEADER) {
          return id;
        }
      }
      throw new AssertionError("no leader yet");
    });
  }
}
