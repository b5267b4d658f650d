package io.holdfast.stream;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.TreeMap;

/**
 * What a stream's Raft log carries, as plain records any front door (Java API, HTTP, NATS
 * protocol) can build. Encoded to bytes for the log: the Raft core never decodes them.
 */
public sealed interface StreamCommand {
  /** Every publish that reached the leader since its last proposal, in one entry (DESIGN.md §3). */
  record PublishBatch(List<Message> messages) implements StreamCommand {
    public PublishBatch {
      messages = List.copyOf(messages);
    }
  }

  /**
   * Atomic publishes that reached the leader together, in one entry: {@code messages} cut into
   * consecutive groups of {@code groups} sizes, each group all stored at consecutive sequences or
   * none of it (see {@link StreamState#apply}); one result per group.
   */
  record AtomicPublishes(List<Message> messages, List<Integer> groups) implements StreamCommand {
    public AtomicPublishes {
      messages = List.copyOf(messages);
      groups = List.copyOf(groups);
      if (groups.stream().mapToInt(Integer::intValue).sum() != messages.size()) {
        throw new IllegalArgumentException("groups " + groups + " do not add up to " + messages.size() + " messages");
      }
    }
  }

  /** The stream's limits change to {@code limits} (proposed by the leader when the meta group's config differs). */
  record UpdateConfig(StreamLimits limits) implements StreamCommand {}

  /**
   * Removes messages: those matching {@code subject} (a filter; null = all), below {@code upToSeq}
   * (0 = no bound), all but the newest {@code keep} of them (0 = keep none).
   */
  record Purge(String subject, long upToSeq, long keep) implements StreamCommand {}

  /**
   * Removes one message; with {@code erase}, every replica also overwrites the message's payload
   * where its own disk holds it (log records, and snapshots once a newer one replaces them).
   */
  record DeleteMessage(long seq, boolean erase) implements StreamCommand {
    public DeleteMessage(long seq) {
      this(seq, false);
    }
  }

  /** The leader's clock says {@code nowMillis}: messages older than max_age go. */
  record Expire(long nowMillis) implements StreamCommand {}

  byte PUBLISH_BATCH = 1;
  byte UPDATE_CONFIG = 2;
  byte PURGE = 3;
  byte DELETE_MESSAGE = 4;
  byte EXPIRE = 5;
  byte ERASE_MESSAGE = 6;
  byte ADD_CONSUMER = 7;
  byte DELETE_CONSUMER = 8;
  byte CONSUMER_BATCH = 9;
  /** {@link AtomicPublishes}: the layout of {@link #PUBLISH_BATCH}, then the group sizes. */
  byte PUBLISH_ATOMIC = 10;

  /** Creates a consumer (the same config again is a no-op); {@code nowMillis} is stamped by the leader. */
  record AddConsumer(ConsumerConfig config, long nowMillis) implements StreamCommand {}

  record DeleteConsumer(String name) implements StreamCommand {}

  /** Fetches and acks that reached the leader together, in order, at the leader's {@code nowMillis}. */
  record ConsumerBatch(long nowMillis, List<ConsumerOp> ops) implements StreamCommand {
    public ConsumerBatch {
      ops = List.copyOf(ops);
    }
  }

  /** What a subscriber asks of a consumer. */
  sealed interface ConsumerOp {}

  /**
   * Up to {@code max} messages and about {@code maxBytes} (at least one message): due redeliveries
   * first, then new ones, within max_ack_pending.
   */
  record Fetch(String consumer, int max, long maxBytes) implements ConsumerOp {
    public Fetch(String consumer, int max) {
      this(consumer, max, Long.MAX_VALUE);
    }
  }

  /** An acknowledgement of the message at stream sequence {@code seq}; {@code delayMillis} for a nak. */
  record Ack(String consumer, long seq, AckKind kind, long delayMillis) implements ConsumerOp {}

  /**
   * Plain acks ({@link AckKind#ACK}) of the {@code count} sequences from {@code from}: what that
   * many {@link Ack}s do, in one op of 1 + name + 12 bytes, with one outcome.
   */
  record AckRun(String consumer, long from, int count) implements ConsumerOp {}

  /** The op byte of an {@link AckRun} in a consumer batch (fetch is 0, the {@link AckKind}s 1 to 4). */
  byte ACK_RUN = 16;

