package io.holdfast.storage;

import java.util.List;

/**
 * The files of one directory, as a stream's segment store needs them: names, positional reads and
 * writes, truncation, fsync. Production backs it with {@code java.nio} files; the simulator with
 * memory that separates written from synced bytes, so a crash loses exactly what a power cut would.
 * Every I/O error is a {@link DiskFailure}: storage stops, nothing is retried (D10).
 */
public interface Disk {
  /** The names of the files in this directory, sorted. */
  List<String> list();

  /**
   * Opens {@code name} for reading and writing, creating it if {@code create} (the new name is
   * durable only after {@link #syncDirectory}); null if it does not exist and {@code create} is false.
   */
  DiskFile open(String name, boolean create);

  /** Deletes {@code name} if it exists (durable only after {@link #syncDirectory}). */
  void delete(String name);

  /**
   * Deletes {@code name}, whose contents nothing reads again, perhaps later and on another thread:
   * its name is free at once, its space comes back soon after (durable only after
   * {@link #syncDirectory}). What a segment that a snapshot let go takes: unlinking a large file
   * can take tens of milliseconds.
   */
  default void discard(String name) {
    delete(name);
  }

  /** Makes the directory's creates and deletes durable. */
  void syncDirectory();
}
