package io.holdfast.stream;

/**
 * NATS subjects: tokens separated by {@code .}; in a stream's subject filter, {@code *} stands for
 * exactly one token and {@code >} (last token only) for one or more. Published subjects are
 * literal. Pure functions, shared by the meta group (overlap checks) and publish routing.
 */
public final class Subjects {
  private Subjects() {}

  /** Why {@code filter} is not a valid subject filter, or null if it is. */
  public static String invalidFilter(String filter) {
    return invalid(filter, true);
  }

  /** Why {@code subject} is not a valid literal subject to publish to, or null if it is. */
  public static String invalidSubject(String subject) {
    return invalid(subject, false);
  }

  /**
   * {@code subject}'s tokens, split at every dot, empty ones kept ({@code "a..b."} → a, "", b, "").
   * By hand: {@code String.split("\\.")} compiled a regex on every call on this JDK, and subjects
   * are split for every message routed, captured and acked (a NATS consume profile showed it).
   */
  public static String[] tokens(String subject) {
    int count = 1;
    for (int i = 0; i < subject.length(); i++) {
      if (subject.charAt(i) == '.') {
        count++;
      }
    }
    String[] tokens = new String[count];
    int start = 0;
    int t = 0;
    for (int i = 0; i < subject.length(); i++) {
      if (subject.charAt(i) == '.') {
        tokens[t++] = subject.substring(start, i);
        start = i + 1;
      }
    }
    tokens[t] = subject.substring(start);
    return tokens;
  }

  /** One pass over the characters, no token strings: every published message is checked. */
  private static String invalid(String s, boolean wildcards) {
    if (s == null || s.isEmpty()) {
      return "subject is empty";
    }
    if (s.length() > 512) {
      return "subject is longer than 512 characters";
    }
    for (int start = 0; ; ) {
      int end = s.indexOf('.', start);
      end = end < 0 ? s.length() : end;
      if (end == start) {
        return "subject '" + s + "' has an empty token";
      }
      boolean hasWildcard = false;
      for (int c = start; c < end; c++) {
        char ch = s.charAt(c);
        if (ch <= ' ' || ch == 127) {
          return "subject '" + s + "' contains whitespace or a control character";
        }
        hasWildcard |= ch == '*' || ch == '>';
      }
      if (hasWildcard) {
        if (end - start > 1) {
          return "subject '" + s + "': '*' and '>' must be whole tokens";
        }
        if (!wildcards) {
          return "subject '" + s + "': wildcards are not allowed in a published subject";
        }
        if (s.charAt(start) == '>' && end != s.length()) {
          return "subject '" + s + "': '>' must be the last token";
        }
      }
      if (end == s.length()) {
        return null;
      }
      start = end + 1;
    }
  }

  /**
   * Whether the literal {@code subject} matches {@code filter}. Walks both strings token by token
   * without splitting them: consumer filters are checked against every message they look at.
   */
  public static boolean matches(String filter, String subject) {
    int f = 0;
    int s = 0;
    while (true) {
      int fEnd = tokenEnd(filter, f);
      int sEnd = tokenEnd(subject, s);
      if (fEnd - f == 1 && filter.charAt(f) == '>') {
        return true; // the subject has this token, and '>' takes it and any after it
      }
      boolean star = fEnd - f == 1 && filter.charAt(f) == '*';
      if (!star && !(fEnd - f == sEnd - s && filter.regionMatches(f, subject, s, fEnd - f))) {
        return false;
      }
      boolean filterDone = fEnd == filter.length();
      boolean subjectDone = sEnd == subject.length();
      if (filterDone || subjectDone) {
        return filterDone && subjectDone;
      }
      f = fEnd + 1;
      s = sEnd + 1;
    }
  }

  private static int tokenEnd(String s, int from) {
    int dot = s.indexOf('.', from);
    return dot < 0 ? s.length() : dot;
  }

  /** Whether some literal subject matches both filters. */
  public static boolean overlap(String a, String b) {
    String[] x = tokens(a);
    String[] y = tokens(b);
    for (int i = 0; ; i++) {
      boolean xEnd = i >= x.length;
      boolean yEnd = i >= y.length;
      if (xEnd || yEnd) {
        return xEnd && yEnd;
      }
      if (x[i].equals(">") || y[i].equals(">")) {
        return true;
      }
      if (!(x[i].equals("*") || y[i].equals("*") || x[i].equals(y[i]))) {
        return false;
      }
    }
  }

  /**
   * Whether every literal subject that {@code inner} matches is matched by {@code outer} too: a
   * permission {@code orders.>} covers a stream of {@code orders.*}, but {@code orders.*} does not
   * cover {@code orders.>}.
   */
  public static boolean covers(String outer, String inner) {
    String[] o = tokens(outer);
    String[] n = tokens(inner);
    for (int i = 0; ; i++) {
      if (i >= o.length || i >= n.length) {
        return i >= o.length && i >= n.length;
      }
      if (o[i].equals(">")) {
        return true;
      }
      if (n[i].equals(">")) {
        return false; // only '>' reaches any number of tokens
      }
      if (!o[i].equals("*") && !o[i].equals(n[i])) {
        return false; // a literal covers only itself ('*' in inner included)
      }
    }
  }
}
