package io.holdfast.base;

/**
 * Invariant checks that stay on in production. A failed check means a bug in Holdfast, never bad
 * input: input is validated where it enters and answered with a clear error.
 */
public final class Check {
  private Check() {}

  public static void that(boolean condition, String message) {
    if (!condition) {
      throw new InvariantViolation(message);
    }
  }

  /**
   * As above, with the message formatted ({@link String#format}, {@code %d}) only when the check
   * fails: checks on hot paths (every log entry read) build no string when they hold.
   */
  public static void that(boolean condition, String format, long a) {
    if (!condition) {
      throw new InvariantViolation(String.format(format, a));
    }
  }

  public static void that(boolean condition, String format, long a, long b) {
    if (!condition) {
      throw new InvariantViolation(String.format(format, a, b));
    }
  }

  public static void that(boolean condition, String format, long a, long b, long c) {
    if (!condition) {
      throw new InvariantViolation(String.format(format, a, b, c));
    }
  }

  /** Thrown when an internal invariant does not hold. */
  public static final class InvariantViolation extends RuntimeException {
    private static final long serialVersionUID = 1L;

    public InvariantViolation(String message) {
      super(message);
    }
  }
}
