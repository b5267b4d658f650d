package io.holdfast.meta;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.holdfast.raft.message.EntryType;
import io.holdfast.raft.message.LogEntry;
import io.holdfast.stream.StreamLimits;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The meta group's state machine: identities (D9), stream configs, placement, deletions (D8). */
class MetaStateTest {
  private final MetaState meta = new MetaState();
  private long index;

  private MetaState.Result apply(MetaState.Command c) {
    return meta.apply(new LogEntry(++index, 1, EntryType.COMMAND, MetaCodec.encode(c)));
  }

  private void registerNodes(int n) {
    for (int id = 1; id <= n; id++) {
      assertTrue(apply(new MetaState.RegisterNode(id, "disk-" + id, "http://n" + id, false)).ok());
    }
  }

  @Test
  void aNodeIdIsBoundToItsDiskIncarnation() {
    registerNodes(1);
    assertTrue(apply(new MetaState.RegisterNode(1, "disk-1", "http://moved", false)).ok(), "same disk: address may change");
    assertEquals("http://moved", meta.nodes().get(1).http());
    MetaState.Result wiped = apply(new MetaState.RegisterNode(1, "a-new-disk", "http://n1", false));
    assertEquals(MetaState.IDENTITY, wiped.code(), "a new disk without rejoin is a mistake, not a new member");
    assertEquals("disk-1", meta.nodes().get(1).incarnation());
    assertEquals(0, meta.nodes().get(1).generation());
  }

  @Test
  void aRejoiningDiskReplacesEveryReplicaItsNodeHeldByANewMemberUnderANewId() {
    registerNodes(4);
    apply(new MetaState.CreateStream("a", List.of("a.>"), 3));
    apply(new MetaState.CreateStream("b", List.of("b.>"), 1));
    assertEquals(List.of(1, 2, 3), meta.streams().get("a").replicaIds());
    assertEquals(List.of(4), meta.streams().get("b").placement());
    assertEquals(3, meta.metaReplicaId(3));

    assertTrue(apply(new MetaState.RegisterNode(3, "disk-3", "http://n3", true)).ok());
    assertEquals(0, meta.nodes().get(3).generation(), "the same disk with rejoin on: nothing to replace");
    assertTrue(apply(new MetaState.RegisterNode(3, "wiped-3", "http://n3", true)).ok());
    assertEquals("wiped-3", meta.nodes().get(3).incarnation());
    assertEquals(1, meta.nodes().get(3).generation());
    assertEquals(1003, meta.metaReplicaId(3), "the meta replica comes back as a new member");
    MetaState.StreamRecord a = meta.streams().get("a");
    assertEquals(List.of(1, 2, 3), a.placement(), "still placed there");
    assertEquals(List.of(1, 2, 1003), a.replicaIds(), "under a new id");
    assertEquals(a.group() + "~1", a.storageName(3), "on a fresh log");
    assertTrue(!a.bootstraps(3), "it joins as a learner; it never bootstraps the group again");
    assertEquals(List.of(4), meta.streams().get("b").replicaIds(), "a stream the node did not hold is untouched");

    assertTrue(apply(new MetaState.RegisterNode(3, "wiped-3", "http://n3", true)).ok(), "a retried registration");
    assertEquals(1, meta.nodes().get(3).generation(), "changes nothing");
    assertTrue(apply(new MetaState.RegisterNode(3, "wiped-again", "http://n3", true)).ok());
    assertEquals(List.of(1, 2, 2003), meta.streams().get("a").replicaIds());
    assertEquals(2003, meta.metaReplicaId(3));

    assertTrue(apply(new MetaState.RegisterNode(7, "disk-7", "http://n7", true)).ok());
    assertEquals(1007, meta.metaReplicaId(7), "an unknown node that rejoins may have voted under its id before");
  }

