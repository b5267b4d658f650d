package io.holdfast.security;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.ConfigFactory;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Goal: users are read from config with their permissions, a bad entry stops the node with a
 * message naming it, only the right password or token authenticates, and a listener reachable
 * from other machines is refused without users. Method: configs parsed from strings, with hashes
 * made at bcrypt's lowest cost so the test stays fast.
 */
class UsersTest {
  static final String ADMIN_HASH = Users.hash("admin-pw".toCharArray(), 4);
  static final String ORDERS_HASH = Users.hash("orders-pw".toCharArray(), 4);
  static final String TOKEN_HASH = Users.hash("tok-1".toCharArray(), 4);

  static Users users(String entries) {
    return Users.fromConfig(ConfigFactory.parseString("holdfast.security.users = [" + entries + "]")
        .withFallback(ConfigFactory.load()));
  }

  @Test
  void theRightSecretAuthenticatesAndNothingElse() {
    Users u = users("""
        { user = admin, password = "%s", admin = on },
        { user = orders, password = "%s", publish.allow = ["orders.>"], subscribe { allow = ["orders.>"], deny = ["orders.x"] } },
        { user = ci, token = "%s" }
        """.formatted(ADMIN_HASH, ORDERS_HASH, TOKEN_HASH));
    assertTrue(u.required());
    Principal orders = u.password("orders", "orders-pw").orElseThrow();
    assertEquals("orders", orders.name());
    assertEquals(new Permissions(List.of("orders.>"), List.of(), List.of("orders.>"), List.of("orders.x"), false),
        orders.permissions());
    assertTrue(u.password("admin", "admin-pw").orElseThrow().permissions().admin());
    assertEquals("ci", u.token("tok-1").orElseThrow().name());
    assertTrue(u.password("orders", "orders-pw").isPresent(), "a remembered credential still authenticates");
    assertTrue(u.password("orders", "admin-pw").isEmpty(), "another user's password");
    assertTrue(u.password("nobody", "orders-pw").isEmpty(), "an unknown user");
    assertTrue(u.password("orders", null).isEmpty());
    assertTrue(u.password("ci", "tok-1").isEmpty(), "a token is no password");
    assertTrue(u.token("tok-2").isEmpty());
    assertTrue(u.token("orders-pw").isEmpty(), "a password is no token");
  }

  @Test
  void expiredCredentialsAreRefusedEvenOnceRemembered() {
    Users u = users("""
        { user = temp, password = "%s", expires = "2027-01-01T00:00:00Z" },
        { user = ci, token = "%s", expires = "2027-01-01T00:00:00Z" }
        """.formatted(ORDERS_HASH, TOKEN_HASH));
    java.time.Instant[] now = {java.time.Instant.parse("2026-12-31T23:59:59Z")};
    Users clocked = u.withClock(new java.time.Clock() {
      @Override
      public java.time.ZoneId getZone() {
        return java.time.ZoneOffset.UTC;
      }

      @Override
      public java.time.Clock withZone(java.time.ZoneId zone) {
        return this;
      }

      @Override
      public java.time.Instant instant() {
        return now[0];
      }
    });
    Principal temp = clocked.password("temp", "orders-pw").orElseThrow();
    assertEquals(java.time.Instant.parse("2027-01-01T00:00:00Z"), temp.expires(), "a NATS connection closes then");
    assertTrue(clocked.token("tok-1").isPresent());
    now[0] = java.time.Instant.parse("2027-01-01T00:00:00Z");
    assertTrue(clocked.password("temp", "orders-pw").isEmpty(), "expired, though remembered");
    assertTrue(clocked.token("tok-1").isEmpty(), "expired, though remembered");
    assertRefused("{ user = a, password = \"" + ADMIN_HASH + "\", expires = tomorrow }", "users[0].expires must be an instant");
  }

  @Test
  void withoutUsersEveryClientIsTrustedButOnlyOnLoopback() {
    assertFalse(Users.NONE.required());
    assertEquals(Principal.TRUSTED, Users.NONE.password(null, null).orElseThrow());
    assertNull(Users.NONE.refusal("holdfast.http.host", "127.0.0.1"));
    assertNull(Users.NONE.refusal("holdfast.http.host", "127.0.0.2"));
    assertNull(Users.NONE.refusal("holdfast.http.host", "localhost"));
    assertNull(Users.NONE.refusal("holdfast.http.host", "::1"));
    String refused = Users.NONE.refusal("holdfast.nats.host", "0.0.0.0");
    assertTrue(refused.contains("holdfast.nats.host") && refused.contains("holdfast.security.users"), refused);
    assertTrue(Users.NONE.refusal("holdfast.nats.host", "node1.example") != null, "a name is not trusted as loopback");
    assertNull(users("{ user = a, password = \"" + ADMIN_HASH + "\" }").refusal("holdfast.nats.host", "0.0.0.0"));
  }

  @Test
  void aBadEntryIsRefusedWithAMessageThatNamesIt() {
    assertRefused("{ user = a, password = secret }", "users[0].password must be a bcrypt hash");
    assertRefused("{ user = a }", "users[0] needs either password or token");
    assertRefused("{ user = a, password = \"" + ADMIN_HASH + "\", token = \"" + TOKEN_HASH + "\" }", "either password or token");
    assertRefused("{ password = \"" + ADMIN_HASH + "\" }", "users[0] needs a user");
    assertRefused("{ user = a, pasword = \"" + ADMIN_HASH + "\" }", "unknown key pasword");
    assertRefused("{ user = a, password = \"" + ADMIN_HASH + "\", publish.allow = [\"a..b\"] }", "publish.allow: a..b");
    assertRefused("{ user = a, password = \"" + ADMIN_HASH + "\", subscribe.deny = \"x\" }", "must be a list");
    assertRefused("{ user = a, password = \"" + ADMIN_HASH + "\" }, { user = a, token = \"" + TOKEN_HASH + "\" }",
        "the name a is given twice");
  }

  private static void assertRefused(String entries, String expected) {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> users(entries));
    assertTrue(e.getMessage().contains(expected), e.getMessage());
  }
}
