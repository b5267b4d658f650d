package io.holdfast.storage.file;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.holdfast.raft.message.HardState;
import io.holdfast.raft.message.LogEntry;
import io.holdfast.raft.message.Membership;
import io.holdfast.raft.message.Snapshot;
import io.holdfast.raft.message.SnapshotMeta;
import io.holdfast.storage.LogStore;
import io.holdfast.storage.LogStoreContract;
import io.holdfast.storage.LogWrite;
import io.holdfast.storage.RecoveredState;
import io.holdfast.storage.StorageFailure;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.TreeMap;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Goal: the file store keeps the contract, and on damaged files it does what D5–D9 say: a torn
 * tail is truncated; damage anywhere else is never truncated over (faulty entries keep their
 * identity, or the store refuses to open); a bad snapshot is reported, not taken as empty; a
 * wiped directory is a new incarnation. Method: write real files, damage them byte by byte,
 * reopen. "Power loss" is opening the directory again without closing the old store: its
 * unsynced bytes only ever lived in its memory, exactly as after kill -9.
 */
class FileLogStoreTest extends LogStoreContract {
  @TempDir
  Path tmp;

  private Path dir() {
    return tmp.resolve("data");
  }

  private FileLogStore open() throws StorageFailure {
    return FileLogStore.open(FileLogStore.Options.defaults(dir()));
  }

  @Override
  protected LogStore create() throws Exception {
    return open();
  }

  @Override
  protected LogStore reopen(LogStore store) throws Exception {
    store.close();
    return open();
  }

  @Override
  protected LogStore crash(LogStore store) throws Exception {
    return open(); // the old instance is abandoned with its unsynced buffer, as a killed process would be
  }

  /** A WAL file, not one cleaning discarded and the reclaimer has yet to unlink. */
  private static boolean isWal(Path p) {
    return p.getFileName().toString().endsWith(".wal");
  }

  private Path onlyWalFile() throws IOException {
    try (Stream<Path> s = Files.list(dir().resolve("wal"))) {
      List<Path> files = s.filter(FileLogStoreTest::isWal).sorted().toList();
      assertEquals(1, files.size(), "expected one WAL file: " + files);
      return files.get(0);
    }
  }

  /** Offsets of the records in a WAL file, found by decoding it from the start. */
  private static List<Integer> recordOffsets(Path wal) throws IOException {
    byte[] buf = Files.readAllBytes(wal);
    List<Integer> offsets = new ArrayList<>();
    int at = FileLogStore.FILE_HEADER_BYTES;
    while (at < buf.length) {
      offsets.add(at);
      at = WalRecord.decode(buf, at, buf.length).end();
    }
    return offsets;
  }

  /** Offset of the first payload byte of the {@code n}th record of a WAL file. */
  private static int payloadOf(Path wal, int n) throws IOException {
    byte[] buf = Files.readAllBytes(wal);
    return WalRecord.decode(buf, recordOffsets(wal).get(n), buf.length).bodyAt();
  }

  private static void flipBit(Path file, int offset) throws IOException {
    byte[] buf = Files.readAllBytes(file);
    buf[offset] ^= 0x10;
    Files.write(file, buf);
  }

  /** Three synced batches of three entries each: 1–3, 4–6, 7–9 in term 1. */
  private void writeThreeBatches() throws Exception {
    FileLogStore s = open();
    for (int b = 0; b < 3; b++) {
      s.write("a", LogWrite.append(3L * b + 1, entries(3L * b + 1, 3L * b + 3, 1)));
      s.sync();
    }
    s.close();
  }

  @Test
  void aBatchLargerThanTheWriteBufferIsWrittenWhole() throws Exception {
    // The store's batch buffer starts at 64 KiB and grows: 3 writes of 8 x 10 KiB before one sync,
    // then a second sync, each payload distinct so that a lost or shifted byte shows.
    List<LogEntry> written = new ArrayList<>();
    FileLogStore s = open();
    for (int w = 0; w < 4; w++) {
      List<LogEntry> batch = new ArrayList<>();
      for (int i = 0; i < 8; i++) {
        long index = written.size() + batch.size() + 1;
        byte[] data = new byte[10 * 1024 + (int) index];
        java.util.Arrays.fill(data, (byte) index);
        batch.add(new LogEntry(index, 1, io.holdfast.raft.message.EntryType.COMMAND, data));
      }
      s.write("a", LogWrite.append(written.size() + 1, batch));
      written.addAll(batch);
      if (w == 2 || w == 3) {
        s.sync();
      }
    }
    s.close();
    List<LogEntry> recovered = open().recovered().get("a").entries();
    assertEquals(written.size(), recovered.size());
    for (int i = 0; i < written.size(); i++) {
      assertEquals(written.get(i).index(), recovered.get(i).index());
      assertArrayEquals(written.get(i).data(), recovered.get(i).data(), "entry " + (i + 1));
    }
  }

