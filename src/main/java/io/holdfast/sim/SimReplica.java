package io.holdfast.sim;

import io.holdfast.raft.PersistRequest;
import io.holdfast.raft.RaftCore;
import io.holdfast.raft.message.Snapshot;
import io.holdfast.storage.LogWrite;
import io.holdfast.storage.sim.SimLogStore;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.TreeMap;

/**
 * One simulated replica: its disk (which outlives crashes), its core (null while down), and a
 * tiny state machine that records, per applied command entry, (log index, value). Snapshots of
 * the state machine are those pairs, so every replica's applied history can be compared.
 */
final class SimReplica {
  /** A client's proposal accepted by this replica as leader, waiting to be applied. */
  record Proposal(int client, long value, long index, long term, long proposedAt) {}

  /** The simulated node hosts one replica, stored under this name. */
  static final String REPLICA = "sim";

  /** Which simulated machine this is: fixed for the run. */
  final int slot;
  /**
   * The Raft replica id of the current incarnation: slot, slot + n, slot + 2n, ... A wiped disk
   * comes back as a new member with a new id (D9), never under the old one.
   */
  int id;
  SimLogStore disk;
  /** Persist requests written to the disk and not yet reported durable, oldest first (safe mode). */
  final ArrayDeque<PersistRequest> inFlight = new ArrayDeque<>();
  /** Incremented by every crash, so disk completions scheduled before it are ignored. */
  int epoch;
  RaftCore core;
  boolean paused;
  long pausedUntil;
  long restartAt = -1;
  boolean dirty;
  /** Sync in flight (safe mode) or lazy sync scheduled (lying modes). */
  boolean syncScheduled;
  final ArrayList<Simulation.Event> deferred = new ArrayList<>();
  final TreeMap<Long, Proposal> proposals = new TreeMap<>();

  private long[] smIndex = new long[1024];
  private long[] smValue = new long[1024];
  private int smCount;
  long smApplied;

  /** A new node: its disk holds the group's initial snapshot (bootstrap), synced. */
  SimReplica(int id, Snapshot initial) {
    this.slot = id;
    this.id = id;
    this.disk = new SimLogStore("sim-node-" + id);
    disk.write(REPLICA, new LogWrite(null, initial, 0, java.util.List.of()));
    disk.sync();
  }

  /**
   * The disk is damaged beyond attribution (a synced tail cut off, a lost write, a damaged record
   * header): the store refuses to open, the operator wipes it, and the machine comes back as a new,
   * empty member that the group must add (learner, then voter).
   */
  void wipe(int replicas) {
    id += replicas;
    disk = new SimLogStore("sim-node-" + slot + "-as-" + id);
    smCount = 0;
    smApplied = 0;
  }

  static LogWrite toWrite(PersistRequest p) {
    return new LogWrite(p.hardState(), p.snapshot(), p.entriesFrom(), p.entries(), p.repaired());
  }

  boolean up() {
    return core != null;
  }

  boolean running() {
    return core != null && !paused;
  }

  void applyValue(long index, long value) {
    if (smCount == smIndex.length) {
      smIndex = Arrays.copyOf(smIndex, smCount * 2);
      smValue = Arrays.copyOf(smValue, smCount * 2);
    }
    smIndex[smCount] = index;
    smValue[smCount] = value;
    smCount++;
  }

  int valueCount() {
    return smCount;
  }

  long indexAt(int i) {
    return smIndex[i];
  }

  long valueAt(int i) {
    return smValue[i];
  }

  /** Marks every snapshot this state machine writes, so that a snapshot whose data is gone is recognisable. */
  private static final long SNAPSHOT_MAGIC = 0x53494d534e415031L; // "SIMSNAP1"

  /** Encodes the (index, value) pairs applied so far, after an 8-byte marker. */
  byte[] encodeState() {
    byte[] out = new byte[8 + smCount * 16];
    putLong(out, 0, SNAPSHOT_MAGIC);
    for (int i = 0; i < smCount; i++) {
      putLong(out, 8 + i * 16, smIndex[i]);
      putLong(out, 8 + i * 16 + 8, smValue[i]);
    }
    return out;
  }

  /** A snapshot past the initial one whose data does not carry the marker: damaged, never to be used. */
  static boolean damaged(Snapshot snapshot) {
    return snapshot.index() > 0 && (snapshot.data().length < 8 || getLong(snapshot.data(), 0) != SNAPSHOT_MAGIC);
  }

  void restoreState(Snapshot snapshot) {
    byte[] data = snapshot.data();
    smCount = 0;
    for (int at = 8; at < data.length; at += 16) {
      applyValue(getLong(data, at), getLong(data, at + 8));
    }
    smApplied = snapshot.index();
  }

  static long getLong(byte[] b, int at) {
    long v = 0;
    for (int i = 0; i < 8; i++) {
      v = (v << 8) | (b[at + i] & 0xffL);
    }
    return v;
  }

  static void putLong(byte[] b, int at, long v) {
    for (int i = 7; i >= 0; i--) {
      b[at + i] = (byte) v;
      v >>>= 8;
    }
  }
}
