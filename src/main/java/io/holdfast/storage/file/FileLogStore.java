package io.holdfast.storage.file;

import io.holdfast.storage.EntryRegion;
import io.holdfast.raft.message.HardState;
import io.holdfast.raft.message.LogEntry;
import io.holdfast.raft.message.Membership;
import io.holdfast.raft.message.Snapshot;
import io.holdfast.storage.LogStore;
import io.holdfast.storage.LogWrite;
import io.holdfast.storage.RecoveredState;
import io.holdfast.storage.StorageFailure;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.HexFormat;
import java.util.List;
import java.util.SortedMap;
import java.util.TreeMap;

/**
 * The node's durable log: one write-ahead log shared by every replica on the node, so one fsync
 * covers a whole batch of writes across all streams (group commit), plus snapshot files.
 *
 * <p>Layout under the data directory: {@code holdfast.id} (incarnation, D9), {@code wal/NNN.wal}
 * (48-byte checksummed file header, then {@link WalRecord}s), {@code wal.tail} ({@link TailMarker}),
 * {@code snapshots/<replica>/}. Each file header records the final length of the file before it,
 * so a cut at the end of an older file is found even on a record boundary (the tail marker covers
 * the newest file).
 * Writes are buffered in memory and reach the file only in {@link #sync()}, immediately followed
 * by the fsync: a process killed between write and sync loses exactly what a power cut would.
 *
 * <p>Space: the WAL is the only copy of log records (decision: one write per record, no copying
 * behind it; see {@link #clean()}). Past {@code walFilesMax} files, term/vote/snapshot references
 * living in the oldest files are written again at the head, and every file holding no live entry
 * of any replica is deleted, so disk use follows compaction and retention. The store keeps no
 * payloads in memory, only which file holds each replica's live entries.
 *
 * <p>Recovery (D6): a record that fails its checksum at the very end of the newest WAL file, with
 * nothing valid after it and beyond what {@link TailMarker} says was synced, is a torn write and
 * is truncated. A damaged payload anywhere else keeps
 * its entries' identities (they are in the checksummed header) and is reported as faulty entries.
 * A damaged record header is read from the copy in the record's trailer and rewritten from it; a
 * damaged file header is rebuilt from the file name and the identity. What still cannot be
 * attributed — both header copies damaged, a synced tail cut off, a file cut short or missing —
 * makes the store refuse to open rather than truncate over it.
 */
public final class FileLogStore implements LogStore {
  private static final long FILE_MAGIC = 0x484657414c303032L; // "HFWAL002"
  private static final long FILE_MAGIC_V1 = 0x484657414c303031L; // "HFWAL001": records without trailers
  /** u64 magic | u64 file sequence | 16 bytes incarnation | u64 length of the previous file | u32 crc | u32 pad. */
  static final int FILE_HEADER_BYTES = 48;

  /**
   * @param dir data directory (created if missing)
   * @param walFileBytesMax a WAL file is closed and a new one started past this size
   * @param walFilesMax past this many WAL files, metadata in the oldest is carried forward and
   *     files without live entries are deleted
   * @param tailMarker after every WAL fsync, also record (and fsync) how far the WAL is synced, so
   *     that a synced tail cut off later is detected instead of taken for a torn write ({@link TailMarker})
   */
  public record Options(Path dir, long walFileBytesMax, int walFilesMax, boolean tailMarker) {
    public Options(Path dir, long walFileBytesMax, int walFilesMax) {
      this(dir, walFileBytesMax, walFilesMax, true);
    }

    public Options {
      if (walFileBytesMax < 4096) {
        throw new IllegalArgumentException("walFileBytesMax must be at least 4096, got " + walFileBytesMax);
      }
      if (walFilesMax < 2) {
        throw new IllegalArgumentException("walFilesMax must be at least 2, got " + walFilesMax);
      }
    }

    public static Options defaults(Path dir) {
      return new Options(dir, 64L << 20, 4);
    }

    /** From {@code holdfast.storage.*} (reference.conf documents each). */
    public static Options fromConfig(Path dir, com.typesafe.config.Config config) {
      com.typesafe.config.Config c = config.getConfig("holdfast.storage");
      return new Options(dir, c.getBytes("wal-file-bytes-max"), c.getInt("wal-files-max"), c.getBoolean("tail-marker"));
    }
  }

  /**
   * One replica's state as the log describes it (written, not necessarily synced). Payloads are
   * not kept: only which WAL file holds each live entry, as runs of (first index, file), so
   * memory stays small however long the log.
   */
  private static final class ReplicaLog {
    HardState hardState = HardState.INITIAL;
    long hardStateFile = Long.MAX_VALUE;
    WalRecord.SnapshotRef snapshot;
    long snapshotFile = Long.MAX_VALUE;
    /** Index of the last entry covered by the snapshot (or, during replay, before the first record seen). */
    long base;
    /** During replay: entries were seen whose predecessors are in deleted files; a snapshot must cover them. */
    boolean baseUnverified;
    /** During replay: a log record (entries or snapshot) of this replica has been seen. */
    boolean logSeen;
    long lastIndex;
    /** Runs of live entries: index of the first entry of each run → WAL file holding the run. */
    final TreeMap<Long, Long> fileOfRun = new TreeMap<>();
    final TreeMap<Long, Long> faulty = new TreeMap<>();
    /** Recovery only: the recovered entries, handed to the replica once. */
    ArrayList<LogEntry> recoveredEntries;

