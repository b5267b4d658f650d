package io.holdfast.storage.file;

import io.holdfast.raft.message.EntryType;
import io.holdfast.raft.message.HardState;
import io.holdfast.raft.message.LogEntry;
import io.holdfast.raft.message.Membership;
import io.holdfast.raft.message.SnapshotMeta;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.zip.CRC32C;

/**
 * One write-ahead-log record: one replica's write (or its term, vote and snapshot reference
 * written again so that an old WAL file can be deleted).
 *
 * <pre>
 *   fixed:   u32 magic 'HFRC' | u8 flags | 3 pad | u32 headerLength | u32 bodyLength | u32 headerCrc
 *   header:  u16 replicaLength, replica (UTF-8)
 *            [HARD_STATE] u64 term, i32 vote
 *            [SNAPSHOT]   u64 index, u64 term, u64 dataLength, u32 dataCrc, u32 membershipLength, membership
 *            [ENTRIES or REPAIR] u64 entriesFrom, u32 count, count × (u64 index, u64 term, u8 type, u32 dataLength)
 *   u32 bodyCrc | body: the entries' payloads, concatenated
 *   trailer: u32 bodyCrc | header (again) | fixed (again) | u32 recordLength | u32 magic 'HFRT'
 * </pre>
 *
 * The header checksum covers the fixed part and the header, the body checksum the body. Entry
 * identities (index, term) live in the header, apart from the payloads: a flipped bit in a payload
 * leaves the entry's identity known, so it can be marked faulty and repaired (D6) instead of
 * ending the log there. The trailer holds a second copy of everything but the payloads, found
 * from the record's end: a flipped bit in the header (or its lengths, or its magic) is read
 * around through the copy, so the record stays attributable to its replica and entries. Only
 * damage to both copies leaves a record that cannot be attributed. The copy costs
 * {@code 2 × (24 + headerLength) + 8} bytes per record, about 21 bytes per entry.
 */
final class WalRecord {
  static final int MAGIC = 0x48465243; // "HFRC"
  static final int TRAILER_MAGIC = 0x48465254; // "HFRT"
  static final int FIXED_BYTES = 20;
  /** The trailer's end: u32 recordLength, u32 magic. */
  private static final int TRAILER_END_BYTES = 8;
  static final int HARD_STATE = 1;
  static final int SNAPSHOT = 2;
  static final int ENTRIES = 4;
  /** The entries replace the payloads of stored entries with the same (index, term); nothing is truncated. */
  static final int REPAIR = 8;
  /** The replica is gone from this node (its stream deleted, or it retired): forget everything before. */
  static final int FORGET = 16;

  /** A snapshot as the log refers to it; its data lives in a snapshot file. */
  record SnapshotRef(SnapshotMeta meta, long dataLength, int dataCrc) {}

  /**
   * A decoded record; {@code bodyValid} false means the payloads failed their checksum.
   * {@code fromCopy}: the header at the record's start was damaged and the trailer's copy was read.
   * The body runs from {@code bodyAt}; its checksum is stored just before it and just after it.
   */
  record Decoded(int flags, String replica, HardState hardState, SnapshotRef snapshot, long entriesFrom,
      List<LogEntry> entries, boolean bodyValid, int bodyAt, int end, boolean fromCopy) {}

  private WalRecord() {}

  static byte[] encode(String replica, int flags, HardState hs, SnapshotRef snap, long entriesFrom, List<LogEntry> entries) {
    return appendTo(ByteBuffer.allocate(0), replica, flags, hs, snap, entriesFrom, entries).array();
  }