  @Test
  void tornTailIsTruncatedAndEverythingBeforeItKept() throws Exception {
    writeThreeBatches();
    Path wal = onlyWalFile();
    long synced = Files.size(wal);
    byte[] record = WalRecord.encode("a", WalRecord.ENTRIES, null, null, 10, entries(10, 12, 1));
    Files.write(wal, java.util.Arrays.copyOf(record, record.length / 2), java.nio.file.StandardOpenOption.APPEND);

    FileLogStore s = open();
    assertEquals(entries(1, 9, 1), s.recovered().get("a").entries());
    assertEquals(synced, Files.size(wal), "the torn half-record is cut off");
    assertTrue(s.recoveryNotes().stream().anyMatch(n -> n.startsWith("truncated a torn write")), s.recoveryNotes().toString());
    s.close();
  }

  @Test
  void damagedPayloadInTheLastSyncedRecordIsDamageNotATornWrite() throws Exception {
    writeThreeBatches();
    Path wal = onlyWalFile();
    long size = Files.size(wal);
    flipBit(wal, payloadOf(wal, 2) + 1);
    FileLogStore s = open();
    RecoveredState a = s.recovered().get("a");
    assertEquals(size, Files.size(wal), "the tail marker says it was synced: nothing is truncated");
    assertEquals(java.util.Set.of(7L, 8L, 9L), a.faulty().keySet(), "kept as faulty, to be repaired from peers");
    s.close();
  }

  @Test
  void withoutTheTailMarkerADamagedLastRecordLooksTorn() throws Exception {
    FileLogStore.Options noMarker = new FileLogStore.Options(dir(), 64L << 20, 4, false);
    FileLogStore s = FileLogStore.open(noMarker);
    for (int b = 0; b < 3; b++) {
      s.write("a", LogWrite.append(3L * b + 1, entries(3L * b + 1, 3L * b + 3, 1)));
      s.sync();
    }
    s.close();
    Path wal = onlyWalFile();
    int last = recordOffsets(wal).get(2);
    flipBit(wal, payloadOf(wal, 2) + 1);
    s = FileLogStore.open(noMarker);
    assertEquals(entries(1, 6, 1), s.recovered().get("a").entries(), "acknowledged entries 7-9 silently gone (F3)");
    assertEquals(last, Files.size(wal));
    s.close();
  }

  @Test
  void aSyncedTailCutOffIsRecordedAsALostTailAndEveryReplicaOnTheNodeRecovers() throws Exception {
    FileLogStore s = open();
    s.write("a", new LogWrite(new HardState(3, 1), null, 1, entries(1, 3, 3)));
    s.write("b", new LogWrite(new HardState(5, 2), null, 1, entries(1, 2, 5)));
    s.sync();
    s.write("a", LogWrite.append(4, entries(4, 6, 3)));
    s.sync();
    s.write("b", new LogWrite(new HardState(7, 2), null, 3, entries(3, 3, 7)));
    s.sync();
    s.close();
    Path wal = onlyWalFile();
    List<Integer> offsets = recordOffsets(wal);
    byte[] before = Files.readAllBytes(wal);
    try (var ch = java.nio.channels.FileChannel.open(wal, java.nio.file.StandardOpenOption.WRITE)) {
      ch.truncate(offsets.get(offsets.size() - 1) + 30); // into the last record (b's term 7): nothing attributable left
    }
    s = open();
    assertEquals(7, s.lostTailTerm(), "the highest term the node had synced bounds what may be gone");
    assertEquals(7, s.recovered().get("a").lostTailTerm(), "a's log ends in term 3: it may have lost anything");
    assertEquals(7, s.recovered().get("b").lostTailTerm());
    assertEquals(entries(1, 6, 3), s.recovered().get("a").entries(), "everything before the cut is kept");
    assertEquals(entries(1, 2, 5), s.recovered().get("b").entries());
    assertTrue(s.recoveryNotes().stream().anyMatch(n -> n.startsWith("LOST TAIL")), s.recoveryNotes().toString());
    assertArrayEquals(java.util.Arrays.copyOfRange(before, offsets.get(offsets.size() - 1), offsets.get(offsets.size() - 1) + 30),
        Files.readAllBytes(wal.resolveSibling(wal.getFileName() + ".lost-" + offsets.get(offsets.size() - 1))),
        "the unreadable bytes are kept aside");
    s.write("b", new LogWrite(new HardState(8, 2), null, 3, entries(3, 3, 8))); // b recovers: an entry of a later term
    s.sync();
    s.close();

    s = open();
    assertTrue(s.recoveryNotes().isEmpty(), "the cut is not found again: " + s.recoveryNotes());
    assertEquals(7, s.recovered().get("a").lostTailTerm(), "a has not recovered yet: it still may not vote");
    assertEquals(0, s.recovered().get("b").lostTailTerm(), "b holds an entry of term 8: recovered");
    s.close();
  }