    long oldestFileNeeded() {
      long oldest = Math.min(hardStateFile, snapshotFile);
      return fileOfRun.isEmpty() ? oldest : Math.min(oldest, fileOfRun.firstEntry().getValue());
    }
  }

  private final Options options;
  private final Path walDir;
  private final TreeMap<String, ReplicaLog> replicas = new TreeMap<>();
  private final TreeMap<Long, Path> walFiles = new TreeMap<>();
  private final TreeMap<String, RecoveredState> recovered = new TreeMap<>();
  private final List<String> recoveryNotes = new ArrayList<>();
  private String recoverySummary = "";
  private final TreeMap<String, WalRecord.SnapshotRef> snapshotsToPrune = new TreeMap<>();
  private String incarnation;
  private boolean createdFresh;
  private final java.util.TreeSet<String> pinning = new java.util.TreeSet<>();
  private FileChannel head;
  private long headSeq;
  private long headBytes;
  /**
   * The records written since the last sync, up to its position. Direct, so that the write in
   * {@link #flush} copies nothing in the JVM (a heap buffer is copied into a temporary direct one
   * first); it grows to the largest batch the storage actor hands over between syncs (bounded by
   * holdfast.storage.batch-bytes-max) and is kept.
   */
  private ByteBuffer buffer = ByteBuffer.allocateDirect(1 << 16);
  private String failure;
  private TailMarker tailMarker;
  private TailMarker.Position syncedAtOpen;
  /** The tail marker existed but had no valid slot: nothing is known about the synced extent. */
  private boolean markerLost;
  /** The highest term written (the tail marker records it with each sync). */
  private long termMax;
  /** Non-zero: a synced tail was cut off once, holding terms up to this one ({@link LostTail}). */
  private long lostTailTerm;

  private FileLogStore(Options options) {
    this.options = options;
    this.walDir = options.dir().resolve("wal");
  }

  /** Opens (creating if needed) and recovers the data directory. */
  public static FileLogStore open(Options options) throws StorageFailure {
    FileLogStore store = new FileLogStore(options);
    try {
      store.openDirectory();
      store.recover();
    } catch (IOException e) {
      store.closeQuietly();
      throw new StorageFailure("cannot open data directory " + options.dir() + ": " + e, e);
    } catch (StorageFailure e) {
      store.closeQuietly();
      throw e;
    }
    return store;
  }

  @Override
  public String incarnation() {
    return incarnation;
  }

  @Override
  public boolean createdFresh() {
    return createdFresh;
  }

  @Override
  public SortedMap<String, RecoveredState> recovered() {
    return Collections.unmodifiableSortedMap(recovered);
  }

  /**
   * Non-zero if a synced tail of the WAL was once found cut off: the highest term the node had
   * synced then. A replica new to this node starts as one that may have lost its tail with it
   * (its records may all have been in the tail).
   */
  @Override
  public long lostTailTerm() {
    return lostTailTerm;
  }

  /** What opening cost: WAL files and bytes replayed, snapshots read, and how long each took. */
  public String recoverySummary() {
    return recoverySummary;
  }

  /** What recovery did that an operator should know (torn tails truncated, identity rebuilt). */
  public List<String> recoveryNotes() {
    return List.copyOf(recoveryNotes);
  }

  /** Number of WAL files on disk (for tests and metrics). */
  public int walFileCount() {
    return walFiles.size();
  }

  @Override
  public void write(String replica, LogWrite w) throws StorageFailure {
    checkOpen();
    ReplicaLog log = replicas.computeIfAbsent(replica, r -> new ReplicaLog());
    long first = w.snapshot() != null ? w.snapshot().index() + 1 : log.base + 1;
    long last = w.snapshot() != null ? Math.max(w.snapshot().index(), Math.min(log.lastIndex, w.entriesFrom() - 1))
        : log.lastIndex;
    if (w.changesLog() && (w.entriesFrom() < first || w.entriesFrom() > last + 1)) {
      throw new IllegalArgumentException("write for " + replica + " at " + w.entriesFrom() + " outside its log " + first
          + ".." + (last + 1));
    }
    int flags = 0;
    WalRecord.SnapshotRef ref = null;
    try {
      if (w.snapshot() != null) {
        int crc = SnapshotFiles.write(options.dir(), replica, w.snapshot());
        ref = new WalRecord.SnapshotRef(w.snapshot().meta(), w.snapshot().data().length, crc);
        flags |= WalRecord.SNAPSHOT;
      }
    } catch (IOException e) {
      throw fail("writing a snapshot of " + replica, e);
    }
    if (w.changesLog()) {
      flags |= WalRecord.ENTRIES;
    }
    if (w.hardState() != null) {
      flags |= WalRecord.HARD_STATE;
    }
    if (flags == 0 && w.repaired().isEmpty()) {
      return;
    }
    append(replica, flags, w.hardState(), ref, w.entriesFrom(), w.entries());
    apply(log, replica, headSeq, ref, w.entriesFrom(), w.entries(), true, w.hardState());
    termMax = Math.max(termMax, w.hardState() == null ? 0 : w.hardState().term());
    termMax = Math.max(termMax, ref == null ? 0 : ref.meta().term());
    for (LogEntry e : w.entries()) {
      termMax = Math.max(termMax, e.term());
    }
    if (!w.repaired().isEmpty()) {
      append(replica, WalRecord.REPAIR, null, null, 0, w.repaired());
      repair(log, w.repaired());
    }
    if (ref != null) {
      snapshotsToPrune.put(replica, ref);
    }
  }

