package io.holdfast.transport;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.holdfast.raft.message.EntryType;
import io.holdfast.raft.message.LogEntry;
import io.holdfast.raft.message.Membership;
import io.holdfast.raft.message.RaftMessage;
import io.holdfast.raft.message.Snapshot;
import io.holdfast.raft.message.SnapshotMeta;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** Goal: every Raft message survives the wire byte for byte. Method: encode, decode, compare. */
class RaftCodecTest {
  private static final LogEntry E1 = new LogEntry(7, 3, EntryType.COMMAND, new byte[] {1, 2, 3});
  private static final LogEntry E2 = new LogEntry(8, 3, EntryType.MEMBERSHIP, Membership.ofVoters(1, 2).encode());
  private static final Snapshot SNAP = new Snapshot(new SnapshotMeta(6, 2, new Membership(
      new java.util.TreeSet<>(List.of(1, 2, 3)), new java.util.TreeSet<>(List.of(4)))), new byte[] {9, 9});

  @Test
  void everyMessageTypeRoundTrips() {
    List<RaftMessage> all = List.of(
        new RaftMessage.RequestVote(1, 2, 5, 10, 4, true, false),
        new RaftMessage.RequestVoteResult(2, 1, 5, true, true),
        new RaftMessage.AppendEntries(1, 2, 5, 6, 2, List.of(E1, E2), 6),
        new RaftMessage.AppendEntries(1, 2, 5, 6, 2, List.of(), 6),
        new RaftMessage.AppendEntriesResult(2, 1, 5, false, 0, 6, 5, 2, 4),
        new RaftMessage.AppendEntriesResult(2, 1, 5, false, 0, 0, 8, 2, 9, true),
        new RaftMessage.Heartbeat(1, 3, 5, 99),
        new RaftMessage.HeartbeatResult(3, 1, 5, 98),
        new RaftMessage.InstallSnapshot(1, 3, 5, SNAP),
        new RaftMessage.TimeoutNow(1, 2, 5),
        new RaftMessage.Leave(3, 1, 5, false, 3, 40),
        new RaftMessage.Leave(1, 3, 6, true, 3, 42),
        new RaftMessage.Leave(2, 1, 6, false, 3, 40),
        new RaftMessage.RepairRequest(1, 2, 5, 7, 3),
        new RaftMessage.RepairResult(2, 1, 5, 7, 3, E1, null, false),
        new RaftMessage.RepairResult(2, 1, 5, 7, 3, null, SNAP, false),
        new RaftMessage.RepairResult(2, 1, 5, 7, 3, null, null, true));
    for (RaftMessage m : all) {
      PeerEnvelope sent = new PeerEnvelope("orders-é", m);
      assertEquals(sent, RaftCodec.decode(RaftCodec.encode(sent)), m.getClass().getSimpleName());
    }
  }

  /**
   * A batch of Raft and store envelopes survives both of the serializer's paths: the byte array and
   * Artery's own buffer, which is little-endian (each envelope in it is read through a slice, and a
   * slice starts big-endian).
   */
  @Test
  void aBatchOfEnvelopesRoundTripsInOrderThroughEitherPath() {
    RaftMessageSerializer serializer = new RaftMessageSerializer(null);
    ReplicaHost.PeerBatch batch = new ReplicaHost.PeerBatch(List.of(
        new PeerEnvelope("orders", new RaftMessage.AppendEntries(1, 2, 5, 6, 2, List.of(E1, E2), 6)),
        new StoreEnvelope("orders", new io.holdfast.storage.StoreMessage.FetchRecords(2, 1, 7, 1, 100, 1 << 20)),
        new PeerEnvelope("payments", new RaftMessage.Heartbeat(1, 2, 9, 99))));
    String manifest = serializer.manifest(batch);
    assertEquals(batch, serializer.fromBinary(serializer.toBinary(batch), manifest));
    for (java.nio.ByteOrder order : List.of(java.nio.ByteOrder.BIG_ENDIAN, java.nio.ByteOrder.LITTLE_ENDIAN)) {
      java.nio.ByteBuffer buf = java.nio.ByteBuffer.allocate(4096).order(order);
      buf.position(17); // Artery writes its header first
      serializer.toBinary(batch, buf);
      buf.limit(buf.position()).position(17);
      assertEquals(batch, serializer.fromBinary(buf.slice().order(order), manifest), order.toString());
    }
  }

  /** Each message type keeps the code it was first sent with (a node of the previous version reads it). */
  @Test
  void everyMessageTypeKeepsItsCode() {
    Map<RaftMessage, Integer> pinned = new LinkedHashMap<>();
    pinned.put(new RaftMessage.RequestVote(1, 2, 5, 10, 4, true, false), 1);
    pinned.put(new RaftMessage.RequestVoteResult(2, 1, 5, true, true), 2);
    pinned.put(new RaftMessage.AppendEntries(1, 2, 5, 6, 2, List.of(E1), 6), 3);
    pinned.put(new RaftMessage.AppendEntriesResult(2, 1, 5, false, 0, 6, 5, 2, 4), 4);
    pinned.put(new RaftMessage.Heartbeat(1, 3, 5, 99), 5);
    pinned.put(new RaftMessage.HeartbeatResult(3, 1, 5, 98), 6);
    pinned.put(new RaftMessage.InstallSnapshot(1, 3, 5, SNAP), 7);
    pinned.put(new RaftMessage.TimeoutNow(1, 2, 5), 8);
    pinned.put(new RaftMessage.RepairRequest(1, 2, 5, 7, 3), 9);
    pinned.put(new RaftMessage.RepairResult(2, 1, 5, 7, 3, null, null, true), 10);
    pinned.put(new RaftMessage.Leave(3, 1, 5, false, 3, 40), 11);
    pinned.forEach((m, code) -> assertEquals(code.byteValue(), RaftCodec.encode(new PeerEnvelope("g", m))[3],
        m.getClass().getSimpleName())); // after u16 group length and the 1-byte group
  }
}
