package io.holdfast.replica;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

class PublisherTallyTest {
  private static final int SELF = 1;

  /** One round: {@code fromTwo} proposals through member 2's node, {@code local} through our own. */
  private static int round(PublisherTally t, int fromTwo, int local) {
    for (int i = 0; i < fromTwo; i++) {
      t.count(2);
    }
    for (int i = 0; i < local; i++) {
      t.count(SELF);
    }
    return t.endRound(SELF);
  }

  @Test
  void handsOverOnlyAfterRoundsInARowDominatedByOneOtherNode() {
    PublisherTally t = new PublisherTally();
    t.minPerRound(100);
    for (int r = 1; r < PublisherTally.ROUNDS; r++) {
      assertEquals(0, round(t, 950, 50), "round " + r);
    }
    assertEquals(2, round(t, 950, 50));
  }

  @Test
  void aRoundBelowTheShareOrTheRateStartsTheCountAgain() {
    PublisherTally t = new PublisherTally();
    t.minPerRound(100);
    assertEquals(0, round(t, 950, 50));
    assertEquals(0, round(t, 800, 200)); // 80%: publishers spread over nodes
    for (int r = 1; r < PublisherTally.ROUNDS; r++) {
      assertEquals(0, round(t, 950, 50));
    }
    assertEquals(0, round(t, 99, 0)); // a trickle
    for (int r = 1; r < PublisherTally.ROUNDS; r++) {
      assertEquals(0, round(t, 950, 50));
    }
    assertEquals(2, round(t, 950, 50));
  }

  @Test
  void afterAHandOverItWaitsOutTheCooldown() {
    PublisherTally t = new PublisherTally();
    t.minPerRound(10);
    int rounds = 0;
    int handOvers = 0;
    while (handOvers < 2) {
      rounds++;
      handOvers += round(t, 100, 0) == 2 ? 1 : 0;
    }
    assertEquals(PublisherTally.ROUNDS + PublisherTally.COOLDOWN_ROUNDS, rounds);
  }

  @Test
  void neverHandsOverToItselfNorWhenOffNorAcrossAStepDown() {
    PublisherTally t = new PublisherTally();
    t.minPerRound(10);
    for (int r = 0; r < 2 * PublisherTally.ROUNDS; r++) {
      assertEquals(0, round(t, 0, 100));
    }
    for (int r = 1; r < PublisherTally.ROUNDS; r++) {
      assertEquals(0, round(t, 100, 0));
    }
    t.reset(); // it stopped leading: the streak is gone
    assertEquals(0, round(t, 100, 0));
    t.minPerRound(0);
    for (int r = 0; r < 2 * PublisherTally.ROUNDS; r++) {
      assertEquals(0, round(t, 100, 0));
    }
  }
}