  @Test
  void aSyncedTailCutOffAtARecordBoundaryIsALostTailToo() throws Exception {
    writeThreeBatches();
    Path wal = onlyWalFile();
    int last = recordOffsets(wal).get(2);
    try (var ch = java.nio.channels.FileChannel.open(wal, java.nio.file.StandardOpenOption.WRITE)) {
      ch.truncate(last); // Jepsen's truncate: a clean cut, indistinguishable from a torn write by the WAL alone
    }
    FileLogStore s = open();
    assertEquals(1, s.lostTailTerm(), "found through the tail marker");
    assertEquals(entries(1, 6, 1), s.recovered().get("a").entries());
    s.close();
  }

  @Test
  void aDamagedLostTailRecordRefusesToOpen() throws Exception {
    writeThreeBatches();
    Path wal = onlyWalFile();
    try (var ch = java.nio.channels.FileChannel.open(wal, java.nio.file.StandardOpenOption.WRITE)) {
      ch.truncate(recordOffsets(wal).get(2));
    }
    open().close();
    flipBit(dir().resolve(LostTail.FILE), 2);
    StorageFailure f = assertThrows(StorageFailure.class, this::open);
    assertTrue(f.getMessage().contains("lost WAL tail"), f.getMessage());
  }

  @Test
  void aTornTailMarkerSlotFallsBackToThePreviousOne() throws Exception {
    writeThreeBatches();
    Path marker = dir().resolve(TailMarker.FILE);
    TailMarker.Position before = TailMarker.read(dir());
    long slot = (before.sequence() % 2) * TailMarker.SLOT_BYTES;
    flipBit(marker, (int) slot + 3);
    TailMarker.Position after = TailMarker.read(dir());
    assertEquals(before.sequence() - 1, after.sequence(), "the other slot, one sync older");
    FileLogStore s = open();
    assertEquals(entries(1, 9, 1), s.recovered().get("a").entries());
    s.close();
  }

  @Test
  void flippedBitInTheMiddleMarksEntriesFaultyAndTruncatesNothing() throws Exception {
    writeThreeBatches();
    Path wal = onlyWalFile();
    long size = Files.size(wal);
    List<Integer> offsets = recordOffsets(wal);
    flipBit(wal, payloadOf(wal, 1) + 3); // a payload byte of the middle record (entries 4-6)

    FileLogStore s = open();
    RecoveredState a = s.recovered().get("a");
    assertEquals(size, Files.size(wal), "nothing truncated");
    assertEquals(9, a.lastIndex(), "the true end of the log is known");
    assertEquals(new TreeMap<>(java.util.Map.of(4L, 1L, 5L, 1L, 6L, 1L)), a.faulty());
    for (LogEntry e : a.entries()) {
      if (a.faulty().containsKey(e.index())) {
        assertEquals(0, e.data().length, "a faulty entry is never served");
      } else {
        assertEquals(entries(e.index(), e.index(), 1).get(0), e);
      }
    }
    s.close();
  }

  @Test
  void rewritingFaultyEntriesHealsThem() throws Exception {
    writeThreeBatches();
    Path wal = onlyWalFile();
    flipBit(wal, payloadOf(wal, 1) + 3);
    FileLogStore s = open();
    s.write("a", LogWrite.append(4, entries(4, 9, 1))); // what a repair from the leader writes
    s.sync();
    s.close();
    s = open();
    assertTrue(s.recovered().get("a").faulty().isEmpty());
    assertEquals(entries(1, 9, 1), s.recovered().get("a").entries());
    s.close();
  }

