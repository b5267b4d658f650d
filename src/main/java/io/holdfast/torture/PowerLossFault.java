package io.holdfast.torture;

import java.util.ArrayList;
import java.util.List;

/**
 * {@code powerloss}: SIGKILL and every WAL byte past the synced mark cut ({@link PowerLoss}), on
 * one node or, a third of the time, on all at once; restarted one by one in a shuffled order,
 * each 0.5–2 s after the one before. Nobody bootstraps the cluster: the nodes re-form it.
 */
final class PowerLossFault implements Fault {
  @Override
  public String name() {
    return "powerloss";
  }

  @Override
  public String inject(Campaign c) throws Exception {
    List<Integer> victims = c.prng.nextInt(3) == 0 ? c.live() : List.of(c.randomLiveNode());
    long cut = 0;
    for (int v : victims) {
      c.cluster.kill(v);
      c.down.add(v);
    }
    for (int v : victims) {
      cut += PowerLoss.cutUnsynced(c.dataDir(v));
    }
    List<Integer> order = new ArrayList<>(victims);
    c.prng.shuffle(order); // as a service manager brings machines back after a power cut: one by one, any order
    for (int v : order) {
      Campaign.sleepMillis(c.prng.between(500, 2000));
      c.restart(List.of(v), false);
    }
    return "power loss on " + (victims.size() > 1 ? "all nodes " + victims : "node " + victims.get(0)) + " ("
        + cut + " unsynced bytes gone)";
  }
}