  @Override
  public void sync() throws StorageFailure {
    checkOpen();
    if (buffer.position() == 0) {
      return;
    }
    flush();
    try {
      for (var e : snapshotsToPrune.entrySet()) {
        SnapshotFiles.deleteAllBut(options.dir(), e.getKey(), e.getValue().meta(), true);
      }
      snapshotsToPrune.clear();
      if (headBytes >= options.walFileBytesMax()) {
        roll();
        // At every roll (it looks at every replica, so not more often): what no replica needs
        // goes now, not only past the budget, since recovery reads every WAL file left.
        clean();
      }
    } catch (IOException e) {
      throw fail("rolling or cleaning the write-ahead log", e);
    }
  }

  /**
   * Reads every WAL file and rewrites, in place, each intact record of {@code replica} that holds
   * entry (index, term): the region is zeroed and the record's body checksum recomputed, then the
   * file is fsynced. Old files too (entries a snapshot covers stay on disk until their file is
   * cleaned). The replica's snapshot files are marked to be zeroed when a newer snapshot replaces
   * them (the mark is a file, so it survives a restart). A crash between the two writes leaves a body that fails its checksum: recovery marks
   * its entries faulty and repairs them from peers, as for any damaged payload (D6).
   */
  @Override
  public int erase(String replica, long index, long term, EntryRegion region)
      throws StorageFailure {
    sync();
    int copies = 0;
    try {
      SnapshotFiles.markZeroOnReplace(options.dir(), replica);
      for (Path file : walFiles.values()) {
        copies += eraseIn(file, replica, index, term, region);
      }
    } catch (IOException e) {
      throw fail("erasing entry " + index + " of " + replica, e);
    }
    return copies;
  }

  private static int eraseIn(Path file, String replica, long index, long term,
      EntryRegion region) throws IOException {
    byte[] buf = Files.readAllBytes(file);
    int copies = 0;
    try (FileChannel ch = FileChannel.open(file, StandardOpenOption.WRITE)) {
      for (int at = FILE_HEADER_BYTES; at < buf.length; ) {
        WalRecord.Decoded d = WalRecord.decode(buf, at, buf.length);
        if (d == null) {
          break; // a torn tail being written to, or damage recovery already reported
        }
        if (d.bodyValid() && d.replica().equals(replica)) {
          int bodyAt = d.bodyAt();
          int bodyEnd = WalRecord.bodyEnd(at, d);
          int entryAt = bodyAt;
          for (LogEntry e : d.entries()) {
            int[] r = e.index() == index && e.term() == term ? region.within(e.data()) : null;
            if (r != null && r[0] >= 0 && r[1] > 0 && r[0] + r[1] <= e.data().length) {
              Arrays.fill(buf, entryAt + r[0], entryAt + r[0] + r[1], (byte) 0);
              ch.write(ByteBuffer.wrap(buf, entryAt + r[0], r[1]), entryAt + r[0]);
              int crc = WalRecord.crc(buf, bodyAt, bodyEnd - bodyAt, null, 0, 0);
              ch.write(ByteBuffer.allocate(4).putInt(0, crc), bodyAt - 4);
              ch.write(ByteBuffer.allocate(4).putInt(0, crc), bodyEnd);
              copies++;
            }
            entryAt += e.data().length;
          }
        }
        at = d.end();
      }
      if (copies > 0) {
        ch.force(false);
      }
    }
    return copies;
  }

  /**
   * The replica is gone from this node for good (its stream deleted, or it retired from the group,
   * both committed by the meta group): a tombstone record makes its older records dead (so they
   * pin no WAL file and a replay does not bring it back), then its snapshot files and its message
   * store ({@code streams/<replica>}) are deleted.
   */
  @Override
  public void forget(String replica) throws StorageFailure {
    checkOpen();
    if (!replicas.containsKey(replica)) {
      deleteFilesOf(replica);
      return;
    }
    append(replica, WalRecord.FORGET, null, null, 0, List.of());
    sync();
    replicas.remove(replica);
    recovered.remove(replica);
    snapshotsToPrune.remove(replica);
    deleteFilesOf(replica);
  }

  private void deleteFilesOf(String replica) throws StorageFailure {
    try {
      Path snapshots = SnapshotFiles.dirOf(options.dir(), replica);
      if (Files.isDirectory(snapshots)) {
        SnapshotFiles.deleteAllBut(options.dir(), replica, null, true);
        Files.deleteIfExists(snapshots);
        Fsync.directory(snapshots.getParent());
      }
      FileDisk.ofStream(options.dir().toString(), replica).deleteAll();
    } catch (IOException | io.holdfast.storage.DiskFailure e) {
      throw fail("deleting the files of " + replica, e instanceof IOException io ? io : new IOException(e));
    }
  }

  @Override
  public List<String> takePinning() {
    List<String> out = List.copyOf(pinning);
    pinning.clear();
    return out;
  }

  @Override
  public long unsyncedBytes() {
    return buffer.position();
  }

  @Override
  public void close() throws StorageFailure {
    if (failure == null && buffer.position() > 0) {
      sync();
    }
    closeQuietly();
    if (failure == null) {
      failure = "closed";
    }
  }