  /**
   * Writes the record at {@code out}'s position and returns the buffer holding everything
   * {@code out} held before it, and the record: {@code out} itself, or, if the record does not
   * fit, a larger buffer of the same kind (heap or direct; at least twice the size) with
   * {@code out}'s contents copied over. The payloads are copied once, straight from the entries:
   * the WAL's batch is a direct buffer, so a write reaches the file with no copy in between.
   */
  static ByteBuffer appendTo(ByteBuffer out, String replica, int flags, HardState hs, SnapshotRef snap,
      long entriesFrom, List<LogEntry> entries) {
    byte[] name = replica.getBytes(StandardCharsets.UTF_8);
    byte[] membership = snap == null ? null : snap.meta().membership().encode();
    int headerLength = 2 + name.length;
    if ((flags & HARD_STATE) != 0) {
      headerLength += 12;
    }
    if ((flags & SNAPSHOT) != 0) {
      headerLength += 32 + membership.length;
    }
    long bodyLength = 0;
    if ((flags & (ENTRIES | REPAIR)) != 0) {
      headerLength += 12 + 21 * entries.size();
      for (LogEntry e : entries) {
        bodyLength += e.data().length;
      }
    }
    if (bodyLength > Integer.MAX_VALUE - 2L * (headerLength + FIXED_BYTES + 4) - TRAILER_END_BYTES) {
      throw new IllegalArgumentException("record too large: " + bodyLength + " bytes");
    }
    int length = 2 * (FIXED_BYTES + headerLength + 4) + (int) bodyLength + TRAILER_END_BYTES;
    ByteBuffer b = out;
    if (b.remaining() < length) {
      int capacity = (int) Math.min(Integer.MAX_VALUE - 8, Math.max(2L * b.capacity(), (long) b.position() + length));
      b = b.isDirect() ? ByteBuffer.allocateDirect(capacity) : ByteBuffer.allocate(capacity);
      b.put(out.flip());
    }
    int at = b.position();
    b.putInt(MAGIC).put((byte) flags).put((byte) 0).put((byte) 0).put((byte) 0);
    b.putInt(headerLength).putInt((int) bodyLength).putInt(0);
    b.putShort((short) name.length).put(name);
    if ((flags & HARD_STATE) != 0) {
      b.putLong(hs.term()).putInt(hs.votedFor());
    }
    if ((flags & SNAPSHOT) != 0) {
      b.putLong(snap.meta().index()).putLong(snap.meta().term()).putLong(snap.dataLength()).putInt(snap.dataCrc());
      b.putInt(membership.length).put(membership);
    }
    if ((flags & (ENTRIES | REPAIR)) != 0) {
      b.putLong(entriesFrom).putInt(entries.size());
      for (LogEntry e : entries) {
        b.putLong(e.index()).putLong(e.term()).put(e.type().code).putInt(e.data().length);
      }
    }
    int bodyCrcAt = b.position();
    b.putInt(0);
    CRC32C bodyCrc = new CRC32C();
    if ((flags & (ENTRIES | REPAIR)) != 0) {
      for (LogEntry e : entries) {
        b.put(e.data());
        bodyCrc.update(e.data());
      }
    }
    CRC32C headerCrc = new CRC32C();
    headerCrc.update(b.slice(at, 16));
    headerCrc.update(b.slice(at + FIXED_BYTES, headerLength));
    b.putInt(at + 16, (int) headerCrc.getValue());
    b.putInt(bodyCrcAt, (int) bodyCrc.getValue());
    b.putInt((int) bodyCrc.getValue());
    b.put(b.position(), b, at + FIXED_BYTES, headerLength).position(b.position() + headerLength);
    b.put(b.position(), b, at, FIXED_BYTES).position(b.position() + FIXED_BYTES);
    b.putInt(length).putInt(TRAILER_MAGIC);
    assert b.position() == at + length;
    return b;
  }

