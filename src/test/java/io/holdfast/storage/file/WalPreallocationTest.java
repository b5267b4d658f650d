package io.holdfast.storage.file;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.holdfast.raft.message.EntryType;
import io.holdfast.raft.message.LogEntry;
import io.holdfast.storage.LogWrite;
import io.holdfast.storage.StorageFailure;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Goal: WAL files written full of zeros before use ({@link WalPreallocator}) read back exactly as
 * grown ones do, and the zeros never hide damage: a preallocated file's records end where the
 * zeros begin, and that end is checked as a file's length was (tail marker for the newest file,
 * the next file's header for older ones). Method: real files, damaged byte by byte, reopened.
 */
class WalPreallocationTest {
  private static final long FILE_BYTES = 8192;

  @TempDir
  Path tmp;

  private Path dir() {
    return tmp.resolve("data");
  }

  private FileLogStore.Options options(long fileBytes) {
    return new FileLogStore.Options(dir(), fileBytes, 100, true, true);
  }

  private static LogEntry entry(long index) {
    byte[] data = ("entry " + index + " " + "x".repeat(150)).getBytes(StandardCharsets.UTF_8);
    return new LogEntry(index, 1, EntryType.COMMAND, data);
  }

  private static List<LogEntry> entries(long from, long to) {
    List<LogEntry> out = new ArrayList<>();
    for (long i = from; i <= to; i++) {
      out.add(entry(i));
    }
    return out;
  }

  private List<Path> walFiles() throws Exception {
    try (Stream<Path> s = Files.list(dir().resolve("wal"))) {
      return s.filter(p -> p.getFileName().toString().endsWith(".wal")).sorted().toList();
    }
  }

  /**
   * Entries 1..n, one sync each: the first file grows (nothing is prepared before the store's
   * first roll); the roll moves into the prepared file, which holds the entries after it.
   * Returns the index of the last entry in the first file.
   */
  private long writeIntoAPreparedFile(FileLogStore s, long n) throws Exception {
    s.awaitPreparedWalFile();
    long lastInFirst = 0;
    for (long i = 1; i <= n; i++) {
      s.write("a", LogWrite.append(i, List.of(entry(i))));
      s.sync();
      if (lastInFirst == 0 && s.walFileCount() == 2) {
        lastInFirst = i;
      }
    }
    assertTrue(lastInFirst > 0 && lastInFirst < n, "the roll came before the last entry: " + lastInFirst);
    return lastInFirst;
  }

  private static long zerosAt(Path file) throws Exception {
    byte[] buf = Files.readAllBytes(file);
    int end = buf.length;
    while (end > 0 && buf[end - 1] == 0) {
      end--;
    }
    return end;
  }

  /** Offset of the last record of a WAL file whose records are followed by zeros. */
  private static long lastRecord(Path file) throws Exception {
    byte[] buf = Files.readAllBytes(file);
    int last = FileLogStore.FILE_HEADER_BYTES;
    for (int at = last; at < buf.length && buf[at] != 0; at = WalRecord.decode(buf, at, buf.length).end()) {
      last = at;
    }
    return last;
  }

  private static void overwrite(Path file, long at, byte[] bytes) throws Exception {
    try (FileChannel ch = FileChannel.open(file, StandardOpenOption.WRITE)) {
      ch.write(ByteBuffer.wrap(bytes), at);
    }
  }

  @Test
  void aPreparedFileIsUsedAtTheRollAndReadsBackToItsLastRecord() throws Exception {
    FileLogStore s = FileLogStore.open(options(FILE_BYTES));
    writeIntoAPreparedFile(s, 45);
    Path second = walFiles().get(1);
    assertEquals(FILE_BYTES, Files.size(second), "the second file was prepared full size and did not grow");
    assertTrue(zerosAt(second) < FILE_BYTES, "its unwritten rest is zeros");
    s.close();

    s = FileLogStore.open(options(FILE_BYTES));
    assertEquals(entries(1, 45), s.recovered().get("a").entries());
    assertTrue(s.recoveryNotes().isEmpty(), "the zeros are no torn write: " + s.recoveryNotes());
    s.write("a", LogWrite.append(46, entries(46, 50))); // appended where the records end, not at the file's end
    s.sync();
    s.close();
    s = FileLogStore.open(options(FILE_BYTES));
    assertEquals(entries(1, 50), s.recovered().get("a").entries());
    assertEquals(FILE_BYTES, Files.size(second));
    s.close();
  }