  // =========================================================================================
  // Writing
  // =========================================================================================

  private void append(String replica, int flags, HardState hs, WalRecord.SnapshotRef snap, long entriesFrom,
      List<LogEntry> entries) {
    buffer = WalRecord.appendTo(buffer, replica, flags, hs, snap, entriesFrom, entries);
  }

  /** Writes the buffer at the head and fsyncs it. Never retried (D10). */
  private void flush() throws StorageFailure {
    try {
      int buffered = buffer.position();
      ByteBuffer b = buffer.flip();
      while (b.hasRemaining()) {
        head.write(b);
      }
      head.force(false);
      headBytes += buffered;
      buffer.clear();
      if (tailMarker != null) {
        tailMarker.record(headSeq, headBytes, termMax);
      }
    } catch (IOException e) {
      throw fail("writing and syncing " + walFiles.get(headSeq), e);
    }
  }

  private void roll() throws IOException {
    head.close();
    createWalFile(headSeq + 1, headBytes);
  }

  /**
   * Frees the oldest WAL files: replicas whose term, vote or snapshot reference still live there
   * get them written again at the head (a few bytes each); then every file older than what any
   * replica's live entries need is deleted. Live entries are never copied: a file stays until its
   * entries are compacted away (a snapshot, once the replica's message store has synced past
   * them), so the WAL stays short: recovery reads every file left.
   */
  private void clean() throws IOException, StorageFailure {
    long oldest = walFiles.firstKey();
    boolean entriesInOldest = false;
    for (ReplicaLog log : replicas.values()) {
      entriesInOldest |= !log.fileOfRun.isEmpty() && log.fileOfRun.firstEntry().getValue() <= oldest;
    }
    // Within the budget, references are carried forward only if that frees the oldest file.
    boolean carry = walFiles.size() > options.walFilesMax() || !entriesInOldest;
    for (var e : replicas.entrySet()) {
      ReplicaLog log = e.getValue();
      if (carry && (log.hardStateFile <= oldest || log.snapshotFile <= oldest)) {
        int flags = WalRecord.HARD_STATE | (log.snapshot == null ? 0 : WalRecord.SNAPSHOT);
        append(e.getKey(), flags, log.hardState, log.snapshot, 0, List.of());
        log.hardStateFile = headSeq;
        log.snapshotFile = log.snapshot == null ? Long.MAX_VALUE : headSeq;
      }
    }
    if (buffer.position() > 0) {
      flush();
    }
    long keepFrom = headSeq;
    for (ReplicaLog log : replicas.values()) {
      keepFrom = Math.min(keepFrom, log.oldestFileNeeded());
    }
    if (walFiles.size() > options.walFilesMax()) {
      // Past the budget even after cleaning: the replicas whose live entries hold the oldest file
      // are asked to snapshot soon (cheap: a snapshot is the stream's metadata).
      for (var e : replicas.entrySet()) {
        if (e.getValue().oldestFileNeeded() <= walFiles.firstKey() + 1) {
          pinning.add(e.getKey());
        }
      }
    }
    boolean deleted = false;
    while (walFiles.firstKey() < keepFrom) {
      // Renamed now, unlinked off this thread: a 64 MiB file's unlink held every group commit of the node ~20 ms.
      Reclaimer.discard(walFiles.pollFirstEntry().getValue());
      deleted = true;
    }
    if (deleted) {
      Fsync.directory(walDir);
      if (tailMarker != null) {
        tailMarker.record(headSeq, headBytes, termMax); // it may have named a file just deleted
      }
    }
  }

  private void createWalFile(long seq, long previousLength) throws IOException {
    Path file = walDir.resolve(String.format("%020d.wal", seq));
    FileChannel ch = FileChannel.open(file, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE);
    writeFileHeader(ch, seq, previousLength);
    ch.position(FILE_HEADER_BYTES);
    ch.force(true);
    Fsync.directory(walDir);
    head = ch;
    headSeq = seq;
    headBytes = FILE_HEADER_BYTES;
    walFiles.put(seq, file);
  }

  private void writeFileHeader(FileChannel ch, long seq, long previousLength) throws IOException {
    ByteBuffer h = ByteBuffer.allocate(FILE_HEADER_BYTES);
    h.putLong(FILE_MAGIC).putLong(seq).put(HexFormat.of().parseHex(incarnation)).putLong(previousLength);
    h.putInt(WalRecord.crc(h.array(), 0, 40, null, 0, 0)).putInt(0);
    h.flip();
    long at = 0;
    while (h.hasRemaining()) {
      at += ch.write(h, at);
    }
  }

  // =========================================================================================
  // Applying records to the in-memory picture (shared by writing and recovery)
  // =========================================================================================

  /** Applies one record's parts, in the order the record defines, to a replica's picture. */
  private static void apply(ReplicaLog log, String replica, long file, WalRecord.SnapshotRef snapshot, long entriesFrom,
      List<LogEntry> entries, boolean valid, HardState hardState) {
    if (snapshot != null) {
      applySnapshot(log, snapshot, file);
    }
    if (entriesFrom > 0) {
      applyEntries(log, replica, file, entriesFrom, entries, valid);
    }
    if (hardState != null) {
      log.hardState = hardState;
      log.hardStateFile = file;
    }
  }

