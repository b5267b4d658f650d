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
    RaftSettings raft = new RaftSettings(
        electionTimeout,
        heartbeat,
        prng.between(2, 16),
        prng.between(8, 128),
        prng.between(512, 16_384),
        prng.between(64, 1024),
        prng.between(16, 256),
        true,
        true);
    boolean multi = replicas > 1;
    int safetyTicks = 3000;
    boolean network = faults.contains(Fault.NETWORK);
    return new SwarmOptions(
        raft,
        safetyTicks,
        4000,
        prng.between(2, 6),
        prng.between(2, 8),
        prng.between(40, 120),
        1,
        network ? prng.between(2, 5) : 1,
        network ? prng.nextDouble() * 0.08 : 0,
        network ? prng.nextDouble() * 0.04 : 0,
        1,
        prng.between(1, 4),
        prng.between(100, 1200), // lying disks sync lazily: NATS's 2 minutes is ~1,200 election-timeout tenths
        prng.between(30, 400) * 64L, // compaction after 2 to 25 KiB of entries: many snapshots, many catch-ups
        faults.contains(Fault.CRASH) ? 1.0 / prng.between(150, 400) : 0,
        prng.between(10, 150),
        faults.contains(Fault.POWERLOSS) ? 1.0 / prng.between(700, 2000) : 0,
        faults.contains(Fault.PARTITION) && multi ? 1.0 / prng.between(100, 300) : 0,
        prng.between(20, 250),
        faults.contains(Fault.PAUSE) && multi ? 1.0 / prng.between(200, 500) : 0,
        prng.between(10, 200),
        faults.contains(Fault.TRANSFER) && multi ? 1.0 / prng.between(200, 600) : 0,
        faults.contains(Fault.MEMBERSHIP) && replicas >= 3 ? 1.0 / prng.between(60, 250) : 0,
        faults.contains(Fault.SPLIT_BRAIN) && replicas >= 3 ? prng.between(200, safetyTicks - 1000) : -1,
        faults.contains(Fault.BITFLIP) && replicas >= 3 ? 0.3 + 0.7 * prng.nextDouble() : 0,
        faults.contains(Fault.WIPE) && replicas >= 3 ? 0.05 + 0.25 * prng.nextDouble() : 0,
        // drawn last, so adding it changed no other knob of any seed
        faults.contains(Fault.BITFLIP) && replicas >= 3 ? prng.between(200, safetyTicks - 1000) : -1,
        // drawn after the rest: small segments, so that stores roll, seal and drop them often
        new io.holdfast.storage.segment.SegmentStore.Options(prng.between(4096, 65536), prng.between(8, 512)));
  }
}
