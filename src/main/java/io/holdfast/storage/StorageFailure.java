package io.holdfast.storage;

/**
 * Storage cannot go on: an I/O error (D10: the store stops, nothing is retried — after a failed
 * fsync the page cache cannot be trusted) or damage it cannot attribute to a replica. The message
 * says what and where, for an operator.
 */
public final class StorageFailure extends Exception {
  private static final long serialVersionUID = 1L;

  public StorageFailure(String message) {
    super(message);
  }

  public StorageFailure(String message, Throwable cause) {
    super(message, cause);
  }
}
