package io.holdfast.sim;

/**
 * How much of the fault space one run actually reached. A simulator whose faults never fire
 * passes vacuously; these counts (summed over seeds in the CLI summary) show that they did.
 */
public final class Coverage {
  public long crashes;
  public long powerLosses;
  public long partitions;
  public long pauses;
  public long lowDisks;
  /** Proposals a leader with a nearly full disk refused ({@code insufficient_storage}). */
  public long storageRefusals;
  /** Times a follower with a nearly full disk started dropping its leader's entries. */
  public long entriesRefused;
  public long transfers;
  /** Leaders that handed their leadership to the node the clients' requests came in through (Fault.HOT_NODE). */
  public long publisherHandOvers;
  public long membershipChanges;
  public long splitBrains;
  public long bitflips;
  public long wipes;
  /** Disks whose synced tail was cut off, and that recovered before voting again. */
  public long lostTails;
  public long compactions;
  /** Snapshots installed only after their messages were fetched from a peer's store. */
  public long catchUps;
  /** Asks for a catch-up permit that found the node's budget taken (the replica waits and asks again). */
  public long catchUpsRefused;
  /** Replicas that found messages they lack gone from every peer and asked for a snapshot past them. */
  public long snapshotsAsked;
  /** Times a replica found messages missing or damaged in its store (and repaired them from peers). */
  public long storeRepairs;
  /** Segment or index files damaged (bit flip or cut) while their machine was down. */
  public long storeDamage;
  public long snapshotsInstalled;
  /** The stream workload on replica 1 at the end: publishes stored, de-duplicated, refused by an expectation, evicted by max_msgs. */
  public long streamStored;
  public long streamDuplicates;
  public long streamRejected;
  public long streamEvicted;
  /** Atomic publishes (several messages, all or none) stored whole, and refused whole. */
  public long streamAtomicStored;
  public long streamAtomicRefused;
  /** The consumer workload on replica 1: deliveries (of which redeliveries) and confirmed acks. */
  public long consumerDeliveries;
  public long consumerRedeliveries;
  public long consumerAcks;
  /** Of the confirmed acks, those of runs of consecutive sequences (one proposal, several acks). */
  public long consumerAckRuns;
  public long leaderTerms;

  void count(String fault) {
    if (fault.startsWith("crash")) {
      crashes++;
    } else if (fault.startsWith("power loss")) {
      powerLosses++;
    } else if (fault.startsWith("partition:")) {
      partitions++;
    } else if (fault.startsWith("pause")) {
      pauses++;
    } else if (fault.startsWith("disk low")) {
      lowDisks++;
    } else if (fault.startsWith("transfer")) {
      transfers++;
    } else if (fault.startsWith("membership")) {
      membershipChanges++;
    } else if (fault.startsWith("split-brain 1")) {
      splitBrains++;
    } else if (fault.startsWith("bitflip")) {
      bitflips++;
    } else if (fault.startsWith("wipe")) {
      wipes++;
    } else if (fault.startsWith("cut")) {
      lostTails++;
    }
  }

  public void add(Coverage o) {
    crashes += o.crashes;
    powerLosses += o.powerLosses;
    partitions += o.partitions;
    pauses += o.pauses;
    lowDisks += o.lowDisks;
    storageRefusals += o.storageRefusals;
    entriesRefused += o.entriesRefused;
    transfers += o.transfers;
    publisherHandOvers += o.publisherHandOvers;
    membershipChanges += o.membershipChanges;
    splitBrains += o.splitBrains;
    bitflips += o.bitflips;
    wipes += o.wipes;
    lostTails += o.lostTails;
    compactions += o.compactions;
    catchUps += o.catchUps;
    catchUpsRefused += o.catchUpsRefused;
    snapshotsAsked += o.snapshotsAsked;
    storeRepairs += o.storeRepairs;
    storeDamage += o.storeDamage;
    snapshotsInstalled += o.snapshotsInstalled;
    streamStored += o.streamStored;
    streamDuplicates += o.streamDuplicates;
    streamRejected += o.streamRejected;
    streamEvicted += o.streamEvicted;
    streamAtomicStored += o.streamAtomicStored;
    streamAtomicRefused += o.streamAtomicRefused;
    consumerDeliveries += o.consumerDeliveries;
    consumerRedeliveries += o.consumerRedeliveries;
    consumerAcks += o.consumerAcks;
    consumerAckRuns += o.consumerAckRuns;
    leaderTerms += o.leaderTerms;
  }

  @Override
  public String toString() {
    return "crashes " + crashes + ", power losses " + powerLosses + ", partitions " + partitions + ", pauses " + pauses + ", disks nearly full " + lowDisks + " (publishes refused " + storageRefusals + ", followers that dropped entries "
        + entriesRefused + ")"
        + ", split-brain schedules " + splitBrains + ", disks with bit flips " + bitflips + ", disks wiped and rejoined as new members " + wipes
        + ", synced tails cut " + lostTails
        + ", membership changes " + membershipChanges + ", transfers "
        + transfers + " (to the clients' node " + publisherHandOvers + ")" + ", terms with a leader " + leaderTerms + ", compactions " + compactions
        + ", snapshots installed " + snapshotsInstalled + ", catch-ups from a peer's store " + catchUps + " (permit refused " + catchUpsRefused + ")"
        + ", snapshots asked for past messages gone everywhere " + snapshotsAsked
        + ", store files damaged " + storeDamage + ", stores repaired " + storeRepairs + "; stream: stored "
        + streamStored + ", de-duplicated "
        + streamDuplicates + ", refused by expectations " + streamRejected + ", evicted by limits " + streamEvicted
        + ", atomic publishes stored " + streamAtomicStored + " (refused " + streamAtomicRefused + ")"
        + "; consumers: delivered " + consumerDeliveries + " (redelivered " + consumerRedeliveries + "), acked "
        + consumerAcks + " (runs " + consumerAckRuns + ")";
  }
}
