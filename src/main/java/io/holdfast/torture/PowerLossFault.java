package io.holdfast.torture;

import java.util.List;

/**
 * {@code powerloss}: SIGKILL and every WAL byte past the synced mark cut ({@link PowerLoss}), on
 * one node or, a third of the time, on all at once; restarted 0.5–2 s later.
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
    Campaign.sleepMillis(c.prng.between(500, 2000));
    c.restart(victims, false);
    return "power loss on " + (victims.size() > 1 ? "all nodes " + victims : "node " + victims.get(0)) + " ("
        + cut + " unsynced bytes gone)";
  }
}
