package io.holdfast.storage.file;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * How far the write-ahead log is known to be synced, kept outside it (Jepsen's NATS finding F3).
 * A WAL tail cut off after it was fsynced and acknowledged looks exactly like a torn write that
 * never was — unless something else remembers where the synced log ended. After every WAL fsync
 * the store records (WAL file, end offset) here and fsyncs it too, before any acknowledgement.
 * Recovery then treats anything invalid before that point as damage, never as a torn tail.
 *
 * <p>It also keeps the highest term the node ever synced: should a synced tail be cut off after
 * all, that bounds the terms and votes that may have gone with it ({@code RaftCore}'s lost tail).
 *
 * <p>File {@code wal.tail}: two 40-byte slots written alternately, each {@code u64 sequence |
 * u64 WAL file | u64 end offset | u64 highest term | u32 crc32c | u32 pad}; the valid slot with the higher sequence
 * wins, so a write torn by a crash leaves the previous slot. With one slot invalid, the valid one
 * may be the older: the position read is then not {@code certain} (the store refuses to take an
 * invalid tail beyond it for a torn write), and the store writes both slots again as soon as it
 * opens, as it does when it creates the file, so a crash alone never leaves an invalid slot behind
 * a later WAL write.
 */
final class TailMarker implements AutoCloseable {
  static final String FILE = "wal.tail";
  static final int SLOT_BYTES = 40;
  private static final int SLOT_DATA_BYTES = 32;

  /** A synced position of the WAL; {@code certain}: both slots were valid, so this is the newest. */
  record Position(long sequence, long walFile, long end, long termMax, boolean certain) {}

  private final FileChannel channel;
  private long sequence;
  private final ByteBuffer slot = ByteBuffer.allocate(SLOT_BYTES);

  private TailMarker(FileChannel channel, long sequence) {
    this.channel = channel;
    this.sequence = sequence;
  }

  /** Reads the marker, or null if the file is missing; throws if it exists but no slot is valid. */
  static Position read(Path dir) throws IOException {
    Path file = dir.resolve(FILE);
    if (!Files.isRegularFile(file)) {
      return null;
    }
    byte[] in = Files.readAllBytes(file);
    Position best = null;
    int valid = 0;
    for (int at = 0; at + SLOT_BYTES <= 2 * SLOT_BYTES && at + SLOT_BYTES <= in.length; at += SLOT_BYTES) {
      ByteBuffer b = ByteBuffer.wrap(in, at, SLOT_BYTES);
      long seq = b.getLong(at);
      if (WalRecord.crc(in, at, SLOT_DATA_BYTES, null, 0, 0) == b.getInt(at + SLOT_DATA_BYTES)) {
        valid++;
        if (best == null || seq > best.sequence()) {
          best = new Position(seq, b.getLong(at + 8), b.getLong(at + 16), b.getLong(at + 24), false);
        }
      }
    }
    if (best == null) {
      throw new IOException(file + " has no valid slot: the synced extent of the WAL is unknown");
    }
    return new Position(best.sequence(), best.walFile(), best.end(), best.termMax(), valid == 2);
  }

  /**
   * Opens the marker for writing after recovery, the WAL being synced up to {@code end} of
   * {@code walFile}. A new file, or one that had an invalid slot ({@code last} null or not
   * certain), gets both slots written at once.
   */
  static TailMarker open(Path dir, Position last, long walFile, long end, long termMax) throws IOException {
    Path file = dir.resolve(FILE);
    boolean created = !Files.exists(file);
    FileChannel ch = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.READ, StandardOpenOption.WRITE);
    if (created) {
      Fsync.directory(dir);
    }
    TailMarker marker = new TailMarker(ch, last == null ? 0 : last.sequence());
    if (last == null || !last.certain() || last.walFile() != walFile || last.end() != end) {
      marker.record(walFile, end, termMax);
      marker.record(walFile, end, termMax);
    }
    return marker;
  }

  /** Durably records that the WAL is synced up to {@code end} in {@code walFile}, holding terms up to {@code termMax}. */
  void record(long walFile, long end, long termMax) throws IOException {
    sequence++;
    slot.clear();
    slot.putLong(sequence).putLong(walFile).putLong(end).putLong(termMax);
    slot.putInt(WalRecord.crc(slot.array(), 0, SLOT_DATA_BYTES, null, 0, 0)).putInt(0);
    slot.flip();
    long at = (sequence % 2) * SLOT_BYTES;
    while (slot.hasRemaining()) {
      at += channel.write(slot, at);
    }
    channel.force(false);
  }

  @Override
  public void close() throws IOException {
    channel.close();
  }
}