  enum AckKind {
    /** Done with it ({@code ack_policy all}: with every earlier one too). */
    ACK(1),
    /** Not done: deliver it again after {@code delayMillis}. */
    NAK(2),
    /** Still working on it: the ack deadline starts again. */
    PROGRESS(3),
    /** Never deliver it again. */
    TERM(4);

    /**
     * The operation's byte in a consumer batch, fixed (never the ordinal): 0 is a fetch, so the
     * kinds start at 1.
     */
    final byte code;

    AckKind(int code) {
      this.code = (byte) code;
    }

    static AckKind ofCode(int code) {
      for (AckKind k : values()) {
        if (k.code == code) {
          return k;
        }
      }
      throw new IllegalArgumentException("unknown consumer operation code " + code);
    }
  }

  static byte[] encode(StreamCommand command) {
    Writer w = new Writer(capacity(command));
    if (command instanceof PublishBatch batch) {
      w.b.put(PUBLISH_BATCH);
      w.b.putInt(batch.messages().size());
      for (Message m : batch.messages()) {
        writeMessage(w, m);
      }
    } else if (command instanceof AtomicPublishes atomic) {
      w.b.put(PUBLISH_ATOMIC);
      w.b.putInt(atomic.messages().size());
      for (Message m : atomic.messages()) {
        writeMessage(w, m);
      }
      w.ensure(4 + 4 * atomic.groups().size());
      w.b.putInt(atomic.groups().size());
      atomic.groups().forEach(w.b::putInt);
    } else if (command instanceof UpdateConfig u) {
      byte[] limits = u.limits().encode();
      w.ensure(1 + limits.length);
      w.b.put(UPDATE_CONFIG).put(limits);
    } else if (command instanceof Purge p) {
      w.b.put(PURGE).put((byte) (p.subject() == null ? 0 : 1));
      if (p.subject() != null) {
        w.string(p.subject());
      }
      w.ensure(16);
      w.b.putLong(p.upToSeq()).putLong(p.keep());
    } else if (command instanceof DeleteMessage d) {
      w.b.put(d.erase() ? ERASE_MESSAGE : DELETE_MESSAGE).putLong(d.seq());
    } else if (command instanceof AddConsumer a) {
      w.b.put(ADD_CONSUMER).putLong(a.nowMillis());
      a.config().write(w);
    } else if (command instanceof DeleteConsumer d) {
      w.b.put(DELETE_CONSUMER);
      w.string(d.name());
    } else if (command instanceof ConsumerBatch batch) {
      w.b.put(CONSUMER_BATCH).putLong(batch.nowMillis()).putInt(batch.ops().size());
      for (ConsumerOp op : batch.ops()) {
        if (op instanceof Fetch f) {
          w.ensure(1);
          w.b.put((byte) 0);
          w.string(f.consumer());
          w.ensure(12);
          w.b.putInt(f.max()).putLong(f.maxBytes());
        } else if (op instanceof AckRun r) {
          w.ensure(1);
          w.b.put(ACK_RUN);
          w.string(r.consumer());
          w.ensure(12);
          w.b.putLong(r.from()).putInt(r.count());
        } else {
          Ack a = (Ack) op;
          w.ensure(1);
          w.b.put(a.kind().code);
          w.string(a.consumer());
          w.ensure(16);
          w.b.putLong(a.seq()).putLong(a.delayMillis());
        }
      }
    } else {
      w.b.put(EXPIRE).putLong(((Expire) command).nowMillis());
    }
    return w.bytes();
  }

