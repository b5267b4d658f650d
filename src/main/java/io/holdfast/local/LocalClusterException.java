package io.holdfast.local;

/**
 * A local cluster cannot do what was asked: no cluster in that directory, no such node, a heap
 * size it cannot use. The command line reports it as bad usage (exit 2): the caller named
 * something that is not there.
 */
public final class LocalClusterException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  public LocalClusterException(String message) {
    super(message);
  }
}
