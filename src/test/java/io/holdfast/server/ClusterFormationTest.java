package io.holdfast.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Map;
import java.util.TreeMap;
import org.apache.pekko.actor.Address;
import org.apache.pekko.actor.AddressFromURIString;
import org.apache.pekko.cluster.MemberStatus;
import org.junit.jupiter.api.Test;

/** Whom a node joins, from its peers' answers: a member first; else the lowest of a majority forms. */
class ClusterFormationTest {
  private static final Address N1 = AddressFromURIString.parse("pekko://holdfast@127.0.0.1:25521");
  private static final Address N2 = AddressFromURIString.parse("pekko://holdfast@127.0.0.1:25522");
  private static final Address N3 = AddressFromURIString.parse("pekko://holdfast@127.0.0.1:25523");

  private static Map<String, ClusterFormation.Status> answers(ClusterFormation.Status... statuses) {
    Map<String, ClusterFormation.Status> m = new TreeMap<>();
    for (ClusterFormation.Status s : statuses) {
      m.put(s.address(), s);
    }
    return m;
  }

  private static ClusterFormation.Status member(Address a, int node) {
    return new ClusterFormation.Status(a.toString(), node, true, 2);
  }

  private static ClusterFormation.Status outside(Address a, int node) {
    return new ClusterFormation.Status(a.toString(), node, false, 0);
  }

  /**
   * A member still joining answers as one: its cluster exists, and a restarted node must join it,
   * not form a second cluster beside it.
   */
  @Test
  void aJoiningMemberIsInTheClusterADownedOneIsNot() {
    assertTrue(ClusterFormation.inCluster(MemberStatus.joining()));
    assertTrue(ClusterFormation.inCluster(MemberStatus.weaklyUp()));
    assertTrue(ClusterFormation.inCluster(MemberStatus.up()));
    assertFalse(ClusterFormation.inCluster(MemberStatus.down()));
    assertFalse(ClusterFormation.inCluster(MemberStatus.removed()));
  }

  @Test
  void aNodeJoinsAMemberEvenIfItHasTheLowestAddress() {
    assertEquals(N3, ClusterFormation.decide(N1, answers(outside(N2, 2), member(N3, 3)), 2));
  }

  @Test
  void theLowestOfAMajorityOfNonMembersFormsTheCluster() {
    assertEquals(N1, ClusterFormation.decide(N1, answers(outside(N2, 2), outside(N3, 3)), 2));
    assertEquals(N1, ClusterFormation.decide(N1, answers(outside(N3, 3)), 2), "two of three are a majority");
  }

  @Test
  void aNodeThatIsNotTheLowestWaitsForTheOneThatIs() {
    assertNull(ClusterFormation.decide(N2, answers(outside(N1, 1), outside(N3, 3)), 2));
    assertEquals(N2, ClusterFormation.decide(N2, answers(outside(N3, 3)), 2), "node 1 is not there");
  }

  @Test
  void aNodeAloneNeverFormsAClusterOfThree() {
    assertNull(ClusterFormation.decide(N1, answers(), 2), "cut off, or the first to restart after a power cut");
  }
}
