package io.holdfast.security;

import io.holdfast.stream.Subjects;
import java.util.List;

/**
 * What one user may do, NATS-style: publish and subscribe lists of subject patterns, and whether
 * it may manage streams, consumers and the cluster ({@code admin}).
 *
 * <p>An allow list that is null (not configured) allows every subject; an empty one allows none.
 * A deny entry always wins. Checks, per subject:
 * <ul>
 *   <li>publish to a literal subject: some allow pattern matches it and no deny pattern does;
 *   <li>subscribe to a pattern: some allow pattern covers it ({@link Subjects#covers}) and no deny
 *       pattern covers it; a subscription only partly denied is taken, and the messages on denied
 *       subjects are not delivered to it ({@link #mayReceive}), as nats-server does;
 *   <li>read a stream (its messages, through the JetStream API or HTTP): subscribe rights on all
 *       of its subjects — every one covered by an allow pattern and overlapping no deny pattern.
 *       All, not some: a consumer of a stream may be handed any of its messages.
 * </ul>
 */
public record Permissions(List<String> publishAllow, List<String> publishDeny, List<String> subscribeAllow,
    List<String> subscribeDeny, boolean admin) {

  /** Everything: the rights of a node without users, and of the in-process Java API. */
  public static final Permissions ALL = new Permissions(null, List.of(), null, List.of(), true);

  public Permissions {
    publishAllow = publishAllow == null ? null : List.copyOf(publishAllow);
    publishDeny = List.copyOf(publishDeny);
    subscribeAllow = subscribeAllow == null ? null : List.copyOf(subscribeAllow);
    subscribeDeny = List.copyOf(subscribeDeny);
  }

  public boolean mayPublish(String subject) {
    return (publishAllow == null || publishAllow.stream().anyMatch(p -> Subjects.matches(p, subject)))
        && publishDeny.stream().noneMatch(p -> Subjects.matches(p, subject));
  }

  public boolean maySubscribe(String filter) {
    return (subscribeAllow == null || subscribeAllow.stream().anyMatch(p -> Subjects.covers(p, filter)))
        && subscribeDeny.stream().noneMatch(p -> Subjects.covers(p, filter));
  }

  /** Whether a message on the literal {@code subject} may be delivered (the subscribe deny list). */
  public boolean mayReceive(String subject) {
    return subscribeDeny.isEmpty() || subscribeDeny.stream().noneMatch(p -> Subjects.matches(p, subject));
  }

  /** Whether a stream with these subjects may be read: see the class comment. */
  public boolean mayRead(List<String> streamSubjects) {
    for (String s : streamSubjects) {
      if (subscribeAllow != null && subscribeAllow.stream().noneMatch(p -> Subjects.covers(p, s))) {
        return false;
      }
      if (subscribeDeny.stream().anyMatch(p -> Subjects.overlap(p, s))) {
        return false;
      }
    }
    return true;
  }
}
