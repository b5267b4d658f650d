package io.holdfast.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;

import com.typesafe.config.ConfigFactory;
import io.holdfast.meta.ReplicaIds;
import io.holdfast.replica.ReplicaShell;
import java.util.Optional;
import java.util.stream.StreamSupport;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.actor.testkit.typed.javadsl.TestProbe;
import org.apache.pekko.cluster.MemberStatus;
import org.apache.pekko.cluster.typed.Cluster;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * Goal: a node finds itself, and its own replicas, before it is a member of the Pekko cluster.
 * Why it matters: a restarted node whose join waits (the cluster's leader cannot admit it while
 * another member is unreachable and not downed) may already lead the meta group with a surviving
 * peer. Its registration goes to the meta leader it locates through this directory; when the
 * directory knew only members, it never found itself and never registered, so the stream it
 * shares with that peer stayed without a leader until the third node came back (reproduced with
 * node processes: kill nodes 3 and 2, start 3; whenever node 3 won the meta election, node 1
 * acked nothing for 90 s and more; with this, 6-7.5 s). Method: a cluster-provider system with
 * node 3's roles that never joins.
 */
class NodeDirectoryTest {
  private final ActorTestKit kit = ActorTestKit.create(ConfigFactory.parseString("""
      pekko.actor.provider = cluster
      pekko.remote.artery.canonical.hostname = "127.0.0.1"
      pekko.remote.artery.canonical.port = 0
      pekko.cluster.roles = [holdfast, holdfast-node-3]
      pekko.cluster.seed-nodes = []
      """).withFallback(ConfigFactory.load()));

  @AfterEach
  void shutdown() {
    kit.shutdownTestKit();
  }

  @Test
  void aNodeThatIsNotYetAMemberFindsItselfAndItsOwnReplicasButNoOtherNode() {
    Cluster cluster = Cluster.get(kit.system());
    assertEquals(0, StreamSupport.stream(cluster.state().getMembers().spliterator(), false).count());
    assertNotEquals(MemberStatus.up(), cluster.selfMember().status());
    var self = cluster.selfMember().address();
    assertEquals(Optional.of(self), NodeDirectory.addressOf(kit.system(), 3));
    assertEquals(Optional.of(self), NodeDirectory.addressOf(kit.system(), ReplicaIds.of(3, 2)), "a replica id on node 3");
    assertEquals(Optional.empty(), NodeDirectory.addressOf(kit.system(), 2), "never seen");

    TestProbe<ReplicaShell.Command> meta = kit.createTestProbe();
    LocalReplicas.get(kit.system()).started("meta", meta.ref());
    assertEquals(Optional.of(meta.ref()), NodeDirectory.replica(kit.system(), 3, "meta"));
    assertEquals(Optional.empty(), NodeDirectory.replica(kit.system(), 2, "meta"));
  }
}
