package io.holdfast.transport;

import io.holdfast.storage.StoreMessage;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * Binary encoding of {@link StoreEnvelope}s: {@code u16 groupLength, group (UTF-8), u8 type, i32
 * from, i32 to, i64 request id}, then for a fetch {@code i64 from seq, i64 to seq, i64 bytes max},
 * for records {@code i64 from seq, i64 next, i32 missing ranges × (i64, i64), i32 records × (i32
 * length, bytes)}. Records are copied once; they carry their own checksums, verified by the taker.
 */
final class StoreCodec {
  private StoreCodec() {}

  private static final byte FETCH = 1;
  private static final byte RECORDS = 2;

  static int encodedBytes(StoreEnvelope e) {
    int bytes = 2 + e.group().getBytes(StandardCharsets.UTF_8).length + 1 + 16;
    if (e.message() instanceof StoreMessage.Records r) {
      bytes += 16 + 4 + 16 * r.missing().size() + 4;
      for (byte[] record : r.records()) {
        bytes += 4 + record.length;
      }
      return bytes;
    }
    return bytes + 24;
  }

  static byte[] encode(StoreEnvelope e) {
    ByteBuffer b = ByteBuffer.allocate(encodedBytes(e));
    encode(e, b);
    return b.array();
  }

  static void encode(StoreEnvelope e, ByteBuffer b) {
    byte[] group = e.group().getBytes(StandardCharsets.UTF_8);
    b.putShort((short) group.length).put(group);
    if (e.message() instanceof StoreMessage.FetchRecords f) {
      b.put(FETCH).putInt(f.from()).putInt(f.to()).putLong(f.requestId());
      b.putLong(f.fromSeq()).putLong(f.toSeq()).putLong(f.bytesMax());
      return;
    }
    StoreMessage.Records r = (StoreMessage.Records) e.message();
    b.put(RECORDS).putInt(r.from()).putInt(r.to()).putLong(r.requestId());
    b.putLong(r.fromSeq()).putLong(r.next()).putInt(r.missing().size());
    r.missing().forEach(m -> b.putLong(m[0]).putLong(m[1]));
    b.putInt(r.records().size());
    r.records().forEach(record -> b.putInt(record.length).put(record));
  }

  static StoreEnvelope decode(ByteBuffer b) {
    byte[] group = new byte[b.getShort() & 0xffff];
    b.get(group);
    byte type = b.get();
    int from = b.getInt();
    int to = b.getInt();
    long requestId = b.getLong();
    StoreMessage m;
    if (type == FETCH) {
      m = new StoreMessage.FetchRecords(from, to, requestId, b.getLong(), b.getLong(), b.getLong());
    } else if (type == RECORDS) {
      long fromSeq = b.getLong();
      long next = b.getLong();
      List<long[]> missing = new ArrayList<>();
      for (int n = b.getInt(); n > 0; n--) {
        missing.add(new long[] {b.getLong(), b.getLong()});
      }
      int count = b.getInt();
      List<byte[]> records = new ArrayList<>(count);
      for (int i = 0; i < count; i++) {
        byte[] record = new byte[b.getInt()];
        b.get(record);
        records.add(record);
      }
      m = new StoreMessage.Records(from, to, requestId, fromSeq, records, next, missing);
    } else {
      throw new IllegalArgumentException("unknown store message type " + type);
    }
    if (b.hasRemaining()) {
      throw new IllegalArgumentException(b.remaining() + " trailing bytes after a store message");
    }
    return new StoreEnvelope(new String(group, StandardCharsets.UTF_8), m);
  }
}
