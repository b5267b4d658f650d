package io.holdfast.storage.file;

import io.holdfast.storage.StorageFailure;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;

/**
 * File {@code wal.lost-tail}: once recovery found a synced WAL tail cut off, the highest term the
 * node had synced before ({@code u64 term | u32 crc32c}). It outlives the cut: a replica whose log
 * still ends at or below that term has not yet recovered what it may have lost, however often the
 * node restarts. Replaced atomically; a damaged one refuses the open (nothing else remembers).
 */
final class LostTail {
  static final String FILE = "wal.lost-tail";

  private LostTail() {}

  /** The recorded term, or 0 if there never was a lost tail. */
  static long read(Path dir) throws IOException, StorageFailure {
    Path file = dir.resolve(FILE);
    if (!Files.isRegularFile(file)) {
      return 0;
    }
    byte[] in = Files.readAllBytes(file);
    if (in.length != 12 || WalRecord.crc(in, 0, 8, null, 0, 0) != ByteBuffer.wrap(in).getInt(8)) {
      throw new StorageFailure(file + " is damaged: which replicas still have to recover a lost WAL tail is unknown."
          + " Nothing was changed. Move the data directory away so the node rejoins as a new member (D6, D9).");
    }
    return ByteBuffer.wrap(in).getLong(0);
  }

  static void write(Path dir, long term) throws IOException {
    ByteBuffer b = ByteBuffer.allocate(12).putLong(term);
    b.putInt(WalRecord.crc(b.array(), 0, 8, null, 0, 0)).flip();
    Path temp = dir.resolve(FILE + ".tmp");
    try (FileChannel ch = FileChannel.open(temp, StandardOpenOption.CREATE, StandardOpenOption.TRUNCATE_EXISTING,
        StandardOpenOption.WRITE)) {
      while (b.hasRemaining()) {
        ch.write(b);
      }
      ch.force(true);
    }
    Files.move(temp, dir.resolve(FILE), StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    Fsync.directory(dir);
  }
}
