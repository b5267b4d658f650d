package io.holdfast.security;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigException;
import com.typesafe.config.ConfigValueType;
import io.holdfast.stream.Subjects;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import org.bouncycastle.crypto.generators.OpenBSDBCrypt;

/**
 * The users of a node's NATS and HTTP listeners ({@code holdfast.security}, documented in
 * conf/holdfast.conf): each a name with a password, or a token, and its {@link Permissions}.
 * Passwords and tokens are kept only as bcrypt hashes ({@code holdfast passwd} makes one).
 *
 * <p>No users configured: every client is {@link Principal#TRUSTED}, which a node allows only on
 * loopback addresses ({@link #refusal}).
 *
 * <p>A bcrypt check takes tens of milliseconds on purpose. HTTP clients send their credentials
 * with every request, so a credential once checked is remembered by its SHA-256 digest (never in
 * clear) for the life of the process; a failed one is not, so guessing stays slow.
 */
public final class Users {
  public static final Users NONE = new Users(List.of(), Duration.ofSeconds(2), java.time.Clock.systemUTC());
  /** bcrypt's cost for new hashes: 2^10 rounds, about 50-100 ms here. */
  public static final int COST = 10;
  private static final int REMEMBERED_MAX = 4096;
  private static final Set<String> KEYS = Set.of("user", "password", "token", "admin", "publish", "subscribe",
      "expires");

  /** @param expires when the credentials stop working (null: never) */
  private record Entry(String name, String passwordHash, String tokenHash, Permissions permissions,
      java.time.Instant expires) {}

  private final List<Entry> entries;
  private final Duration authTimeout;
  private final Map<String, Principal> remembered = new ConcurrentHashMap<>();
  private final java.time.Clock clock;

  private Users(List<Entry> entries, Duration authTimeout, java.time.Clock clock) {
    this.entries = List.copyOf(entries);
    this.authTimeout = authTimeout;
    this.clock = clock;
  }

  /** The same users, their expiry judged by {@code clock} (tests). */
  Users withClock(java.time.Clock clock) {
    return new Users(entries, authTimeout, clock);
  }

  /** Reads {@code holdfast.security}; an invalid entry is an {@link IllegalArgumentException} naming it. */
  public static Users fromConfig(Config config) {
    Config s = config.getConfig("holdfast.security");
    Duration timeout = s.getDuration("auth-timeout");
    if (timeout.toMillis() < 100) {
      throw new IllegalArgumentException("holdfast.security.auth-timeout must be at least 100ms");
    }
    List<Entry> entries = new ArrayList<>();
    Set<String> names = new HashSet<>();
    List<? extends Config> list = s.getConfigList("users");
    for (int i = 0; i < list.size(); i++) {
      Entry e = entry(list.get(i), "holdfast.security.users[" + i + "]");
      if (!names.add(e.name())) {
        throw new IllegalArgumentException("holdfast.security.users: the name " + e.name() + " is given twice");
      }
      entries.add(e);
    }
    return new Users(entries, timeout, java.time.Clock.systemUTC());
  }

  private static Entry entry(Config c, String where) {
    for (String key : c.root().keySet()) {
      if (!KEYS.contains(key)) {
        throw new IllegalArgumentException(where + ": unknown key " + key + " (known: " + String.join(", ",
            new java.util.TreeSet<>(KEYS)) + ")");
      }
    }
    boolean hasPassword = c.hasPath("password");
    boolean hasToken = c.hasPath("token");
    if (hasPassword == hasToken) {
      throw new IllegalArgumentException(where + " needs either password or token (a bcrypt hash from 'holdfast passwd')");
    }
    if (!c.hasPath("user") || c.getString("user").isBlank()) {
      throw new IllegalArgumentException(where + " needs a user (a token's user names it in logs)");
    }
    String hash = hasPassword ? c.getString("password") : c.getString("token");
    if (!isHash(hash)) {
      throw new IllegalArgumentException(where + "." + (hasPassword ? "password" : "token")
          + " must be a bcrypt hash, never the secret itself: make one with 'holdfast passwd'");
    }
    Permissions p;
    try {
      p = new Permissions(patterns(c, "publish.allow", where), orEmpty(patterns(c, "publish.deny", where)),
          patterns(c, "subscribe.allow", where), orEmpty(patterns(c, "subscribe.deny", where)),
          c.hasPath("admin") && c.getBoolean("admin"));
    } catch (ConfigException e) {
      throw new IllegalArgumentException(where + ": " + e.getMessage());
    }
    java.time.Instant expires = null;
    if (c.hasPath("expires")) {
      try {
        expires = java.time.Instant.parse(c.getString("expires"));
      } catch (java.time.format.DateTimeParseException | ConfigException e) {
        throw new IllegalArgumentException(where + ".expires must be an instant such as 2027-01-31T00:00:00Z, got "
            + c.getValue("expires").render());
      }
    }
    return new Entry(c.getString("user"), hasPassword ? hash : null, hasToken ? hash : null, p, expires);
  }

