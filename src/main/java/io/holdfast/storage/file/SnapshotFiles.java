package io.holdfast.storage.file;

import io.holdfast.raft.message.Membership;
import io.holdfast.raft.message.Snapshot;
import io.holdfast.raft.message.SnapshotMeta;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.HexFormat;

/**
 * Snapshot files, one directory per replica: {@code snapshots/<hex of replica name>/<index>-<term>.snap}.
 *
 * <pre>u32 magic 'HFSN' | u32 version | u64 index | u64 term | u32 membershipLength | membership |
 * u64 dataLength | data | u32 crc32c of everything before</pre>
 *
 * Written to a temp file, fsynced, renamed into place, then the directory fsynced: a crash leaves
 * either no file or a whole one. A file that fails its checksum is reported, never read as empty.
 */
final class SnapshotFiles {
  private static final int MAGIC = 0x4846534e; // "HFSN"
  private static final int VERSION = 1;
  private static final String ZERO_MARKER = "zero-on-replace";

  private SnapshotFiles() {}

  static Path dirOf(Path root, String replica) {
    return root.resolve("snapshots").resolve(HexFormat.of().formatHex(replica.getBytes(StandardCharsets.UTF_8)));
  }

  static Path fileOf(Path root, String replica, SnapshotMeta meta) {
    return dirOf(root, replica).resolve(meta.index() + "-" + meta.term() + ".snap");
  }

  /** Writes the snapshot durably and returns its data checksum. */
  static int write(Path root, String replica, Snapshot snapshot) throws IOException {
    Path dir = dirOf(root, replica);
    boolean created = !Files.isDirectory(dir);
    Files.createDirectories(dir);
    if (created) {
      Fsync.directory(dir.getParent());
    }
    byte[] membership = snapshot.meta().membership().encode();
    byte[] data = snapshot.data();
    ByteBuffer b = ByteBuffer.allocate(4 + 4 + 8 + 8 + 4 + membership.length + 8 + data.length + 4);
    b.putInt(MAGIC).putInt(VERSION).putLong(snapshot.index()).putLong(snapshot.term());
    b.putInt(membership.length).put(membership).putLong(data.length).put(data);
    byte[] out = b.array();
    b.putInt(out.length - 4, WalRecord.crc(out, 0, out.length - 4, null, 0, 0));
    Path target = fileOf(root, replica, snapshot.meta());
    Path temp = dir.resolve(target.getFileName() + ".tmp");
    try (FileChannel ch = FileChannel.open(temp, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
        StandardOpenOption.TRUNCATE_EXISTING)) {
      ByteBuffer w = ByteBuffer.wrap(out);
      while (w.hasRemaining()) {
        ch.write(w);
      }
      ch.force(true);
    }
    Files.move(temp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    Fsync.directory(dir);
    return WalRecord.crc(data, 0, data.length, null, 0, 0);
  }

  /** The snapshot the log refers to, or null if its file is missing or damaged. */
  static Snapshot read(Path root, String replica, WalRecord.SnapshotRef ref) throws IOException {
    Path file = fileOf(root, replica, ref.meta());
    if (!Files.isRegularFile(file)) {
      return null;
    }
    byte[] in = Files.readAllBytes(file);
    if (in.length < 40 || WalRecord.crc(in, 0, in.length - 4, null, 0, 0) != ByteBuffer.wrap(in).getInt(in.length - 4)) {
      return null;
    }
    ByteBuffer b = ByteBuffer.wrap(in);
    if (b.getInt() != MAGIC || b.getInt() != VERSION) {
      return null;
    }
    long index = b.getLong();
    long term = b.getLong();
    byte[] membership = new byte[b.getInt()];
    b.get(membership);
    byte[] data = new byte[(int) b.getLong()];
    b.get(data);
    SnapshotMeta meta = new SnapshotMeta(index, term, Membership.decode(membership));
    if (!meta.equals(ref.meta()) || data.length != ref.dataLength()
        || WalRecord.crc(data, 0, data.length, null, 0, 0) != ref.dataCrc()) {
      return null; // a whole, valid file, but not the one the log refers to
    }
    return new Snapshot(meta, data);
  }

  /** Marks that the replica's current snapshots may hold erased data: they are zeroed when deleted. */
  static void markZeroOnReplace(Path root, String replica) throws IOException {
    Path dir = dirOf(root, replica);
    Files.createDirectories(dir);
    Path marker = dir.resolve(ZERO_MARKER);
    if (!Files.exists(marker)) {
      Files.createFile(marker);
      Fsync.directory(dir);
    }
  }

  /**
   * Deletes every snapshot file of the replica except {@code keep}, zeroing each first if the
   * replica is marked ({@link #markZeroOnReplace}). {@code keepIsNewer}: {@code keep} was written
   * after the mark, so it holds nothing erased and the mark goes.
   */
  static void deleteAllBut(Path root, String replica, SnapshotMeta keep, boolean keepIsNewer) throws IOException {
    Path dir = dirOf(root, replica);
    if (!Files.isDirectory(dir)) {
      return;
    }
    String keepName = keep == null ? "" : fileOf(root, replica, keep).getFileName().toString();
    boolean zero = Files.exists(dir.resolve(ZERO_MARKER));
    try (var files = Files.list(dir)) {
      for (Path f : (Iterable<Path>) files::iterator) {
        String name = f.getFileName().toString();
        if (!name.equals(keepName) && !name.equals(ZERO_MARKER)) {
          if (zero) {
            zero(f);
          }
          Files.delete(f);
        }
      }
    }
    if (zero && keepIsNewer) {
      Files.delete(dir.resolve(ZERO_MARKER));
    }
    // No directory fsync: a deletion a crash undoes leaves an older snapshot the log no longer
    // names (recovery deletes it again) or a zero mark that zeroes one file more; what was erased
    // is already zeroed and synced above. The fsync cost the storage thread one of its three
    // syncs per snapshot.
  }

  /** Overwrites a file's bytes with zeros, durably (the blocks, not just the name, lose the data). */
  private static void zero(Path file) throws IOException {
    try (FileChannel ch = FileChannel.open(file, StandardOpenOption.WRITE)) {
      ByteBuffer zeros = ByteBuffer.allocate(1 << 16);
      for (long at = 0, size = ch.size(); at < size; ) {
        zeros.clear().limit((int) Math.min(zeros.capacity(), size - at));
        at += ch.write(zeros, at);
      }
      ch.force(false);
    }
  }
}
