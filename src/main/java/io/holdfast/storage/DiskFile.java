package io.holdfast.storage;

/**
 * One open file of a {@link Disk}. Writes are buffered by the operating system: durable only after
 * {@link #sync}. One writer at a time; {@link #sync} may run on another thread while the writer
 * goes on (it covers at least every write made before it was called).
 */
public interface DiskFile {
  long size();

  /** Reads up to {@code length} bytes at {@code position}; returns how many (fewer at the end of the file). */
  int read(long position, byte[] into, int offset, int length);

  void write(long position, byte[] from, int offset, int length);

  /** Cuts the file to {@code size} bytes. */
  void truncate(long size);

  /** Makes every write made before this call durable. */
  void sync();

  void close();
}