  private static List<String> patterns(Config c, String key, String where) {
    if (!c.hasPath(key)) {
      return null;
    }
    if (c.getValue(key).valueType() != ConfigValueType.LIST) {
      throw new IllegalArgumentException(where + "." + key + " must be a list of subject patterns");
    }
    List<String> list = c.getStringList(key);
    for (String p : list) {
      String bad = Subjects.invalidFilter(p);
      if (bad != null) {
        throw new IllegalArgumentException(where + "." + key + ": " + p + ": " + bad);
      }
    }
    return list;
  }

  private static List<String> orEmpty(List<String> list) {
    return list == null ? List.of() : list;
  }

  static boolean isHash(String s) {
    return s != null && s.length() == 60 && s.matches("\\$2[aby]\\$\\d\\d\\$[./A-Za-z0-9]{53}");
  }

  /** Whether clients must authenticate: some user is configured. */
  public boolean required() {
    return !entries.isEmpty();
  }

  /** How long a NATS client has, after INFO, to send CONNECT with its credentials. */
  public Duration authTimeout() {
    return authTimeout;
  }

  /** The user named {@code user}, if {@code password} is its password. */
  public Optional<Principal> password(String user, String password) {
    if (!required()) {
      return Optional.of(Principal.TRUSTED);
    }
    if (user == null || password == null) {
      return Optional.empty();
    }
    return check("p\0" + user + "\0" + password, password, e -> e.passwordHash() != null && e.name().equals(user),
        Entry::passwordHash);
  }

  /** The token's user, if {@code token} is one of the configured tokens. */
  public Optional<Principal> token(String token) {
    if (!required()) {
      return Optional.of(Principal.TRUSTED);
    }
    if (token == null || token.isEmpty()) {
      return Optional.empty();
    }
    return check("t\0" + token, token, e -> e.tokenHash() != null, Entry::tokenHash);
  }

  private Optional<Principal> check(String key, String secret, java.util.function.Predicate<Entry> candidate,
      java.util.function.Function<Entry, String> hashOf) {
    String digest = digest(key);
    Principal known = remembered.get(digest);
    if (known == null) {
      char[] chars = secret.toCharArray();
      for (Entry e : entries) {
        if (candidate.test(e) && checkHash(hashOf.apply(e), chars)) {
          known = new Principal(e.name(), e.permissions(), e.expires());
          if (remembered.size() >= REMEMBERED_MAX) {
            remembered.clear(); // bounded: at worst some clients pay one more bcrypt check
          }
          remembered.put(digest, known);
          break;
        }
      }
    }
    return known == null || expired(known) ? Optional.empty() : Optional.of(known);
  }

  /** Whether {@code p}'s credentials have expired ({@code expires} in the config). */
  public boolean expired(Principal p) {
    return p.expires() != null && !clock.instant().isBefore(p.expires());
  }

  private static boolean checkHash(String hash, char[] secret) {
    // bcrypt reads at most 72 bytes of a secret; BouncyCastle refuses longer ones rather than cut them.
    return secret.length > 0 && secret.length <= 72 && OpenBSDBCrypt.checkPassword(hash, secret);
  }

  /** A new bcrypt hash of {@code secret} ({@code $2y$}, cost {@code cost}, a random salt). */
  public static String hash(char[] secret, int cost) {
    if (secret.length == 0 || secret.length > 72) {
      throw new IllegalArgumentException("a password or token must be 1 to 72 characters");
    }
    byte[] salt = new byte[16];
    new SecureRandom().nextBytes(salt);
    return OpenBSDBCrypt.generate("2y", secret, salt, cost);
  }

  private static String digest(String s) {
    try {
      return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(s.getBytes(StandardCharsets.UTF_8)));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  /**
   * Why a node with these users must not start with a listener on {@code host} ({@code what}
   * names the setting), or null: a listener reachable from other machines needs users.
   */
  public String refusal(String what, String host) {
    if (required() || isLoopback(host)) {
      return null;
    }
    return what + " = \"" + host + "\" is not a loopback address, and no users are configured: anyone who can "
        + "reach it could manage and read every stream. Configure holdfast.security.users (README: \"Running "
        + "securely\"), or bind it to 127.0.0.1";
  }

  static boolean isLoopback(String host) {
    if (host.equals("localhost")) {
      return true;
    }
    try {
      // Literal addresses only: no name is looked up (a name that resolves to loopback today may not tomorrow).
      return host.matches("[0-9.]+|\\[?[0-9a-fA-F:]+\\]?")
          && java.net.InetAddress.getByName(host.replace("[", "").replace("]", "")).isLoopbackAddress();
    } catch (java.net.UnknownHostException e) {
      return false;
    }
  }
}
