package io.holdfast.stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.HashMap;
import java.util.Map;
import java.util.Random;
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
    assertNull(Subjects.invalidFilter(">"));
  }

  @Test
  void eachMalformationIsNamed() {
    assertEquals("subject is empty", Subjects.invalidSubject(""));
    assertEquals("subject is longer than 512 characters", Subjects.invalidSubject("a".repeat(513)));
    for (String s : new String[] {".a", "a.", "a..b", "."}) {
      assertEquals("subject '" + s + "' has an empty token", Subjects.invalidFilter(s), s);
    }
    assertEquals("subject 'a.b\tc' contains whitespace or a control character", Subjects.invalidSubject("a.b\tc"));
    assertEquals("subject 'a.*x': '*' and '>' must be whole tokens", Subjects.invalidFilter("a.*x"));
    assertEquals("subject 'a.b*': '*' and '>' must be whole tokens", Subjects.invalidFilter("a.b*"));
    assertEquals("subject 'a.>x': '*' and '>' must be whole tokens", Subjects.invalidSubject("a.>x"));
    assertEquals("subject 'a.>': wildcards are not allowed in a published subject", Subjects.invalidSubject("a.>"));
    assertEquals("subject 'a.>.b': '>' must be the last token", Subjects.invalidFilter("a.>.b"));
    assertEquals("subject '*. x' contains whitespace or a control character", Subjects.invalidFilter("*. x"));
    assertEquals("subject 'a. x.>.b' contains whitespace or a control character", Subjects.invalidFilter("a. x.>.b"),
        "the first bad token decides");
  }

  @Test
  void tokensSplitAtEveryDotKeepingEmptyOnes() {
    assertArrayEquals(new String[] {"orders"}, Subjects.tokens("orders"));
    assertArrayEquals(new String[] {"a", "", "b", ""}, Subjects.tokens("a..b."));
    assertArrayEquals(new String[] {"", "x"}, Subjects.tokens(".x"));
    assertArrayEquals(new String[] {""}, Subjects.tokens(""));
    assertArrayEquals("$JS.ACK.S.c.1.2.3.4.5".split("\\.", -1), Subjects.tokens("$JS.ACK.S.c.1.2.3.4.5"));
  }

  /** The token-array definition of a match: the specification {@link Subjects#matches} walks without arrays. */
  private static boolean matchesByTokens(String filter, String subject) {
    String[] f = Subjects.tokens(filter);
    String[] s = Subjects.tokens(subject);
    for (int i = 0; i < f.length; i++) {
      if (f[i].equals(">")) {
        return s.length > i;
      }
      if (i >= s.length || !(f[i].equals("*") || f[i].equals(s[i]))) {
        return false;
      }
    }
    return f.length == s.length;
  }

  private static String randomSubject(Random r, boolean wildcards) {
    String[] literals = {"a", "b", "ab", ""};
    int n = 1 + r.nextInt(4);
    StringBuilder b = new StringBuilder();
    for (int i = 0; i < n; i++) {
      int pick = r.nextInt(wildcards ? 6 : 4);
      b.append(i == 0 ? "" : ".").append(pick < 4 ? literals[pick] : pick == 4 ? "*" : ">");
      if (pick == 5) {
        break;
      }
    }
    return b.toString();
  }

  @Test
  void matchingWithoutSplittingAgreesWithMatchingTokenByToken() {
    Random r = new Random(7);
    for (int i = 0; i < 20_000; i++) {
      String filter = randomSubject(r, true);
      String subject = randomSubject(r, false);
      assertEquals(matchesByTokens(filter, subject), Subjects.matches(filter, subject), filter + " ~ " + subject);
    }
  }

  @Test
  void theIndexFindsTheOneFilterThatCapturesASubject() {
    Random r = new Random(11);
    for (int round = 0; round < 500; round++) {
      Map<String, String> filters = new HashMap<>(); // not overlapping, as a stream's subjects are not
      for (int tries = 0; tries < 12; tries++) {
        String f = randomSubject(r, true);
        if (filters.keySet().stream().noneMatch(g -> Subjects.overlap(f, g))) {
          filters.put(f, "stream of " + f);
        }
      }
      SubjectIndex<String> index = SubjectIndex.of(filters);
      for (int i = 0; i < 40; i++) {
        String subject = randomSubject(r, false);
        String expected = filters.entrySet().stream().filter(e -> matchesByTokens(e.getKey(), subject))
            .map(Map.Entry::getValue).findFirst().orElse(null);
        assertEquals(expected, index.find(subject), subject + " in " + filters.keySet());
      }
    }
  }
}
