package io.holdfast.api;

/**
 * Every error of the Java API: a stable {@link #code()} (also the HTTP API's error code) and a
 * clear message. Subclasses say what the caller can do about it.
 */
public class HoldfastException extends RuntimeException {
  private final String code;
  private final int httpStatus;

  public HoldfastException(String code, int httpStatus, String message) {
    super(message);
    this.code = code;
    this.httpStatus = httpStatus;
  }

  public String code() {
    return code;
  }

  /** The HTTP status the HTTP API answers this error with. */
  public int httpStatus() {
    return httpStatus;
  }

  /** The request is malformed (bad name, subject, size...): retrying it unchanged will not help. */
  public static final class BadRequest extends HoldfastException {
    public BadRequest(String code, String message) {
      super(code, 400, message);
    }
  }

  /** No such stream or message. */
  public static final class NotFound extends HoldfastException {
    public NotFound(String code, String message) {
      super(code, 404, message);
    }
  }

  /** No credentials, or wrong ones (HTTP 401, NATS 'Authorization Violation'). */
  public static final class Unauthorized extends HoldfastException {
    public Unauthorized(String message) {
      super("unauthorized", 401, message);
    }
  }

  /** The client's user may not do this (HTTP 403, a NATS permissions violation): nothing was changed. */
  public static final class Forbidden extends HoldfastException {
    public Forbidden(String message) {
      super("permission_denied", 403, message);
    }
  }

  /** The request contradicts the current state (exists already, overlapping subjects, too few nodes). */
  public static final class Conflict extends HoldfastException {
    public Conflict(String code, String message) {
      super(code, 409, message);
    }
  }

  /** Not done, and certainly not applied (no leader, no quorum within the timeout): safe to retry. */
  public static final class Unavailable extends HoldfastException {
    public Unavailable(String message) {
      super("unavailable", 503, message);
    }
  }

  /**
   * Sent, but no answer in time (or its log entry was superseded): it may or may not have taken
   * effect. A retry may store a publish twice until de-duplication by message id lands.
   */
  public static final class OutcomeUnknown extends HoldfastException {
    public OutcomeUnknown(String message) {
      super("outcome_unknown", 503, message);
    }
  }

  /** The failure inside the wrappers a CompletionStage puts around it. */
  public static Throwable unwrap(Throwable e) {
    while ((e instanceof java.util.concurrent.CompletionException || e instanceof java.util.concurrent.ExecutionException)
        && e.getCause() != null) {
      e = e.getCause();
    }
    return e;
  }
}
