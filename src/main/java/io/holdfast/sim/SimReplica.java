package io.holdfast.sim;

import io.holdfast.raft.message.Snapshot;
import io.holdfast.replica.ReplicaDriver;
import io.holdfast.replica.StreamMachine;
import io.holdfast.storage.LogWrite;
import io.holdfast.storage.sim.SimDisk;
import io.holdfast.storage.sim.SimLogStore;
import java.util.ArrayDeque;
import java.util.ArrayList;

/**
 * One simulated machine: its disks (which outlive crashes) — the node's log ({@link SimLogStore})
 * and the stream replica's segment files ({@link SimDisk}) — and, while it runs, the production
 * {@link ReplicaDriver} with its {@link StreamMachine} on those disks.
 */
final class SimReplica {
  /** A client's request to the replica it believes leads: a publish of {@code value}, or a consumer operation. */
  record Request(int client, long value, long proposedAt, String kind) {}

  /** The simulated node hosts one replica, stored under this name. */
  static final String REPLICA = "sim";
  /** Stands for the bootstrap write in {@link #inFlight} (it has no persist request to report). */
  static final Object BOOTSTRAP = new Object();

  /** Which simulated machine this is: fixed for the run. */
  final int slot;
  /**
   * The Raft replica id of the current incarnation: slot, slot + n, slot + 2n, ... A wiped disk
   * comes back as a new member with a new id (D9), never under the old one.
   */
  int id;
  SimLogStore disk;
  SimDisk storeDisk;
  ReplicaDriver<Request> driver;
  StreamMachine machine;
  /** Persist requests (or {@link #BOOTSTRAP}) written to the log disk and not yet reported durable, oldest first. */
  final ArrayDeque<Object> inFlight = new ArrayDeque<>();
  /** Incremented by every crash, so disk completions scheduled before it are ignored. */
  int epoch;
  boolean paused;
  /** Holds its node's catch-up permit ({@code ReplicaDriver.Host.startCatchUp}). */
  boolean catchingUp;
  /** Its core wanted a snapshot past its applied state when last observed. */
  boolean snapshotNeeded;
  long pausedUntil;
  /** Its disk is nearly full until this tick (Fault.DISK_LOW). */
  long lowDiskUntil;
  long restartAt = -1;
  /** Sync in flight (safe mode) or lazy sync scheduled (lying modes). */
  boolean syncScheduled;
  /** The replica failed (its store lost what it could not rebuild): it stays down. */
  String failed;
  /** Retired from the group (the membership fault removed it): it comes back as a new member. */
  boolean retired;
  /** Its store was damaged while down, and the damage may not all be found yet (one store damaged at a time). */
  boolean storeDamagePending;
  /** Scrub rounds its driver had finished when it restarted: a full round after that finds latent damage. */
  long scrubRoundsAtRestart;
  final ArrayList<Simulation.Event> deferred = new ArrayList<>();

  /** A new machine: its log disk holds the group's initial snapshot (bootstrap), synced. */
  SimReplica(int id, Snapshot initial) {
    this.slot = id;
    this.id = id;
    this.disk = new SimLogStore("sim-node-" + id);
    this.storeDisk = new SimDisk();
    disk.write(REPLICA, new LogWrite(null, initial, 0, java.util.List.of()));
    disk.sync();
  }

  /**
   * The disk is damaged beyond attribution, or the replica was removed: the operator wipes it,
   * and the machine comes back as a new, empty member that the group must add (learner, then voter).
   */
  void wipe(int replicas) {
    id += replicas;
    disk = new SimLogStore("sim-node-" + slot + "-as-" + id);
    storeDisk = new SimDisk();
    storeDamagePending = false;
    retired = false;
  }

  boolean up() {
    return driver != null;
  }

  boolean running() {
    return driver != null && !paused;
  }
}
