package io.holdfast.storage.file;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

/**
 * Prepares the next WAL file in the background: written with zeros to its full size and fsynced,
 * so that a group commit into it overwrites blocks that are already allocated and written, inside
 * the file's size. Its fdatasync then writes the data and flushes the device, and nothing else. A
 * WAL that grows with every append also makes each fdatasync write the file's new size (the
 * inode's block, shared with neighbouring files) and its block allocation, each a device round trip
 * of its own before the flush: a third of the time the storage thread spent blocked in fsync on
 * the benchmark machine (ext4, issue 18). Zeros, not {@code fallocate}: blocks allocated but not
 * yet written are converted to written ones at the first write into them, which is again metadata
 * to sync (and Java has no {@code fallocate}).
 *
 * <p>The file is prepared under a name that recovery does not read ({@value #NAME}), and only
 * {@link FileLogStore} renames it to the next WAL file's name at a roll, then writes its header.
 * A prepared file left by a crash is deleted at open and prepared again: nothing checks its zeros.
 * A roll that finds no prepared file ready creates a plain one, as without preallocation.
 */
final class WalPreallocator implements AutoCloseable {
  static final String NAME = "next.wal-prepared";
  private static final String PARTIAL = NAME + ".partial";
  private static final System.Logger LOG = System.getLogger(WalPreallocator.class.getName());

  private final Path walDir;
  private final long bytes;
  private final ExecutorService thread;
  private Future<Path> pending;

  WalPreallocator(Path walDir, long bytes) {
    this.walDir = walDir;
    this.bytes = bytes;
    this.thread = Executors.newSingleThreadExecutor(r -> {
      Thread t = new Thread(r, "holdfast-wal-preallocator");
      t.setDaemon(true);
      return t;
    });
  }

  /** Deletes what a crash left (a prepared file is never trusted across a restart). */
  static void deleteLeftovers(Path walDir) throws IOException {
    Files.deleteIfExists(walDir.resolve(NAME));
    Files.deleteIfExists(walDir.resolve(PARTIAL));
  }

  /** Starts preparing a file, unless one is being prepared or ready. */
  void prepare() {
    if (pending == null) {
      pending = thread.submit(this::write);
    }
  }

  /**
   * The prepared file, if it is ready: the caller renames it away at once. Null if it is not
   * ready yet or its preparation failed (logged; the caller creates a plain file).
   */
  Path take() {
    if (pending == null || !pending.isDone()) {
      return null;
    }
    Future<Path> done = pending;
    pending = null;
    try {
      return done.get();
    } catch (ExecutionException e) {
      LOG.log(System.Logger.Level.WARNING, "could not prepare the next WAL file in " + walDir
          + "; the next one grows as it is written: " + e.getCause());
      return null;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return null;
    }
  }

  /** Waits for the file being prepared, if any (tests). */
  void awaitPrepared() throws Exception {
    if (pending != null) {
      pending.get();
    }
  }

  private Path write() throws IOException {
    Path partial = walDir.resolve(PARTIAL);
    ByteBuffer zeros = ByteBuffer.allocateDirect(1 << 20);
    try (FileChannel ch = FileChannel.open(partial, StandardOpenOption.CREATE, StandardOpenOption.TRUNCATE_EXISTING,
        StandardOpenOption.WRITE)) {
      long at = 0;
      while (at < bytes) {
        zeros.clear().limit((int) Math.min(zeros.capacity(), bytes - at));
        at += ch.write(zeros, at);
      }
      ch.force(true);
    }
    // Not made durable here: the roll that uses it fsyncs the directory after renaming it again.
    return Files.move(partial, walDir.resolve(NAME), StandardCopyOption.ATOMIC_MOVE);
  }

  /**
   * Stops the thread and waits for it: a store opened again on the same directory must not find
   * this one's file appearing after it deleted the leftovers. A write in progress is interrupted
   * (its channel closes).
   */
  @Override
  public void close() {
    thread.shutdownNow();
    try {
      if (!thread.awaitTermination(30, java.util.concurrent.TimeUnit.SECONDS)) {
        LOG.log(System.Logger.Level.WARNING, "the WAL preallocator of " + walDir + " did not stop in 30 s");
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
