package io.holdfast.torture;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;

/**
 * Goal: the torture checker counts what Jepsen counts, and each count can fail. Method: small
 * hand-made histories, one per count: a clean one passes, each damaged one moves exactly its count
 * and makes the run invalid.
 */
class CheckerTest {
  private static final Set<String> ATTEMPTED = Set.of("0-1", "0-2", "0-3", "1-1", "1-2");

  private static Map<String, Long> acked(Object... valueSeq) {
    Map<String, Long> m = new HashMap<>();
    for (int i = 0; i < valueSeq.length; i += 2) {
      m.put((String) valueSeq[i], ((Number) valueSeq[i + 1]).longValue());
    }
    return m;
  }

  private static Checker.Counts count(Map<String, Long> acked, List<String>... replicas) {
    Map<Integer, List<String>> byNode = new LinkedHashMap<>();
    for (int i = 0; i < replicas.length; i++) {
      byNode.put(i + 1, replicas[i]);
    }
    Checker.Counts c = new Checker.Counts(3);
    c.readNodes = replicas.length;
    c.acked = acked.size();
    Checker.count(byNode, ATTEMPTED, acked, c);
    return c;
  }

  /** Three nodes that all hold {@code replica}, against the usual acked values. */
  private static Checker.Counts countOnEveryNode(String... replica) {
    List<String> r = Arrays.asList(replica);
    return count(ACKED, r, r, r);
  }

  private static final List<String> GOOD = Arrays.asList("0-1", "1-1", "0-2", "1-2");
  private static final Map<String, Long> ACKED = acked("0-1", 1, "1-1", 2, "0-2", 3);

  @Test
  void aCleanHistoryIsValidAndCountsWhatWasReadButNotAcked() {
    Checker.Counts c = count(ACKED, GOOD, GOOD, GOOD);
    assertTrue(c.valid());
    assertEquals(1, c.recovered, "1-2 was read but its ack never came");
    assertEquals(0, c.lost + c.lostOnNode + c.unexpected + c.duplicates + c.misplaced);
  }

  @Test
  void anAckedValueReadNowhereIsLostAndInTheMiddleWhenALaterOneWasRead() {
    List<String> without = Arrays.asList("0-1", "1-1", null, "1-2", "0-3");
    Checker.Counts c = count(acked("0-1", 1, "1-1", 2, "0-2", 3), without, without, without);
    assertEquals(1, c.lost);
    assertEquals(1, c.lostMiddle, "0-3 of the same client was read");
    assertFalse(c.valid());
  }

  @Test
  void aValueOnSomeNodesButNotAnotherIsLostOnANode() {
    Checker.Counts c = count(ACKED, GOOD, GOOD, Arrays.asList("0-1", "1-1", "0-2"));
    assertEquals(1, c.lostOnNode);
    assertFalse(c.valid());
  }

  @Test
  void aValueNobodyPublishedIsUnexpected() {
    Checker.Counts c = countOnEveryNode("0-1", "1-1", "0-2", "7-7");
    assertEquals(1, c.unexpected);
    assertFalse(c.valid());
  }

  @Test
  void aValueStoredTwiceIsADuplicate() {
    Checker.Counts c = countOnEveryNode("0-1", "1-1", "0-2", "0-2");
    assertEquals(1, c.duplicates);
    assertFalse(c.valid());
    assertEquals(Map.of("0-2", List.of(3L, 4L)), c.duplicated, "the report names the value and where it is");
  }

  @Test
  void anAckedValueAtAnotherSequenceIsMisplaced() {
    Checker.Counts c = countOnEveryNode("1-1", "0-1", "0-2");
    assertEquals(2, c.misplaced);
    assertFalse(c.valid());
  }

  @Test
  void readingOnlyAMinorityOfNodesIsNotValid() {
    assertFalse(count(ACKED, GOOD).valid(), "one node of three read");
  }
}