  /** Repaired payloads heal faulty entries whose (index, term) they match; others are stale and ignored. */
  private static void repair(ReplicaLog log, List<LogEntry> repaired) {
    for (LogEntry r : repaired) {
      Long term = log.faulty.get(r.index());
      if (log.recoveredEntries != null && r.index() > log.base && r.index() <= log.lastIndex) {
        int at = (int) (r.index() - log.base - 1);
        if (log.recoveredEntries.get(at).term() == r.term()) {
          log.recoveredEntries.set(at, r);
          log.faulty.remove(r.index());
        }
      } else if (term != null && term == r.term()) {
        log.faulty.remove(r.index());
      }
    }
  }

  private static void applySnapshot(ReplicaLog log, WalRecord.SnapshotRef ref, long file) {
    long index = ref.meta().index();
    if (index >= log.base) {
      log.baseUnverified = false; // everything up to the first entry seen is covered
    }
    log.logSeen = true;
    if (index >= log.lastIndex) {
      log.fileOfRun.clear();
      log.lastIndex = index;
      if (log.recoveredEntries != null) {
        log.recoveredEntries.clear();
      }
    } else if (index > log.base) {
      Long runHoldingNext = log.fileOfRun.floorKey(index + 1);
      long fileOfNext = log.fileOfRun.get(runHoldingNext);
      log.fileOfRun.headMap(index + 1, true).clear();
      log.fileOfRun.put(index + 1, fileOfNext);
      if (log.recoveredEntries != null) {
        log.recoveredEntries.subList(0, (int) (index - log.base)).clear();
      }
    }
    log.faulty.headMap(index, true).clear();
    log.base = Math.max(log.base, index);
    log.snapshot = ref;
    log.snapshotFile = file;
  }

  private static void applyEntries(ReplicaLog log, String replica, long file, long from, List<LogEntry> entries,
      boolean valid) {
    if (from < log.base + 1 || from > log.lastIndex + 1) {
      throw new IllegalArgumentException("write for " + replica + " at " + from + " outside its log " + (log.base + 1)
          + ".." + (log.lastIndex + 1));
    }
    log.fileOfRun.tailMap(from, true).clear();
    log.faulty.tailMap(from, true).clear();
    if (log.recoveredEntries != null) {
      log.recoveredEntries.subList((int) (from - log.base - 1), log.recoveredEntries.size()).clear();
    }
    log.lastIndex = from - 1;
    if (!entries.isEmpty()) {
      log.fileOfRun.put(from, file);
    }
    for (LogEntry e : entries) {
      log.lastIndex = e.index();
      if (!valid) {
        log.faulty.put(e.index(), e.term());
      }
      if (log.recoveredEntries != null) {
        log.recoveredEntries.add(e);
      }
    }
  }

  // =========================================================================================
  // Opening and recovery
  // =========================================================================================

  private void openDirectory() throws IOException, StorageFailure {
    Path dir = options.dir();
    boolean hadData = Files.isDirectory(walDir) && !isEmpty(walDir);
    Files.createDirectories(walDir);
    Reclaimer.reclaimLeftovers(walDir); // a crash's: WAL files cleaned but not yet unlinked
    Reclaimer.reclaimLeftovers(dir.resolve("streams")); // and forgotten replicas' message stores
    try {
      syncedAtOpen = TailMarker.read(dir);
    } catch (IOException damagedMarker) {
      markerLost = true; // fatal only if the newest WAL file ends in an invalid record (recoverFile)
      recoveryNotes.add(damagedMarker.getMessage() + "; the WAL ends cleanly or the store would not open; rewritten");
    }
    lostTailTerm = LostTail.read(dir);
    termMax = syncedAtOpen == null ? 0 : syncedAtOpen.termMax();
    if (syncedAtOpen != null && !syncedAtOpen.certain()) {
      recoveryNotes.add(TailMarker.FILE + " had one invalid slot (a torn write or damage); rewritten");
    }
    if (syncedAtOpen == null && !markerLost && hadData) {
      recoveryNotes.add("no " + TailMarker.FILE + ": the synced extent of the newest WAL file cannot be checked");
    }
    incarnation = Identity.read(dir);
    if (incarnation == null && hadData) {
      incarnation = incarnationFromWalHeaders();
      Identity.write(dir, incarnation);
      recoveryNotes.add("identity file " + dir.resolve(Identity.FILE) + " was missing or damaged; rebuilt from the WAL");
    } else if (incarnation == null) {
      incarnation = Identity.newIncarnation();
      Identity.write(dir, incarnation);
      Fsync.directory(dir.toAbsolutePath().getParent());
      createdFresh = true;
    }
  }

  private static boolean isEmpty(Path dir) throws IOException {
    try (var s = Files.list(dir)) {
      return s.findAny().isEmpty();
    }
  }

  private String incarnationFromWalHeaders() throws IOException, StorageFailure {
    for (Path f : listWalFiles(walDir).values()) {
      byte[] h = new byte[FILE_HEADER_BYTES];
      try (FileChannel ch = FileChannel.open(f, StandardOpenOption.READ)) {
        if (ch.read(ByteBuffer.wrap(h)) == FILE_HEADER_BYTES && headerValid(h)) {
          return HexFormat.of().formatHex(h, 16, 32);
        }
      }
    }
    throw new StorageFailure("data directory " + options.dir() + " has WAL files but no readable identity: "
        + "it cannot be told apart from another node's; move it away so the node starts as a new member (D9)");
  }