  /**
   * Decodes the record at {@code at}: from its header, or, if that is not intact, from the copy in
   * its trailer (found by searching forward for a trailer whose record length leads back to
   * {@code at}). Returns null if neither copy is intact or the record does not end by
   * {@code limit} (a torn write, or damage to both copies): then nothing about it can be trusted.
   */
  static Decoded decode(byte[] buf, int at, int limit) {
    if (at + FIXED_BYTES + 4 > limit) {
      return null;
    }
    Decoded d = decodeAt(buf, at, at, limit, false);
    if (d != null) {
      return d;
    }
    ByteBuffer b = ByteBuffer.wrap(buf, 0, limit);
    for (int end = at + 2 * (FIXED_BYTES + 2 + 4) + TRAILER_END_BYTES; end <= limit; end++) {
      if (b.getInt(end - 4) == TRAILER_MAGIC && b.getInt(end - 8) == end - at) {
        d = decodeAt(buf, at, end - TRAILER_END_BYTES - FIXED_BYTES, limit, true);
        if (d != null && d.end() == end) {
          return d;
        }
      }
    }
    return null;
  }

  /**
   * Decodes the record starting at {@code at} from the fixed part at {@code fixedAt} (which is
   * {@code at}, or the trailer's copy, followed there by the header, or preceded by it).
   */
  private static Decoded decodeAt(byte[] buf, int at, int fixedAt, int limit, boolean copy) {
    if (fixedAt < at || fixedAt + FIXED_BYTES > limit) {
      return null;
    }
    ByteBuffer b = ByteBuffer.wrap(buf, 0, limit);
    if (b.getInt(fixedAt) != MAGIC) {
      return null;
    }
    int flags = buf[fixedAt + 4] & 0xff;
    int headerLength = b.getInt(fixedAt + 8);
    int bodyLength = b.getInt(fixedAt + 12);
    int headerCrc = b.getInt(fixedAt + 16);
    long length = 2L * (FIXED_BYTES + headerLength + 4) + bodyLength + TRAILER_END_BYTES;
    if (headerLength < 2 || bodyLength < 0 || at + length > limit) {
      return null;
    }
    int headerAt = copy ? fixedAt - headerLength : fixedAt + FIXED_BYTES;
    if (headerAt < at || crc(buf, fixedAt, 16, buf, headerAt, headerLength) != headerCrc) {
      return null;
    }
    int bodyAt = at + FIXED_BYTES + headerLength + 4;
    int bodyCrc = b.getInt(bodyAt - 4);
    int bodyCrcCopy = b.getInt(bodyAt + bodyLength);
    int actual = crc(buf, bodyAt, bodyLength, null, 0, 0);
    try {
      return decodeTrusted(b, flags, headerAt, headerLength, bodyAt, bodyLength,
          actual == bodyCrc || actual == bodyCrcCopy, (int) (at + length), copy);
    } catch (RuntimeException malformed) {
      return null; // a header that passed its checksum but does not parse: treat as not intact
    }
  }

  private static Decoded decodeTrusted(ByteBuffer b, int flags, int headerAt, int headerLength, int bodyAt,
      int bodyLength, boolean bodyValid, int end, boolean copy) {
    b.position(headerAt);
    byte[] name = new byte[b.getShort() & 0xffff];
    b.get(name);
    HardState hs = null;
    if ((flags & HARD_STATE) != 0) {
      hs = new HardState(b.getLong(), b.getInt());
    }
    SnapshotRef snap = null;
    if ((flags & SNAPSHOT) != 0) {
      long index = b.getLong();
      long term = b.getLong();
      long dataLength = b.getLong();
      int dataCrc = b.getInt();
      byte[] membership = new byte[b.getInt()];
      b.get(membership);
      snap = new SnapshotRef(new SnapshotMeta(index, term, Membership.decode(membership)), dataLength, dataCrc);
    }
    long entriesFrom = 0;
    long[] index = new long[0];
    long[] term = new long[0];
    int[] type = new int[0];
    int[] length = new int[0];
    if ((flags & (ENTRIES | REPAIR)) != 0) {
      entriesFrom = b.getLong();
      int count = b.getInt();
      index = new long[count];
      term = new long[count];
      type = new int[count];
      length = new int[count];
      for (int i = 0; i < count; i++) {
        index[i] = b.getLong();
        term[i] = b.getLong();
        type[i] = b.get();
        length[i] = b.getInt();
      }
    }
    if (b.position() != headerAt + headerLength) {
      throw new IllegalArgumentException("header length mismatch");
    }
    byte[] buf = b.array();
    List<LogEntry> entries = new ArrayList<>(index.length);
    int p = bodyAt;
    for (int i = 0; i < index.length; i++) {
      byte[] data = new byte[bodyValid ? length[i] : 0];
      if (bodyValid) {
        System.arraycopy(buf, p, data, 0, length[i]);
      }
      p += length[i];
      entries.add(new LogEntry(index[i], term[i], EntryType.ofCode(type[i]), data));
    }
    if (p != bodyAt + bodyLength) {
      throw new IllegalArgumentException("body length mismatch");
    }
    return new Decoded(flags, new String(name, StandardCharsets.UTF_8), hs, snap, entriesFrom, entries, bodyValid,
        bodyAt, end, copy);
  }

