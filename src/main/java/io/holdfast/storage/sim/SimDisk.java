package io.holdfast.storage.sim;

import io.holdfast.base.Prng;
import io.holdfast.storage.Disk;
import io.holdfast.storage.DiskFailure;
import io.holdfast.storage.DiskFile;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.TreeMap;
import java.util.function.Predicate;

/**
 * A simulated directory for the segment store, in memory, that separates what was written from
 * what was synced: a file's content survives a {@link #crash} only as far as a {@link DiskFile#sync}
 * covered it, and a created or deleted name only once {@link #syncDirectory} did. On an honest
 * crash the kernel may have written back more than was synced: a file that only grew may keep a
 * random prefix of its unsynced bytes (so a torn last record). Damage while the machine is down:
 * {@link #flipBit} and {@link #cut}, on synced bytes, as on a real disk.
 *
 * <p>Deterministic: files by name in a {@link TreeMap}, randomness from the caller's {@link Prng}.
 */
public final class SimDisk implements Disk {
  private static final class Content {
    byte[] bytes = new byte[0];
    int length;

    Content copy() {
      Content c = new Content();
      c.bytes = Arrays.copyOf(bytes, length);
      c.length = length;
      return c;
    }
  }

  private static final class SimFile {
    Content current = new Content();
    Content durable = new Content();
  }

  private final TreeMap<String, SimFile> files = new TreeMap<>();
  /** The names as of the last directory sync, with the files they name. */
  private final TreeMap<String, SimFile> durableNames = new TreeMap<>();
  /** Incremented by every crash: handles opened before it fail, as a dead process's would. */
  private int epoch;
  private long bytesWritten;

  @Override
  public List<String> list() {
    return new ArrayList<>(files.keySet());
  }

  @Override
  public DiskFile open(String name, boolean create) {
    SimFile f = files.get(name);
    if (f == null) {
      if (!create) {
        return null;
      }
      f = new SimFile();
      files.put(name, f);
    }
    return new Handle(name, f, epoch);
  }

  @Override
  public void delete(String name) {
    files.remove(name);
  }

  @Override
  public void syncDirectory() {
    durableNames.clear();
    durableNames.putAll(files);
  }

  /** Bytes written through this disk so far (the simulator's write amplification). */
  public long bytesWritten() {
    return bytesWritten;
  }

  /**
   * Power is cut: every file goes back to what was synced, and the directory to its last synced
   * names. With {@code honest}, a file that only grew since its sync may keep a random part of
   * what it grew by (the kernel wrote it back on its own), and a name created since the last
   * directory sync may survive; without, exactly the synced state survives.
   */
  public void crash(Prng prng, boolean honest) {
    epoch++;
    TreeMap<String, SimFile> survivors = new TreeMap<>();
    for (var e : files.entrySet()) {
      if (durableNames.get(e.getKey()) == e.getValue() || (honest && prng.chance(0.5))) {
        survivors.put(e.getKey(), e.getValue());
      }
    }
    for (var e : durableNames.entrySet()) {
      survivors.putIfAbsent(e.getKey(), e.getValue()); // deleted since the last directory sync: back
    }
    files.clear();
    files.putAll(survivors);
    for (SimFile f : files.values()) {
      Content kept = f.durable.copy();
      if (honest && extends_(f.current, f.durable) && f.current.length > f.durable.length && prng.chance(0.5)) {
        kept = f.current.copy();
        kept.length = f.durable.length + prng.nextInt(f.current.length - f.durable.length + 1);
      }
      f.current = kept;
      f.durable = kept.copy();
    }
    durableNames.clear();
    durableNames.putAll(files);
  }

  private static boolean extends_(Content longer, Content prefix) {
    return longer.length >= prefix.length
        && Arrays.equals(longer.bytes, 0, prefix.length, prefix.bytes, 0, prefix.length);
  }

  /**
   * Bit rot while the machine is down: one random bit of one file that {@code which} accepts
   * (chosen by size) flips. Returns the file's name, or null if there was nothing to damage.
   */
  public String flipBit(Prng prng, Predicate<String> which) {
    String name = pick(prng, which);
    if (name == null) {
      return null;
    }
    SimFile f = files.get(name);
    int at = prng.nextInt(f.durable.length);
    f.durable.bytes[at] ^= (byte) (1 << prng.nextInt(8));
    f.current = f.durable.copy();
    return name;
  }

  /** A file that {@code which} accepts loses a random tail of its synced bytes. Returns its name, or null. */
  public String cut(Prng prng, Predicate<String> which) {
    String name = pick(prng, which);
    if (name == null) {
      return null;
    }
    SimFile f = files.get(name);
    f.durable.length = prng.nextInt(f.durable.length);
    f.current = f.durable.copy();
    return name;
  }

  private String pick(Prng prng, Predicate<String> which) {
    long total = 0;
    for (var e : files.entrySet()) {
      if (which.test(e.getKey())) {
        total += e.getValue().durable.length;
      }
    }
    if (total == 0) {
      return null;
    }
    long at = (long) (prng.nextDouble() * total);
    for (var e : files.entrySet()) {
      if (which.test(e.getKey())) {
        at -= e.getValue().durable.length;
        if (at < 0) {
          return e.getKey();
        }
      }
    }
    return null;
  }

  private final class Handle implements DiskFile {
    private final String name;
    private final SimFile file;
    private final int openedIn;

    Handle(String name, SimFile file, int openedIn) {
      this.name = name;
      this.file = file;
      this.openedIn = openedIn;
    }

    private void check() {
      if (openedIn != epoch) {
        throw new DiskFailure(name + " was opened before a crash");
      }
    }

    @Override
    public long size() {
      check();
      return file.current.length;
    }

    @Override
    public int read(long position, byte[] into, int offset, int length) {
      check();
      Content c = file.current;
      int n = (int) Math.max(0, Math.min(length, c.length - position));
      if (n > 0) {
        System.arraycopy(c.bytes, (int) position, into, offset, n);
      }
      return n;
    }

    @Override
    public void write(long position, byte[] from, int offset, int length) {
      check();
      Content c = file.current;
      int end = (int) position + length;
      if (end > c.bytes.length) {
        c.bytes = Arrays.copyOf(c.bytes, Math.max(end, c.bytes.length * 2));
      }
      if (position > c.length) {
        Arrays.fill(c.bytes, c.length, (int) position, (byte) 0);
      }
      System.arraycopy(from, offset, c.bytes, (int) position, length);
      c.length = Math.max(c.length, end);
      bytesWritten += length;
    }

    @Override
    public void truncate(long size) {
      check();
      file.current.length = (int) Math.min(file.current.length, size);
    }

    @Override
    public void sync() {
      check();
      file.durable = file.current.copy();
    }

    @Override
    public void close() {}
  }
}
