package io.holdfast.persistence;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.holdfast.stream.Subjects;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** Goal: every persistence id maps to one subject token and back, one to one. */
class PluginStreamTest {
  @Test
  void persistenceIdsBecomeSubjectTokensAndBackOneToOne() {
    List<String> ids = List.of("ShoppingCart|cart-1", "a.b c", "*", ">", "100%", "%41", "Ünïcode-✓", "tab\there",
        "x", "a..b", "Account|q", "with/slash:and@at");
    Set<String> tokens = new HashSet<>();
    for (String id : ids) {
      String token = PluginStream.token(id);
      assertNull(Subjects.invalidSubject("pekko.journal.e." + token), id + " -> " + token);
      assertEquals(id, PluginStream.persistenceId("pekko.journal.e." + token), token);
      tokens.add(token);
    }
    assertEquals(ids.size(), tokens.size(), "no two ids share a token");
    assertEquals("ShoppingCart|cart-1", PluginStream.token("ShoppingCart|cart-1"), "readable ids stay as they are");
    assertEquals("a%2Eb%20c", PluginStream.token("a.b c"));
    assertEquals("100%25", PluginStream.token("100%"));
    assertThrows(IllegalArgumentException.class, () -> PluginStream.token(""));
  }
}