  @Test
  void aRepairRecordHealsAFaultyEntryWithoutTruncatingAnything() throws Exception {
    writeThreeBatches();
    Path wal = onlyWalFile();
    flipBit(wal, payloadOf(wal, 1) + 3); // entries 4-6
    FileLogStore s = open();
    assertEquals(3, s.recovered().get("a").faulty().size());
    s.write("a", new LogWrite(null, null, 0, List.of(), entries(4, 5, 1))); // repair 4 and 5 only
    s.sync();
    s.close();
    s = open();
    RecoveredState a = s.recovered().get("a");
    assertEquals(java.util.Set.of(6L), a.faulty().keySet(), "6 is still damaged; 7-9 were never touched");
    assertEquals(entries(4, 5, 1), a.entries().subList(3, 5));
    assertEquals(entries(7, 9, 1), a.entries().subList(6, 9));
    s.close();
  }

  @Test
  void aDamagedRecordHeaderIsReadFromItsCopyAndRewritten() throws Exception {
    writeThreeBatches();
    Path wal = onlyWalFile();
    List<Integer> offsets = recordOffsets(wal);
    for (int offset : List.of(offsets.get(0) + 1, offsets.get(1) + 9, offsets.get(2) + 22)) {
      flipBit(wal, offset); // the magic, the header length, the entry identities: one per record
    }
    FileLogStore s = open();
    RecoveredState a = s.recovered().get("a");
    assertEquals(entries(1, 9, 1), a.entries(), "every entry known, none faulty");
    assertTrue(a.faulty().isEmpty());
    assertEquals(3, s.recoveryNotes().stream().filter(n -> n.startsWith("the header of the record")).count(),
        s.recoveryNotes().toString());
    s.close();
    assertEquals(offsets, recordOffsets(wal), "healed in place: every header reads again from the record's start");
  }

  @Test
  void aSingleFlippedBitAnywhereInTheWalLosesNoEntryAndNeverStopsTheStore() throws Exception {
    writeThreeBatches();
    Path wal = onlyWalFile();
    byte[] intact = Files.readAllBytes(wal);
    List<Integer> offsets = recordOffsets(wal);
    for (int offset = 0; offset < intact.length; offset++) {
      Files.write(wal, intact);
      flipBit(wal, offset);
      FileLogStore s = open(); // a refusal here fails the test: every single flip must be attributable
      RecoveredState a = s.recovered().get("a");
      assertEquals(9, a.lastIndex(), "offset " + offset);
      for (LogEntry e : a.entries()) {
        if (!a.faulty().containsKey(e.index())) {
          assertEquals(entries(e.index(), e.index(), 1).get(0), e, "offset " + offset);
        }
      }
      boolean inAPayload = false;
      for (int r = 0; r < offsets.size(); r++) {
        WalRecord.Decoded d = WalRecord.decode(intact, offsets.get(r), intact.length);
        inAPayload |= offset >= d.bodyAt() && offset < WalRecord.bodyEnd(offsets.get(r), d);
      }
      assertEquals(inAPayload ? 3 : 0, a.faulty().size(), "only a damaged payload is faulty; offset " + offset);
      s.close();
    }
  }

  @Test
  void aDamagedTrailerIsRewrittenFromTheHeader() throws Exception {
    writeThreeBatches();
    Path wal = onlyWalFile();
    byte[] intact = Files.readAllBytes(wal);
    flipBit(wal, recordOffsets(wal).get(2) - 12); // inside the middle record's trailer copy
    flipBit(wal, intact.length - 2); // the last record's trailer magic
    FileLogStore s = open();
    assertEquals(entries(1, 9, 1), s.recovered().get("a").entries());
    assertEquals(2, s.recoveryNotes().stream().filter(n -> n.startsWith("the trailer copy")).count(),
        s.recoveryNotes().toString());
    s.close();
    assertArrayEquals(intact, Files.readAllBytes(wal), "both copies intact again, byte for byte");
  }

  @Test
  void bothHeaderCopiesDamagedWithValidRecordsAfterItRefusesToOpen() throws Exception {
    writeThreeBatches();
    Path wal = onlyWalFile();
    List<Integer> offsets = recordOffsets(wal);
    flipBit(wal, offsets.get(1) + 22); // the middle record's header ...
    flipBit(wal, offsets.get(2) - 12); // ... and its copy
    byte[] before = Files.readAllBytes(wal);
    StorageFailure f = assertThrows(StorageFailure.class, this::open);
    assertTrue(f.getMessage().contains("offset " + offsets.get(1)), f.getMessage());
    assertTrue(f.getMessage().contains("Nothing was truncated"));
    assertArrayEquals(before, Files.readAllBytes(wal), "the damaged file is left as it was, for repair or forensics");
  }