  /**
   * For a stopped node's data directory: each WAL file and how many of its bytes the tail marker
   * says were synced (its whole length for files before the marked one, the header alone for
   * files after it). Empty if there is no marker. The fault campaign's power loss cuts every file
   * to this; nothing acknowledged lies beyond it, since the store records the marker after each
   * fsync and before any acknowledgement.
   */
  public static java.util.SortedMap<Path, Long> syncedWalLengths(Path dataDir) throws IOException {
    TreeMap<Path, Long> out = new TreeMap<>();
    TailMarker.Position synced = TailMarker.read(dataDir);
    Path walDir = dataDir.resolve("wal");
    if (synced == null || !Files.isDirectory(walDir)) {
      return out;
    }
    for (var e : listWalFiles(walDir).entrySet()) {
      long seq = e.getKey();
      Path f = e.getValue();
      out.put(f, seq < synced.walFile() ? Files.size(f) : seq == synced.walFile() ? synced.end() : FILE_HEADER_BYTES);
    }
    return out;
  }

  /** The WAL files in {@code walDir}, by sequence number. */
  static TreeMap<Long, Path> listWalFiles(Path walDir) throws IOException {
    TreeMap<Long, Path> files = new TreeMap<>();
    try (var s = Files.list(walDir)) {
      for (Path f : (Iterable<Path>) s::iterator) {
        String name = f.getFileName().toString();
        if (name.endsWith(".wal")) {
          files.put(Long.parseLong(name.substring(0, name.length() - 4)), f);
        }
      }
    }
    return files;
  }

  private static boolean headerValid(byte[] h) {
    ByteBuffer b = ByteBuffer.wrap(h);
    return b.getLong(0) == FILE_MAGIC && b.getInt(40) == WalRecord.crc(h, 0, 40, null, 0, 0);
  }

  private void recover() throws IOException, StorageFailure {
    // Replay every WAL file in order; each replica's picture is rebuilt from its records.
    TreeMap<Long, Path> files = listWalFiles(walDir);
    long markedFile = syncedAtOpen == null ? -1 : syncedAtOpen.walFile();
    if (markedFile >= 0 && !files.containsKey(markedFile) && syncedAtOpen.end() > FILE_HEADER_BYTES) {
      throw damaged(walDir.resolve(String.format("%020d.wal", markedFile)), 0,
          "the tail marker says this WAL file was synced up to offset " + syncedAtOpen.end() + ", but it is gone");
    }
    long previousLength = -1;
    long replayStart = System.nanoTime();
    long walBytes = 0;
    for (var e : files.entrySet()) {
      boolean newest = e.getKey().equals(files.lastKey());
      boolean first = e.getKey().equals(files.firstKey());
      if (!first && !files.containsKey(e.getKey() - 1)) {
        throw damaged(walDir.resolve(String.format("%020d.wal", e.getKey() - 1)), 0,
            "this WAL file is missing between older and newer ones (cleaning deletes only the oldest)");
      }
      long syncedEnd = e.getKey() == markedFile ? syncedAtOpen.end() : 0;
      if (recoverFile(e.getKey(), e.getValue(), newest, syncedEnd, first ? -1 : previousLength)) {
        walFiles.put(e.getKey(), e.getValue());
      }
      previousLength = Files.size(e.getValue());
      walBytes += previousLength;
    }
    long snapshotsStart = System.nanoTime();
    for (var e : replicas.entrySet()) {
      recovered.put(e.getKey(), recoveredState(e.getKey(), e.getValue()));
      termMax = Math.max(termMax, e.getValue().hardState.term());
    }
    recoverySummary = String.format("%d WAL files (%d MiB) replayed in %d ms, %d replicas' snapshots read in %d ms",
        files.size(), walBytes >> 20, (snapshotsStart - replayStart) / 1_000_000, replicas.size(),
        (System.nanoTime() - snapshotsStart) / 1_000_000);
    if (walFiles.isEmpty()) {
      createWalFile(files.isEmpty() ? 1 : files.lastKey() + 1, -1);
    } else {
      headSeq = walFiles.lastKey();
      head = FileChannel.open(walFiles.get(headSeq), StandardOpenOption.WRITE);
      headBytes = head.size();
      head.position(headBytes);
    }
    if (options.tailMarker()) {
      tailMarker = TailMarker.open(options.dir(), syncedAtOpen, headSeq, headBytes, termMax);
    }
  }

