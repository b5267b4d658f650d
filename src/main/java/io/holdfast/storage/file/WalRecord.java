package io.holdfast.storage.file;

import io.holdfast.raft.message.EntryType;
import io.holdfast.raft.message.HardState;
import io.holdfast.raft.message.LogEntry;
import io.holdfast.raft.message.Membership;
import io.holdfast.raft.message.SnapshotMeta;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.zip.CRC32C;

/**
 * One write-ahead-log record: one replica's write (or its term, vote and snapshot reference
 * written again so that an old WAL file can be deleted).
 *
 * <pre>
 *   u32 magic 'HFRC' | u8 flags | 3 pad | u32 headerLength | u32 bodyLength | u32 headerCrc
 *   header: u16 replicaLength, replica (UTF-8)
 *           [HARD_STATE] u64 term, i32 vote
 *           [SNAPSHOT]   u64 index, u64 term, u64 dataLength, u32 dataCrc, u32 membershipLength, membership
 *           [ENTRIES or REPAIR] u64 entriesFrom, u32 count, count × (u64 index, u64 term, u8 type, u32 dataLength)
 *   u32 bodyCrc | body: the entries' payloads, concatenated
 * </pre>
 *
 * The header checksum covers the fixed part and the header, the body checksum the body. Entry
 * identities (index, term) live in the header, apart from the payloads: a flipped bit in a payload
 * leaves the entry's identity known, so it can be marked faulty and repaired (D6) instead of
 * ending the log there.
 */
final class WalRecord {
  static final int MAGIC = 0x48465243; // "HFRC"
  static final int FIXED_BYTES = 20;
  static final int HARD_STATE = 1;
  static final int SNAPSHOT = 2;
  static final int ENTRIES = 4;
  /** The entries replace the payloads of stored entries with the same (index, term); nothing is truncated. */
  static final int REPAIR = 8;

  /** A snapshot as the log refers to it; its data lives in a snapshot file. */
  record SnapshotRef(SnapshotMeta meta, long dataLength, int dataCrc) {}

  /** A decoded record; {@code bodyValid} false means the payloads failed their checksum. */
  record Decoded(int flags, String replica, HardState hardState, SnapshotRef snapshot, long entriesFrom,
      List<LogEntry> entries, boolean bodyValid, int end) {}

  private WalRecord() {}

  static byte[] encode(String replica, int flags, HardState hs, SnapshotRef snap, long entriesFrom, List<LogEntry> entries) {
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
    if (bodyLength > Integer.MAX_VALUE - headerLength - FIXED_BYTES - 4) {
      throw new IllegalArgumentException("record too large: " + bodyLength + " bytes");
    }
    ByteBuffer b = ByteBuffer.allocate(FIXED_BYTES + headerLength + 4 + (int) bodyLength);
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
        b.putLong(e.index()).putLong(e.term()).put((byte) e.type().ordinal()).putInt(e.data().length);
      }
    }
    int bodyCrcAt = b.position();
    b.putInt(0);
    int bodyAt = b.position();
    if ((flags & (ENTRIES | REPAIR)) != 0) {
      for (LogEntry e : entries) {
        b.put(e.data());
      }
    }
    byte[] out = b.array();
    b.putInt(16, crc(out, 0, 16, out, FIXED_BYTES, headerLength));
    b.putInt(bodyCrcAt, crc(out, bodyAt, (int) bodyLength, null, 0, 0));
    return out;
  }

  /**
   * Decodes the record at {@code at}, or returns null if its fixed part or header is not intact
   * (bad magic, lengths past the end, header checksum mismatch): then nothing about it can be trusted.
   */
  static Decoded decode(byte[] buf, int at, int limit) {
    if (at + FIXED_BYTES + 4 > limit) {
      return null;
    }
    ByteBuffer b = ByteBuffer.wrap(buf, 0, limit);
    if (b.getInt(at) != MAGIC) {
      return null;
    }
    int flags = buf[at + 4] & 0xff;
    int headerLength = b.getInt(at + 8);
    int bodyLength = b.getInt(at + 12);
    int headerCrc = b.getInt(at + 16);
    if (headerLength < 2 || bodyLength < 0 || (long) at + FIXED_BYTES + headerLength + 4 + bodyLength > limit) {
      return null;
    }
    if (crc(buf, at, 16, buf, at + FIXED_BYTES, headerLength) != headerCrc) {
      return null;
    }
    try {
      return decodeTrusted(b, flags, at, headerLength, bodyLength);
    } catch (RuntimeException malformed) {
      return null; // a header that passed its checksum but does not parse: treat as not intact
    }
  }

  private static Decoded decodeTrusted(ByteBuffer b, int flags, int at, int headerLength, int bodyLength) {
    b.position(at + FIXED_BYTES);
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
    if (b.position() != at + FIXED_BYTES + headerLength) {
      throw new IllegalArgumentException("header length mismatch");
    }
    int bodyCrc = b.getInt();
    int bodyAt = b.position();
    byte[] buf = b.array();
    boolean bodyValid = crc(buf, bodyAt, bodyLength, null, 0, 0) == bodyCrc;
    List<LogEntry> entries = new ArrayList<>(index.length);
    int p = bodyAt;
    for (int i = 0; i < index.length; i++) {
      byte[] data = new byte[bodyValid ? length[i] : 0];
      if (bodyValid) {
        System.arraycopy(buf, p, data, 0, length[i]);
      }
      p += length[i];
      entries.add(new LogEntry(index[i], term[i], EntryType.values()[type[i]], data));
    }
    if (p != bodyAt + bodyLength) {
      throw new IllegalArgumentException("body length mismatch");
    }
    return new Decoded(flags, new String(name, StandardCharsets.UTF_8), hs, snap, entriesFrom, entries, bodyValid,
        bodyAt + bodyLength);
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
