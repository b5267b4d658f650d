package io.holdfast.stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/** NATS subject rules: tokens, '*' for one token, '>' for the rest (one or more tokens). */
class SubjectsTest {
  @Test
  void starMatchesExactlyOneToken() {
    assertTrue(Subjects.matches("orders.*", "orders.new"));
    assertFalse(Subjects.matches("orders.*", "orders"));
    assertFalse(Subjects.matches("orders.*", "orders.eu.new"));
    assertTrue(Subjects.matches("*.new", "orders.new"));
  }

  @Test
  void greaterThanMatchesOneOrMoreTrailingTokens() {
    assertTrue(Subjects.matches("orders.>", "orders.new"));
    assertTrue(Subjects.matches("orders.>", "orders.eu.new"));
    assertFalse(Subjects.matches("orders.>", "orders"));
    assertTrue(Subjects.matches(">", "anything.at.all"));
  }

  @Test
  void literalsMatchOnlyThemselves() {
    assertTrue(Subjects.matches("a.b", "a.b"));
    assertFalse(Subjects.matches("a.b", "a.bc"));
    assertFalse(Subjects.matches("a.b", "a.b.c"));
  }

  @Test
  void filtersOverlapWhenSomeSubjectMatchesBoth() {
    assertTrue(Subjects.overlap("orders.>", "orders.*"));
    assertTrue(Subjects.overlap("orders.*.new", "orders.eu.*"));
    assertTrue(Subjects.overlap(">", "x"));
    assertFalse(Subjects.overlap("orders.*", "payments.*"));
    assertFalse(Subjects.overlap("orders.*", "orders.*.*"));
    assertFalse(Subjects.overlap("orders.>", "orders"));
  }

  @Test
  void malformedSubjectsAreRejectedWithAReason() {
    assertNotNull(Subjects.invalidFilter(""));
    assertNotNull(Subjects.invalidFilter("a..b"));
    assertNotNull(Subjects.invalidFilter("a.>.b"));
    assertNotNull(Subjects.invalidFilter("a.b*"));
    assertNotNull(Subjects.invalidFilter("a b"));
    assertNull(Subjects.invalidFilter("a.*.>"));
    assertNotNull(Subjects.invalidSubject("a.*"), "a published subject is literal");
    assertNull(Subjects.invalidSubject("a.b-c_d"));
  }

  @Test
  void tokensSplitAtEveryDotKeepingEmptyOnes() {
    assertArrayEquals(new String[] {"orders"}, Subjects.tokens("orders"));
    assertArrayEquals(new String[] {"a", "", "b", ""}, Subjects.tokens("a..b."));
    assertArrayEquals(new String[] {"", "x"}, Subjects.tokens(".x"));
    assertArrayEquals(new String[] {""}, Subjects.tokens(""));
    assertArrayEquals("$JS.ACK.S.c.1.2.3.4.5".split("\\.", -1), Subjects.tokens("$JS.ACK.S.c.1.2.3.4.5"));
  }
}
