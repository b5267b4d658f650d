package io.holdfast.security;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.holdfast.stream.Subjects;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Goal: a user's subject permissions allow exactly what their definition says — NATS's semantics
 * for publish and subscribe, and read rights on a stream only when every subject of the stream is
 * allowed and none denied. Method: {@link Subjects#covers}, on which the checks rest, against its
 * definition by enumeration (every literal subject of up to four tokens over a small alphabet);
 * then the checks on hand-picked cases that a wrong rule would get wrong.
 */
class PermissionsTest {
  private static final String[] TOKENS = {"a", "b", "*", ">"};

  @Test
  void coversAgreesWithItsDefinitionOnEveryPairOfSmallPatterns() {
    List<String> patterns = new ArrayList<>();
    List<String> literals = new ArrayList<>();
    build("", 3, TOKENS, patterns);
    build("", 4, new String[] {"a", "b", "c"}, literals);
    int checked = 0;
    for (String outer : patterns) {
      for (String inner : patterns) {
        boolean byDefinition = literals.stream()
            .filter(s -> Subjects.matches(inner, s))
            .allMatch(s -> Subjects.matches(outer, s));
        assertEquals(byDefinition, Subjects.covers(outer, inner), outer + " covers " + inner);
        checked++;
      }
    }
    assertEquals(52 * 52, checked, "every pair of the 52 patterns of up to three tokens");
  }

  /** Every valid pattern (or literal) of 1..max tokens: '>' only last. */
  private static void build(String prefix, int max, String[] tokens, List<String> into) {
    for (String t : tokens) {
      String s = prefix.isEmpty() ? t : prefix + "." + t;
      into.add(s);
      if (!t.equals(">") && max > 1) {
        build(s, max - 1, tokens, into);
      }
    }
  }

  @Test
  void publishNeedsAnAllowAndNoDeny() {
    Permissions p = new Permissions(List.of("orders.>"), List.of("orders.secret"), List.of(), List.of(), false);
    assertTrue(p.mayPublish("orders.eu.1"));
    assertFalse(p.mayPublish("orders.secret"), "a deny wins over an allow");
    assertFalse(p.mayPublish("billing.1"));
    assertFalse(p.mayPublish("orders"), "orders.> needs a token after orders");
    Permissions open = new Permissions(null, List.of("$SYS.>"), null, List.of(), false);
    assertTrue(open.mayPublish("anything.at.all"), "no allow list: everything not denied");
    assertFalse(open.mayPublish("$SYS.x"));
    Permissions none = new Permissions(List.of(), List.of(), List.of(), List.of(), false);
    assertFalse(none.mayPublish("a"), "an empty allow list allows nothing");
  }

  @Test
  void aSubscriptionMustBeCoveredWhollyByAnAllow() {
    Permissions p = new Permissions(List.of(), List.of(), List.of("orders.*", "_INBOX.>"), List.of("orders.secret"),
        false);
    assertTrue(p.maySubscribe("orders.eu"));
    assertTrue(p.maySubscribe("orders.*"));
    assertTrue(p.maySubscribe("_INBOX.abc.*"));
    assertFalse(p.maySubscribe("orders.>"), "orders.> reaches orders.a.b, which orders.* does not allow");
    assertFalse(p.maySubscribe(">"));
    assertFalse(p.maySubscribe("orders.secret"), "wholly denied");
    assertTrue(p.maySubscribe("orders.*"), "partly denied: taken, and filtered at delivery");
    assertFalse(p.mayReceive("orders.secret"));
    assertTrue(p.mayReceive("orders.eu"));
  }

  @Test
  void aStreamIsReadableOnlyIfAllItsSubjectsAreAllowedAndNoneDenied() {
    Permissions p = new Permissions(List.of(), List.of(), List.of("orders.>", "audit.eu"), List.of("orders.secret.>"),
        false);
    assertTrue(p.mayRead(List.of("orders.eu.*", "audit.eu")));
    assertFalse(p.mayRead(List.of("orders.>")), "orders.> overlaps the denied orders.secret.>");
    assertFalse(p.mayRead(List.of("orders.eu.*", "audit.*")), "audit.us is not allowed");
    assertFalse(p.mayRead(List.of("billing.>")));
    assertTrue(Permissions.ALL.mayRead(List.of(">")));
    assertTrue(Permissions.ALL.admin());
  }
}