  @Test
  void aDamagedFileHeaderIsRebuiltAndItsRecordsRead() throws Exception {
    writeThreeBatches();
    Path wal = onlyWalFile();
    flipBit(wal, 20); // inside the incarnation
    FileLogStore s = open();
    assertEquals(entries(1, 9, 1), s.recovered().get("a").entries());
    assertTrue(s.recoveryNotes().stream().anyMatch(n -> n.startsWith("the file header of")), s.recoveryNotes().toString());
    s.close();
    FileLogStore again = open();
    assertTrue(again.recoveryNotes().isEmpty(), "rebuilt on disk: " + again.recoveryNotes());
    again.close();
  }

  @Test
  void aTailMarkerWithNoValidSlotIsRewrittenWhenTheWalEndsCleanly() throws Exception {
    writeThreeBatches();
    Path marker = dir().resolve(TailMarker.FILE);
    flipBit(marker, 3);
    flipBit(marker, TailMarker.SLOT_BYTES + 3);
    FileLogStore s = open();
    assertEquals(entries(1, 9, 1), s.recovered().get("a").entries());
    s.close();
    TailMarker.Position now = TailMarker.read(dir());
    assertTrue(now.certain(), "both slots written again");
    assertEquals(Files.size(onlyWalFile()), now.end());
  }

  @Test
  void aDamagedTailMarkerAndAnInvalidLastRecordRefuseToOpen() throws Exception {
    writeThreeBatches();
    Path wal = onlyWalFile();
    long newest = (TailMarker.read(dir()).sequence() % 2) * TailMarker.SLOT_BYTES;
    flipBit(dir().resolve(TailMarker.FILE), (int) newest + 3); // the other slot is one sync older: before the last record
    flipBit(wal, payloadOf(wal, 2) + 1);
    StorageFailure f = assertThrows(StorageFailure.class, this::open);
    assertTrue(f.getMessage().contains("cannot be told from a cut"), f.getMessage());
  }

  /** 100 entries of {@code payload} bytes, one sync each, in 4 KiB WAL files never cleaned; the files in order. */
  private List<Path> walFilesAfterAHundredEntries(FileLogStore.Options small, int payload) throws Exception {
    FileLogStore s = FileLogStore.open(small);
    for (int i = 1; i <= 100; i++) {
      s.write("a", LogWrite.append(i, List.of(entry(i, 1, "x".repeat(payload)))));
      s.sync();
    }
    s.close();
    try (Stream<Path> list = Files.list(dir().resolve("wal"))) {
      return list.filter(FileLogStoreTest::isWal).sorted().toList();
    }
  }

  @Test
  void anOlderWalFileCutAtARecordBoundaryIsRefused() throws Exception {
    FileLogStore.Options small = new FileLogStore.Options(dir(), 4096, 100);
    Path first = walFilesAfterAHundredEntries(small, 100).get(0);
    List<Integer> offsets = recordOffsets(first);
    try (var ch = java.nio.channels.FileChannel.open(first, java.nio.file.StandardOpenOption.WRITE)) {
      ch.truncate(offsets.get(offsets.size() - 1)); // the last record gone, cleanly: the file still reads
    }
    StorageFailure f = assertThrows(StorageFailure.class, () -> FileLogStore.open(small));
    assertTrue(f.getMessage().contains(first.getFileName().toString()) && f.getMessage().contains("it was cut"),
        f.getMessage());
  }

  @Test
  void aWalFileMissingBetweenOthersIsRefused() throws Exception {
    FileLogStore.Options small = new FileLogStore.Options(dir(), 4096, 100);
    Files.delete(walFilesAfterAHundredEntries(small, 100).get(1));
    StorageFailure f = assertThrows(StorageFailure.class, () -> FileLogStore.open(small));
    assertTrue(f.getMessage().contains("missing between older and newer"), f.getMessage());
  }

  @Test
  void truncatedOlderWalFileRefusesToOpen() throws Exception {
    FileLogStore s = FileLogStore.open(new FileLogStore.Options(dir(), 4096, 100));
    for (int i = 1; i <= 200; i++) {
      s.write("a", LogWrite.append(i, List.of(entry(i, 1, "x".repeat(100)))));
      s.sync();
    }
    s.close();
    Path first;
    try (Stream<Path> files = Files.list(dir().resolve("wal"))) {
      first = files.filter(FileLogStoreTest::isWal).min(Comparator.naturalOrder()).orElseThrow();
    }
    try (var ch = java.nio.channels.FileChannel.open(first, java.nio.file.StandardOpenOption.WRITE)) {
      ch.truncate(ch.size() - 50);
    }
    StorageFailure f = assertThrows(StorageFailure.class,
        () -> FileLogStore.open(new FileLogStore.Options(dir(), 4096, 100)));
    assertTrue(f.getMessage().contains(first.getFileName().toString()), f.getMessage());
  }