  @Test
  void streamsArePlacedOnDistinctLeastLoadedNodes() {
    registerNodes(4);
    assertTrue(apply(new MetaState.CreateStream("a", List.of("a.>"), 3)).ok());
    assertTrue(apply(new MetaState.CreateStream("b", List.of("b.>"), 3)).ok());
    assertEquals(List.of(1, 2, 3), meta.streams().get("a").placement());
    assertEquals(List.of(1, 2, 4), meta.streams().get("b").placement(), "node 4 was least loaded");
    assertEquals(MetaState.NO_RESOURCES, apply(new MetaState.CreateStream("c", List.of("c.>"), 5)).code());
  }

  @Test
  void subjectsMayNotOverlapAcrossStreams() {
    registerNodes(1);
    assertTrue(apply(new MetaState.CreateStream("a", List.of("orders.>"), 1)).ok());
    assertEquals(MetaState.OVERLAP, apply(new MetaState.CreateStream("b", List.of("orders.eu.*"), 1)).code());
    assertEquals("a", meta.streamFor("orders.eu.new").name());
  }

  @Test
  void aSubjectFindsItsStreamAsEveryChangeLeavesIt() {
    registerNodes(1);
    assertNull(meta.streamFor("orders.new"));
    apply(new MetaState.CreateStream("a", List.of("orders.*"), 1));
    assertEquals("a", meta.streamFor("orders.new").name()); // the subject index is built here ...
    apply(new MetaState.CreateStream("b", List.of("audit.>"), 1));
    assertEquals("b", meta.streamFor("audit.eu.x").name()); // ... and rebuilt after a change
    apply(new MetaState.UpdateStream("a", List.of("orders.>"), 1, meta.streams().get("a").limits()));
    assertEquals("a", meta.streamFor("orders.eu.new").name());
    apply(new MetaState.DeleteStream("b"));
    assertNull(meta.streamFor("audit.eu.x"));
    MetaState copy = new MetaState();
    copy.restore(meta.snapshot());
    assertEquals("a", copy.streamFor("orders.eu.new").name());
    copy.restore(new byte[0]);
    assertNull(copy.streamFor("orders.eu.new"));
  }

  @Test
  void creatingTheSameStreamTwiceIsIdempotentButAnotherConfigConflicts() {
    registerNodes(1);
    assertTrue(apply(new MetaState.CreateStream("a", List.of("a.>"), 1)).ok());
    assertTrue(apply(new MetaState.CreateStream("a", List.of("a.>"), 1)).ok());
    assertEquals(MetaState.EXISTS, apply(new MetaState.CreateStream("a", List.of("x.>"), 1)).code());
  }

  @Test
  void aDeletedStreamsGroupIsRememberedAndARecreatedStreamGetsANewGroup() {
    registerNodes(1);
    apply(new MetaState.CreateStream("a", List.of("a.>"), 1));
    String first = meta.streams().get("a").group();
    assertTrue(apply(new MetaState.DeleteStream("a")).ok());
    assertTrue(meta.deletedGroups().contains(first));
    apply(new MetaState.CreateStream("a", List.of("a.>"), 1));
    assertTrue(!meta.streams().get("a").group().equals(first), "a new log, never the old one's");
    assertEquals(MetaState.NOT_FOUND, apply(new MetaState.DeleteStream("zzz")).code());
  }

  @Test
  void aSnapshotRestoresTheSameStateByteForByteAndRejectsDamage() {
    registerNodes(3);
    apply(new MetaState.CreateStream("a", List.of("a.>", "b.*"), 3));
    apply(new MetaState.CreateStream("c", List.of("c.>"), 1));
    apply(new MetaState.DeleteStream("c"));
    byte[] snapshot = meta.snapshot();
    MetaState copy = new MetaState();
    copy.restore(snapshot);
    assertArrayEquals(snapshot, copy.snapshot());
    assertEquals(meta.streams(), copy.streams());
    snapshot[snapshot.length / 2] ^= 1;
    assertThrows(IllegalArgumentException.class, () -> new MetaState().restore(snapshot));
  }

  @Test
  void malformedCommandsAreRefusedBeforeTheyAreProposed() {
    assertTrue(MetaState.invalid(new MetaState.CreateStream("bad name", List.of("x"), 1)) != null);
    assertTrue(MetaState.invalid(new MetaState.CreateStream("ok", List.of("x.>", "x.y"), 1)) != null);
    assertTrue(MetaState.invalid(new MetaState.CreateStream("ok", List.of("x"), 7)) != null);
    assertTrue(MetaState.invalid(new MetaState.CreateStream("ok", List.of(), 1)) != null);
  }

