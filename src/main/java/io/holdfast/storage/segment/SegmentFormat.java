package io.holdfast.storage.segment;

import io.holdfast.base.Check;
import io.holdfast.stream.Message;
import io.holdfast.stream.MessageStore;
import io.holdfast.stream.StreamCommand;
import java.nio.ByteBuffer;
import java.util.zip.CRC32C;

/**
 * The bytes of a stream's segment files, all checksummed with CRC32C (D5). Big-endian.
 *
 * <pre>
 * file header (both files), 32 bytes: u64 magic | u64 base seq | u64 0 | u32 0 | u32 crc of the 28 before
 * record (.seg):  u32 length | u32 crc of [8, length) | u64 seq | u64 prev seq of its subject |
 *                 u64 log index | u64 log term | u32 ordinal in its publish batch | u32 subject id |
 *                 u8 flags (1: erased) | message (subject, headers, payload, time: StreamCommand's layout)
 * footer (.seg, once sealed), 32 bytes: u64 magic | u64 last seq | u64 end of records | u32 0 | u32 crc
 * index entry (.idx, one per seq from the base), 40 bytes: i64 time | u32 record offset |
 *                 u32 record length | u32 size in limits | u32 subject id | i64 prev seq of its subject |
 *                 u32 flags | u32 crc of the 36 before
 * </pre>
 *
 * A record carries everything its index entry holds, so a damaged index is rebuilt from the
 * segment; an index entry carries a record's identity apart from the record, so a damaged record
 * keeps its place and facts until it is repaired from a peer (D6). The encoding is a function of
 * the committed message, so a record is the same bytes on every replica.
 */
public final class SegmentFormat {
  private SegmentFormat() {}

  static final long SEGMENT_MAGIC = 0x4846534547303031L; // "HFSEG001"
  static final long INDEX_MAGIC = 0x4846494458303031L; // "HFIDX001"
  static final long FOOTER_MAGIC = 0x4846534547454e44L; // "HFSEGEND"
  static final int HEADER_BYTES = 32;
  static final int FOOTER_BYTES = 32;
  public static final int RECORD_HEADER_BYTES = 49;
  static final int ENTRY_BYTES = 40;
  static final int FLAG_ERASED = 1;

  static int crc(byte[] b, int from, int length) {
    CRC32C c = new CRC32C();
    c.update(b, from, length);
    return (int) c.getValue();
  }

  static byte[] fileHeader(long magic, long base) {
    ByteBuffer b = ByteBuffer.allocate(HEADER_BYTES);
    b.putLong(magic).putLong(base).putLong(0).putInt(0);
    b.putInt(28, crc(b.array(), 0, 28));
    return b.array();
  }

  /** Whether {@code h} is an intact header of that kind for that base. */
  static boolean headerValid(byte[] h, long magic, long base) {
    ByteBuffer b = ByteBuffer.wrap(h);
    return h.length >= HEADER_BYTES && b.getLong(0) == magic && b.getLong(8) == base
        && b.getInt(28) == crc(h, 0, 28);
  }

  static byte[] footer(long lastSeq, long end) {
    ByteBuffer b = ByteBuffer.allocate(FOOTER_BYTES);
    b.putLong(FOOTER_MAGIC).putLong(lastSeq).putLong(end).putInt(0);
    b.putInt(28, crc(b.array(), 0, 28));
    return b.array();
  }

  /** The footer's {last seq, end of records}, or null if {@code f} is not an intact footer. */
  static long[] readFooter(byte[] f) {
    ByteBuffer b = ByteBuffer.wrap(f);
    if (f.length < FOOTER_BYTES || b.getLong(0) != FOOTER_MAGIC || b.getInt(28) != crc(f, 0, 28)) {
      return null;
    }
    return new long[] {b.getLong(8), b.getLong(16)};
  }

  /** A record, as {@link SegmentFormat} lays it out. */
  public static byte[] record(long seq, Message m, int subjectId, long prev, MessageStore.Location at) {
    byte[] r = new byte[recordBytes(m)];
    writeRecord(r, 0, r.length, seq, m, subjectId, prev, at);
    return r;
  }

  /** The length of {@code m}'s record. */
  static int recordBytes(Message m) {
    return RECORD_HEADER_BYTES + StreamCommand.messageBytes(m);
  }

  /** Writes {@code m}'s record ({@link #recordBytes} long) into {@code into} at {@code offset}. */
  static void writeRecord(byte[] into, int offset, int length, long seq, Message m, int subjectId, long prev,
      MessageStore.Location at) {
    ByteBuffer b = ByteBuffer.wrap(into, offset, length).slice();
    b.position(RECORD_HEADER_BYTES);
    StreamCommand.writeMessage(new StreamCommand.Writer(b), m);
    Check.that(b.position() == length, "record %d is %d bytes, not %d", seq, b.position(), length);
    b.putInt(0, length).putLong(8, seq).putLong(16, prev).putLong(24, at.index()).putLong(32, at.term())
        .putInt(40, at.ordinal()).putInt(44, subjectId).put(48, (byte) 0);
    b.putInt(4, crc(into, offset + 8, length - 8));
  }