  /** Occurrences of {@code what} in {@code buf}. */
  private static int count(byte[] buf, byte[] what) {
    int n = 0;
    for (int i = 0; i + what.length <= buf.length; i++) {
      if (java.util.Arrays.equals(buf, i, i + what.length, what, 0, what.length)) {
        n++;
      }
    }
    return n;
  }

  @Test
  void eraseZerosEveryCopyOfTheRegionAndTheOldSnapshotsAndTheLogStillReads() throws Exception {
    byte[] secret = "TOP-SECRET-PAYLOAD".getBytes(StandardCharsets.UTF_8);
    byte[] data = ("head:" + new String(secret, StandardCharsets.UTF_8) + ":tail").getBytes(StandardCharsets.UTF_8);
    LogEntry secretEntry = new LogEntry(2, 1, io.holdfast.raft.message.EntryType.COMMAND, data);
    FileLogStore s = open();
    s.write("a", LogWrite.append(1, List.of(entry(1, 1, "v1"), secretEntry, entry(3, 1, "v3"))));
    s.write("b", LogWrite.append(1, List.of(entry(1, 1, "v1"), secretEntry))); // another replica: not erased
    Snapshot old = new Snapshot(new SnapshotMeta(1, 1, Membership.ofVoters(1)), data);
    s.write("a", new LogWrite(null, old, 0, List.of()));
    s.write("a", LogWrite.append(2, List.of(secretEntry, entry(3, 1, "v3")))); // a second copy, in a later record
    s.sync();
    Path oldFile = SnapshotFiles.fileOf(dir(), "a", old.meta());
    Path keptLink = tmp.resolve("old-snapshot-link");
    Files.createLink(keptLink, oldFile); // sees the blocks after the name is deleted

    int copies = s.erase("a", 2, 1, d -> new int[] {5, secret.length});
    assertEquals(2, copies);
    assertEquals(1, count(Files.readAllBytes(onlyWalFile()), secret), "only replica b's copy is left in the WAL");
    assertEquals(0, s.erase("a", 2, 9, d -> new int[] {5, secret.length}), "another term is another entry");
    s.close();

    s = open(); // the log still reads, checksums rewritten, and the snapshot mark survived the restart
    RecoveredState a = s.recovered().get("a");
    assertTrue(a.faulty().isEmpty(), "checksums were rewritten: " + a.faulty());
    byte[] erased = data.clone();
    java.util.Arrays.fill(erased, 5, 5 + secret.length, (byte) 0);
    assertEquals(List.of(new LogEntry(2, 1, secretEntry.type(), erased), entry(3, 1, "v3")), a.entries());
    assertArrayEquals(data, s.recovered().get("b").entries().get(1).data());
    s.write("a", new LogWrite(null, new Snapshot(new SnapshotMeta(2, 1, Membership.ofVoters(1)), new byte[] {1}), 0,
        List.of()));
    s.sync();
    assertTrue(Files.notExists(oldFile));
    assertEquals(0, count(Files.readAllBytes(keptLink), secret));
    byte[] left = Files.readAllBytes(keptLink);
    assertTrue(left.length > data.length && java.util.Arrays.equals(new byte[left.length], left), "zeros, not unlinked");
    s.close();
  }

  @Test
  void corruptSnapshotIsReportedAndNeverTakenAsEmpty() throws Exception {
    FileLogStore s = open();
    s.write("a", LogWrite.append(1, entries(1, 8, 1)));
    Snapshot snap = new Snapshot(new SnapshotMeta(5, 1, Membership.ofVoters(1, 2, 3)), "state".getBytes(StandardCharsets.UTF_8));
    s.write("a", new LogWrite(null, snap, 0, List.of()));
    s.sync();
    s.close();
    Path file = SnapshotFiles.fileOf(dir(), "a", snap.meta());
    flipBit(file, 30);

    s = open();
    RecoveredState a = s.recovered().get("a");
    assertTrue(a.snapshotFaulty());
    assertEquals(snap.meta(), a.snapshot().meta(), "its identity is still known");
    assertEquals(entries(6, 8, 1), a.entries(), "the log after it is intact");
    assertTrue(Files.exists(file), "the damaged file is not deleted");
    s.close();
  }