  /**
   * Replays one WAL file; returns false if it was an empty, torn-at-creation newest file (deleted).
   * {@code previousLength}: the length of the file before it, to check against this file's header
   * (-1: none to check).
   */
  private boolean recoverFile(long seq, Path file, boolean newest, long syncedEnd, long previousLength)
      throws IOException, StorageFailure {
    byte[] buf = Files.readAllBytes(file);
    if (buf.length < FILE_HEADER_BYTES || !headerValid(buf)) {
      if (newest && buf.length <= FILE_HEADER_BYTES && syncedEnd <= FILE_HEADER_BYTES) {
        Files.delete(file);
        Fsync.directory(walDir);
        recoveryNotes.add("deleted " + file + ": created but never written before a crash");
        return false;
      }
      if (buf.length >= 8 && ByteBuffer.wrap(buf).getLong(0) == FILE_MAGIC_V1) {
        throw new StorageFailure(file + " was written by an earlier Holdfast (WAL format HFWAL001, records without"
            + " header copies), which this version does not read. Nothing was changed.");
      }
      try (FileChannel ch = FileChannel.open(file, StandardOpenOption.WRITE)) {
        writeFileHeader(ch, seq, previousLength);
        ch.force(false);
      }
      recoveryNotes.add("the file header of " + file + " failed its checksum; rebuilt from the file name and "
          + Identity.FILE + " (its records are checked one by one as always)");
      buf = Files.readAllBytes(file);
    }
    ByteBuffer h = ByteBuffer.wrap(buf);
    if (h.getLong(8) != seq || !HexFormat.of().formatHex(buf, 16, 32).equals(incarnation)) {
      throw damaged(file, 0, "file header names another file or another data directory");
    }
    long recordedPrevious = h.getLong(32);
    if (previousLength >= 0 && recordedPrevious >= 0 && recordedPrevious != previousLength) {
      throw damaged(walDir.resolve(String.format("%020d.wal", seq - 1)), (int) Math.min(previousLength, recordedPrevious),
          "the next file's header says this file ended at offset " + recordedPrevious + " but it is "
              + previousLength + " bytes long: it was " + (previousLength < recordedPrevious ? "cut" : "extended"));
    }
    int at = FILE_HEADER_BYTES;
    while (at < buf.length) {
      WalRecord.Decoded d = WalRecord.decode(buf, at, buf.length);
      boolean bad = d == null || !d.bodyValid();
      boolean nothingValidAfter = bad && nextIntactRecord(buf, at + 1) < 0;
      if (bad && newest && nothingValidAfter && at >= syncedEnd) {
        if (markerLost || (syncedAtOpen != null && !syncedAtOpen.certain())) {
          throw damaged(file, at, "the newest WAL file ends in an invalid record and " + TailMarker.FILE
              + " is damaged, so a torn write cannot be told from a cut or damaged synced tail");
        }
        truncate(file, at, buf.length);
        return true;
      }
      if (d == null && newest && nothingValidAfter && syncedAtOpen != null && syncedAtOpen.certain()) {
        loseTail(file, buf, at, syncedEnd, "a record that fails both its header checksums (or was cut in the middle)");
        return true;
      }
      if (d == null) {
        throw damaged(file, at, at < syncedEnd
            ? "a record fails both its header checksums before offset " + syncedEnd + ", up to which the tail marker"
                + " says this file was synced (and acknowledged), so it is damage, not a torn write"
            : "a record fails both its header checksums with " + (nothingValidAfter ? "more WAL files after it"
                : "valid records after it") + ", so it is not a torn write");
      }
      try {
        applyRecovered(d, seq);
      } catch (IllegalArgumentException gap) {
        throw damaged(file, at, gap.getMessage());
      }
      if (!d.bodyValid()) {
        recoveryNotes.add("payload of " + d.entries().size() + " entries of " + d.replica() + " fails its checksum in "
            + file + " at offset " + at + ": marked faulty, to be repaired from peers");
      }
      if (!WalRecord.copiesAgree(buf, at, d)) {
        heal(file, buf, at, d);
      }
      at = d.end();
    }
    if (buf.length < syncedEnd) {
      if (newest && syncedAtOpen.certain()) {
        loseTail(file, buf, buf.length, syncedEnd, "the end of the file");
        return true;
      }
      throw damaged(file, buf.length, "the file ends before offset " + syncedEnd
          + ", where the tail marker says it was synced (and acknowledged): it was cut");
    }
    return true;
  }

  /**
   * The newest WAL file was synced up to {@code syncedEnd} but holds nothing attributable from
   * {@code at} on: a synced tail is lost, and nobody can say whose records it held. Recorded first
   * ({@link LostTail}, with the highest term the node had synced, which bounds what may be gone),
   * so every replica on the node recovers from its peers before it votes again (RaftCore's lost
   * tail); then the unreadable bytes are copied aside for forensics and cut, and the tail marker is
   * rewritten at open. A crash in between finds the same cut again.
   */
  private void loseTail(Path file, byte[] buf, int at, long syncedEnd, String what) throws IOException {
    lostTailTerm = Math.max(lostTailTerm, syncedAtOpen.termMax());
    LostTail.write(options.dir(), lostTailTerm);
    if (at < buf.length) {
      Path aside = file.resolveSibling(file.getFileName() + ".lost-" + at);
      Files.write(aside, java.util.Arrays.copyOfRange(buf, at, buf.length));
      cut(file, at);
    }
    recoveryNotes.add("LOST TAIL: " + file + " was synced up to offset " + syncedEnd + " but from offset " + at + " on"
        + " holds " + what + " (" + (syncedEnd - at) + " bytes unaccounted for). The entries and votes in it cannot be"
        + " attributed: every replica on this node whose log ends in term " + lostTailTerm + " or earlier recovers"
        + " from its peers before it votes again. A replica without peers (one replica) has lost them for good.");
  }

  /** Rewrites a record's damaged header copy (or trailer, or body checksum) from the intact one. */
  private void heal(Path file, byte[] buf, int at, WalRecord.Decoded d) throws IOException {
    WalRecord.heal(buf, at, d);
    int bodyEnd = WalRecord.bodyEnd(at, d);
    try (FileChannel ch = FileChannel.open(file, StandardOpenOption.WRITE)) {
      ch.write(ByteBuffer.wrap(buf, at, d.bodyAt() - at), at);
      ch.write(ByteBuffer.wrap(buf, bodyEnd, d.end() - bodyEnd), bodyEnd);
      ch.force(false);
    }
    recoveryNotes.add((d.fromCopy() ? "the header" : "the trailer copy of the header") + " of the record of "
        + d.replica() + " at offset " + at + " of " + file + " was damaged; rewritten from the other copy");
  }

