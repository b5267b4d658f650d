package io.holdfast.nats;

import io.holdfast.stream.Subjects;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.locks.ReadWriteLock;
import java.util.concurrent.locks.ReentrantReadWriteLock;

/**
 * Subscriptions by subject pattern, as a token trie ({@code *} one token, {@code >} the rest):
 * {@link #match} costs the subject's tokens times the wildcard branches, not the number of
 * subscriptions. Thread-safe: many connections publish (match) while a few subscribe.
 *
 * <p>Matches are cached by subject (at most {@link #CACHE_MAX} of them; the whole cache goes on
 * any change of subscriptions, and when it is full): a stream's deliveries go to one reply inbox
 * and its publishes come on a few subjects, again and again. A subject enters the cache the second
 * time it is matched, not the first: a JetStream client's publish acks each go to a reply subject
 * of their own ({@code _INBOX.<id>.<n>}), and caching every one of them filled the cache every
 * 1,024 publishes, to clear it again; the two lookups of each ack's route (local and remote
 * subscriptions) with their copies and insertions were a sixth of the leader node's CPU samples
 * at 30k publishes/s (issue 18).
 *
 * @param <T> what a subscription is to its owner
 */
public final class Sublist<T> {
  private static final class Node<T> {
    final Map<String, Node<T>> literal = new HashMap<>();
    Node<T> star;
    Node<T> rest;
    final List<T> here = new ArrayList<>(1);

    boolean empty() {
      return literal.isEmpty() && star == null && rest == null && here.isEmpty();
    }
  }

  static final int CACHE_MAX = 1024;
  /** Slots of subjects matched once, by hash: a subject found in its slot is matched again, and cached. */
  private static final int SEEN_SLOTS = 1024;

  private final Node<T> root = new Node<>();
  /** Subject to its matches (unmodifiable); filled under the read lock, cleared under the write lock. */
  private final Map<String, List<T>> cache = new ConcurrentHashMap<>();
  /**
   * Written under the read lock by many threads at once, without synchronization: a write lost to
   * another only delays a subject's caching, and no match is ever read from it.
   */
  private final String[] seen = new String[SEEN_SLOTS];
  private final ReadWriteLock lock = new ReentrantReadWriteLock();
  private int size;

  public void add(String pattern, T value) {
    lock.writeLock().lock();
    try {
      Node<T> n = root;
      for (String token : Subjects.tokens(pattern)) {
        n = switch (token) {
          case "*" -> n.star == null ? (n.star = new Node<>()) : n.star;
          case ">" -> n.rest == null ? (n.rest = new Node<>()) : n.rest;
          default -> n.literal.computeIfAbsent(token, k -> new Node<>());
        };
      }
      n.here.add(value);
      size++;
      cache.clear();
    } finally {
      lock.writeLock().unlock();
    }
  }

  /** Removes one occurrence of {@code value} under {@code pattern}; whether there was one. */
  public boolean remove(String pattern, T value) {
    lock.writeLock().lock();
    try {
      boolean removed = remove(root, Subjects.tokens(pattern), 0, value);
      if (removed) {
        size--;
        cache.clear();
      }
      return removed;
    } finally {
      lock.writeLock().unlock();
    }
  }

  private boolean remove(Node<T> n, String[] tokens, int i, T value) {
    if (i == tokens.length) {
      return n.here.remove(value);
    }
    String token = tokens[i];
    Node<T> child = switch (token) {
      case "*" -> n.star;
      case ">" -> n.rest;
      default -> n.literal.get(token);
    };
    if (child == null || !remove(child, tokens, i + 1, value)) {
      return false;
    }
    if (child.empty()) { // prune, so that a churn of inboxes leaves no trail
      switch (token) {
        case "*" -> n.star = null;
        case ">" -> n.rest = null;
        default -> n.literal.remove(token);
      }
    }
    return true;
  }

  /** Every value whose pattern matches the literal {@code subject} (an unmodifiable list). */
  public List<T> match(String subject) {
    lock.readLock().lock();
    try {
      if (size == 0) {
        return List.of(); // e.g. no client of another node subscribes: no subject to hash or split
      }
      List<T> hit = cache.get(subject);
      if (hit != null) {
        return hit;
      }
      List<T> out = new ArrayList<>(2);
      match(root, Subjects.tokens(subject), 0, out);
      List<T> found = Collections.unmodifiableList(out);
      int slot = subject.hashCode() & (SEEN_SLOTS - 1);
      if (!subject.equals(seen[slot])) {
        seen[slot] = subject;
        return found;
      }
      if (cache.size() >= CACHE_MAX) {
        cache.clear(); // a churn of subjects must not grow it
      }
      cache.put(subject, found);
      return found;
    } finally {
      lock.readLock().unlock();
    }
  }

  private void match(Node<T> n, String[] tokens, int i, List<T> out) {
    if (n.rest != null && i < tokens.length) {
      out.addAll(n.rest.here);
    }
    if (i == tokens.length) {
      out.addAll(n.here);
      return;
    }
    Node<T> lit = n.literal.get(tokens[i]);
    if (lit != null) {
      match(lit, tokens, i + 1, out);
    }
    if (n.star != null) {
      match(n.star, tokens, i + 1, out);
    }
  }

  /** Subjects whose matches are cached (tests). */
  int cachedSubjects() {
    return cache.size();
  }

  public int size() {
    lock.readLock().lock();
    try {
      return size;
    } finally {
      lock.readLock().unlock();
    }
  }
}