  @Test
  void zerosOverTheSyncedEndOfAPreallocatedFileAreALostTail() throws Exception {
    FileLogStore s = FileLogStore.open(options(FILE_BYTES));
    writeIntoAPreparedFile(s, 45);
    s.close();
    Path second = walFiles().get(1);
    long last = lastRecord(second);
    overwrite(second, last, new byte[(int) (zerosAt(second) - last)]); // the last synced record, zeroed cleanly

    s = FileLogStore.open(options(FILE_BYTES));
    assertEquals(1, s.lostTailTerm(), "the tail marker says the zeros were synced records");
    assertEquals(entries(1, 44), s.recovered().get("a").entries());
    assertTrue(s.recoveryNotes().stream().anyMatch(n -> n.startsWith("LOST TAIL") && n.contains("zeros")),
        s.recoveryNotes().toString());
    s.close();
  }

  /**
   * Older files fill their prepared size before the roll, so only a smaller wal-file-bytes-max
   * after a restart leaves zeros at the end of an older file (the head rolls at once).
   */
  @Test
  void anOlderFilesZerosEndItsRecordsAndAreCheckedAgainstTheNextHeader() throws Exception {
    FileLogStore s = FileLogStore.open(options(FILE_BYTES));
    writeIntoAPreparedFile(s, 45);
    s.close();
    s = FileLogStore.open(options(4096));
    s.write("a", LogWrite.append(46, entries(46, 50)));
    s.sync();
    s.close();
    assertEquals(3, walFiles().size(), "the head rolled at the smaller size");
    Path second = walFiles().get(1);
    long end = zerosAt(second);
    assertTrue(end < Files.size(second), "the older file keeps zeros after its records");

    s = FileLogStore.open(options(4096));
    assertEquals(entries(1, 50), s.recovered().get("a").entries());
    assertTrue(s.recoveryNotes().isEmpty(), s.recoveryNotes().toString());
    s.close();

    overwrite(second, end + 100, new byte[] {0x5a}); // damage in space never written
    s = FileLogStore.open(options(4096));
    assertEquals(entries(1, 50), s.recovered().get("a").entries());
    assertTrue(s.recoveryNotes().stream().anyMatch(n -> n.contains("unused preallocated space")),
        s.recoveryNotes().toString());
    s.close();

    long last = lastRecord(second);
    overwrite(second, last, new byte[(int) (end - last)]); // its last record zeroed: cut, not ended
    StorageFailure f = assertThrows(StorageFailure.class, () -> FileLogStore.open(options(4096)));
    assertTrue(f.getMessage().contains(second.getFileName().toString()), f.getMessage());
  }

  @Test
  void aPreparedFileLeftByACrashIsDeletedAndADirectoryHoldingOnlyThatOpensFresh() throws Exception {
    Files.createDirectories(dir().resolve("wal"));
    Files.write(dir().resolve("wal").resolve(WalPreallocator.NAME), new byte[4096]);
    FileLogStore s = FileLogStore.open(options(FILE_BYTES));
    assertTrue(s.createdFresh(), "a prepared file is no data");
    s.write("a", LogWrite.append(1, entries(1, 3)));
    s.sync();
    s.close();
  }

  @Test
  void aNewestFileOfZerosIsACrashBetweenItsRenameAndItsHeader() throws Exception {
    FileLogStore s = FileLogStore.open(options(FILE_BYTES));
    s.write("a", LogWrite.append(1, entries(1, 3)));
    s.sync();
    s.close();
    Path zeros = walFiles().get(0).resolveSibling(String.format("%020d.wal", 2));
    Files.write(zeros, new byte[(int) FILE_BYTES]);

    s = FileLogStore.open(options(FILE_BYTES));
    assertEquals(entries(1, 3), s.recovered().get("a").entries());
    assertFalse(Files.exists(zeros));
    assertTrue(s.recoveryNotes().stream().anyMatch(n -> n.contains("created but never written")),
        s.recoveryNotes().toString());
    s.close();
  }
}
