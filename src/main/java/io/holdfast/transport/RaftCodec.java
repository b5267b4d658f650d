package io.holdfast.transport;

import io.holdfast.raft.message.EntryType;
import io.holdfast.raft.message.LogEntry;
import io.holdfast.raft.message.Membership;
import io.holdfast.raft.message.RaftMessage;
import io.holdfast.raft.message.Snapshot;
import io.holdfast.raft.message.SnapshotMeta;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * Binary encoding of {@link PeerEnvelope}s: the group name, then one Raft message. Hand-written
 * because the pure core's message records may not carry serialization annotations, and because
 * append entries are the hot path: payload bytes are copied once, with no field names or type
 * tags per entry. Layout: {@code u16 groupLength, group (UTF-8), u8 type, i32 from, i32 to,
 * i64 term}, then the type's fields in declaration order (booleans as one byte; a log entry as
 * {@code i64 index, i64 term, u8 type, i32 length, bytes}; a snapshot as {@code i64 index, i64 term,
 * i32 membershipLength, membership, i32 length, bytes}; optional values behind a presence byte).
 */
final class RaftCodec {
  private RaftCodec() {}

  private static final byte REQUEST_VOTE = 1;
  private static final byte REQUEST_VOTE_RESULT = 2;
  private static final byte APPEND_ENTRIES = 3;
  private static final byte APPEND_ENTRIES_RESULT = 4;
  private static final byte HEARTBEAT = 5;
  private static final byte HEARTBEAT_RESULT = 6;
  private static final byte INSTALL_SNAPSHOT = 7;
  private static final byte TIMEOUT_NOW = 8;
  private static final byte REPAIR_REQUEST = 9;
  private static final byte REPAIR_RESULT = 10;
  private static final byte LEAVE = 11;

  static byte[] encode(PeerEnvelope envelope) {
    ByteBuffer b = ByteBuffer.allocate(encodedBytes(envelope));
    encode(envelope, b);
    return b.array();
  }

  static int encodedBytes(PeerEnvelope envelope) {
    return 2 + envelope.group().getBytes(StandardCharsets.UTF_8).length + 1 + 16 + bodyBytes(envelope.message());
  }

  /** Writes the envelope at {@code b}'s position (Artery's own buffer: no intermediate copy). */
  static void encode(PeerEnvelope envelope, ByteBuffer b) {
    RaftMessage m = envelope.message();
    byte[] group = envelope.group().getBytes(StandardCharsets.UTF_8);
    int expectedEnd = b.position() + 2 + group.length + 1 + 16 + bodyBytes(m);
    b.putShort((short) group.length).put(group).put(typeOf(m)).putInt(m.from()).putInt(m.to()).putLong(m.term());
    if (m instanceof RaftMessage.RequestVote v) {
      b.putLong(v.lastLogIndex()).putLong(v.lastLogTerm()).put(bool(v.preVote())).put(bool(v.transfer()));
    } else if (m instanceof RaftMessage.RequestVoteResult v) {
      b.put(bool(v.granted())).put(bool(v.preVote()));
    } else if (m instanceof RaftMessage.AppendEntries a) {
      b.putLong(a.prevLogIndex()).putLong(a.prevLogTerm()).putLong(a.leaderCommit()).putInt(a.entries().size());
      a.entries().forEach(e -> putEntry(b, e));
    } else if (m instanceof RaftMessage.AppendEntriesResult r) {
      b.put(bool(r.success())).putLong(r.matchIndex()).putLong(r.rejectedPrevIndex()).putLong(r.hintIndex())
          .putLong(r.hintTerm()).putLong(r.damagedFrom()).put(bool(r.snapshotNeeded()));
    } else if (m instanceof RaftMessage.Heartbeat h) {
      b.putLong(h.commit());
    } else if (m instanceof RaftMessage.HeartbeatResult h) {
      b.putLong(h.matchIndex());
    } else if (m instanceof RaftMessage.InstallSnapshot s) {
      putSnapshot(b, s.snapshot());
    } else if (m instanceof RaftMessage.RepairRequest r) {
      b.putLong(r.index()).putLong(r.entryTerm());
    } else if (m instanceof RaftMessage.Leave l) {
      b.put(bool(l.granted())).putInt(l.asker()).putLong(l.membershipIndex());
    } else if (m instanceof RaftMessage.RepairResult r) {
      b.putLong(r.index()).putLong(r.entryTerm()).put(bool(r.absent()));
      b.put(bool(r.entry() != null));
      if (r.entry() != null) {
        putEntry(b, r.entry());
      }
      b.put(bool(r.snapshot() != null));
      if (r.snapshot() != null) {
        putSnapshot(b, r.snapshot());
      }
    }
    if (b.position() != expectedEnd) {
      throw new IllegalStateException("encoded size mismatch for " + m.getClass().getSimpleName());
    }
  }