  /** Whether {@code r} (exactly one record) is intact: its length field and checksum agree with its bytes. */
  public static boolean recordValid(byte[] r) {
    return recordValid(r, 0, r.length);
  }

  /** Whether {@code b[at, at + length)} is exactly one intact record. */
  static boolean recordValid(byte[] b, int at, int length) {
    if (length < RECORD_HEADER_BYTES) {
      return false;
    }
    ByteBuffer w = ByteBuffer.wrap(b);
    return w.getInt(at) == length && w.getInt(at + 4) == crc(b, at + 8, length - 8);
  }

  public static long recordSeq(byte[] r) {
    return recordSeq(r, 0);
  }

  static long recordSeq(byte[] b, int at) {
    return ByteBuffer.wrap(b).getLong(at + 8);
  }

  static long recordPrev(byte[] r) {
    return ByteBuffer.wrap(r).getLong(16);
  }

  static int recordSubjectId(byte[] r) {
    return ByteBuffer.wrap(r).getInt(44);
  }

  static boolean recordErased(byte[] r) {
    return (r[48] & FLAG_ERASED) != 0;
  }

  static MessageStore.Location recordLocation(byte[] r) {
    ByteBuffer b = ByteBuffer.wrap(r);
    return new MessageStore.Location(b.getLong(24), b.getLong(32), b.getInt(40));
  }

  static Message recordMessage(byte[] r) {
    return recordMessage(r, 0, r.length);
  }

  /** The message of the record at {@code b[at, at + length)}, read where it lies. */
  static Message recordMessage(byte[] b, int at, int length) {
    return StreamCommand.readMessage(ByteBuffer.wrap(b, at + RECORD_HEADER_BYTES, length - RECORD_HEADER_BYTES));
  }

  /** Zeros the payload of record {@code r} in place, marks it erased and seals its checksum again. */
  static void erase(byte[] r) {
    Message m = recordMessage(r);
    int payloadEnd = r.length - 8; // the time follows the payload
    int payloadAt = payloadEnd - m.payload().length;
    java.util.Arrays.fill(r, payloadAt, payloadEnd, (byte) 0);
    r[48] |= FLAG_ERASED;
    ByteBuffer.wrap(r).putInt(4, crc(r, 8, r.length - 8));
  }

  static byte[] entry(long timestamp, long offset, int length, long sizeBytes, int subjectId, long prev, int flags) {
    byte[] e = new byte[ENTRY_BYTES];
    writeEntry(e, 0, timestamp, offset, length, sizeBytes, subjectId, prev, flags);
    return e;
  }

  /** Writes an index entry ({@link #ENTRY_BYTES}) into {@code into} at {@code at}. */
  static void writeEntry(byte[] into, int at, long timestamp, long offset, int length, long sizeBytes, int subjectId,
      long prev, int flags) {
    ByteBuffer b = ByteBuffer.wrap(into, at, ENTRY_BYTES).slice();
    b.putLong(timestamp).putInt((int) offset).putInt(length).putInt((int) sizeBytes).putInt(subjectId).putLong(prev)
        .putInt(flags);
    b.putInt(36, crc(into, at, 36));
  }

  /** The index entry of a record found at {@code offset}. */
  static byte[] entryOf(byte[] r, long offset) {
    Message m = recordMessage(r);
    return entry(m.timestampMillis(), offset, r.length, m.sizeBytes(), recordSubjectId(r), recordPrev(r),
        recordErased(r) ? FLAG_ERASED : 0);
  }

  /** A decoded index entry: {@code offset} and {@code length} place its record in the segment. */
  record IndexEntry(long timestamp, long offset, int length, long sizeBytes, int subjectId, long prev, int flags) {
    MessageStore.Entry toEntry(long seq) {
      return new MessageStore.Entry(seq, timestamp, sizeBytes, subjectId, prev, (flags & FLAG_ERASED) != 0);
    }
  }

  /** The entry at {@code at} in {@code b}, or null if it fails its checksum. */
  static IndexEntry readEntry(byte[] b, int at) {
    if (at + ENTRY_BYTES > b.length || ByteBuffer.wrap(b).getInt(at + 36) != crc(b, at, 36)) {
      return null;
    }
    ByteBuffer e = ByteBuffer.wrap(b, at, ENTRY_BYTES);
    return new IndexEntry(e.getLong(), Integer.toUnsignedLong(e.getInt()), e.getInt(), Integer.toUnsignedLong(e.getInt()),
        e.getInt(), e.getLong(), e.getInt());
  }
}
