package io.holdfast.torture;

import java.util.ArrayList;
import java.util.List;

/**
 * Injects one fault after another, every 1.5–3.5 s, until 3 s before the end: each round of the
 * schedule is the fault families in an order shuffled by the seed. Before each fault, nodes that
 * exited by themselves are noticed and refused disks replaced (see {@link Campaign}).
 */
final class Nemesis {
  /** Every fault family, in {@code --faults} order. */
  static final List<Fault> ALL = List.of(new KillFault(), new PowerLossFault(), new PauseFault(), new PartitionFault(),
      new DiskDamageFault(DiskDamageFault.Kind.BITFLIP), new DiskDamageFault(DiskDamageFault.Kind.TRUNCATE),
      new DiskDamageFault(DiskDamageFault.Kind.SNAPSHOT_CORRUPT), new MembershipFault(), new SplitBrainFault());

  private final Campaign campaign;
  private final List<Fault> faults;

  Nemesis(Campaign campaign, List<Fault> faults) {
    this.campaign = campaign;
    this.faults = faults;
  }

  /** Families run only when named: operations rather than faults ({@link RollingRestartFault}, {@link DrainFault}). */
  static final List<Fault> NAMED_ONLY = List.of(new RollingRestartFault(), new DrainFault());

  /** The names of {@code --faults all}. */
  static List<String> names() {
    return ALL.stream().map(Fault::name).toList();
  }

  /** Every name {@code --faults} takes. */
  static List<String> known() {
    List<String> out = new ArrayList<>(names());
    NAMED_ONLY.forEach(f -> out.add(f.name()));
    return out;
  }

  /** The families named, in that order. */
  static List<Fault> faults(List<String> names) {
    List<Fault> out = new ArrayList<>();
    for (String name : names) {
      out.add(java.util.stream.Stream.concat(ALL.stream(), NAMED_ONLY.stream()).filter(f -> f.name().equals(name))
          .findFirst()
          .orElseThrow(() -> new IllegalArgumentException("unknown fault '" + name + "'")));
    }
    return out;
  }

  void run(int seconds) throws Exception {
    List<Fault> order = new ArrayList<>(faults);
    if (order.isEmpty()) {
      Campaign.sleepMillis((long) Math.max(0, (seconds - campaign.now()) * 1000)); // --faults none: the baseline
      return;
    }
    int next = 0;
    while (campaign.now() < seconds - 3) {
      Campaign.sleepMillis(campaign.prng.between(1500, 3500));
      if (campaign.now() >= seconds - 3) {
        break;
      }
      campaign.noticeExits();
      campaign.replaceRefused();
      if (next % order.size() == 0) {
        campaign.prng.shuffle(order);
      }
      Fault fault = order.get(next++ % order.size());
      double start = campaign.now();
      String what = fault.inject(campaign);
      if (what != null) {
        campaign.window(start, what);
      }
    }
  }
}
