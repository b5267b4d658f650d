package io.holdfast.storage.file;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

/**
 * Unlinks files that nothing reads again, off the thread that let them go. Unlinking a large file
 * is not cheap: ext4 frees its blocks (and, mounted with {@code discard} as here, trims them) and
 * the page cache its pages inside the call: a synced 64 MiB file took ~20 ms on the benchmark
 * machine. A node's storage thread did it inline for every WAL file it cleaned and for every
 * forgotten replica's store, holding every group commit of the node meanwhile, and a replica's
 * thread for every segment a snapshot let go: a purge of a 200 MiB stream stalled its acks for
 * ~200 ms (issue 18, ack p99). A discarded file or directory is renamed instead (a metadata
 * change: its name is free at once) to a name ending in {@value #SUFFIX}, and one daemon thread
 * per JVM unlinks it.
 *
 * <p>Whether the rename is durable is the caller's business, as a delete's was (it fsyncs the
 * directory if it must). A crash can leave discarded files behind; readers skip them
 * ({@link #isDiscarded}) and {@link #reclaimLeftovers}, when the directory is opened again, hands
 * them to the thread.
 */
public final class Reclaimer {
  static final String SUFFIX = ".discarded";
  private static final System.Logger LOG = System.getLogger(Reclaimer.class.getName());
  private static final ExecutorService THREAD = Executors.newSingleThreadExecutor(r -> {
    Thread t = new Thread(r, "holdfast-file-reclaimer");
    t.setDaemon(true);
    return t;
  });

  private Reclaimer() {}

  /** Renames {@code file} to its discarded name and has it unlinked later; nothing if it does not exist. */
  static void discard(Path file) throws IOException {
    // rename(2) replaces a leftover of the same name
    renameAndReclaim(file, file.resolveSibling(file.getFileName() + SUFFIX));
  }

  /**
   * Renames directory {@code dir} (a forgotten replica's message store) to a discarded name of its
   * own and has it and everything in it unlinked later; nothing if it does not exist. The caller
   * fsyncs the parent directory if the rename must be durable.
   */
  static void discardTree(Path dir) throws IOException {
    // Unique: a store of the same name could be discarded again before the first one is unlinked.
    renameAndReclaim(dir, dir.resolveSibling(dir.getFileName() + "." + System.nanoTime() + SUFFIX));
  }

  private static void renameAndReclaim(Path from, Path trash) throws IOException {
    try {
      Files.move(from, trash, StandardCopyOption.ATOMIC_MOVE);
    } catch (NoSuchFileException gone) {
      return;
    }
    reclaim(trash);
  }

  /** Whether {@code name} is a discarded file's (or directory's). */
  public static boolean isDiscarded(String name) {
    return name.endsWith(SUFFIX);
  }

  /** Hands every discarded file or directory {@code dir} holds (a crash's leftovers) to the thread. */
  static void reclaimLeftovers(Path dir) throws IOException {
    if (!Files.isDirectory(dir)) {
      return;
    }
    try (var s = Files.list(dir)) {
      s.filter(p -> isDiscarded(p.getFileName().toString())).forEach(Reclaimer::reclaim);
    }
  }

  private static void reclaim(Path trash) {
    THREAD.execute(() -> {
      try {
        if (Files.isDirectory(trash)) {
          try (var s = Files.walk(trash)) { // children before their directory
            for (Path p : (Iterable<Path>) s.sorted(java.util.Comparator.reverseOrder())::iterator) {
              Files.deleteIfExists(p);
            }
          }
        } else {
          Files.deleteIfExists(trash);
        }
      } catch (IOException | java.io.UncheckedIOException e) {
        // Nothing reads it; the next open of its directory hands it over again.
        LOG.log(System.Logger.Level.WARNING, "could not delete discarded file " + trash + ": " + e);
      }
    });
  }

  /** Returns once every file discarded before the call is unlinked (tests). */
  public static void awaitIdle() {
    try {
      THREAD.submit(() -> { }).get();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    } catch (ExecutionException e) {
      throw new IllegalStateException(e);
    }
  }
}