  static StreamCommand decode(byte[] bytes) {
    ByteBuffer b = ByteBuffer.wrap(bytes);
    byte type = b.get();
    StreamCommand c;
    switch (type) {
      case PUBLISH_BATCH, PUBLISH_ATOMIC -> {
        int count = b.getInt();
        List<Message> messages = new ArrayList<>(count);
        for (int i = 0; i < count; i++) {
          messages.add(readMessage(b));
        }
        if (type == PUBLISH_ATOMIC) {
          List<Integer> groups = new ArrayList<>();
          for (int i = b.getInt(); i > 0; i--) {
            groups.add(b.getInt());
          }
          c = new AtomicPublishes(messages, groups);
        } else {
          c = new PublishBatch(messages);
        }
      }
      case UPDATE_CONFIG -> c = new UpdateConfig(StreamLimits.read(b));
      case PURGE -> {
        String subject = b.get() == 0 ? null : readString(b);
        c = new Purge(subject, b.getLong(), b.getLong());
      }
      case DELETE_MESSAGE -> c = new DeleteMessage(b.getLong(), false);
      case ERASE_MESSAGE -> c = new DeleteMessage(b.getLong(), true);
      case EXPIRE -> c = new Expire(b.getLong());
      case ADD_CONSUMER -> {
        long now = b.getLong();
        c = new AddConsumer(ConsumerConfig.read(b), now);
      }
      case DELETE_CONSUMER -> c = new DeleteConsumer(readString(b));
      case CONSUMER_BATCH -> {
        long now = b.getLong();
        int count = b.getInt();
        List<ConsumerOp> ops = new ArrayList<>(count);
        for (int i = 0; i < count; i++) {
          int kind = b.get();
          String consumer = readString(b);
          ops.add(kind == 0 ? new Fetch(consumer, b.getInt(), b.getLong())
              : kind == ACK_RUN ? new AckRun(consumer, b.getLong(), b.getInt())
              : new Ack(consumer, b.getLong(), AckKind.ofCode(kind), b.getLong()));
        }
        c = new ConsumerBatch(now, ops);
      }
      default -> throw new IllegalArgumentException("unknown stream command type " + type);
    }
    if (b.hasRemaining()) {
      throw new IllegalArgumentException(b.remaining() + " trailing bytes in a stream command");
    }
    return c;
  }

  /**
   * What {@link #encode} writes for a publish command, exactly (its buffer never grows: the
   * leader encodes every message it is sent); a small start for the other commands.
   */
  private static int capacity(StreamCommand command) {
    if (command instanceof PublishBatch batch) {
      return 1 + 4 + messagesBytes(batch.messages());
    }
    if (command instanceof AtomicPublishes atomic) {
      return 1 + 4 + messagesBytes(atomic.messages()) + 4 + 4 * atomic.groups().size();
    }
    return 256;
  }

  private static int messagesBytes(List<Message> messages) {
    int bytes = 0;
    for (Message m : messages) {
      bytes += messageBytes(m);
    }
    return bytes;
  }

  /**
   * Exactly what {@link #writeMessage} writes for {@code m}: a buffer of this size is filled
   * without growing (a publish was copied three or four times while its buffer doubled from 256
   * bytes, then once more to trim it: a sixth of the leader's allocation, JFR).
   */
  static int messageBytes(Message m) {
    int bytes = 2 + Utf8.length(m.subject()) + 2 + 4 + m.payload().length + 8;
    for (var h : m.headers().entrySet()) {
      bytes += 2 + Utf8.length(h.getKey()) + 2;
      for (String v : h.getValue()) {
        bytes += 2 + Utf8.length(v);
      }
    }
    return bytes;
  }

  /** Message layout: subject, u16 header names × (name, u16 values × value), u32 payload, payload, i64 time. */
  static void writeMessage(Writer w, Message m) {
    w.string(m.subject());
    w.ensure(2);
    w.b.putShort((short) m.headers().size());
    m.headers().forEach((name, values) -> {
      w.string(name);
      w.ensure(2);
      w.b.putShort((short) values.size());
      values.forEach(w::string);
    });
    w.ensure(4 + m.payload().length + 8);
    w.b.putInt(m.payload().length).put(m.payload()).putLong(m.timestampMillis());
  }

  static Message readMessage(ByteBuffer b) {
    String subject = readString(b);
    int names = b.getShort() & 0xffff;
    TreeMap<String, List<String>> headers = names == 0 ? null : new TreeMap<>();
    for (int i = 0; i < names; i++) {
      String name = readString(b);
      int count = b.getShort() & 0xffff;
      List<String> values = new ArrayList<>(count);
      for (int j = 0; j < count; j++) {
        values.add(readString(b));
      }
      headers.put(name, values);
    }
    byte[] payload = new byte[b.getInt()];
    b.get(payload);
    return new Message(subject, headers, payload, b.getLong());
  }

