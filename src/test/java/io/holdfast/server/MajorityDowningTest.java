package io.holdfast.server;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.List;
import java.util.Set;
import org.apache.pekko.actor.Address;
import org.junit.jupiter.api.Test;

/** The downing decision: only a leader on a majority side downs, and only the members it cannot reach. */
class MajorityDowningTest {
  private static final Address A = new Address("pekko", "holdfast", "127.0.0.1", 1);
  private static final Address B = new Address("pekko", "holdfast", "127.0.0.1", 2);
  private static final Address C = new Address("pekko", "holdfast", "127.0.0.1", 3);
  private static final Address D = new Address("pekko", "holdfast", "127.0.0.1", 4);

  @Test
  void aMajoritySideDownsWhatItCannotReach() {
    assertEquals(List.of(C), MajorityDowning.toDown(List.of(A, B, C), Set.of(C), A, A));
  }

  @Test
  void aMinoritySideDownsNobodyItselfIncluded() {
    assertEquals(List.of(), MajorityDowning.toDown(List.of(A, B, C), Set.of(B, C), A, A));
  }

  @Test
  void halfIsNotAMajority() {
    assertEquals(List.of(), MajorityDowning.toDown(List.of(A, B, C, D), Set.of(C, D), A, A));
    assertEquals(List.of(D), MajorityDowning.toDown(List.of(A, B, C, D), Set.of(D), A, A));
  }

  @Test
  void onlyTheLeaderDecides() {
    assertEquals(List.of(), MajorityDowning.toDown(List.of(A, B, C), Set.of(C), B, A));
    assertEquals(List.of(), MajorityDowning.toDown(List.of(A, B, C), Set.of(C), A, null));
  }

  @Test
  void nothingUnreachableNothingDowned() {
    assertEquals(List.of(), MajorityDowning.toDown(List.of(A, B, C), Set.of(), A, A));
  }
}
