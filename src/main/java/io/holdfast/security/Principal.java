package io.holdfast.security;

/**
 * Who a client is, once authenticated: a user's name (a token's label), its permissions, and when
 * its credentials expire (null: never); a NATS connection is closed then.
 */
public record Principal(String name, Permissions permissions, java.time.Instant expires) {
  /** A client of a node without users (loopback only), and the in-process Java API: trusted. */
  public static final Principal TRUSTED = new Principal("", Permissions.ALL, null);
}
