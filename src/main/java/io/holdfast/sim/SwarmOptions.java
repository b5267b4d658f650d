package io.holdfast.sim;

import io.holdfast.base.Prng;
import io.holdfast.raft.RaftSettings;
import java.util.EnumSet;

/**
 * Knobs drawn per seed (TigerBeetle's "swarm testing"): each seed runs a differently shaped
 * world, so rare interleavings are reached by some seeds instead of averaged away. Probabilities
 * are per tick. A fault family that is off has its knobs zeroed.
 */
record SwarmOptions(
    RaftSettings raft,
    int safetyTicks,
    int convergenceTicksMax,
    int clients,
    int clientInflightMax,
    int proposalTimeoutTicks,
    int networkDelayMin,
    int networkDelayMax,
    double dropProbability,
    double duplicateProbability,
    int syncLatencyMin,
    int syncLatencyMax,
    int lazySyncIntervalTicks,
    long compactAfterBytes,
    double crashProbability,
    int downtimeMax,
    double powerLossProbability,
    double partitionProbability,
    int partitionTicksMax,
    double pauseProbability,
    int pauseTicksMax,
    double transferProbability,
    double membershipStepProbability,
    int splitBrainAt,
    double bitflipProbability,
    double wipeProbability,
    int lostTailAt,
    io.holdfast.storage.segment.SegmentStore.Options store) {

  static SwarmOptions random(Prng prng, int replicas, EnumSet<Fault> faults) {
    int electionTimeout = prng.between(10, 20);
    int heartbeat = prng.between(2, 3);
    RaftSettings raft = RaftSettings.defaults() // the draws in this order: a seed's world must not change
        .withElectionTimeoutTicks(electionTimeout)
        .withHeartbeatIntervalTicks(heartbeat)
        .withInflightAppendsMax(prng.between(2, 16))
        .withAppendEntriesMax(prng.between(8, 128))
        .withAppendBytesMax(prng.between(512, 16_384))
        .withUncommittedEntriesMax(prng.between(64, 1024))
        .withApplyEntriesMax(prng.between(16, 256));
    boolean multi = replicas > 1;
    int safetyTicks = 3000;
    boolean network = faults.contains(Fault.NETWORK);
    Builder b = new Builder();
    b.raft = raft;
    b.safetyTicks = safetyTicks;
    b.convergenceTicksMax = 4000;
    b.clients = prng.between(2, 6);
    b.clientInflightMax = prng.between(2, 8);
    b.proposalTimeoutTicks = prng.between(40, 120);
    b.networkDelayMin = 1;
    b.networkDelayMax = network ? prng.between(2, 5) : 1;
    b.dropProbability = network ? prng.nextDouble() * 0.08 : 0;
    b.duplicateProbability = network ? prng.nextDouble() * 0.04 : 0;
    b.syncLatencyMin = 1;
    b.syncLatencyMax = prng.between(1, 4);
    // lying disks sync lazily: NATS's 2 minutes is ~1,200 election-timeout tenths
    b.lazySyncIntervalTicks = prng.between(100, 1200);
    // compaction after 2 to 25 KiB of entries: many snapshots, many catch-ups
    b.compactAfterBytes = prng.between(30, 400) * 64L;
    b.crashProbability = faults.contains(Fault.CRASH) ? 1.0 / prng.between(150, 400) : 0;
    b.downtimeMax = prng.between(10, 150);
    b.powerLossProbability = faults.contains(Fault.POWERLOSS) ? 1.0 / prng.between(700, 2000) : 0;
    b.partitionProbability = faults.contains(Fault.PARTITION) && multi ? 1.0 / prng.between(100, 300) : 0;
    b.partitionTicksMax = prng.between(20, 250);
    b.pauseProbability = faults.contains(Fault.PAUSE) && multi ? 1.0 / prng.between(200, 500) : 0;
    b.pauseTicksMax = prng.between(10, 200);
    b.transferProbability = faults.contains(Fault.TRANSFER) && multi ? 1.0 / prng.between(200, 600) : 0;
    b.membershipStepProbability = faults.contains(Fault.MEMBERSHIP) && replicas >= 3 ? 1.0 / prng.between(60, 250) : 0;
    b.splitBrainAt = faults.contains(Fault.SPLIT_BRAIN) && replicas >= 3 ? prng.between(200, safetyTicks - 1000) : -1;
    b.bitflipProbability = faults.contains(Fault.BITFLIP) && replicas >= 3 ? 0.3 + 0.7 * prng.nextDouble() : 0;
    b.wipeProbability = faults.contains(Fault.WIPE) && replicas >= 3 ? 0.05 + 0.25 * prng.nextDouble() : 0;
    // drawn last, so adding it changed no other knob of any seed
    b.lostTailAt = faults.contains(Fault.BITFLIP) && replicas >= 3 ? prng.between(200, safetyTicks - 1000) : -1;
    // drawn after the rest: small segments, so that stores roll, seal and drop them often
    b.store = new io.holdfast.storage.segment.SegmentStore.Options(prng.between(4096, 65536), prng.between(8, 512));
    return b.build();
  }

  /**
   * The knobs by name, for the one positional construction in {@link #build}; SwarmOptionsTest
   * checks that each field lands on the component of its name.
   */
  static final class Builder {
    RaftSettings raft;
    int safetyTicks;
    int convergenceTicksMax;
    int clients;
    int clientInflightMax;
    int proposalTimeoutTicks;
    int networkDelayMin;
    int networkDelayMax;
    double dropProbability;
    double duplicateProbability;
    int syncLatencyMin;
    int syncLatencyMax;
    int lazySyncIntervalTicks;
    long compactAfterBytes;
    double crashProbability;
    int downtimeMax;
    double powerLossProbability;
    double partitionProbability;
    int partitionTicksMax;
    double pauseProbability;
    int pauseTicksMax;
    double transferProbability;
    double membershipStepProbability;
    int splitBrainAt;
    double bitflipProbability;
    double wipeProbability;
    int lostTailAt;
    io.holdfast.storage.segment.SegmentStore.Options store;

    SwarmOptions build() {
      return new SwarmOptions(raft, safetyTicks, convergenceTicksMax, clients, clientInflightMax, proposalTimeoutTicks,
          networkDelayMin, networkDelayMax, dropProbability, duplicateProbability, syncLatencyMin, syncLatencyMax,
          lazySyncIntervalTicks, compactAfterBytes, crashProbability, downtimeMax, powerLossProbability,
          partitionProbability, partitionTicksMax, pauseProbability, pauseTicksMax, transferProbability,
          membershipStepProbability, splitBrainAt, bitflipProbability, wipeProbability, lostTailAt, store);
    }
  }
}
