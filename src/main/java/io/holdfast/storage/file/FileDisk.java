package io.holdfast.storage.file;

import io.holdfast.storage.Disk;
import io.holdfast.storage.DiskFailure;
import io.holdfast.storage.DiskFile;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;

/**
 * A {@link Disk} on a real directory: positional {@link FileChannel} reads and writes (the page
 * cache), {@code force} for fsync. The directory is created (and its parent fsynced) on first use.
 */
public final class FileDisk implements Disk {
  private final Path dir;
  private boolean exists;

  public FileDisk(Path dir) {
    this.dir = dir;
    this.exists = Files.isDirectory(dir);
    try {
      Reclaimer.reclaimLeftovers(dir); // a crash's: files discarded but not yet unlinked
    } catch (IOException e) {
      throw new DiskFailure("listing " + dir + " failed: " + e, e);
    }
  }

  /** Where a stream replica keeps its messages on a node: {@code <data dir>/streams/<storage name>}. */
  public static FileDisk ofStream(String dataDir, String storageName) {
    return new FileDisk(Path.of(dataDir, "streams", storageName));
  }

  public Path path() {
    return dir;
  }

  @Override
  public List<String> list() {
    if (!exists) {
      return List.of();
    }
    List<String> names = new ArrayList<>();
    try (var s = Files.list(dir)) {
      s.map(p -> p.getFileName().toString()).filter(n -> !Reclaimer.isDiscarded(n)).forEach(names::add);
    } catch (IOException e) {
      throw new DiskFailure("listing " + dir + " failed: " + e, e);
    }
    names.sort(null);
    return names;
  }

  @Override
  public DiskFile open(String name, boolean create) {
    Path file = dir.resolve(name);
    try {
      if (create && !exists) {
        Files.createDirectories(dir);
        Fsync.directory(dir.getParent());
        exists = true;
      }
      FileChannel ch = create
          ? FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.READ, StandardOpenOption.WRITE)
          : FileChannel.open(file, StandardOpenOption.READ, StandardOpenOption.WRITE);
      return new Channel(file, ch);
    } catch (NoSuchFileException e) {
      return null;
    } catch (IOException e) {
      throw new DiskFailure("opening " + file + " failed: " + e, e);
    }
  }

  @Override
  public void delete(String name) {
    try {
      Files.deleteIfExists(dir.resolve(name));
    } catch (IOException e) {
      throw new DiskFailure("deleting " + dir.resolve(name) + " failed: " + e, e);
    }
  }

  /** Renamed at once, unlinked by the {@link Reclaimer}'s thread. */
  @Override
  public void discard(String name) {
    try {
      Reclaimer.discard(dir.resolve(name));
    } catch (IOException e) {
      throw new DiskFailure("discarding " + dir.resolve(name) + " failed: " + e, e);
    }
  }

  @Override
  public void syncDirectory() {
    if (!exists) {
      return;
    }
    try {
      Fsync.directory(dir);
    } catch (IOException e) {
      throw new DiskFailure("syncing directory " + dir + " failed: " + e, e);
    }
  }

  /**
   * Deletes the directory and everything in it (a replica whose files are no longer needed): renamed
   * at once and its parent fsynced; the {@link Reclaimer} unlinks what it held.
   */
  public void deleteAll() {
    if (!Files.isDirectory(dir)) {
      return;
    }
    try {
      Reclaimer.discardTree(dir);
      Fsync.directory(dir.getParent());
      exists = false;
    } catch (IOException e) {
      throw new DiskFailure("deleting " + dir + " failed: " + e, e);
    }
  }

  private record Channel(Path file, FileChannel ch) implements DiskFile {
    @Override
    public long size() {
      try {
        return ch.size();
      } catch (IOException e) {
        throw new DiskFailure("size of " + file + " failed: " + e, e);
      }
    }

    @Override
    public int read(long position, byte[] into, int offset, int length) {
      ByteBuffer b = ByteBuffer.wrap(into, offset, length);
      try {
        long at = position;
        while (b.hasRemaining()) {
          int n = ch.read(b, at);
          if (n < 0) {
            break;
          }
          at += n;
        }
        return length - b.remaining();
      } catch (IOException e) {
        throw new DiskFailure("reading " + file + " at " + position + " failed: " + e, e);
      }
    }

    @Override
    public void write(long position, byte[] from, int offset, int length) {
      ByteBuffer b = ByteBuffer.wrap(from, offset, length);
      try {
        long at = position;
        while (b.hasRemaining()) {
          at += ch.write(b, at);
        }
      } catch (IOException e) {
        throw new DiskFailure("writing " + file + " at " + position + " failed: " + e, e);
      }
    }

    @Override
    public void truncate(long size) {
      try {
        ch.truncate(size);
      } catch (IOException e) {
        throw new DiskFailure("truncating " + file + " to " + size + " failed: " + e, e);
      }
    }

    @Override
    public void sync() {
      try {
        ch.force(false);
      } catch (IOException e) {
        throw new DiskFailure("fsync of " + file + " failed: " + e, e);
      }
    }

    @Override
    public void close() {
      try {
        ch.close();
      } catch (IOException e) {
        throw new DiskFailure("closing " + file + " failed: " + e, e);
      }
    }
  }
}