  private static int nextIntactRecord(byte[] buf, int from) {
    for (int p = from; p + WalRecord.FIXED_BYTES + 4 <= buf.length; p++) {
      if (buf[p] == 0x48 && buf[p + 1] == 0x46 && buf[p + 2] == 0x52 && buf[p + 3] == 0x43) {
        WalRecord.Decoded d = WalRecord.decode(buf, p, buf.length);
        if (d != null && d.bodyValid()) {
          return p;
        }
      }
    }
    return -1;
  }

  private void truncate(Path file, int at, int length) throws IOException {
    cut(file, at);
    recoveryNotes.add("truncated a torn write of " + (length - at) + " bytes at the end of " + file + " (offset " + at + ")");
  }

  private static void cut(Path file, int at) throws IOException {
    try (FileChannel ch = FileChannel.open(file, StandardOpenOption.WRITE)) {
      ch.truncate(at);
      ch.force(true);
    }
  }

  private void applyRecovered(WalRecord.Decoded d, long fileSeq) {
    ReplicaLog log = replicas.computeIfAbsent(d.replica(), r -> {
      ReplicaLog fresh = new ReplicaLog();
      fresh.recoveredEntries = new ArrayList<>();
      return fresh;
    });
    if ((d.flags() & WalRecord.FORGET) != 0) {
      replicas.remove(d.replica());
      return;
    }
    if ((d.flags() & WalRecord.REPAIR) != 0) {
      if (d.bodyValid()) {
        repair(log, d.entries()); // a damaged repair repairs nothing: the entries stay faulty
      }
      return;
    }
    boolean hasEntries = (d.flags() & WalRecord.ENTRIES) != 0;
    if (hasEntries && d.snapshot() == null && d.entriesFrom() > (log.logSeen ? log.lastIndex + 1 : 1)) {
      // Older WAL files were deleted once a snapshot covered their entries. The entries before
      // these are gone with them, and so may be the ones after an older snapshot reference that
      // was carried forward ahead of them; the snapshot that covers them must turn up later in
      // the replay (checked at the end). Until then the log starts here.
      log.base = d.entriesFrom() - 1;
      log.lastIndex = log.base;
      log.fileOfRun.clear();
      log.faulty.clear();
      if (log.recoveredEntries != null) {
        log.recoveredEntries.clear();
      }
      log.baseUnverified = true;
    }
    log.logSeen |= hasEntries;
    apply(log, d.replica(), fileSeq, d.snapshot(), hasEntries ? d.entriesFrom() : 0, d.entries(), d.bodyValid(),
        d.hardState());
  }

  private RecoveredState recoveredState(String replica, ReplicaLog log) throws IOException, StorageFailure {
    if (log.baseUnverified) {
      throw new StorageFailure("replica " + replica + " has entries from " + (log.base + 1) + " on, but the WAL files"
          + " holding what came before them are gone and no snapshot covers it: a WAL file was deleted or lost."
          + " Nothing was truncated; move the data directory away so the node rejoins as a new member (D6, D9).");
    }
    Snapshot snapshot = Snapshot.initial(Membership.EMPTY);
    boolean snapshotFaulty = false;
    if (log.snapshot != null) {
      snapshot = SnapshotFiles.read(options.dir(), replica, log.snapshot);
      if (snapshot == null) {
        snapshotFaulty = true;
        snapshot = new Snapshot(log.snapshot.meta(), new byte[0]);
        recoveryNotes.add("snapshot " + log.snapshot.meta().index() + " of " + replica
            + " is missing or fails its checksum: its content must be fetched from a peer");
      } else {
        SnapshotFiles.deleteAllBut(options.dir(), replica, log.snapshot.meta(), false);
      }
    }
    RecoveredState state = new RecoveredState(log.hardState, snapshot, log.recoveredEntries, log.faulty, snapshotFaulty,
        lostTailTerm);
    log.recoveredEntries = null; // handed over: the store keeps no payloads
    return state;
  }

  // =========================================================================================
  // Failure
  // =========================================================================================

  private StorageFailure damaged(Path file, int offset, String why) {
    return new StorageFailure("damaged write-ahead log " + file + " at offset " + offset + ": " + why
        + ". Nothing was truncated. This node's copy cannot be trusted: move its data directory away so it rejoins as a new"
        + " member and is rebuilt from its peers (D6, D9).");
  }

  private void checkOpen() throws StorageFailure {
    if (failure != null) {
      throw new StorageFailure("storage is stopped: " + failure);
    }
  }

  private StorageFailure fail(String what, IOException e) {
    failure = what + " failed: " + e;
    closeQuietly();
    return new StorageFailure("storage stopped: " + failure + " (not retried: after a failed write or fsync the page"
        + " cache cannot be trusted, D10)", e);
  }

  private void closeQuietly() {
    try {
      if (head != null) {
        head.close();
      }
      if (tailMarker != null) {
        tailMarker.close();
      }
    } catch (IOException ignored) {
      // already failing or closing: nothing more can be done with this channel
    }
  }
}
