package io.holdfast.storage.segment;

import io.holdfast.base.Check;
import io.holdfast.base.RangeSet;
import io.holdfast.storage.Disk;
import io.holdfast.storage.DiskFile;
import io.holdfast.stream.Message;
import io.holdfast.stream.MessageStore;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * One stream replica's messages on disk: segment files of records ({@code <base>.seg}) with a
 * dense index each ({@code <base>.idx}, one fixed-size entry per sequence), in the layout of
 * {@link SegmentFormat}. Written at apply, behind the write-ahead log that already holds every
 * committed entry: appends are buffered and reach the disk unsynced; {@link #syncJob} makes them
 * durable, and the replica snapshots only what a finished sync covered. So the WAL is the durable
 * copy until the store has synced past it, and then the store is (DESIGN.md §3).
 *
 * <p>Memory: per segment a few fields, plus one index page and the current batch of appends — never
 * the messages. Reads are positional reads (the page cache) checked against their checksums.
 *
 * <p>Recovery ({@link #open}) cuts everything after the sequence the replica's snapshot covers
 * (unsynced, and regenerated from the log) — the only truncation there is. Anything missing or
 * damaged at or below it is damage, never cut over (D6): a damaged index is rebuilt from its
 * segment, and records that are missing or fail their checksum are listed in {@link #damaged()},
 * to be repaired from a peer ({@link #repair}) — in place, or as a filler segment where whole
 * files are gone. Restart cost: the segment files' headers and footers and the unsynced tail.
 *
 * <p>One thread of control (the replica's), except {@link SyncJob#run}, which only fsyncs.
 */
public final class SegmentStore implements StreamStore {
  /**
   * @param segmentBytesMax a segment is sealed and a new one started before it would exceed this
   * @param segmentRecordsMax ... or hold more records than this (bounds an index file)
   */
  public record Options(long segmentBytesMax, int segmentRecordsMax) {
    public Options {
      if (segmentBytesMax < 4096 || segmentBytesMax > (1L << 30)) {
        throw new IllegalArgumentException("segment-bytes-max must be between 4 KiB and 1 GiB, got " + segmentBytesMax);
      }
      if (segmentRecordsMax < 1) {
        throw new IllegalArgumentException("segment-records-max must be at least 1, got " + segmentRecordsMax);
      }
    }

    public static Options defaults() {
      return new Options(64L << 20, 256 * 1024);
    }
  }

  /** For {@link #open}: the sync point is not known (the replica's snapshot is damaged). */
  public static final long SYNC_UNKNOWN = -1;
  private static final int PAGE_ENTRIES = 102;
  private static final int PAGE_BYTES = PAGE_ENTRIES * SegmentFormat.ENTRY_BYTES;
  /** Appends buffered in memory at most before they are written out. */
  private static final int PENDING_BYTES_MAX = 1 << 20;
  /** A pending buffer's array kept between flushes, at most. */
  private static final int PENDING_KEPT_BYTES = 4096;
  /**
   * A pending buffer's first array, at most: below G1's humongous-object size for the smallest
   * heap a node runs with (half of its 1 MiB regions), which is allocated and collected apart.
   */
  private static final int PENDING_FIRST_BYTES_MAX = 256 << 10;
  /** Sealed segments whose files stay open after use. */
  private static final int OPEN_SEALED_MAX = 4;

  private static final class Segment {
    final long base;
    /** The last sequence the segment holds, or should hold (base - 1: empty). */
    long lastSeq;
    /** Where the records end (the footer, or the next record, goes here). */
    long end;
    boolean sealed;
    DiskFile data;
    DiskFile index;
    boolean dirty;
    /** Sync jobs in flight that hold its files: they are not closed until those finish. */
    int pins;
    /** A filler segment being repaired into: the last sequence written so far (in order). -1: not a filler. */
    long filledTo = -1;

    Segment(long base) {
      this.base = base;
      this.lastSeq = base - 1;
      this.end = SegmentFormat.HEADER_BYTES;
    }

    boolean holds(long seq) {
      return seq >= base && seq <= lastSeq;
    }
  }

  /**
   * A growable byte buffer for the batch of appends not yet written. Records are written straight
   * into it ({@link #room}), not built apart and copied in.
   */
  private static final class Pending {
    byte[] bytes = new byte[0];
    int length;
    /** How long the last batch grew, which sizes the next one's array. */
    private int lastBatch;

    /** Makes room for {@code more} bytes after {@link #length}, which stays where it is; returns it. */
    int room(int more) {
      if (length + more > bytes.length) {
        int size = bytes.length == 0 ? Math.min(Math.max(lastBatch, PENDING_KEPT_BYTES), PENDING_FIRST_BYTES_MAX)
            : bytes.length * 2;
        bytes = Arrays.copyOf(bytes, Math.max(length + more, size));
      }
      return length;
    }

    void add(byte[] b) {
      int at = room(b.length); // first: it may replace bytes
      System.arraycopy(b, 0, bytes, at, b.length);
      length += b.length;
    }

    /**
     * Empties the buffer and lets a large array go: a node holds a store per replica, and 1,000
     * replicas each keeping the 256 KiB-1 MiB its biggest batch grew to took 256 MiB of heap with
     * nothing to write (a 1,000-stream node ran out of memory that way). The next batch starts at
     * this one's size (up to {@link #PENDING_FIRST_BYTES_MAX}): grown from 4 KiB by doubling, a
     * busy stream's batch was copied about once more in all (7% of a node's allocation, JFR).
     */
    void clear() {
      lastBatch = length;
      length = 0;
      if (bytes.length > PENDING_KEPT_BYTES) {
        bytes = new byte[0];
      }
    }
  }

  private final Disk disk;
  private final Options options;
  private final TreeMap<Long, Segment> segments = new TreeMap<>();
  /** The last segment if it still takes appends. */
  private Segment active;
  private long lastSeq;
  private final Pending pendingData = new Pending();
  private final Pending pendingIndex = new Pending();
  private long pendingFirstSeq;
  private long pendingDataAt;
  /** Records that are missing or failed their checksum: to be repaired from a peer. */
  private final RangeSet damaged = new RangeSet();
  private final List<String> notes = new ArrayList<>();
  private boolean directoryDirty;
  private final java.util.LinkedHashMap<Long, Segment> openSealed = new java.util.LinkedHashMap<>(8, 0.75f, true);
  private long pageSegment = -1;
  private long pageNumber = -1;
  private final byte[] page = new byte[PAGE_BYTES];
  private int pageLength;

  private SegmentStore(Disk disk, Options options) {
    this.disk = disk;
    this.options = options;
  }

  /**
   * Opens the store in {@code disk}, whose replica's snapshot covers messages up to {@code
   * syncedLastSeq} (0: none, a replica starting from its group's first entry). What lies beyond is
   * cut; what is missing or damaged up to it is listed in {@link #damaged()}. {@link #SYNC_UNKNOWN}:
   * the snapshot is damaged, so the store keeps every intact record and cuts only a torn tail.
   */
  public static SegmentStore open(Disk disk, Options options, long syncedLastSeq) {
    SegmentStore s = new SegmentStore(disk, options);
    s.recover(syncedLastSeq);
    return s;
  }

  // =========================================================================================
  // MessageStore
  // =========================================================================================

  @Override
  public void append(long seq, Message message, int subjectId, long prevSameSubject, Location location) {
    if (seq <= lastSeq) {
      if (damaged.contains(seq) || segmentOf(seq) == null) {
        // Applied again (after a restart) where the store lost it: the log gives it back whole.
        repair(seq, SegmentFormat.record(seq, message, subjectId, prevSameSubject, location));
      }
      return; // the same committed message, applied again
    }
    int length = SegmentFormat.recordBytes(message);
    startAppend(seq, length);
    int at = pendingData.room(length); // first: it may replace pendingData.bytes
    SegmentFormat.writeRecord(pendingData.bytes, at, length, seq, message, subjectId, prevSameSubject, location);
    pendingData.length += length;
    endAppend(seq, length, message, subjectId, prevSameSubject, 0);
  }

  private void appendRecord(long seq, byte[] r, Message m, int flags) {
    startAppend(seq, r.length);
    pendingData.add(r);
    endAppend(seq, r.length, m, SegmentFormat.recordSubjectId(r), SegmentFormat.recordPrev(r), flags);
  }

  /** Before message {@code seq}'s record of {@code length} bytes goes into {@link #pendingData}. */
  private void startAppend(long seq, int length) {
    Check.that(seq > lastSeq, "the store appends message %d after its last one %d", seq, lastSeq);
    boolean full = active != null && active.lastSeq >= active.base
        && (active.end + length + SegmentFormat.FOOTER_BYTES > options.segmentBytesMax()
            || active.lastSeq - active.base + 1 >= options.segmentRecordsMax());
    if (active == null || seq != active.lastSeq + 1 || full) {
      seal();
      active = create(seq);
    }
    if (pendingData.length == 0) {
      pendingFirstSeq = seq;
      pendingDataAt = active.end;
    }
  }

  /** After message {@code seq}'s record went into {@link #pendingData}: its index entry, and the segment's end. */
  private void endAppend(long seq, int length, Message m, int subjectId, long prev, int flags) {
    int entryAt = pendingIndex.room(SegmentFormat.ENTRY_BYTES);
    SegmentFormat.writeEntry(pendingIndex.bytes, entryAt, m.timestampMillis(), active.end, length, m.sizeBytes(),
        subjectId, prev, flags);
    pendingIndex.length += SegmentFormat.ENTRY_BYTES;
    long at = active.end;
    active.end += length;
    Check.that(active.end > at && seq >= active.base, "record %d lands at offset %d of its segment", seq, at);
    active.lastSeq = seq;
    lastSeq = seq;
    damaged.remove(seq); // a torn record of an unknown sync point, written again whole
    if (pendingData.length >= PENDING_BYTES_MAX) {
      flush();
    }
  }

  @Override
  public Entry entry(long seq) {
    Segment s = segmentOf(seq);
    if (s == null) {
      return null;
    }
    SegmentFormat.IndexEntry e = indexEntry(s, seq);
    if (e == null) {
      rebuildIndex(s);
      e = indexEntry(s, seq);
    }
    if (e == null) {
      throw new Unreadable("message " + seq + " of " + extent(s) + ": its index entry and its record are both"
          + " damaged or missing");
    }
    return e.toEntry(seq);
  }

  @Override
  public Message read(long seq) {
    byte[] r = record(seq);
    return r == null ? null : SegmentFormat.recordMessage(r);
  }

  /**
   * Records that lie next to each other in a segment file are read with one call, up to this many
   * bytes: a fetch asks for ~90 neighbouring messages, and reading each with its own pread took a
   * fifth of a stream leader's CPU in a profile of a NATS consume.
   */
  private static final int RUN_BYTES_MAX = 256 * 1024;

  @Override
  public Message[] readAll(long[] seqs) {
    Message[] out = new Message[seqs.length];
    long[] offsets = new long[seqs.length];
    int[] lengths = new int[seqs.length];
    int i = 0;
    while (i < seqs.length) {
      Segment s = segmentOf(seqs[i]);
      int j = runEnd(s, seqs, i, offsets, lengths);
      if (j == i + 1) {
        out[i] = read(seqs[i]);
      } else {
        byte[] run = new byte[(int) (offsets[j - 1] + lengths[j - 1] - offsets[i])];
        int got = Math.max(0, dataFile(s).read(offsets[i], run, 0, run.length));
        for (int k = i; k < j; k++) {
          int at = (int) (offsets[k] - offsets[i]);
          boolean whole = at + lengths[k] <= got; // each record is read where it lies in the run, not copied out first
          out[k] = whole && SegmentFormat.recordValid(run, at, lengths[k]) && SegmentFormat.recordSeq(run, at) == seqs[k]
              ? SegmentFormat.recordMessage(run, at, lengths[k])
              : read(seqs[k]); // alone: marked damaged, as any read does
        }
      }
      i = j;
    }
    return out;
  }

  /**
   * Where the run of {@code seqs} from {@code i} ends (exclusive): the sequences whose records sit
   * one right after another in {@code s}'s written-out data file, their places noted. At least i + 1.
   */
  private int runEnd(Segment s, long[] seqs, int i, long[] offsets, int[] lengths) {
    int j = i;
    for (; j < seqs.length && s != null; j++) {
      long seq = seqs[j];
      boolean unwritten = s == active && pendingData.length > 0 && seq >= pendingFirstSeq;
      if (!s.holds(seq) || damaged.contains(seq) || unwritten) {
        break;
      }
      SegmentFormat.IndexEntry e = indexEntry(s, seq);
      if (e == null || e.length() < SegmentFormat.RECORD_HEADER_BYTES || e.length() > RUN_BYTES_MAX
          || (j > i && (e.offset() != offsets[j - 1] + lengths[j - 1]
              || e.offset() + e.length() - offsets[i] > RUN_BYTES_MAX))) {
        break;
      }
      offsets[j] = e.offset();
      lengths[j] = e.length();
    }
    return Math.max(j, i + 1);
  }

  /** The intact record of {@code seq}, or null (missing, or damaged: then remembered in {@link #damaged()}). */
  public byte[] record(long seq) {
    Segment s = segmentOf(seq);
    if (s == null || damaged.contains(seq)) {
      return null;
    }
    SegmentFormat.IndexEntry e = indexEntry(s, seq);
    if (e == null) {
      rebuildIndex(s);
      e = indexEntry(s, seq);
    }
    byte[] r = e == null ? null : readRecordAt(s, e.offset(), e.length());
    if (r == null || !SegmentFormat.recordValid(r) || SegmentFormat.recordSeq(r) != seq) {
      damaged.add(seq);
      notes.add("message " + seq + " of " + describe(s) + " is missing or fails its checksum: to be repaired");
      return null;
    }
    return r;
  }

  @Override
  public Location erase(long seq) {
    Segment s = segmentOf(seq);
    SegmentFormat.IndexEntry e = s == null ? null : indexEntry(s, seq);
    if (e == null) {
      return null;
    }
    byte[] r = readRecordAt(s, e.offset(), e.length());
    Location at = null;
    if (r != null && SegmentFormat.recordValid(r) && SegmentFormat.recordSeq(r) == seq) {
      at = SegmentFormat.recordLocation(r);
      SegmentFormat.erase(r);
    } else {
      // Damaged: whatever it holds goes; its repair (from a peer that erased it too) restores the rest.
      r = r == null ? new byte[0] : r;
      Arrays.fill(r, Math.min(r.length, SegmentFormat.RECORD_HEADER_BYTES), r.length, (byte) 0);
    }
    writeAt(s, true, e.offset(), r);
    writeAt(s, false, entryAt(s, seq), SegmentFormat.entry(e.timestamp(), e.offset(), e.length(), e.sizeBytes(),
        e.subjectId(), e.prev(), e.flags() | SegmentFormat.FLAG_ERASED));
    return at;
  }

  @Override
  public long lastSeq() {
    return lastSeq;
  }

  // =========================================================================================
  // Durability
  // =========================================================================================

  /**
   * What an fsync of everything appended so far takes: run it ({@link SyncJob#run}, on any thread),
   * then hand it back to {@link #synced}. It covers messages up to {@link SyncJob#lastSeq()}.
   */
  public final class SyncJob implements io.holdfast.storage.StoreSync {
    private final List<DiskFile> files;
    private final List<Segment> pinned;
    private final boolean directory;
    private final long lastSeq;

    private SyncJob(List<DiskFile> files, List<Segment> pinned, boolean directory, long lastSeq) {
      this.files = files;
      this.pinned = pinned;
      this.directory = directory;
      this.lastSeq = lastSeq;
    }

    public long lastSeq() {
      return lastSeq;
    }

    /** Whether there is anything to fsync. */
    public boolean empty() {
      return files.isEmpty() && !directory;
    }

    /** Fsyncs the files, then the directory. Throws {@link io.holdfast.storage.DiskFailure} (fatal, D10). */
    @Override
    public void run() {
      for (DiskFile f : files) {
        f.sync();
      }
      if (directory) {
        disk.syncDirectory();
      }
    }
  }

  /** The disk this store's files are on (a test reopens a store on it, as a restart does). */
  public Disk disk() {
    return disk;
  }

  @Override
  public SyncJob syncJob() {
    flush();
    List<DiskFile> files = new ArrayList<>();
    DiskFile damage = writeDamage();
    if (damage != null) {
      files.add(damage);
    }
    List<Segment> pinned = new ArrayList<>();
    for (Segment s : segments.values()) {
      if (s.dirty) {
        s.dirty = false;
        s.pins++;
        pinned.add(s);
        if (s.data != null) {
          files.add(s.data);
        }
        if (s.index != null) {
          files.add(s.index);
        }
      }
    }
    boolean directory = directoryDirty;
    directoryDirty = false;
    return new SyncJob(files, pinned, directory, lastSeq);
  }

  @Override
  public boolean unsynced() {
    if (pendingData.length > 0 || directoryDirty || !damaged.equals(damageWritten)) {
      return true;
    }
    for (Segment s : segments.values()) {
      if (s.dirty || s.pins > 0) {
        return true;
      }
    }
    return false;
  }

  /** A sync job has run: its files may be closed again. */
  @Override
  public void synced(SyncJob job) {
    for (Segment s : job.pinned) {
      s.pins--;
      if (s.sealed) {
        closeIfIdle(s);
      }
    }
  }

  /** Writes out the appends buffered in memory (not a sync). */
  @Override
  public void flush() {
    if (pendingData.length == 0) {
      return;
    }
    Segment s = active;
    dataFile(s).write(pendingDataAt, pendingData.bytes, 0, pendingData.length);
    long indexAt = entryAt(s, pendingFirstSeq);
    indexFile(s).write(indexAt, pendingIndex.bytes, 0, pendingIndex.length);
    if (pageSegment == s.base) {
      pageSegment = -1; // the cached page may cover what was just written
    }
    s.dirty = true;
    pendingData.clear();
    pendingIndex.clear();
  }

  /**
   * Deletes every segment that holds only sequences below {@code seq} (gone from the stream by a
   * snapshot that is durable). Returns how many.
   */
  @Override
  public int dropBelow(long seq) {
    flush();
    int dropped = 0;
    for (var it = segments.values().iterator(); it.hasNext(); ) {
      Segment s = it.next();
      if (s.lastSeq >= seq || s.pins > 0 || s.lastSeq < s.base && s == active) {
        break;
      }
      close(s);
      disk.discard(dataName(s.base)); // not inline: a large file's unlink held the replica for ~20 ms
      disk.discard(indexName(s.base));
      it.remove();
      openSealed.remove(s.base);
      if (s == active) {
        active = null;
      }
      damaged.remove(s.base, s.lastSeq);
      directoryDirty = true;
      dropped++;
    }
    return dropped;
  }

  // =========================================================================================
  // Catch-up and repair
  // =========================================================================================

  /** Records missing or damaged, to be fetched from a peer. */
  public RangeSet damaged() {
    return damaged;
  }

  /**
   * Intact records from {@code fromSeq} on, up to {@code toSeq}, about {@code bytesMax} bytes (at
   * least one record): what a peer catching up or repairing asks for. Records this store lacks are
   * skipped and listed in {@code missing}.
   */
  @Override
  public List<byte[]> records(long fromSeq, long toSeq, long bytesMax, RangeSet missing) {
    flush();
    List<byte[]> out = new ArrayList<>();
    long bytes = 0;
    long seq = fromSeq;
    while (seq <= Math.min(toSeq, lastSeq)) {
      Segment s = segmentOf(seq);
      if (s == null) {
        Map.Entry<Long, Segment> next = segments.higherEntry(seq);
        long resume = next == null ? lastSeq + 1 : next.getKey();
        missing.add(seq, Math.min(resume, toSeq + 1) - 1);
        seq = resume;
        continue;
      }
      byte[] r = record(seq);
      if (r == null) {
        missing.add(seq);
      } else {
        if (!out.isEmpty() && bytes + r.length > bytesMax) {
          break;
        }
        out.add(r);
        bytes += r.length;
      }
      seq++;
    }
    return out;
  }

  /**
   * Takes a record fetched from a peer: the next one to append (a catch-up; sequences after a gap
   * start a new segment), or the repair of one listed in {@link #damaged()}. Returns false if it
   * is neither, or not intact.
   */
  @Override
  public boolean take(byte[] r) {
    if (!SegmentFormat.recordValid(r)) {
      return false;
    }
    long seq = SegmentFormat.recordSeq(r);
    if (seq > lastSeq) {
      appendRecord(seq, r, SegmentFormat.recordMessage(r), SegmentFormat.recordErased(r) ? SegmentFormat.FLAG_ERASED : 0);
      return true;
    }
    return (damaged.contains(seq) || segmentOf(seq) == null) && repair(seq, r);
  }

  private boolean repair(long seq, byte[] r) {
    flush();
    Segment s = segmentOf(seq);
    if (s == null) {
      s = filler(seq);
    }
    SegmentFormat.IndexEntry e = null;
    if (s.filledTo < 0) {
      e = indexEntry(s, seq);
      if (e == null) {
        rebuildIndex(s);
        e = indexEntry(s, seq);
      }
    }
    long offset;
    if (e != null) {
      if (e.length() != r.length) {
        notes.add("repair of message " + seq + " of " + describe(s) + " refused: " + r.length + " bytes where "
            + e.length() + " were");
        return false;
      }
      offset = e.offset();
    } else if (s.filledTo >= s.base && seq > s.filledTo + 1) {
      // A hole in what the peers hold (gone from the stream): the filler ends before it, a new one starts here.
      long last = s.lastSeq;
      s.lastSeq = s.filledTo;
      sealFile(s);
      s = filler(seq);
      s.lastSeq = last;
      damaged.add(seq, last);
      offset = SegmentFormat.HEADER_BYTES;
    } else if (s.filledTo >= 0) {
      offset = s.end; // filled in order
    } else if (seq == s.base || indexEntry(s, seq - 1) != null) {
      // Neither its index entry nor its record is left, nor any after it (a rebuild stops at the
      // first it cannot find): the segment ends before it, and a filler takes the rest.
      s = splitAt(s, seq);
      offset = SegmentFormat.HEADER_BYTES;
    } else {
      // Its predecessors are unreachable too (a rebuild stops at the first record it cannot find),
      // and peers send only what the stream still holds, in order: those before it that have not
      // come are gone from the stream and never will (sim seed 123000000152 refused this one for
      // ever, waiting for them). The segment ends where its reachable records end, and a filler
      // takes this one on; any of those that does come later gets a filler of its own.
      long first = seq - 1;
      while (first > s.base && indexEntry(s, first - 1) == null) {
        first--;
      }
      endBefore(s, first);
      notes.add("segment " + dataName(s.base) + " ends before message " + first + ": messages " + first + ".." + (seq - 1)
          + " did not come with the repair of " + seq + ", so the stream no longer holds them");
      s = filler(seq);
      offset = SegmentFormat.HEADER_BYTES;
    }
    writeAt(s, true, offset, r);
    writeAt(s, false, entryAt(s, seq), SegmentFormat.entryOf(r, offset));
    s.end = Math.max(s.end, offset + r.length);
    if (s.filledTo >= 0) {
      s.filledTo = seq;
    }
    damaged.remove(seq);
    long nextDamaged = damaged.nextPresent(s.base);
    boolean filled = s.filledTo < 0 || s.filledTo == s.lastSeq;
    if (!s.sealed && s != active && filled && (nextDamaged == -1 || nextDamaged > s.lastSeq)) {
      sealFile(s); // whole again: its footer marks it so
    }
    return true;
  }

  /** Ends {@code s} before {@code seq} (deleting it if nothing is left) and returns a filler for {@code seq} on. */
  private Segment splitAt(Segment s, long seq) {
    long last = s.lastSeq;
    endBefore(s, seq);
    Segment filler = create(seq);
    filler.lastSeq = last;
    filler.filledTo = seq - 1;
    damaged.add(seq, last);
    notes.add("segment " + dataName(s.base) + " ends before message " + seq + ", whose index entry and record are"
        + " both gone; " + dataName(seq) + " takes messages " + seq + ".." + last + " as they are repaired");
    return filler;
  }

  /** Ends {@code s} before {@code seq}, whose predecessor's index entry it holds (deleting it if nothing is left). */
  private void endBefore(Segment s, long seq) {
    if (s == active) {
      active = null;
    }
    if (seq == s.base) {
      close(s);
      segments.remove(s.base);
      openSealed.remove(s.base);
      disk.delete(dataName(s.base));
      disk.delete(indexName(s.base));
      directoryDirty = true;
    } else {
      SegmentFormat.IndexEntry before = indexEntry(s, seq - 1);
      s.lastSeq = seq - 1;
      s.end = before.offset() + before.length();
      dataFile(s).truncate(s.end);
      indexFile(s).truncate(entryAt(s, seq));
      pageSegment = -1;
      sealFile(s);
    }
  }

  /**
   * A new segment for missing records from {@code seq} on, up to the next segment (or the end),
   * filled in order by repairs ({@link Segment#filledTo}).
   */
  private Segment filler(long seq) {
    Map.Entry<Long, Segment> next = segments.higherEntry(seq);
    Segment s = create(seq);
    s.lastSeq = next == null ? lastSeq : next.getKey() - 1;
    s.filledTo = seq - 1;
    damaged.add(seq, s.lastSeq); // missing until filled
    notes.add("filler segment " + dataName(seq) + " created for messages " + seq + ".." + s.lastSeq);
    return s;
  }

  /**
   * The sequences in [from, to] the store holds no intact record of: between or before its
   * segments, or listed in {@link #damaged()}. (Those the stream still holds are to be repaired.)
   */
  @Override
  public RangeSet missing(long from, long to) {
    RangeSet out = new RangeSet();
    long at = from;
    for (Segment s : segments.tailMap(segments.floorKey(from) == null ? from : segments.floorKey(from)).values()) {
      if (s.base > to) {
        break;
      }
      out.add(at, Math.min(s.base - 1, to));
      at = Math.max(at, s.lastSeq + 1);
    }
    out.add(at, to);
    for (long[] r : damaged.ranges()) {
      out.add(Math.max(r[0], from), Math.min(r[1], to));
    }
    return out;
  }

  /**
   * Verifies up to {@code count} records from {@code fromSeq} on against their checksums (a damaged
   * one is listed in {@link #damaged()}, to be repaired): bit rot is found before a reader meets
   * it. Returns where to go on, or 0 once past its end (a round is done; the next starts at its first).
   */
  @Override
  public long scrub(long fromSeq, int count) {
    flush();
    long seq = Math.max(fromSeq, firstSeq());
    for (int n = 0; n < count && seq <= lastSeq; n++, seq++) {
      Segment s = segmentOf(seq);
      if (s == null) {
        Map.Entry<Long, Segment> next = segments.higherEntry(seq);
        if (next == null) {
          break;
        }
        seq = next.getKey() - 1;
        continue;
      }
      record(seq);
    }
    return seq > lastSeq ? 0 : seq;
  }

  /** What recovery and reads found that an operator should know. Taking them clears the list. */
  @Override
  public List<String> takeNotes() {
    List<String> out = List.copyOf(notes);
    notes.clear();
    return out;
  }

  /** Segment files, for tests and statistics. */
  public int segmentCount() {
    return segments.size();
  }

  /** The first sequence the store holds a segment for (lastSeq + 1 if none). */
  public long firstSeq() {
    return segments.isEmpty() ? lastSeq + 1 : segments.firstKey();
  }

  /** Closes every file (the store is not used after). */
  @Override
  public void close() {
    flush();
    DiskFile damage = writeDamage();
    if (damage != null) {
      damage.sync();
      disk.syncDirectory();
    }
    for (Segment s : segments.values()) {
      close(s);
    }
  }

  /** The file that keeps {@link #damaged()} across restarts (what a restart could not find by itself). */
  static final String DAMAGE_FILE = "damaged";
  private static final long DAMAGE_MAGIC = 0x484644414d414745L; // "HFDAMAGE"
  private RangeSet damageWritten = new RangeSet();

  /** Writes the damage list if it changed since it was last written; returns its file, or null. */
  private DiskFile writeDamage() {
    if (damaged.equals(damageWritten)) {
      return null;
    }
    List<long[]> ranges = damaged.ranges();
    ByteBuffer b = ByteBuffer.allocate(16 + 16 * ranges.size());
    b.putLong(DAMAGE_MAGIC).putInt(ranges.size());
    ranges.forEach(r -> b.putLong(r[0]).putLong(r[1]));
    b.putInt(SegmentFormat.crc(b.array(), 0, b.capacity() - 4));
    boolean created = !disk.list().contains(DAMAGE_FILE);
    DiskFile f = disk.open(DAMAGE_FILE, true);
    f.truncate(0);
    f.write(0, b.array(), 0, b.capacity());
    directoryDirty |= created;
    damageWritten = new RangeSet();
    ranges.forEach(r -> damageWritten.add(r[0], r[1]));
    return f;
  }

  /** The damage list a previous run wrote, or an empty one if there is none or it fails its checksum. */
  private RangeSet readDamage() {
    RangeSet out = new RangeSet();
    DiskFile f = disk.list().contains(DAMAGE_FILE) ? disk.open(DAMAGE_FILE, false) : null;
    if (f == null) {
      return out;
    }
    byte[] bytes = new byte[(int) Math.min(f.size(), 1 << 24)];
    f.read(0, bytes, 0, bytes.length);
    f.close();
    ByteBuffer b = ByteBuffer.wrap(bytes);
    if (bytes.length < 16 || b.getLong(0) != DAMAGE_MAGIC || 16 + 16L * b.getInt(8) != bytes.length
        || b.getInt(bytes.length - 4) != SegmentFormat.crc(bytes, 0, bytes.length - 4)) {
      notes.add("the damage list " + DAMAGE_FILE + " is unreadable; damage is found again by reads and scrubbing");
      return out;
    }
    for (int i = 0, n = b.getInt(8); i < n; i++) {
      out.add(b.getLong(12 + 16 * i), b.getLong(20 + 16 * i));
    }
    return out;
  }

  // =========================================================================================
  // Segments and files
  // =========================================================================================

  static String dataName(long base) {
    return String.format("%020d.seg", base);
  }

  static String indexName(long base) {
    return String.format("%020d.idx", base);
  }

  private static String describe(Segment s) {
    return "segment " + dataName(s.base);
  }

  /** A segment's extent, for messages about damage. */
  private String extent(Segment s) {
    return dataName(s.base) + " (messages " + s.base + ".." + s.lastSeq + ", " + s.end + " bytes"
        + (s.sealed ? ", sealed" : "") + (s.filledTo >= 0 ? ", filled to " + s.filledTo : "") + ")";
  }

  private Segment segmentOf(long seq) {
    Map.Entry<Long, Segment> e = segments.floorEntry(seq);
    return e == null || !e.getValue().holds(seq) ? null : e.getValue();
  }

  private Segment create(long base) {
    Segment s = new Segment(base);
    s.data = disk.open(dataName(base), true);
    s.index = disk.open(indexName(base), true);
    s.data.truncate(0);
    s.index.truncate(0);
    s.data.write(0, SegmentFormat.fileHeader(SegmentFormat.SEGMENT_MAGIC, base), 0, SegmentFormat.HEADER_BYTES);
    s.index.write(0, SegmentFormat.fileHeader(SegmentFormat.INDEX_MAGIC, base), 0, SegmentFormat.HEADER_BYTES);
    s.dirty = true;
    directoryDirty = true;
    segments.put(base, s);
    return s;
  }

  /** No more appends to the active segment: its footer goes after its records. */
  private void seal() {
    if (active == null) {
      return;
    }
    flush();
    Segment s = active;
    active = null;
    if (s.lastSeq < s.base) {
      close(s); // never written to: drop it
      segments.remove(s.base);
      disk.delete(dataName(s.base));
      disk.delete(indexName(s.base));
      directoryDirty = true;
      return;
    }
    sealFile(s);
  }

  private void sealFile(Segment s) {
    writeAt(s, true, s.end, SegmentFormat.footer(s.lastSeq, s.end));
    s.sealed = true;
    closeIfIdle(s);
  }

  private DiskFile dataFile(Segment s) {
    if (s.data == null) {
      s.data = disk.open(dataName(s.base), true);
      remember(s);
    }
    return s.data;
  }

  private DiskFile indexFile(Segment s) {
    if (s.index == null) {
      s.index = disk.open(indexName(s.base), true);
      remember(s);
    }
    return s.index;
  }

  /** Keeps at most {@link #OPEN_SEALED_MAX} sealed segments' files open. */
  private void remember(Segment s) {
    if (s == active) {
      return;
    }
    openSealed.put(s.base, s);
    if (openSealed.size() > OPEN_SEALED_MAX) {
      for (var it = openSealed.values().iterator(); it.hasNext() && openSealed.size() > OPEN_SEALED_MAX; ) {
        Segment old = it.next();
        if (old != s && !old.dirty && old.pins == 0) {
          it.remove();
          close(old);
        }
      }
    }
  }

  private void closeIfIdle(Segment s) {
    if (s.sealed && !s.dirty && s.pins == 0 && !openSealed.containsKey(s.base)) {
      close(s);
    }
  }

  private static void close(Segment s) {
    if (s.data != null) {
      s.data.close();
      s.data = null;
    }
    if (s.index != null) {
      s.index.close();
      s.index = null;
    }
  }

  private static long entryAt(Segment s, long seq) {
    return SegmentFormat.HEADER_BYTES + (seq - s.base) * SegmentFormat.ENTRY_BYTES;
  }

  /** Writes in place, in the file or in the batch not yet written out. */
  private void writeAt(Segment s, boolean data, long at, byte[] bytes) {
    if (s == active && pendingData.length > 0) {
      long pendingAt = data ? pendingDataAt : entryAt(s, pendingFirstSeq);
      Pending p = data ? pendingData : pendingIndex;
      if (at >= pendingAt && at + bytes.length <= pendingAt + p.length) {
        System.arraycopy(bytes, 0, p.bytes, (int) (at - pendingAt), bytes.length);
        return;
      }
      flush();
    }
    (data ? dataFile(s) : indexFile(s)).write(at, bytes, 0, bytes.length);
    if (!data && pageSegment == s.base) {
      pageSegment = -1;
    }
    s.dirty = true;
  }

  /** The index entry of {@code seq} in {@code s}, or null if it is missing or fails its checksum. */
  private SegmentFormat.IndexEntry indexEntry(Segment s, long seq) {
    if (!s.holds(seq)) {
      return null;
    }
    if (s == active && pendingData.length > 0 && seq >= pendingFirstSeq) {
      return SegmentFormat.readEntry(pendingIndex.bytes, (int) ((seq - pendingFirstSeq) * SegmentFormat.ENTRY_BYTES));
    }
    long n = seq - s.base;
    long pageNo = n / PAGE_ENTRIES;
    if (pageSegment != s.base || pageNumber != pageNo) {
      pageLength = indexFile(s).read(SegmentFormat.HEADER_BYTES + pageNo * PAGE_BYTES, page, 0, PAGE_BYTES);
      pageSegment = s.base;
      pageNumber = pageNo;
    }
    int at = (int) (n % PAGE_ENTRIES) * SegmentFormat.ENTRY_BYTES;
    return at + SegmentFormat.ENTRY_BYTES > pageLength ? null : SegmentFormat.readEntry(page, at);
  }

  private byte[] readRecordAt(Segment s, long offset, int length) {
    if (length < SegmentFormat.RECORD_HEADER_BYTES || length > options.segmentBytesMax()) {
      return null;
    }
    if (s == active && pendingData.length > 0 && offset >= pendingDataAt) {
      int from = (int) (offset - pendingDataAt);
      return from + length > pendingData.length ? null : Arrays.copyOfRange(pendingData.bytes, from, from + length);
    }
    byte[] r = new byte[length];
    return dataFile(s).read(offset, r, 0, length) == length ? r : null;
  }

  /**
   * Rebuilds the missing or damaged index entries of {@code s} from its records, walking them
   * from the start (an intact entry bridges a damaged record). Records that cannot be reached are
   * listed as damaged.
   */
  private void rebuildIndex(Segment s) {
    flush();
    DiskFile data = dataFile(s);
    long size = data.size();
    long at = SegmentFormat.HEADER_BYTES;
    int rebuilt = 0;
    for (long seq = s.base; seq <= s.lastSeq; seq++) {
      SegmentFormat.IndexEntry e = indexEntry(s, seq);
      byte[] r = null;
      if (at + 4 <= size) {
        byte[] len = new byte[4];
        data.read(at, len, 0, 4);
        int length = ByteBuffer.wrap(len).getInt();
        r = readRecordAt(s, at, length);
      }
      if (r != null && SegmentFormat.recordValid(r) && SegmentFormat.recordSeq(r) == seq) {
        if (e == null) {
          writeAt(s, false, entryAt(s, seq), SegmentFormat.entryOf(r, at));
          rebuilt++;
        }
        at += r.length;
      } else if (e != null && e.offset() == at) {
        damaged.add(seq);
        at += e.length();
      } else {
        damaged.add(seq, s.lastSeq);
        notes.add("messages " + seq + ".." + s.lastSeq + " of " + describe(s) + " cannot be found: index and records"
            + " damaged or missing from offset " + at);
        break;
      }
    }
    if (rebuilt > 0) {
      notes.add("rebuilt " + rebuilt + " index entries of " + describe(s) + " from its records");
    }
  }

  // =========================================================================================
  // Recovery
  // =========================================================================================

  private void recover(long syncedLastSeqOrUnknown) {
    boolean unknown = syncedLastSeqOrUnknown == SYNC_UNKNOWN;
    long syncedLastSeq = unknown ? Long.MAX_VALUE : syncedLastSeqOrUnknown;
    TreeMap<Long, boolean[]> found = new TreeMap<>(); // base → {has .seg, has .idx}
    for (String name : disk.list()) {
      if (name.endsWith(".seg") || name.endsWith(".idx")) {
        try {
          long base = Long.parseLong(name.substring(0, name.length() - 4));
          found.computeIfAbsent(base, b -> new boolean[2])[name.endsWith(".seg") ? 0 : 1] = true;
        } catch (NumberFormatException ignored) {
          notes.add("ignored a file that is not the store's: " + name);
        }
      }
    }
    for (var e : found.entrySet()) {
      long base = e.getKey();
      if (base > syncedLastSeq) {
        disk.delete(dataName(base));
        disk.delete(indexName(base));
        directoryDirty = true;
        continue;
      }
      Long nextBase = found.higherKey(base);
      long bound = nextBase != null && nextBase <= syncedLastSeq ? nextBase - 1 : unknown ? -1 : syncedLastSeq;
      load(base, e.getValue()[0], e.getValue()[1], syncedLastSeq, bound);
    }
    lastSeq = segments.isEmpty() ? 0 : segments.lastEntry().getValue().lastSeq;
    if (!unknown && lastSeq < syncedLastSeq) {
      // The newest synced messages are gone with their files: listed, to be fetched into a filler segment.
      if (!segments.isEmpty() || syncedLastSeq > 0) {
        notes.add("messages " + (lastSeq + 1) + ".." + syncedLastSeq + " were synced but their segment is missing");
      }
      damaged.add(lastSeq + 1, syncedLastSeq);
      lastSeq = syncedLastSeq;
    }
    for (long[] r : readDamage().ranges()) { // found by an earlier run, and not repaired before it stopped
      damaged.add(r[0], Math.min(r[1], lastSeq));
    }
    Segment last = segments.isEmpty() ? null : segments.lastEntry().getValue();
    active = last != null && !last.sealed && last.lastSeq == lastSeq ? last : null;
    if (last != null && !last.sealed && active == null) {
      sealFile(last);
    }
  }

  /** Loads one segment that holds sequences up to {@code bound} at most, cutting what lies beyond {@code synced}. */
  private void load(long base, boolean hasData, boolean hasIndex, long synced, long bound) {
    Segment s = new Segment(base);
    segments.put(base, s);
    s.data = disk.open(dataName(base), true);
    s.index = disk.open(indexName(base), true);
    if (!hasData || !hasIndex) {
      directoryDirty = true;
      notes.add((hasData ? indexName(base) : dataName(base)) + " is missing: rebuilt from what remains, the rest"
          + " to be repaired");
    }
    checkHeader(s, s.data, SegmentFormat.SEGMENT_MAGIC);
    checkHeader(s, s.index, SegmentFormat.INDEX_MAGIC);
    long dataSize = s.data.size();
    long[] footer = null;
    if (dataSize >= SegmentFormat.HEADER_BYTES + SegmentFormat.FOOTER_BYTES) {
      byte[] f = new byte[SegmentFormat.FOOTER_BYTES];
      s.data.read(dataSize - SegmentFormat.FOOTER_BYTES, f, 0, f.length);
      footer = SegmentFormat.readFooter(f);
      if (footer != null && (footer[1] != dataSize - SegmentFormat.FOOTER_BYTES || footer[0] < base - 1)) {
        footer = null;
      }
    }
    if (footer != null && footer[0] <= synced) {
      s.lastSeq = footer[0];
      s.end = footer[1];
      s.sealed = true;
      closeIfIdle(s);
      return;
    }
    // Unsealed (or sealed after the snapshot, or its footer damaged): the index says how far it goes.
    long entries = Math.max(0, (s.index.size() - SegmentFormat.HEADER_BYTES) / SegmentFormat.ENTRY_BYTES);
    boolean torn = bound < 0; // the sync point is unknown: what is not intact at the end is a torn write
    bound = torn ? base + entries - 1 : bound;
    s.lastSeq = Math.min(base + entries - 1, bound);
    while (s.lastSeq >= base && indexEntry(s, s.lastSeq) == null) {
      s.lastSeq--; // a torn or damaged last entry: rebuilt from the records below if they are there
    }
    while (torn && s.lastSeq >= base && !intact(s, s.lastSeq, dataSize)) {
      s.lastSeq--;
    }
    bound = torn ? s.lastSeq : bound;
    if (torn) {
      damaged.remove(s.lastSeq + 1, Long.MAX_VALUE); // past the end of a torn tail: not damage, not there
    }
    if (s.lastSeq < bound) {
      s.lastSeq = bound; // every sequence up to the bound belongs here; rebuild what the index lacks
      rebuildIndexTail(s);
    }
    SegmentFormat.IndexEntry last = indexEntry(s, s.lastSeq);
    s.end = last == null ? SegmentFormat.HEADER_BYTES : last.offset() + last.length();
    if (dataSize > s.end || footer != null) {
      s.data.truncate(s.end); // beyond the snapshot: unsynced, regenerated from the log
      s.dirty = true;
    }
    long indexEnd = entryAt(s, s.lastSeq + 1);
    if (s.index.size() > indexEnd) {
      s.index.truncate(indexEnd);
      s.dirty = true;
    }
    pageSegment = -1; // the cached page may hold what was cut
    if (dataSize < s.end) {
      markCut(s, dataSize);
    }
    long nextDamaged = damaged.nextPresent(base);
    boolean whole = nextDamaged == -1 || nextDamaged > s.lastSeq;
    if (s.lastSeq >= base && (s.lastSeq < bound || bound < synced) && whole) {
      sealFile(s); // not the last segment (its footer was lost), or what is missing after it gets a filler segment
    }
  }

  /** Whether the record of {@code seq} in {@code s} is all there and passes its checksum. */
  private boolean intact(Segment s, long seq, long dataSize) {
    SegmentFormat.IndexEntry e = indexEntry(s, seq);
    if (e == null || e.offset() + e.length() > dataSize) {
      return false;
    }
    byte[] r = readRecordAt(s, e.offset(), e.length());
    return r != null && SegmentFormat.recordValid(r) && SegmentFormat.recordSeq(r) == seq;
  }

  /**
   * The index of {@code s} ends before {@code s.lastSeq}: the entries it lacks are rebuilt from the
   * records, as far as they go; past that, the segment ends at its last entry found and the rest
   * is listed as damaged.
   */
  private void rebuildIndexTail(Segment s) {
    long bound = s.lastSeq;
    rebuildIndex(s);
    long last = damaged.contains(bound) ? damaged.previousAbsent(bound) : bound;
    if (last < bound && last >= s.base - 1) {
      s.lastSeq = Math.max(s.base - 1, last);
      while (s.lastSeq >= s.base && indexEntry(s, s.lastSeq) == null) {
        s.lastSeq--;
      }
    }
  }

  /** Records of {@code s} that end past {@code size}, the length its data file was found cut to, are damaged. */
  private void markCut(Segment s, long size) {
    long lo = s.base;
    long hi = s.lastSeq;
    while (lo < hi) { // the first record that does not fit: offsets grow with sequences
      long mid = (lo + hi) >>> 1;
      SegmentFormat.IndexEntry e = indexEntry(s, mid);
      if (e != null && e.offset() + e.length() <= size) {
        lo = mid + 1;
      } else {
        hi = mid;
      }
    }
    damaged.add(lo, s.lastSeq);
    notes.add(dataName(s.base) + " was cut at " + size + " bytes: messages " + lo + ".." + s.lastSeq
        + " are missing, to be repaired");
  }

  private void checkHeader(Segment s, DiskFile f, long magic) {
    byte[] h = new byte[SegmentFormat.HEADER_BYTES];
    int n = f.read(0, h, 0, h.length);
    if (n == h.length && SegmentFormat.headerValid(h, magic, s.base)) {
      return;
    }
    f.write(0, SegmentFormat.fileHeader(magic, s.base), 0, SegmentFormat.HEADER_BYTES);
    s.dirty = true;
    if (n > 0) {
      notes.add("the header of " + (magic == SegmentFormat.SEGMENT_MAGIC ? dataName(s.base) : indexName(s.base))
          + " was damaged; rebuilt from its name");
    }
  }
}