  /**
   * Where the payload of message {@code ordinal} lies in an encoded {@link PublishBatch} or {@link AtomicPublishes}: {offset,
   * length}, or null if {@code entry} is not a publish batch that long. Lets storage overwrite a
   * payload without knowing this format (erase, {@link DeleteMessage}).
   */
  static int[] payloadRegion(byte[] entry, int ordinal) {
    try {
      ByteBuffer b = ByteBuffer.wrap(entry);
      byte type = b.get();
      if ((type != PUBLISH_BATCH && type != PUBLISH_ATOMIC) || ordinal < 0 || ordinal >= b.getInt()) {
        return null;
      }
      for (int i = 0; ; i++) {
        skipString(b); // subject
        for (int names = b.getShort() & 0xffff; names > 0; names--) {
          skipString(b);
          for (int values = b.getShort() & 0xffff; values > 0; values--) {
            skipString(b);
          }
        }
        int length = b.getInt();
        if (i == ordinal) {
          return b.remaining() >= length ? new int[] {b.position(), length} : null;
        }
        b.position(b.position() + length + 8);
      }
    } catch (RuntimeException malformed) {
      return null;
    }
  }

  private static void skipString(ByteBuffer b) {
    int length = b.getShort() & 0xffff;
    b.position(b.position() + length);
  }

  /** A string as {@link Writer#string} wrote it. */
  static String readString(ByteBuffer b) {
    int length = b.getShort() & 0xffff;
    if (b.hasArray()) { // decoded in place, without a copy of its bytes first
      String s = new String(b.array(), b.arrayOffset() + b.position(), length, StandardCharsets.UTF_8);
      b.position(b.position() + length);
      return s;
    }
    byte[] s = new byte[length];
    b.get(s);
    return new String(s, StandardCharsets.UTF_8);
  }

  /**
   * Seals a state snapshot whose first 4 bytes were left for it: a CRC32C of the rest (D5).
   * Returns {@code bytes}.
   */
  static byte[] sealChecksum(byte[] bytes) {
    java.util.zip.CRC32C crc = new java.util.zip.CRC32C();
    crc.update(bytes, 4, bytes.length - 4);
    ByteBuffer.wrap(bytes).putInt(0, (int) crc.getValue());
    return bytes;
  }

  /** A sealed snapshot positioned after its checksum, or an exception naming {@code what} if it fails it. */
  static ByteBuffer openChecksummed(byte[] bytes, String what) {
    java.util.zip.CRC32C crc = new java.util.zip.CRC32C();
    crc.update(bytes, 4, bytes.length - 4);
    ByteBuffer b = ByteBuffer.wrap(bytes);
    if (b.getInt() != (int) crc.getValue()) {
      throw new IllegalArgumentException(what + " fails its checksum");
    }
    return b;
  }

  /** A growable big-endian buffer. */
  final class Writer {
    public ByteBuffer b;
    /** Writing into a buffer it was given (a transport's frame): that one is never replaced. */
    private final boolean fixed;

    /** A writer into a heap buffer it grows as needed; {@link #bytes} is what it wrote. */
    public Writer() {
      this(256);
    }

    /**
     * A writer into a heap buffer of {@code capacity} bytes, grown if needed; when exactly that
     * much is written, {@link #bytes} is that buffer's array, not a copy.
     */
    public Writer(int capacity) {
      this.b = ByteBuffer.allocate(capacity);
      this.fixed = false;
    }

    /** A writer into {@code into}, from its position; what does not fit throws {@link java.nio.BufferOverflowException}. */
    public Writer(ByteBuffer into) {
      this.b = into;
      this.fixed = true;
    }

    public void ensure(int more) {
      if (b.remaining() < more) {
        if (fixed) {
          throw new java.nio.BufferOverflowException();
        }
        ByteBuffer bigger = ByteBuffer.allocate(Math.max(b.capacity() * 2, b.position() + more));
        b.flip();
        bigger.put(b);
        b = bigger;
      }
    }

    public void string(String s) {
      int n = Utf8.length(s);
      if (n > 0xffff) {
        throw new IllegalArgumentException("string longer than 65535 bytes");
      }
      ensure(2 + n);
      b.putShort((short) n);
      if (b.hasArray()) { // straight into the buffer's array, with no byte[] between for ASCII
        Utf8.write(s, b.array(), b.arrayOffset() + b.position());
        b.position(b.position() + n);
      } else {
        b.put(s.getBytes(StandardCharsets.UTF_8));
      }
    }

    /** What was written: the buffer's own array if it is exactly full, else a copy of it. */
    public byte[] bytes() {
      return b.position() == b.capacity() && b.arrayOffset() == 0 ? b.array()
          : java.util.Arrays.copyOf(b.array(), b.position());
    }
  }
}