  @Test
  void changingTheReplicaCountGrowsOnTheLeastLoadedNodesAndShrinksFromTheHighestIds() {
    registerNodes(5);
    apply(new MetaState.CreateStream("busy", List.of("busy.>"), 3));
    apply(new MetaState.CreateStream("a", List.of("a.>"), 1));
    MetaState.StreamRecord one = meta.streams().get("a");
    assertEquals(List.of(4), one.placement());
    assertTrue(apply(new MetaState.UpdateStream("a", List.of("a.>"), 3, StreamLimits.DEFAULT)).ok());
    assertEquals(List.of(1, 4, 5), meta.streams().get("a").placement(), "kept 4, added the least loaded");
    assertEquals(List.of(4), meta.streams().get("a").initialPlacement(), "only the first nodes bootstrap the group");
    MetaState.StreamRecord three = meta.streams().get("a");
    assertTrue(three.bootstraps(4) && !three.bootstraps(1) && !three.bootstraps(5));
    assertEquals(three.group() + "~1", three.storageName(1), "a joiner starts a log of its own");
    assertTrue(apply(new MetaState.UpdateStream("a", List.of("a.>"), 1, StreamLimits.DEFAULT)).ok());
    assertEquals(List.of(1), meta.streams().get("a").placement());
    assertTrue(apply(new MetaState.UpdateStream("a", List.of("a.>"), 2, StreamLimits.DEFAULT)).ok());
    assertEquals(List.of(1, 4), meta.streams().get("a").placement(), "node 4 held it before: it is placed again");
    MetaState.StreamRecord back = meta.streams().get("a");
    assertEquals(List.of(1001, 1004), back.replicaIds(), "as a new member, never under its old replica id 4");
    assertEquals(back.group() + "~1", back.storageName(4), "and on a fresh log");
    assertTrue(!back.bootstraps(4));
    assertTrue(apply(new MetaState.UpdateStream("a", List.of("a.>"), 1, StreamLimits.DEFAULT)).ok());
    assertTrue(apply(new MetaState.UpdateStream("a", List.of("a.>"), 2, StreamLimits.DEFAULT)).ok());
    assertEquals(List.of(1001, 2004), meta.streams().get("a").replicaIds(), "each time it comes back, a new id");
  }

  @Test
  void theReplicaCountGrowsUpToEveryRegisteredNode() {
    registerNodes(5);
    apply(new MetaState.CreateStream("a", List.of("a.>"), 1));
    assertTrue(apply(new MetaState.UpdateStream("a", List.of("a.>"), 5, StreamLimits.DEFAULT)).ok());
    assertEquals(List.of(1, 2, 3, 4, 5), meta.streams().get("a").placement());
  }

  @Test
  void growingNeedsEnoughRegisteredNodes() {
    registerNodes(2);
    apply(new MetaState.CreateStream("a", List.of("a.>"), 1));
    assertEquals(MetaState.NO_RESOURCES, apply(new MetaState.UpdateStream("a", List.of("a.>"), 3, StreamLimits.DEFAULT))
        .code());
    assertEquals(1, meta.streams().get("a").placement().size(), "nothing changed");
  }

