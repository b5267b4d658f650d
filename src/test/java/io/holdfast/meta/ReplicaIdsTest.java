package io.holdfast.meta;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

/** Replica ids carry a node's join count; storage names carry it too, and both are read back. */
class ReplicaIdsTest {
  @Test
  void anIdLeadsBackToItsNodeWhateverTheJoinCount() {
    assertEquals(3, ReplicaIds.of(3, 0));
    assertEquals(1003, ReplicaIds.of(3, 1));
    for (int join = 0; join < 5; join++) {
      for (int node = 1; node < ReplicaIds.STRIDE; node += 97) {
        assertEquals(node, ReplicaIds.node(ReplicaIds.of(node, join)));
      }
    }
    assertEquals(0, ReplicaIds.node(0), "no leader stays no node");
  }

  @Test
  void aStorageNameIsReadBackOnlyForItsOwnGroup() {
    assertEquals("meta", ReplicaIds.storageName("meta", 0));
    assertEquals("meta~2", ReplicaIds.storageName("meta", 2));
    assertEquals(0, ReplicaIds.joinOf("meta", "meta"));
    assertEquals(2, ReplicaIds.joinOf("meta~2", "meta"));
    assertEquals(-1, ReplicaIds.joinOf("metadata", "meta"), "another group whose name starts alike");
    assertEquals(-1, ReplicaIds.joinOf("meta~x", "meta"));
    assertEquals(-1, ReplicaIds.joinOf("meta~0", "meta"), "join 0 is written without a suffix");
    assertEquals(-1, ReplicaIds.joinOf("orders-7~1", "meta"));
  }
}