  static PeerEnvelope decode(byte[] bytes) {
    return decode(ByteBuffer.wrap(bytes));
  }

  /** Reads one envelope from {@code b}, which must hold exactly that. */
  static PeerEnvelope decode(ByteBuffer b) {
    byte[] group = new byte[b.getShort() & 0xffff];
    b.get(group);
    byte type = b.get();
    int from = b.getInt();
    int to = b.getInt();
    long term = b.getLong();
    RaftMessage m = switch (type) {
      case REQUEST_VOTE -> new RaftMessage.RequestVote(from, to, term, b.getLong(), b.getLong(), bool(b.get()), bool(b.get()));
      case REQUEST_VOTE_RESULT -> new RaftMessage.RequestVoteResult(from, to, term, bool(b.get()), bool(b.get()));
      case APPEND_ENTRIES -> {
        long prevIndex = b.getLong();
        long prevTerm = b.getLong();
        long commit = b.getLong();
        int count = b.getInt();
        List<LogEntry> entries = new ArrayList<>(count);
        for (int i = 0; i < count; i++) {
          entries.add(getEntry(b));
        }
        yield new RaftMessage.AppendEntries(from, to, term, prevIndex, prevTerm, entries, commit);
      }
      case APPEND_ENTRIES_RESULT -> new RaftMessage.AppendEntriesResult(from, to, term, bool(b.get()), b.getLong(),
          b.getLong(), b.getLong(), b.getLong(), b.getLong(), bool(b.get()));
      case HEARTBEAT -> new RaftMessage.Heartbeat(from, to, term, b.getLong());
      case HEARTBEAT_RESULT -> new RaftMessage.HeartbeatResult(from, to, term, b.getLong());
      case INSTALL_SNAPSHOT -> new RaftMessage.InstallSnapshot(from, to, term, getSnapshot(b));
      case TIMEOUT_NOW -> new RaftMessage.TimeoutNow(from, to, term);
      case REPAIR_REQUEST -> new RaftMessage.RepairRequest(from, to, term, b.getLong(), b.getLong());
      case LEAVE -> new RaftMessage.Leave(from, to, term, bool(b.get()), b.getInt(), b.getLong());
      case REPAIR_RESULT -> {
        long index = b.getLong();
        long entryTerm = b.getLong();
        boolean absent = bool(b.get());
        LogEntry entry = bool(b.get()) ? getEntry(b) : null;
        Snapshot snapshot = bool(b.get()) ? getSnapshot(b) : null;
        yield new RaftMessage.RepairResult(from, to, term, index, entryTerm, entry, snapshot, absent);
      }
      default -> throw new IllegalArgumentException("unknown Raft message type " + type);
    };
    if (b.hasRemaining()) {
      throw new IllegalArgumentException(b.remaining() + " trailing bytes after " + m.getClass().getSimpleName());
    }
    return new PeerEnvelope(new String(group, StandardCharsets.UTF_8), m);
  }