  @Test
  void aDrainingNodeGetsNoNewReplicaAndLosesItsOwnFirst() {
    registerNodes(4);
    assertTrue(apply(new MetaState.CreateStream("a", List.of("a.>"), 3)).ok());
    assertEquals(List.of(1, 2, 3), meta.streams().get("a").placement());
    assertTrue(apply(new MetaState.SetDraining(2, true)).ok());
    assertEquals(MetaState.NODE_NOT_FOUND, apply(new MetaState.SetDraining(9, true)).code(), "no such node");
    // Drain: grow elsewhere (node 4, not the draining 2), then shrink, which drops node 2 first.
    assertTrue(apply(new MetaState.UpdateStream("a", List.of("a.>"), 4, io.holdfast.stream.StreamLimits.DEFAULT)).ok());
    assertEquals(List.of(1, 2, 3, 4), meta.streams().get("a").placement());
    assertTrue(apply(new MetaState.UpdateStream("a", List.of("a.>"), 3, io.holdfast.stream.StreamLimits.DEFAULT)).ok());
    assertEquals(List.of(1, 3, 4), meta.streams().get("a").placement(), "the draining node's replica went, not node 4's");
    assertTrue(apply(new MetaState.CreateStream("b", List.of("b.>"), 3)).ok());
    assertTrue(!meta.streams().get("b").placement().contains(2), "no new stream on a draining node");
    MetaState.Result full = apply(new MetaState.CreateStream("c", List.of("c.>"), 4));
    assertEquals(MetaState.NO_RESOURCES, full.code());
    assertTrue(full.message().contains("draining [2]"), full.message());

    MetaState copy = new MetaState();
    copy.restore(meta.snapshot());
    assertEquals(List.of(2), List.copyOf(copy.draining()), "the snapshot keeps the draining nodes");
    assertTrue(apply(new MetaState.SetDraining(2, false)).ok());
    assertTrue(meta.draining().isEmpty());
  }

  @Test
  void aMetaVoteMovesByCompareAndSetAndANodeGivenAVoteAgainIsANewMember() {
    registerNodes(4);
    assertTrue(meta.metaVoters().isEmpty(), "the configured voters until a change");
    assertEquals(MetaState.NODE_NOT_FOUND, apply(new MetaState.SetMetaVoters(List.of(1, 2, 3), List.of(1, 2, 3, 9))).code(),
        "every voter must be registered");
    assertTrue(apply(new MetaState.SetMetaVoters(List.of(1, 2, 3), List.of(1, 2, 3, 4))).ok(), "a first change trusts from");
    assertEquals(4, meta.metaReplicaId(4), "a node that never voted joins under its node id");
    MetaState.Result stale = apply(new MetaState.SetMetaVoters(List.of(1, 2, 3), List.of(2, 3, 4)));
    assertEquals(MetaState.CHANGED, stale.code(), "a second drain that read the old voters is refused");
    assertEquals(List.of(1, 2, 3, 4), meta.metaVoters());
    assertTrue(apply(new MetaState.SetMetaVoters(List.of(1, 2, 3, 4), List.of(2, 3, 4))).ok());
    assertEquals(List.of(2, 3, 4), meta.metaVoters());
    assertEquals(1001, meta.metaReplicaId(1), "node 1's next meta replica is a new member (D9)");
    assertEquals(1, meta.metaJoin(1));

    MetaState copy = new MetaState();
    copy.restore(meta.snapshot());
    assertEquals(List.of(2, 3, 4), copy.metaVoters(), "the snapshot keeps the voters");
    assertEquals(1001, copy.metaReplicaId(1), "and the join counts");

    assertTrue(apply(new MetaState.RegisterNode(1, "wiped-1", "http://n1", true)).ok());
    assertEquals(2001, meta.metaReplicaId(1), "a wiped disk after losing the vote: a newer id still");
    assertTrue(apply(new MetaState.SetMetaVoters(List.of(2, 3, 4), List.of(1, 2, 3, 4))).ok());
    assertEquals(2001, meta.metaReplicaId(1), "given a vote again under an id never used");
    assertTrue(apply(new MetaState.SetMetaVoters(List.of(1, 2, 3, 4), List.of(1, 2, 3))).ok());
    assertEquals(1004, meta.metaReplicaId(4));
    assertEquals(List.of(1, 2, 3), meta.metaVoters());

    assertEquals(new MetaState.SetMetaVoters(List.of(1, 2), List.of(2, 3)),
        MetaCodec.decodeCommand(MetaCodec.encode(new MetaState.SetMetaVoters(List.of(1, 2), List.of(2, 3)))));
    assertTrue(MetaState.invalid(new MetaState.SetMetaVoters(List.of(1), List.of())) != null, "no voters");
    assertTrue(MetaState.invalid(new MetaState.SetMetaVoters(List.of(1), List.of(2, 2))) != null, "twice the same");
  }
}
