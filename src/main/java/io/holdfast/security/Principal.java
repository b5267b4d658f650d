package io.holdfast.security;

/** Who a client is, once authenticated: a user's name (a token's label) and its permissions. */
public record Principal(String name, Permissions permissions) {
  /** A client of a node without users (loopback only), and the in-process Java API: trusted. */
  public static final Principal TRUSTED = new Principal("", Permissions.ALL);
}