  private static int bodyBytes(RaftMessage m) {
    if (m instanceof RaftMessage.RequestVote) {
      return 18;
    } else if (m instanceof RaftMessage.RequestVoteResult) {
      return 2;
    } else if (m instanceof RaftMessage.Leave) {
      return 13;
    } else if (m instanceof RaftMessage.AppendEntries a) {
      int bytes = 28;
      for (LogEntry e : a.entries()) {
        bytes += entryBytes(e);
      }
      return bytes;
    } else if (m instanceof RaftMessage.AppendEntriesResult) {
      return 42;
    } else if (m instanceof RaftMessage.Heartbeat || m instanceof RaftMessage.HeartbeatResult) {
      return 8;
    } else if (m instanceof RaftMessage.InstallSnapshot s) {
      return snapshotBytes(s.snapshot());
    } else if (m instanceof RaftMessage.RepairRequest) {
      return 16;
    } else if (m instanceof RaftMessage.RepairResult r) {
      return 19 + (r.entry() == null ? 0 : entryBytes(r.entry())) + (r.snapshot() == null ? 0 : snapshotBytes(r.snapshot()));
    }
    return 0; // TimeoutNow
  }

  private static byte typeOf(RaftMessage m) {
    if (m instanceof RaftMessage.RequestVote) {
      return REQUEST_VOTE;
    } else if (m instanceof RaftMessage.RequestVoteResult) {
      return REQUEST_VOTE_RESULT;
    } else if (m instanceof RaftMessage.AppendEntries) {
      return APPEND_ENTRIES;
    } else if (m instanceof RaftMessage.AppendEntriesResult) {
      return APPEND_ENTRIES_RESULT;
    } else if (m instanceof RaftMessage.Heartbeat) {
      return HEARTBEAT;
    } else if (m instanceof RaftMessage.HeartbeatResult) {
      return HEARTBEAT_RESULT;
    } else if (m instanceof RaftMessage.InstallSnapshot) {
      return INSTALL_SNAPSHOT;
    } else if (m instanceof RaftMessage.TimeoutNow) {
      return TIMEOUT_NOW;
    } else if (m instanceof RaftMessage.RepairRequest) {
      return REPAIR_REQUEST;
    } else if (m instanceof RaftMessage.Leave) {
      return LEAVE;
    }
    return REPAIR_RESULT;
  }

  private static int entryBytes(LogEntry e) {
    return 21 + e.data().length;
  }

  private static void putEntry(ByteBuffer b, LogEntry e) {
    b.putLong(e.index()).putLong(e.term()).put(e.type().code).putInt(e.data().length).put(e.data());
  }

  private static LogEntry getEntry(ByteBuffer b) {
    long index = b.getLong();
    long term = b.getLong();
    EntryType type = EntryType.ofCode(b.get());
    byte[] data = new byte[b.getInt()];
    b.get(data);
    return new LogEntry(index, term, type, data);
  }

  private static int snapshotBytes(Snapshot s) {
    return 24 + s.meta().membership().encode().length + s.data().length;
  }

  private static void putSnapshot(ByteBuffer b, Snapshot s) {
    byte[] membership = s.meta().membership().encode();
    b.putLong(s.index()).putLong(s.term()).putInt(membership.length).put(membership).putInt(s.data().length).put(s.data());
  }

  private static Snapshot getSnapshot(ByteBuffer b) {
    long index = b.getLong();
    long term = b.getLong();
    byte[] membership = new byte[b.getInt()];
    b.get(membership);
    byte[] data = new byte[b.getInt()];
    b.get(data);
    return new Snapshot(new SnapshotMeta(index, term, Membership.decode(membership)), data);
  }

  private static byte bool(boolean v) {
    return (byte) (v ? 1 : 0);
  }

  private static boolean bool(byte v) {
    return v != 0;
  }
}
