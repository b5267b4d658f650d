package io.holdfast.storage;

/**
 * A {@link Disk} operation failed (an I/O error). Fatal for the store that met it: after a failed
 * write or fsync the page cache cannot be trusted, so nothing is retried (D10).
 */
public final class DiskFailure extends RuntimeException {
  private static final long serialVersionUID = 1L;

  public DiskFailure(String message, Throwable cause) {
    super(message, cause);
  }

  public DiskFailure(String message) {
    super(message);
  }
}
