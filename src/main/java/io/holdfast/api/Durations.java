package io.holdfast.api;

/** Durations as users write them: {@code 500ms}, {@code 90s}, {@code 2m}, {@code 1h}, {@code 1d} (0 = none). */
public final class Durations {
  private Durations() {}

  public static long parseMillis(String text) {
    String t = text.trim();
    int i = 0;
    while (i < t.length() && Character.isDigit(t.charAt(i))) {
      i++;
    }
    if (i == 0) {
      throw new IllegalArgumentException("a duration is a number and a unit (ms, s, m, h, d), like 90s; got '" + text + "'");
    }
    long n = Long.parseLong(t.substring(0, i));
    long unit = switch (t.substring(i)) {
      case "ms" -> 1;
      case "s", "" -> n == 0 || t.substring(i).equals("s") ? 1000 : -1;
      case "m" -> 60_000;
      case "h" -> 3_600_000;
      case "d" -> 86_400_000;
      default -> -1;
    };
    if (unit < 0) {
      throw new IllegalArgumentException("a duration is a number and a unit (ms, s, m, h, d), like 90s; got '" + text + "'");
    }
    return Math.multiplyExact(n, unit);
  }

  /** The largest whole unit: 120000 → "2m", 1500 → "1500ms", 0 → "0s". */
  public static String format(long millis) {
    if (millis == 0) {
      return "0s";
    }
    long[] units = {86_400_000, 3_600_000, 60_000, 1000};
    String[] names = {"d", "h", "m", "s"};
    for (int k = 0; k < units.length; k++) {
      if (millis % units[k] == 0) {
        return millis / units[k] + names[k];
      }
    }
    return millis + "ms";
  }

  /** A JSON duration: milliseconds as a number, or a string like "90s"; a bad one is a {@code code} error naming {@code field}. */
  static long fromJson(com.fasterxml.jackson.databind.JsonNode v, String field, String code) {
    if (v.canConvertToLong()) {
      return v.asLong();
    }
    try {
      return parseMillis(v.asText());
    } catch (IllegalArgumentException e) {
      throw new HoldfastException.BadRequest(code, field + ": " + e.getMessage());
    }
  }
}
