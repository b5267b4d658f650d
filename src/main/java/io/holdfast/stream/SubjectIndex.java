package io.holdfast.stream;

import java.util.HashMap;
import java.util.Map;

/**
 * Values by subject filter, as a token trie, for finding what captures a literal subject in the
 * subject's tokens times the wildcard branches rather than in the number of filters: with 1,000
 * streams, scanning every stream's filters for each publish took a seventh of the nodes' CPU.
 * Immutable once built. Filters are expected not to overlap (streams' never do); where they do,
 * a literal token is preferred over {@code *}, and {@code *} over {@code >}.
 *
 * @param <T> what a filter stands for
 */
public final class SubjectIndex<T> {
  private static final class Node<T> {
    final Map<String, Node<T>> literal = new HashMap<>();
    Node<T> star;
    T rest; // '>': this and any further tokens
    T here;
  }

  private final Node<T> root = new Node<>();

  /** An index of {@code filters}: each filter to the value it stands for. */
  public static <T> SubjectIndex<T> of(Map<String, T> filters) {
    SubjectIndex<T> index = new SubjectIndex<>();
    filters.forEach(index::put);
    return index;
  }

  private SubjectIndex() {}

  private void put(String filter, T value) {
    Node<T> n = root;
    String[] tokens = Subjects.tokens(filter);
    for (int i = 0; i < tokens.length; i++) {
      String t = tokens[i];
      if (t.equals(">")) {
        n.rest = value;
        return;
      }
      n = t.equals("*")
          ? (n.star == null ? (n.star = new Node<>()) : n.star)
          : n.literal.computeIfAbsent(t, k -> new Node<>());
    }
    n.here = value;
  }

  /** What captures the literal {@code subject}, or null. */
  public T find(String subject) {
    return find(root, subject, 0);
  }

  private static <T> T find(Node<T> n, String subject, int from) {
    int end = subject.indexOf('.', from);
    String token = subject.substring(from, end < 0 ? subject.length() : end);
    T found = below(n.literal.get(token), subject, end);
    if (found == null) {
      found = below(n.star, subject, end);
    }
    return found != null ? found : n.rest;
  }

  /** What {@code next}, reached by a token ending at {@code end} (-1: the last), holds for the subject. */
  private static <T> T below(Node<T> next, String subject, int end) {
    if (next == null) {
      return null;
    }
    return end < 0 ? next.here : find(next, subject, end + 1);
  }
}