  @Test
  void missingSnapshotFileIsReported() throws Exception {
    FileLogStore s = open();
    Snapshot snap = new Snapshot(new SnapshotMeta(3, 1, Membership.ofVoters(1)), new byte[] {7});
    s.write("a", new LogWrite(null, snap, 0, List.of()));
    s.sync();
    s.close();
    Files.delete(SnapshotFiles.fileOf(dir(), "a", snap.meta()));
    s = open();
    assertTrue(s.recovered().get("a").snapshotFaulty());
    s.close();
  }

  @Test
  void wipedDirectoryComesBackAsANewIncarnation() throws Exception {
    FileLogStore s = open();
    String first = s.incarnation();
    s.write("a", LogWrite.append(1, entries(1, 3, 1)));
    s.sync();
    s.close();
    try (Stream<Path> all = Files.walk(dir())) {
      for (Path p : all.sorted(Comparator.reverseOrder()).toList()) {
        Files.delete(p);
      }
    }
    s = open();
    assertTrue(s.createdFresh());
    assertNotEquals(first, s.incarnation());
    assertTrue(s.recovered().isEmpty());
    s.close();
  }

  @Test
  void damagedIdentityFileIsRebuiltFromTheWal() throws Exception {
    FileLogStore s = open();
    String incarnation = s.incarnation();
    s.write("a", LogWrite.append(1, entries(1, 1, 1)));
    s.sync();
    s.close();
    flipBit(dir().resolve(Identity.FILE), 50);
    s = open();
    assertEquals(incarnation, s.incarnation());
    assertTrue(!s.createdFresh());
    assertEquals(1, s.recovered().get("a").entries().size());
    s.close();
  }

  @Test
  void cleaningDeletesOldWalFilesAndLosesNothing() throws Exception {
    FileLogStore.Options small = new FileLogStore.Options(dir(), 16384, 3);
    FileLogStore s = FileLogStore.open(small);
    TreeMap<String, Long> last = new TreeMap<>();
    for (int round = 1; round <= 300; round++) {
      for (String r : List.of("a", "b", "c")) {
        long index = last.merge(r, 1L, Long::sum);
        s.write(r, new LogWrite(new HardState(round, 0), null, index, List.of(entry(index, round, r + index))));
        if (index % 50 == 0) {
          s.write(r, new LogWrite(null, new Snapshot(new SnapshotMeta(index - 10, round, Membership.ofVoters(1)),
              (r + "@" + (index - 10)).getBytes(StandardCharsets.UTF_8)), 0, List.of()));
        }
      }
      s.sync();
      assertTrue(s.walFileCount() <= 4, "old WAL files are cleaned: " + s.walFileCount());
    }
    s.close();
    Reclaimer.awaitIdle();
    List<String> left;
    try (Stream<Path> files = Files.list(dir().resolve("wal"))) {
      left = files.map(p -> p.getFileName().toString()).toList();
    }
    assertTrue(left.size() <= 4 && left.stream().allMatch(n -> n.endsWith(".wal")), "cleaned files are unlinked: " + left);
    // A crash between a file's discarding and its unlink leaves it under its discarded name.
    Path leftover = dir().resolve("wal").resolve(String.format("%020d.wal", 0) + Reclaimer.SUFFIX);
    Files.write(leftover, new byte[] {1, 2, 3});
    Path forgotten = Files.createDirectories(dir().resolve("streams").resolve("x-7.123" + Reclaimer.SUFFIX));
    Files.write(forgotten.resolve("1.seg"), new byte[] {4});
    s = FileLogStore.open(small);
    Reclaimer.awaitIdle();
    assertFalse(Files.exists(leftover), "a discarded file left by a crash is unlinked at open");
    assertFalse(Files.exists(forgotten), "so is a forgotten replica's store");
    for (String r : List.of("a", "b", "c")) {
      RecoveredState st = s.recovered().get(r);
      assertEquals(300, st.lastIndex());
      assertEquals(new HardState(300, 0), st.hardState());
      assertEquals(290, st.snapshot().index());
      assertArrayEquals((r + "@290").getBytes(StandardCharsets.UTF_8), st.snapshot().data());
      assertEquals(entry(300, 300, r + 300), st.entries().get(st.entries().size() - 1));
      assertEquals(10, st.entries().size());
    }
    s.close();
  }