  /**
   * Whether the record's two header copies, its trailer's end and (when the body is intact) its two
   * body checksums all agree; if not, {@link #heal} rewrites the damaged parts.
   */
  static boolean copiesAgree(byte[] buf, int at, Decoded d) {
    int headerLength = headerLength(at, d);
    int copyAt = bodyEnd(at, d);
    ByteBuffer b = ByteBuffer.wrap(buf);
    return !d.fromCopy()
        && Arrays.equals(buf, at, at + FIXED_BYTES, buf, d.end() - TRAILER_END_BYTES - FIXED_BYTES,
            d.end() - TRAILER_END_BYTES)
        && Arrays.equals(buf, at + FIXED_BYTES, d.bodyAt() - 4, buf, copyAt + 4, copyAt + 4 + headerLength)
        && b.getInt(d.end() - 8) == d.end() - at && b.getInt(d.end() - 4) == TRAILER_MAGIC
        && (!d.bodyValid() || b.getInt(d.bodyAt() - 4) == b.getInt(copyAt));
  }

  /**
   * Rewrites, in {@code buf}, the damaged copy of the record's header from the intact one, and both
   * body checksums when the body is intact. The caller writes the ranges {@code [at, bodyAt)} and
   * {@code [bodyEnd, end)} back to the file; the payloads are not touched.
   */
  static void heal(byte[] buf, int at, Decoded d) {
    int headerLength = headerLength(at, d);
    int bodyEnd = bodyEnd(at, d);
    int fixedCopyAt = d.end() - TRAILER_END_BYTES - FIXED_BYTES;
    ByteBuffer b = ByteBuffer.wrap(buf);
    if (d.fromCopy()) {
      System.arraycopy(buf, fixedCopyAt, buf, at, FIXED_BYTES);
      System.arraycopy(buf, bodyEnd + 4, buf, at + FIXED_BYTES, headerLength);
    } else {
      System.arraycopy(buf, at, buf, fixedCopyAt, FIXED_BYTES);
      System.arraycopy(buf, at + FIXED_BYTES, buf, bodyEnd + 4, headerLength);
      b.putInt(d.end() - 8, d.end() - at).putInt(d.end() - 4, TRAILER_MAGIC);
    }
    if (d.bodyValid()) {
      int c = crc(buf, d.bodyAt(), bodyEnd - d.bodyAt(), null, 0, 0);
      b.putInt(d.bodyAt() - 4, c).putInt(bodyEnd, c);
    }
  }

  /** Where the record's body ends (and the trailer, starting with the body checksum's copy, begins). */
  static int bodyEnd(int at, Decoded d) {
    return d.end() - TRAILER_END_BYTES - FIXED_BYTES - headerLength(at, d) - 4;
  }

  private static int headerLength(int at, Decoded d) {
    return d.bodyAt() - at - FIXED_BYTES - 4;
  }

  static int crc(byte[] a, int aAt, int aLength, byte[] b, int bAt, int bLength) {
    CRC32C crc = new CRC32C();
    crc.update(a, aAt, aLength);
    if (b != null) {
      crc.update(b, bAt, bLength);
    }
    return (int) crc.getValue();
  }
}
