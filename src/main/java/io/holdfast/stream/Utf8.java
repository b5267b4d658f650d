package io.holdfast.stream;

import java.nio.charset.StandardCharsets;

/**
 * A string's UTF-8 bytes, measured and written into an array without a {@code byte[]} of its own
 * in between when it is ASCII (subjects, names, sids nearly always are), as {@link
 * String#getBytes} with UTF-8 would give them otherwise.
 */
public final class Utf8 {
  private Utf8() {}

  /** How many bytes {@link #write} writes for {@code s}. */
  public static int length(String s) {
    return ascii(s) ? s.length() : s.getBytes(StandardCharsets.UTF_8).length;
  }

  /** Writes {@code s} into {@code out} at {@code at} ({@link #length} bytes); returns where it ends. */
  public static int write(String s, byte[] out, int at) {
    if (!ascii(s)) {
      byte[] b = s.getBytes(StandardCharsets.UTF_8);
      System.arraycopy(b, 0, out, at, b.length);
      return at + b.length;
    }
    for (int i = 0, n = s.length(); i < n; i++) {
      out[at + i] = (byte) s.charAt(i);
    }
    return at + s.length();
  }

  static boolean ascii(String s) {
    for (int i = 0, n = s.length(); i < n; i++) {
      if (s.charAt(i) >= 0x80) {
        return false;
      }
    }
    return true;
  }
}
