package io.holdfast.nats;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.List;
import java.util.Set;
import java.util.HashSet;
import org.junit.jupiter.api.Test;

/** The subscription trie: wildcard matching, and a match cache that never answers from before a change. */
class SublistTest {
  private static Set<String> match(Sublist<String> s, String subject) {
    return new HashSet<>(s.match(subject));
  }

  @Test
  void matchesLiteralsStarsAndTheRest() {
    Sublist<String> s = new Sublist<>();
    s.add("orders.eu.new", "literal");
    s.add("orders.*.new", "star");
    s.add("orders.>", "rest");
    s.add(">", "all");
    assertEquals(Set.of("literal", "star", "rest", "all"), match(s, "orders.eu.new"));
    assertEquals(Set.of("star", "rest", "all"), match(s, "orders.us.new"));
    assertEquals(Set.of("rest", "all"), match(s, "orders.eu"));
    assertEquals(Set.of("all"), match(s, "orders"), "'>' takes one token or more");
    assertEquals(Set.of("all"), match(s, "billing.eu.new"));
  }

  @Test
  void aChangeOfSubscriptionsIsSeenByTheNextMatchOfACachedSubject() {
    Sublist<String> s = new Sublist<>();
    s.add("_INBOX.a.*", "first");
    assertEquals(Set.of("first"), match(s, "_INBOX.a.1"));
    assertEquals(Set.of("first"), match(s, "_INBOX.a.1")); // from the cache
    s.add("_INBOX.>", "second");
    assertEquals(Set.of("first", "second"), match(s, "_INBOX.a.1"));
    s.remove("_INBOX.a.*", "first");
    assertEquals(Set.of("second"), match(s, "_INBOX.a.1"));
    s.remove("_INBOX.>", "second");
    assertEquals(Set.of(), match(s, "_INBOX.a.1"));
  }

  @Test
  void aChurnOfSubjectsKeepsMatchingRightPastTheCacheBound() {
    Sublist<String> s = new Sublist<>();
    s.add("inbox.*", "any");
    for (int i = 0; i < Sublist.CACHE_MAX * 3; i++) {
      s.add("inbox." + i, "own-" + i);
      assertEquals(Set.of("any", "own-" + i), match(s, "inbox." + i));
    }
    s.add("inbox.5", "late");
    assertEquals(Set.of("any", "own-5", "late"), match(s, "inbox.5"));
  }

  @Test
  void aSubjectIsCachedTheSecondTimeItIsMatchedAndOneOffSubjectsNever() {
    Sublist<String> s = new Sublist<>();
    s.add("_INBOX.client.*", "acks");
    for (int i = 0; i < Sublist.CACHE_MAX * 3; i++) { // a publisher's acks: a reply subject each
      assertEquals(Set.of("acks"), match(s, "_INBOX.client." + i));
    }
    assertEquals(0, s.cachedSubjects(), "subjects matched once do not churn the cache");
    assertEquals(Set.of("acks"), match(s, "_INBOX.client.deliveries"));
    assertEquals(0, s.cachedSubjects());
    assertEquals(Set.of("acks"), match(s, "_INBOX.client.deliveries"));
    assertEquals(1, s.cachedSubjects(), "a subject matched again is cached");
    assertEquals(Set.of("acks"), match(s, "_INBOX.client.deliveries"));
    s.add("_INBOX.>", "all");
    assertEquals(0, s.cachedSubjects(), "a change of subscriptions clears the cache");
    assertEquals(Set.of("acks", "all"), match(s, "_INBOX.client.deliveries"), "and the next match sees it");
  }

  @Test
  void matchesCannotBeChangedByTheirReader() {
    Sublist<String> s = new Sublist<>();
    s.add("a", "x");
    List<String> got = s.match("a");
    assertThrows(UnsupportedOperationException.class, () -> got.add("y"));
    assertEquals(List.of("x"), s.match("a"));
  }
}
