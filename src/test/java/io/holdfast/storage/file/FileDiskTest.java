package io.holdfast.storage.file;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;

import io.holdfast.storage.DiskFile;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Goal: a discarded file's name is free at once and the file is gone once the reclaimer ran;
 * what a crash left discarded is reclaimed when the directory is opened again, and never listed.
 */
class FileDiskTest {
  @TempDir
  Path tmp;

  @Test
  void aDiscardedFileIsNoLongerListedOrOpenedAndIsUnlinkedByTheReclaimer() {
    FileDisk disk = new FileDisk(tmp.resolve("s"));
    write(disk, "1.seg", "old");
    write(disk, "2.seg", "kept");
    disk.discard("1.seg");
    assertEquals(List.of("2.seg"), disk.list());
    assertNull(disk.open("1.seg", false));
    write(disk, "1.seg", "new"); // the name is free: a new file under it is not the discarded one
    Reclaimer.awaitIdle();
    assertEquals(List.of("1.seg", "2.seg"), onDisk(tmp.resolve("s")), "the discarded file is unlinked, the new one kept");
    assertEquals("new", read(disk, "1.seg"));
    disk.discard("3.seg"); // never existed: nothing to do, as delete
    Reclaimer.awaitIdle();
    assertEquals(List.of("1.seg", "2.seg"), onDisk(tmp.resolve("s")));
  }

  @Test
  void discardedFilesACrashLeftAreReclaimedWhenTheDirectoryIsOpenedAgain() throws Exception {
    Path dir = Files.createDirectories(tmp.resolve("s"));
    Files.writeString(dir.resolve("5.seg"), "live");
    Files.writeString(dir.resolve("1.seg" + Reclaimer.SUFFIX), "garbage");
    FileDisk disk = new FileDisk(dir);
    assertEquals(List.of("5.seg"), disk.list());
    Reclaimer.awaitIdle();
    assertEquals(List.of("5.seg"), onDisk(dir));
  }

  @Test
  void deletingEverythingTakesDiscardedFilesTooWhateverTheReclaimerDid() {
    FileDisk disk = new FileDisk(tmp.resolve("s"));
    for (int i = 0; i < 50; i++) {
      write(disk, i + ".seg", "x");
      disk.discard(i + ".seg");
    }
    disk.deleteAll(); // may run before, during or after the reclaimer's unlinks
    assertFalse(Files.exists(tmp.resolve("s")), "the name is free at once");
    FileDisk again = new FileDisk(tmp.resolve("s"));
    write(again, "0.seg", "new"); // a store of the same name, while the old one may still be unlinked
    again.deleteAll();
    Reclaimer.awaitIdle();
    assertEquals(List.of(), onDisk(tmp), "both stores, and the files discarded in the first, are unlinked");
  }

  private static void write(FileDisk disk, String name, String text) {
    DiskFile f = disk.open(name, true);
    byte[] b = text.getBytes(StandardCharsets.UTF_8);
    f.write(0, b, 0, b.length);
    f.close();
  }

  private static String read(FileDisk disk, String name) {
    DiskFile f = disk.open(name, false);
    byte[] b = new byte[(int) f.size()];
    f.read(0, b, 0, b.length);
    f.close();
    return new String(b, StandardCharsets.UTF_8);
  }

  private static List<String> onDisk(Path dir) {
    try (Stream<Path> s = Files.list(dir)) {
      return s.map(p -> p.getFileName().toString()).sorted().toList();
    } catch (java.io.IOException e) {
      throw new java.io.UncheckedIOException(e);
    }
  }
}
