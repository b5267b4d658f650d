package io.holdfast.storage.file;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.SecureRandom;
import java.util.HexFormat;

/**
 * The data directory's identity (D9): {@code holdfast.id} holds a random incarnation id, created
 * once with the directory. A wiped or replaced directory gets a new one, so the cluster can tell
 * it is not the replica it was. Checksummed; a damaged file is rebuilt from the WAL file headers,
 * which carry the same id (D8: metadata is rebuilt, never inferred away).
 */
final class Identity {
  static final String FILE = "holdfast.id";

  private Identity() {}

  static String newIncarnation() {
    byte[] id = new byte[16];
    new SecureRandom().nextBytes(id);
    return HexFormat.of().formatHex(id);
  }

  static void write(Path dir, String incarnation) throws IOException {
    String body = "holdfast data directory\nformat=1\nincarnation=" + incarnation + "\n";
    byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
    String text = body + "crc32c=" + Integer.toHexString(WalRecord.crc(bytes, 0, bytes.length, null, 0, 0)) + "\n";
    Path temp = dir.resolve(FILE + ".tmp");
    Files.writeString(temp, text, StandardCharsets.UTF_8);
    try (var ch = java.nio.channels.FileChannel.open(temp, java.nio.file.StandardOpenOption.WRITE)) {
      ch.force(true);
    }
    Files.move(temp, dir.resolve(FILE), StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    Fsync.directory(dir);
  }

  /** The incarnation in the file, or null if it is missing or damaged. */
  static String read(Path dir) throws IOException {
    Path file = dir.resolve(FILE);
    if (!Files.isRegularFile(file)) {
      return null;
    }
    String text = Files.readString(file, StandardCharsets.ISO_8859_1);
    int crcAt = text.lastIndexOf("crc32c=");
    if (crcAt < 0) {
      return null;
    }
    byte[] body = text.substring(0, crcAt).getBytes(StandardCharsets.ISO_8859_1);
    String expected = Integer.toHexString(WalRecord.crc(body, 0, body.length, null, 0, 0));
    if (!text.substring(crcAt + 7).trim().equals(expected)) {
      return null;
    }
    for (String line : text.split("\n")) {
      if (line.startsWith("incarnation=")) {
        return line.substring("incarnation=".length());
      }
    }
    return null;
  }
}
