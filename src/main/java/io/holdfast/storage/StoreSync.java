package io.holdfast.storage;

/**
 * An fsync of a replica's message store, prepared on the replica's thread: {@link #run} it on
 * any thread (it blocks; it throws {@link DiskFailure}, fatal), then hand it back to the replica,
 * which counts what it covers as durable only then.
 */
public interface StoreSync {
  void run();
}