  @Test
  void liveEntriesPinTheirWalFilesUntilASnapshotCoversThem() throws Exception {
    FileLogStore.Options small = new FileLogStore.Options(dir(), 4096, 2);
    FileLogStore s = FileLogStore.open(small);
    for (int i = 1; i <= 100; i++) {
      s.write("a", LogWrite.append(i, List.of(entry(i, 1, "x".repeat(200)))));
      s.sync();
    }
    int pinned = s.walFileCount();
    assertTrue(pinned > 3, "nothing compacted, so nothing may be deleted: " + pinned);
    s.write("a", new LogWrite(null, new Snapshot(new SnapshotMeta(100, 1, Membership.ofVoters(1)), new byte[] {1}), 0,
        List.of()));
    for (int i = 101; i <= 115; i++) { // cleaning runs when the next WAL file is started
      s.write("a", LogWrite.append(i, List.of(entry(i, 1, "y".repeat(200)))));
      s.sync();
    }
    assertTrue(s.walFileCount() <= 3, "once compacted, the old files go: " + s.walFileCount());
    s.close();
    s = FileLogStore.open(small);
    assertEquals(115, s.recovered().get("a").lastIndex());
    assertEquals(100, s.recovered().get("a").snapshot().index());
    s.close();
  }

  /**
   * A busy replica snapshotting all the time beside a quiet one whose references get carried
   * forward: every reopen, after every write, must find the log the store had. (A WAL file whose
   * runs a later snapshot made dead was deleted while a newer file still held a stale run after
   * it, and replay refused the gap before reaching that snapshot: a node that could not restart.)
   */
  @Test
  void deletedFilesBeforeAStaleRunThatALaterSnapshotCoversReopen() throws Exception {
    for (int every = 30; every <= 50; every += 5) {
      for (int size = 100; size <= 200; size += 20) {
        FileLogStore.Options small = new FileLogStore.Options(tmp.resolve(every + "-" + size), 4096, 3);
        FileLogStore s = FileLogStore.open(small);
        s.write("quiet", LogWrite.append(1, List.of(entry(1, 1, "q"))));
        s.write("quiet", new LogWrite(null, new Snapshot(new SnapshotMeta(1, 1, Membership.ofVoters(1)), new byte[] {1}),
            0, List.of()));
        // The busy replica's term and vote are written once: they get carried forward, each time
        // with the snapshot reference current then, ahead of the busy replica's later runs.
        s.write("busy", new LogWrite(new HardState(1, 1), null, 0, List.of()));
        long snapshot = 0;
        for (int i = 1; i <= 200; i++) {
          s.write("busy", LogWrite.append(i, List.of(entry(i, 1, "x".repeat(size)))));
          s.sync();
          if (i % every == 0) {
            snapshot = i - every / 2; // behind the last entry, as a replica takes it once its store synced
            s.write("busy", new LogWrite(null, new Snapshot(new SnapshotMeta(snapshot, 1, Membership.ofVoters(1)),
                new byte[] {1}), 0, List.of()));
            s.sync();
          }
          FileLogStore reopened = FileLogStore.open(small); // what a kill here would leave
          String at = "snapshot every " + every + ", entries of " + size + " bytes, after entry " + i;
          assertEquals(i, reopened.recovered().get("busy").lastIndex(), at);
          assertEquals(snapshot, reopened.recovered().get("busy").snapshot().index(), at);
          assertEquals(1, reopened.recovered().get("quiet").snapshot().index(), at);
          reopened.close();
        }
        s.close();
      }
    }
  }

  @Test
  void aMissingWalFileThatAReplicaNeedsRefusesToOpen() throws Exception {
    FileLogStore.Options small = new FileLogStore.Options(dir(), 4096, 100);
    Files.delete(walFilesAfterAHundredEntries(small, 200).get(0));
    StorageFailure f = assertThrows(StorageFailure.class, () -> FileLogStore.open(small));
    assertTrue(f.getMessage().contains("WAL files holding what came before them are gone"), f.getMessage());
  }

  @Test
  void badWritesAreRefusedBeforeAnythingIsBuffered() throws Exception {
    FileLogStore s = open();
    s.write("a", LogWrite.append(1, entries(1, 2, 1)));
    assertThrows(IllegalArgumentException.class, () -> s.write("a", LogWrite.append(5, entries(5, 5, 1))));
    s.sync();
    s.close();
    FileLogStore again = open();
    assertEquals(entries(1, 2, 1), again.recovered().get("a").entries());
    again.close();
  }
}
