package io.holdfast.sim;

import java.util.EnumSet;
import java.util.Locale;
import java.util.StringJoiner;

/** Fault families the simulator can inject during the safety phase. */
public enum Fault {
  /** One replica crashes (losing unsynced writes, maybe tearing the last) and later restarts. */
  CRASH,
  /** Every replica crashes at the same instant (coordinated power loss), then restarts. */
  POWERLOSS,
  /** Network partitions: one replica isolated, majority/minority splits, one-way links. */
  PARTITION,
  /** A replica stops processing for a long time (GC pause, SIGSTOP), then resumes. */
  PAUSE,
  /** Messages dropped, duplicated, and delayed by random amounts (so reordered). */
  NETWORK,
  /**
   * Jepsen's NATS split-brain schedule: a minority misses writes behind a partition, one other
   * replica loses power, then the partition moves so the power-lost replica and the replicas that
   * missed the writes form a majority.
   */
  SPLIT_BRAIN,
  /** Membership changes one replica at a time: remove, add back as learner, promote. */
  MEMBERSHIP,
  /** Leader transfers to a random voter. */
  TRANSFER,
  /**
   * Bit rot on a fixed minority of replicas: while one of them is down, payloads of random entries
   * in its durable log go bad (their identities survive, as in the file store). An entry is never
   * damaged on two replicas at once: the promise is repair from an intact copy, and after
   * membership changes an entry may be committed on as few as two. Also, less often, a synced
   * tail cut off (the last writes that reached the platter gone): the store reports the lost tail
   * and the replica recovers from its peers before it votes again.
   */
  BITFLIP,
  /**
   * Damage the store cannot attribute nor recover around on one of that minority (both copies of a
   * record header damaged, a file missing): the file store refuses to open; the disk is wiped and
   * the machine rejoins as a new member (D9), added as a learner and promoted.
   */
  WIPE,
  /**
   * A replica's disk is nearly full for a while (below {@code holdfast.storage.min-free}): as leader
   * it refuses publishes with {@code insufficient_storage}, as follower it drops its leader's
   * entries and snapshots; then space is freed and it catches up. The production driver's own
   * input ({@code ReplicaDriver.storageLow}); drawn from a PRNG of its own, so that adding it
   * changed no other fault's schedule.
   */
  DISK_LOW,
  /**
   * Every client's requests come in through one machine (drawn per run, and moved now and then),
   * as when all publishers are connected to one node: the production driver's leader then hands
   * its leadership to that machine's replica (it follows its publishers). Drawn from a PRNG of its
   * own, as {@link #DISK_LOW} is.
   */
  HOT_NODE;

  public String cliName() {
    return name().toLowerCase(Locale.ROOT).replace('_', '-');
  }

  /** Parses "all", "none" or a comma-separated list of fault names. */
  public static EnumSet<Fault> parseList(String text) {
    String t = text.trim().toLowerCase(Locale.ROOT);
    if (t.equals("all")) {
      return EnumSet.allOf(Fault.class);
    }
    EnumSet<Fault> out = EnumSet.noneOf(Fault.class);
    if (t.equals("none") || t.isEmpty()) {
      return out;
    }
    for (String part : t.split(",")) {
      String name = part.trim();
      Fault match = null;
      for (Fault f : values()) {
        if (f.cliName().equals(name)) {
          match = f;
        }
      }
      if (match == null) {
        throw new IllegalArgumentException("unknown fault '" + name + "' (expected all, none, or a list of: " + names() + ")");
      }
      out.add(match);
    }
    return out;
  }

  public static String names() {
    StringJoiner j = new StringJoiner(", ");
    for (Fault f : values()) {
      j.add(f.cliName());
    }
    return j.toString();
  }

  public static String describe(EnumSet<Fault> faults) {
    if (faults.equals(EnumSet.allOf(Fault.class))) {
      return "all";
    }
    if (faults.isEmpty()) {
      return "none";
    }
    StringJoiner j = new StringJoiner(",");
    for (Fault f : faults) {
      j.add(f.cliName());
    }
    return j.toString();
  }
}
