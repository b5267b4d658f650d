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

  /** Thrown when an internal invariant does not hold. */
  public static final class InvariantViolation extends RuntimeException {
    private static final long serialVersionUID = 1L;

    public InvariantViolation(String message) {
      super(message);
    }
  }
}
